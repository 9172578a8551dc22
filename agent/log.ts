/**
 * The one log format of the long-running commands (the agent and the exporter): JSON lines on one stream with
 * stable keys — `level` (a word: fatal, error, warn, info, debug, trace), `time` (ISO 8601), `site`, `host`, `msg`
 * (what happened, a fixed phrase or event name), then the event's own fields (generation, writes, deletes,
 * durationMs, error, …). Synchronous writes: a line logged just before a crash or SIGKILL is not lost in a buffer.
 *
 * Under systemd the journal must know each line's priority (`journalctl -p warning -u pxe-filter-agent`). systemd
 * sets $JOURNAL_STREAM to the device and inode of the stream it connected to the journal; when our stream is that
 * one, each line starts with the syslog priority as `<N>`, which journald records and strips (SyslogLevelPrefix=,
 * on by default; systemd.exec(5)), so `journalctl -o cat` still shows the JSON as written. Anywhere else (a
 * terminal, a pipe, a file) the lines are plain JSON.
 */
import { fstatSync } from 'node:fs';
import { pino, type Logger } from 'pino';

export type { Logger };

/** pino's levels as syslog priorities (sd-daemon(3): 2 crit, 3 err, 4 warning, 6 info, 7 debug). */
export const SYSLOG_PRIORITY: Readonly<Record<string, number>> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/** True when `fd` is the stream systemd connected to the journal ($JOURNAL_STREAM is `<device>:<inode>`). */
export function isJournalStream(journalStream: string | undefined, fd: number): boolean {
  if (!journalStream) return false;
  try {
    const st = fstatSync(fd);
    return journalStream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** `<4>{"level":"warn",…}`: the line with its syslog priority in front (the level is the line's first key). */
export function withPriorityPrefix(line: string): string {
  const level = /^\{"level":"([a-z]+)"/.exec(line)?.[1];
  return `<${SYSLOG_PRIORITY[level ?? 'info'] ?? 6}>${line}`;
}

export interface LoggerOptions {
  level: string;
  site: string;
  host: string;
  /** File descriptor to write to (default 1, stdout). */
  destination?: number;
  /** Where $JOURNAL_STREAM is read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.destination ?? 1;
  const journal = isJournalStream((options.env ?? process.env)['JOURNAL_STREAM'], fd);
  return pino(
    {
      level: options.level,
      base: { site: options.site, host: options.host },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(journal ? { hooks: { streamWrite: withPriorityPrefix } } : {}),
    },
    pino.destination({ fd, sync: true }),
  );
}

/** One line for an error in a log record, never a stack (operators read these). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
