/**
 * `pxe-filter export --watch`, without the command line: every interval the fast reading (exporter/collect.ts
 * collectState), the full listing on the slow cadence or when the fast reading names a node the inventory lacks,
 * a state export whenever the reading changes. The decisions are exporter/watch-plan.ts; this performs them.
 *
 * When Ironic or inspector fail, nothing is written (no state is concluded from missing data: the filter stays as
 * the last good export left it), each failure is logged, the next attempt waits longer (doubling, capped), and the
 * connection (token, catalogue) is made again. After `giveUpAfterMs` of continuous failure the run ends with a
 * WatchGaveUpError, so that the service manager restarts it and shows the failure.
 */
import { ConfigError, InputError } from '../core/errors.ts';
import { parseIntrospections, parseNodes } from '../core/ironic-exports.ts';
import { stateOfExport } from '../core/state-export.ts';
import { type CollectOptions, collectExport, collectState } from './collect.ts';
import { type Connection, type ExportRunOptions, connect } from './run-export.ts';
import {
  type WatchSettings,
  type WatchState,
  afterFailure,
  afterFullFailure,
  afterFullListing,
  afterReading,
  fullListingReason,
  initialWatchState,
  WATCH_GAVE_UP_EXIT,
} from './watch-plan.ts';
import { writeExport } from './write-export.ts';
import { writeStateExport } from './write-state.ts';

export interface WatchRunOptions extends ExportRunOptions, WatchSettings {
  /** Ends the loop (SIGTERM/SIGINT); the run then resolves. */
  signal?: AbortSignal;
  /** Injected for tests; default real timers. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class WatchGaveUpError extends Error {
  readonly exitCode = WATCH_GAVE_UP_EXIT;
}

export async function runWatch(o: WatchRunOptions): Promise<WatchState> {
  const now = o.now ?? (() => new Date());
  const sleep = o.sleep ?? abortableSleep;
  let s = initialWatchState();
  let conn: Connection | undefined;
  o.log('watch.started', { intervalMs: o.intervalMs, fullIntervalMs: o.fullIntervalMs, maxBackoffMs: o.maxBackoffMs, giveUpAfterMs: o.giveUpAfterMs });
  while (!o.signal?.aborted) {
    let waitMs = o.intervalMs;
    try {
      conn ??= await connect(o);
      // Fast readings: one attempt each (this loop is the retry, with its own backoff and log).
      const fast: CollectOptions = { ...conn.collect, quiet: true, transport: { ...conn.collect.transport, retries: 0 } };
      const observed = await collectState(fast);
      if (s.failures > 0) o.log('watch.recovered', { afterFailures: s.failures, failingForMs: now().getTime() - (s.failingSince ?? now().getTime()) });
      const reason = fullListingReason(s, observed, now().getTime(), o);
      let decided = afterReading(s, observed);
      if (reason !== undefined) {
        try {
          const full = await fullListing(conn, o, now);
          o.log('watch.full-listing', { reason, status: full.status, location: full.location });
          decided = afterFullListing(s, { written: full.status === 'written', key: full.location, nodes: full.nodes, observed: full.observed }, now().getTime());
        } catch (err) {
          // The fast reading stands on its own (it says who is inspected; ports already known keep their verdicts).
          const f = afterFullFailure(s, now().getTime(), o);
          o.log('watch.full-listing-failed', { reason, error: errorText(err), failures: f.state.fullFailures, retryInMs: f.retryInMs });
          decided = afterReading(f.state, observed);
        }
      }
      if (decided.publish) {
        await writeStateExport(o.target, conn.site, decided.state.published!, decided.state.fullKey, now(), o.log);
      }
      s = decided.state;
    } catch (err) {
      // The operator's mistake (an option, the configuration), not the service's: retrying cannot fix it.
      if (err instanceof InputError || err instanceof ConfigError) throw err;
      const f = afterFailure(s, now().getTime(), o);
      s = f.state;
      conn = undefined; // connect again: a token may have expired, the catalogue may have moved
      o.log('watch.failed', { error: errorText(err), failures: s.failures, failingForMs: now().getTime() - s.failingSince!, retryInMs: f.retryInMs, published: 'nothing (the last good state stays in force)' });
      if (f.giveUp) throw new WatchGaveUpError(`export --watch: Ironic/inspector failing for ${Math.round((now().getTime() - s.failingSince!) / 1000)} s (${s.failures} attempts; last error: ${errorText(err)}); giving up so the service manager restarts the watcher`);
      waitMs = f.retryInMs;
    }
    await sleep(waitMs, o.signal);
  }
  o.log('watch.stopped', {});
  return s;
}

async function fullListing(conn: Connection, o: WatchRunOptions, now: () => Date) {
  const collected = await collectExport(conn.collect);
  const written = await writeExport(
    o.target,
    conn.site,
    { ports: collected.ports, nodes: collected.nodes, ...(collected.introspection ? { introspection: collected.introspection } : {}) },
    now(),
    o.log,
  );
  const docs = (list: unknown[], what: string) => list.map((body, i) => ({ label: `${what}[${i}]`, body }));
  const nodes = parseNodes(docs(collected.nodes, 'nodes'));
  const introspections = collected.introspection ? parseIntrospections(docs(collected.introspection, 'introspection')) : undefined;
  return {
    status: written.status,
    location: written.location,
    nodes: new Set(nodes.map((n) => n.uuid)),
    observed: stateOfExport({ nodes, ...(introspections ? { introspections } : {}) }),
  };
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One line for an error in a log record, never a stack (operators read these). */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
