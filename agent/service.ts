/**
 * How the agent drives dnsmasq (design §6): systemctl (default), shell commands like the reference's
 * dnsmasq_start_command / dnsmasq_stop_command, or nothing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServiceControl {
  readonly description: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Make dnsmasq re-read the whole directory (SIGHUP): drops records of deleted files. */
  reload(): Promise<void>;
}

export type ServiceConfig =
  | { mode: 'none' }
  | { mode: 'systemctl'; unit: string }
  | { mode: 'command'; start: string; stop: string; reload: string };

export function serviceControl(config: ServiceConfig): ServiceControl {
  switch (config.mode) {
    case 'none':
      return { description: 'none', start: async () => {}, stop: async () => {}, reload: async () => {} };
    case 'systemctl': {
      const ctl = (verb: string) => async () => {
        await run('systemctl', [verb, config.unit], { timeout: 60_000 });
      };
      return { description: `systemctl (${config.unit})`, start: ctl('start'), stop: ctl('stop'), reload: ctl('reload') };
    }
    case 'command': {
      // Like the reference's _execute(): an empty command is a no-op; a non-zero exit is an error.
      const sh = (verb: string, cmd: string) => async () => {
        if (cmd.trim() === '') return;
        try {
          await run('/bin/sh', ['-c', cmd], { timeout: 60_000 });
        } catch (err) {
          // One line for the operator: which command, its exit status, the first line it printed on stderr.
          const e = err as { code?: number | string; signal?: string; stderr?: string };
          const why = e.signal ? `killed by ${e.signal}` : `exit ${e.code ?? '?'}`;
          const said = (e.stderr ?? '').trim().split('\n')[0];
          throw new Error(`${verb} command failed (${why}): ${cmd}${said ? `: ${said}` : ''}`, { cause: err });
        }
      };
      return { description: 'shell commands', start: sh('start', config.start), stop: sh('stop', config.stop), reload: sh('reload', config.reload) };
    }
  }
}
