/**
 * Defaults of the agent's `apply` settings that code outside the config schema needs (agent/config.ts declares them
 * with these values): `agent once` reads them without loading the config schema and its validation library.
 */

/**
 * More file operations than this within `reloadWindowSeconds` while dnsmasq runs → SIGHUP after the apply.
 * Each atomic write queues two inotify events (close of the hidden temp file, rename into place) and the queue
 * holds 16,384: 4,000 operations = 8,000 events, half the queue, cannot overflow even if dnsmasq drained nothing.
 */
export const RELOAD_ABOVE_OPERATIONS = 4000;
