/**
 * The decisions of `pxe-filter export --watch`, as pure functions of its state, what a query returned (or that
 * it failed) and the time: when to take the full listing, when to publish a state export, how long to wait, when
 * to give up. exporter/run-watch.ts performs them.
 *
 * What a compute sees from this watcher is `published`: the inspection state of the last state export written, or
 * of the last full export written. A state export is written only when a reading differs from it. A failed reading
 * changes nothing: no state is concluded from missing data, so the filter stays as it was.
 */
import { type InspectionState, sameState } from '../core/state-export.ts';

export { WATCH_GAVE_UP_EXIT } from './watch-exit.ts';

export interface WatchSettings {
  intervalMs: number;
  fullIntervalMs: number;
  /** Longest wait between attempts while the services fail. */
  maxBackoffMs: number;
  /** Exit (non-zero) after failing continuously this long; 0 = never. */
  giveUpAfterMs: number;
}

export interface WatchState {
  /** The inspection state a compute currently gets from us; undefined until we wrote or read one. */
  published?: InspectionState;
  /** Node UUIDs of the last full listing (undefined before the first one). */
  fullNodes?: ReadonlySet<string>;
  /** When the last full listing succeeded (ms), and the key of the full export it wrote or found. */
  fullAt?: number;
  fullKey: string | null;
  /** Consecutive failed attempts of the fast reading, and since when (ms). */
  failures: number;
  failingSince?: number;
  /** Consecutive failed full listings; the next one is not tried before `fullRetryAt`. */
  fullFailures: number;
  fullRetryAt?: number;
}

export const initialWatchState = (): WatchState => ({ fullKey: null, failures: 0, fullFailures: 0 });

/** Why the full listing must run now, or undefined: never done, due on the slow cadence, or a node it lacks. */
export function fullListingReason(s: WatchState, observed: InspectionState, now: number, o: WatchSettings): 'first' | 'due' | 'unknown-node' | undefined {
  if (s.fullRetryAt !== undefined && now < s.fullRetryAt) return undefined;
  if (s.fullAt === undefined || s.fullNodes === undefined) return 'first';
  // Only Ironic's own answer: inspector may keep introspections of nodes Ironic has deleted, which no listing finds.
  if (observed.nodes.some((n) => !s.fullNodes!.has(n.uuid))) return 'unknown-node';
  if (now - s.fullAt >= o.fullIntervalMs) return 'due';
  return undefined;
}

/** A fast reading succeeded: publish it when it differs from what computes see. */
export function afterReading(s: WatchState, observed: InspectionState): { state: WatchState; publish: boolean } {
  const publish = !sameState(s.published, observed);
  const state: WatchState = { ...s, failures: 0 };
  delete state.failingSince;
  if (publish) state.published = observed;
  return { state, publish };
}

/**
 * A full listing succeeded. When it wrote a new full export, that export (newer than any state export) is what
 * computes see; when it was unchanged, the newest state export still stands, so the listing's own state is
 * published if it differs from it.
 */
export function afterFullListing(
  s: WatchState,
  r: { written: boolean; key: string; nodes: ReadonlySet<string>; observed: InspectionState },
  now: number,
): { state: WatchState; publish: boolean } {
  const base: WatchState = { ...s, fullNodes: r.nodes, fullAt: now, fullKey: r.key, fullFailures: 0 };
  delete base.fullRetryAt;
  if (r.written) return { state: { ...base, published: r.observed }, publish: false };
  return afterReading(base, r.observed);
}

/** The full listing failed: the fast readings go on (they need no inventory); the full one is retried with backoff. */
export function afterFullFailure(s: WatchState, now: number, o: WatchSettings): { state: WatchState; retryInMs: number } {
  const fullFailures = s.fullFailures + 1;
  const retryInMs = backoffMs(fullFailures, o);
  return { state: { ...s, fullFailures, fullRetryAt: now + retryInMs }, retryInMs };
}

/** The fast reading failed: nothing is published; wait longer each time (capped); give up after the set time. */
export function afterFailure(s: WatchState, now: number, o: WatchSettings): { state: WatchState; retryInMs: number; giveUp: boolean } {
  const failures = s.failures + 1;
  const failingSince = s.failingSince ?? now;
  const giveUp = o.giveUpAfterMs > 0 && now - failingSince >= o.giveUpAfterMs;
  return { state: { ...s, failures, failingSince }, retryInMs: backoffMs(failures, o), giveUp };
}

/** interval · 2^(n-1), capped: 2 s, 4 s, 8 s … up to maxBackoffMs. */
export function backoffMs(failures: number, o: Pick<WatchSettings, 'intervalMs' | 'maxBackoffMs'>): number {
  return Math.min(o.intervalMs * 2 ** Math.min(Math.max(failures - 1, 0), 30), Math.max(o.maxBackoffMs, o.intervalMs));
}
