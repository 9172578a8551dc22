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
      const sh = (cmd: string) => async () => {
        if (cmd.trim() === '') return;
        await run('/bin/sh', ['-c', cmd], { timeout: 60_000 });
      };
      return { description: 'shell commands', start: sh(config.start), stop: sh(config.stop), reload: sh(config.reload) };
    }
  }
}
