/**
 * Every way a daemon process can end, routed to one of three handlers: a stop (SIGTERM, SIGINT, SIGQUIT: stop
 * dnsmasq, remove the ready file, exit 0), a reload (SIGHUP: what operators expect of a daemon, instead of
 * node's default of dying with status 129 and no clean-up), and a crash (an uncaught error or rejection: the same
 * clean-up, then exit 1). A fatal error is the daemon's own way out (AgentDaemon.run).
 */
import { type Logger, errorText } from './log.ts';

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

export interface ProcessHandlers {
  stop(signal: NodeJS.Signals): void;
  reload(): void;
  crash(err: unknown): void;
}

export function installProcessHandlers(handlers: ProcessHandlers, target: NodeJS.Process = process): { uninstall(): void } {
  const onStop = (signal: NodeJS.Signals) => handlers.stop(signal);
  const onReload = () => handlers.reload();
  let crashed = false;
  const onCrash = (err: unknown) => {
    if (crashed) return; // a second error during the clean-up: the first one is already being handled
    crashed = true;
    handlers.crash(err);
  };
  for (const s of STOP_SIGNALS) target.on(s, onStop);
  target.on('SIGHUP', onReload);
  target.on('uncaughtException', onCrash);
  target.on('unhandledRejection', onCrash);
  return {
    uninstall() {
      for (const s of STOP_SIGNALS) target.off(s, onStop);
      target.off('SIGHUP', onReload);
      target.off('uncaughtException', onCrash);
      target.off('unhandledRejection', onCrash);
    },
  };
}

/** The daemon's handlers: a stop aborts its run, SIGHUP asks it for a check, a crash stops dnsmasq and exits 1. */
export function daemonHandlers(d: {
  daemon: { requestCheck(): void; emergencyStop(reason: string): Promise<void> };
  log: Logger;
  abort: (reason: Error) => void;
  exit: (code: number) => void;
}): ProcessHandlers {
  return {
    stop: (signal) => {
      d.log.info({ signal }, 'stopping');
      d.abort(new Error(signal));
    },
    reload: () => {
      d.log.info({ signal: 'SIGHUP' }, 'SIGHUP: re-checking the hosts directory now; the configuration is read at start only (restart the agent to change it)');
      d.daemon.requestCheck();
    },
    // A bug that escapes every handler still must not leave dnsmasq serving without its agent.
    crash: (err) => {
      d.log.fatal({ error: errorText(err) }, 'agent crashed');
      void d.daemon.emergencyStop(`crashed: ${errorText(err)}`).finally(() => d.exit(1));
    },
  };
}
