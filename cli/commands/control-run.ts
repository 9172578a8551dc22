/**
 * `pxe-filter control run`: the on-premises control plane as a service. It performs what control/control-rules.ts
 * decides — watch events (control/export-watch.ts) and timers in, runs of control/publish-run.ts (the Lambda's
 * code path) out — and logs each run as one JSON line in the agent's format (agent/log.ts): msg "published" with
 * site and generation on every publish. One per local store (locks/control.lock); SIGTERM/SIGINT let the runs in
 * progress finish, then exit 0; SIGHUP runs every site now.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError, GuardError } from '../../core/errors.ts';
import { type Logger, createLogger, errorText } from '../../agent/log.ts';
import { installProcessHandlers } from '../../agent/process-handlers.ts';
import { type ControlEvent, type ControlState, type ControlTimings, type RunAction, type RunOutcome, decide, initialState } from '../../control/control-rules.ts';
import { type ExportWatch, watchLocalExports } from '../../control/export-watch.ts';
import { publishRun, runFields } from '../../control/publish-run.ts';
import { loadSigningKeyFile } from '../../control/signing.ts';
import { VERSION } from '../../core/version.ts';
import { PreconditionFailedError } from '../../store/store.ts';
import { acquireControlLock, publishLock } from './control-locks.ts';
import { checkSite, openPublisherStore, sitesWithSettings } from './publisher-inputs.ts';

export interface ControlRunOptions {
  store: string;
  /** Empty: every site with settings in a local store. */
  sites: string[];
  signKey?: string;
  scheduleSeconds: number;
  debounceMs: number;
  logLevel: string;
}

/**
 * Under systemd the signing key comes as the credential `sign-key` (LoadCredential=): a file only this service's
 * dynamic user can read, where the key itself (root's, mode 0600) is not. `--sign-key` wins.
 */
export function signKeyCredential(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env['CREDENTIALS_DIRECTORY'];
  if (!dir) return undefined;
  const path = join(dir, 'sign-key');
  return existsSync(path) ? path : undefined;
}

/** Runs until SIGTERM/SIGINT or `signal` (resolves), or fails at start with bad input (rejects: exit 2). */
export async function controlRun(o: ControlRunOptions, signal?: AbortSignal): Promise<void> {
  const { store, root } = await openPublisherStore(o.store);
  let named = o.sites;
  if (named.length === 0) {
    if (root === undefined) throw new InputError('--site', undefined, 'required with an s3:// store: name each site to publish');
    named = sitesWithSettings(root);
    if (named.length === 0) throw new InputError('--site', undefined, `none given, and no site has settings in ${o.store} (parameters/pxe-filter/<site>/settings)`);
  }
  const sites: string[] = [];
  for (const s of named) {
    const site = await checkSite(store, o.store, s);
    if (!sites.includes(site)) sites.push(site);
  }
  const credential = signKeyCredential(process.env);
  const signer =
    o.signKey !== undefined ? await loadSigningKeyFile(o.signKey) : credential !== undefined ? await loadSigningKeyFile(credential, 'systemd credential sign-key') : undefined;
  const host = hostname();
  const log = createLogger({ level: o.logLevel, site: sites.join(','), host });
  const siteLogs = new Map<string, Logger>(sites.map((site) => [site, createLogger({ level: o.logLevel, site, host })]));
  // After every check: a refused start takes no lock and writes nothing.
  const lock = root !== undefined ? await acquireControlLock(root) : undefined;

  const timings: ControlTimings = {
    debounceMs: o.debounceMs,
    // A stream of uploads (a state export every few seconds) must not postpone a run for ever.
    maxWaitMs: Math.max(o.debounceMs * 4, 1000),
    scheduleMs: o.scheduleSeconds * 1000,
    retryMinMs: 1000,
    retryMaxMs: Math.min(60_000, o.scheduleSeconds * 1000),
  };
  let state: ControlState = initialState(sites, Date.now());
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  const runSite = async ({ site, trigger }: RunAction): Promise<RunOutcome> => {
    const slog = siteLogs.get(site)!;
    const started = performance.now();
    try {
      const r = await publishRun({ store, site, ...(signer ? { signer } : {}), ...(root !== undefined ? { lock: publishLock(root, site, 'control run') } : {}) });
      for (const refused of r.refusedExports) slog.warn({ exportKey: refused.key, kind: refused.kind, reason: refused.reason }, 'export refused');
      const fields = { trigger, ...runFields(r), durationMs: Math.round(performance.now() - started) };
      const status = r.published.status;
      // A scheduled run that finds nothing new is the common case: logged only at debug.
      if (status === 'published' || trigger !== 'schedule' || r.published.pointerRepaired) slog.info(fields, status);
      else slog.debug(fields, status);
      return status;
    } catch (err) {
      const fields = { trigger, error: errorText(err), durationMs: Math.round(performance.now() - started) };
      if (err instanceof PreconditionFailedError) {
        slog.warn(fields, 'another publisher wrote first; running again');
        return 'conflict';
      }
      if (err instanceof GuardError) {
        slog.error({ ...fields, ...err.details }, 'guard refused: nothing published');
        return 'refused';
      }
      slog.error(fields, 'run failed');
      return 'failed';
    }
  };

  const step = (event: ControlEvent) => {
    if (stopping) return;
    const d = decide(state, event, Date.now(), timings);
    state = d.state;
    for (const run of d.runs) {
      const p: Promise<void> = runSite(run).then((outcome) => step({ kind: 'finished', site: run.site, outcome }));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    clearTimeout(timer);
    timer = d.wakeAt === undefined ? undefined : setTimeout(() => step({ kind: 'tick' }), Math.max(0, d.wakeAt - Date.now()));
  };

  const watches: ExportWatch[] =
    root === undefined
      ? []
      : sites.map((site) =>
          watchLocalExports(root, site, () => step({ kind: 'export', site }), (err) => siteLogs.get(site)!.warn({ error: errorText(err) }, 'watch failed; the schedule still runs the site')),
        );

  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const stop = (reason: string) => {
    if (stopping) return;
    log.info({ reason }, 'stopping');
    stopping = true;
    clearTimeout(timer);
    for (const w of watches) w.close();
    stopped();
  };
  const handlers = installProcessHandlers({
    stop: (sig) => stop(sig),
    reload: () => {
      log.info({ signal: 'SIGHUP' }, 'SIGHUP: running every site now');
      for (const site of sites) step({ kind: 'export', site });
    },
    crash: (err) => {
      log.fatal({ error: errorText(err) }, 'control run crashed');
      process.exit(1);
    },
  });
  signal?.addEventListener('abort', () => stop('aborted'), { once: true });

  log.info(
    {
      version: VERSION,
      store: store.description,
      sites,
      watch: root !== undefined,
      scheduleSeconds: o.scheduleSeconds,
      debounceMs: o.debounceMs,
      signedBy: signer?.keyId ?? null,
      signingKey: signer?.description ?? null,
    },
    'control starting',
  );
  step({ kind: 'tick' });
  try {
    await done;
    // A publish in progress finishes (a manifest without its pointer would wait for the next run to be repaired).
    while (inFlight.size > 0) await Promise.all([...inFlight]);
    log.info({}, 'control stopped');
  } finally {
    handlers.uninstall();
    await lock?.release();
  }
}
