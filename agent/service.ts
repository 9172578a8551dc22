/**
 * How the agent drives dnsmasq (docs/design.md §6): systemctl (default), shell commands like the reference's
 * dnsmasq_start_command / dnsmasq_stop_command, or nothing.
 */
import type { ExecFileOptions } from 'node:child_process';

/**
 * child_process is loaded by the first command run, not with this module: `agent once --service none` never runs
 * one, and loading it (with net, dgram and streams behind it) was a measurable share of that short process.
 */
async function run(file: string, args: string[], options: ExecFileOptions): Promise<void> {
  const [{ execFile }, { promisify }] = await Promise.all([import('node:child_process'), import('node:util')]);
  await promisify(execFile)(file, args, options);
}

export interface ServiceControl {
  readonly description: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Make dnsmasq re-read the whole directory (SIGHUP): drops records of deleted files. */
  reload(): Promise<void>;
  /** Is dnsmasq running? undefined when this service cannot tell (mode none, no status command). */
  isRunning(): Promise<boolean | undefined>;
}

export type ServiceConfig =
  | { mode: 'none' }
  | { mode: 'systemctl'; unit: string }
  | { mode: 'command'; start: string; stop: string; reload: string; status?: string };

export function serviceControl(config: ServiceConfig): ServiceControl {
  switch (config.mode) {
    case 'none':
      return { description: 'none', start: async () => {}, stop: async () => {}, reload: async () => {}, isRunning: async () => undefined };
    case 'systemctl': {
      const ctl = (verb: string) => () => runOneLine(verb, 'systemctl', [verb, config.unit], `systemctl ${verb} ${config.unit}`);
      const isRunning = () => succeeds('systemctl', ['is-active', '--quiet', config.unit]);
      return { description: `systemctl (${config.unit})`, start: ctl('start'), stop: ctl('stop'), reload: ctl('reload'), isRunning };
    }
    case 'command': {
      // Like the reference's _execute(): an empty command is a no-op; a non-zero exit is an error.
      const sh = (verb: string, cmd: string) => async () => {
        if (cmd.trim() === '') return;
        await runOneLine(verb, '/bin/sh', ['-c', cmd], cmd);
      };
      const status = config.status ?? '';
      const isRunning = async () => (status.trim() === '' ? undefined : succeeds('/bin/sh', ['-c', status]));
      return { description: 'shell commands', start: sh('start', config.start), stop: sh('stop', config.stop), reload: sh('reload', config.reload), isRunning };
    }
  }
}

/** Run a service command; on failure throw one line: which command, its exit status, the first line of its stderr. */
async function runOneLine(verb: string, file: string, args: string[], shown: string): Promise<void> {
  try {
    await run(file, args, { timeout: 60_000 });
  } catch (err) {
    const e = err as { code?: number | string; signal?: string | null; stderr?: string };
    const why = e.signal ? `killed by ${e.signal}` : typeof e.code === 'number' ? `exit ${e.code}` : String(e.code ?? 'error');
    const said = (e.stderr ?? '').trim().split('\n')[0];
    throw new Error(`${verb} command failed (${why}): ${shown}${said ? `: ${said}` : ''}`, { cause: err });
  }
}

/** Exit status 0? (a status probe: `systemctl is-active`, or the configured status command) */
async function succeeds(file: string, args: string[]): Promise<boolean> {
  try {
    await run(file, args, { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}
