/**
 * A remote service (Ironic, ironic-inspector, Keystone) could not be read or answered badly.
 * The message is one line meant for the operator; it never carries a token or a password (callers pass
 * URLs through `redactUrl`, and request headers are never part of a message).
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    /** Worth another attempt: connection failures, timeouts, truncated bodies, HTTP 5xx and 429. */
    readonly retryable: boolean,
    readonly status?: number,
    /** The server's Retry-After (429/503), in ms: waited for before the next attempt. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A URL fit for a log or an error: no user:password, no fragment. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.hash = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
