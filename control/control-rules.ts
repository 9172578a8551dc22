/**
 * When `pxe-filter control run` computes a site: the service's decisions as a pure function of its state, one event
 * and the time (injected), so they are tested without processes or timers (test/control/control-rules.test.ts);
 * control/control-service.ts performs them.
 *
 * - A new export in the store (a watch event) runs the site after a short quiet period (`debounceMs`), so the
 *   several file events of one upload make one run; a steady stream of events still runs it within `maxWaitMs`.
 * - Every site also runs every `scheduleMs` after its last run, the safety net the EventBridge rule is for the
 *   Lambda: a missed watch event, an s3:// store (no watch), a pointer left behind by a crash.
 * - One run per site at a time. An event during a run marks the site again, so the export that landed while it
 *   ran is never missed.
 * - A run that lost the store's conditional write (another publisher got there first) runs again at once: the
 *   next run sees the other generation and decides on it. A failed run is retried with capped exponential
 *   backoff, but a new export always runs at once (it may be the fix).
 */

export interface ControlTimings {
  debounceMs: number;
  maxWaitMs: number;
  scheduleMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

export type RunTrigger = 'start' | 'export' | 'schedule' | 'retry' | 'conflict';

/** `refused`: the publish guard said no; not retried (the same export would be refused again), the next export or the schedule runs it. */
export type RunOutcome = 'published' | 'unchanged' | 'refused' | 'conflict' | 'failed';

export interface SiteState {
  running: boolean;
  /** First watch event not yet covered by a run, and the latest one (for the quiet period). */
  dirtySince?: number;
  lastEventAt?: number;
  /** Why the next run is due when it is not an export: the first run, a retry, a lost conditional write. */
  pending?: Exclude<RunTrigger, 'export' | 'schedule'>;
  retryAt?: number;
  nextScheduledAt: number;
  /** Consecutive failed runs (the backoff's exponent). */
  failures: number;
}

export type ControlState = Readonly<Record<string, SiteState>>;

export type ControlEvent =
  | { kind: 'export'; site: string }
  | { kind: 'finished'; site: string; outcome: RunOutcome }
  | { kind: 'tick' };

export interface RunAction {
  site: string;
  trigger: RunTrigger;
}

export interface Decision {
  state: ControlState;
  /** Runs to start now (the shell marks nothing: `state` already says they are running). */
  runs: RunAction[];
  /** When to call again with a tick if nothing else happens (epoch ms), or undefined when every site is running. */
  wakeAt: number | undefined;
}

/** Every site runs once at start: catch up with whatever landed while the service was down. */
export function initialState(sites: readonly string[], now: number): ControlState {
  return Object.fromEntries(sites.map((site) => [site, { running: false, pending: 'start', nextScheduledAt: now, failures: 0 } satisfies SiteState]));
}

export function backoffMs(failures: number, t: ControlTimings): number {
  return Math.min(t.retryMaxMs, t.retryMinMs * 2 ** Math.max(0, failures - 1));
}

/** Apply one event at `now`, then decide which sites run. */
export function decide(state: ControlState, event: ControlEvent, now: number, t: ControlTimings): Decision {
  const next: Record<string, SiteState> = { ...state };
  if (event.kind === 'export') {
    const s = next[event.site];
    if (s) next[event.site] = { ...s, dirtySince: s.dirtySince ?? now, lastEventAt: now };
  } else if (event.kind === 'finished') {
    const s = next[event.site];
    if (s) next[event.site] = finished(s, event.outcome, now, t);
  }
  const runs: RunAction[] = [];
  let wakeAt: number | undefined;
  for (const [site, s] of Object.entries(next)) {
    if (s.running) continue;
    const due = dueAt(s, t);
    if (due.at <= now) {
      runs.push({ site, trigger: due.trigger });
      // The run covers every event seen so far; later ones mark the site again.
      next[site] = { running: true, nextScheduledAt: s.nextScheduledAt, failures: s.failures };
    } else {
      wakeAt = wakeAt === undefined ? due.at : Math.min(wakeAt, due.at);
    }
  }
  return { state: next, runs, wakeAt };
}

function finished(s: SiteState, outcome: RunOutcome, now: number, t: ControlTimings): SiteState {
  const base: SiteState = { running: false, nextScheduledAt: now + t.scheduleMs, failures: 0 };
  if (s.dirtySince !== undefined) base.dirtySince = s.dirtySince;
  if (s.lastEventAt !== undefined) base.lastEventAt = s.lastEventAt;
  if (outcome === 'conflict') return { ...base, pending: 'conflict' };
  if (outcome === 'failed') {
    const failures = s.failures + 1;
    return { ...base, failures, pending: 'retry', retryAt: now + backoffMs(failures, t) };
  }
  return base;
}

/** The earliest reason this site is due, and when. */
function dueAt(s: SiteState, t: ControlTimings): { at: number; trigger: RunTrigger } {
  const candidates: { at: number; trigger: RunTrigger }[] = [{ at: s.nextScheduledAt, trigger: 'schedule' }];
  if (s.pending === 'start' || s.pending === 'conflict') candidates.push({ at: -Infinity, trigger: s.pending });
  if (s.pending === 'retry' && s.retryAt !== undefined) candidates.push({ at: s.retryAt, trigger: 'retry' });
  if (s.dirtySince !== undefined && s.lastEventAt !== undefined) {
    candidates.push({ at: Math.min(s.lastEventAt + t.debounceMs, s.dirtySince + t.maxWaitMs), trigger: 'export' });
  }
  return candidates.reduce((a, b) => (b.at < a.at ? b : a));
}
