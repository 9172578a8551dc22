/**
 * JSON lines on stdout (journald keeps them; `journalctl -o cat` shows them as written). Stable keys:
 * msg, site, host, generation, writes, deletes, durationMs, error. Synchronous writes: a line logged just
 * before a crash or SIGKILL is not lost in a buffer.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; site: string; host: string; destination?: number }): Logger {
  return pino(
    {
      level: options.level,
      base: { site: options.site, host: options.host },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: options.destination ?? 1, sync: true }),
  );
}

/** One line for an error in a log record, never a stack (operators read these). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
