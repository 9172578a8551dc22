/** control/control-rules.ts: when `control run` computes a site, as a pure function of state, event and time. */
import { describe, expect, it } from 'vitest';
import { type ControlEvent, type ControlState, type ControlTimings, backoffMs, decide, initialState } from '../../control/control-rules.ts';

const T: ControlTimings = { debounceMs: 200, maxWaitMs: 1000, scheduleMs: 60_000, retryMinMs: 1000, retryMaxMs: 30_000 };

/** Feed events at times; return the runs started at each step. */
function play(sites: string[], steps: [number, ControlEvent][]) {
  let state: ControlState = initialState(sites, 0);
  const log: { at: number; runs: string[]; wakeAt: number | undefined }[] = [];
  for (const [at, event] of steps) {
    const d = decide(state, event, at, T);
    state = d.state;
    log.push({ at, runs: d.runs.map((r) => `${r.site}:${r.trigger}`), wakeAt: d.wakeAt });
  }
  return { log, state };
}

describe('control run decisions', () => {
  it('runs every site once at start, then only on the schedule', () => {
    const { log } = play(['a', 'b'], [
      [0, { kind: 'tick' }],
      [50, { kind: 'finished', site: 'a', outcome: 'unchanged' }],
      [80, { kind: 'finished', site: 'b', outcome: 'published' }],
      [59_999, { kind: 'tick' }],
      [60_050, { kind: 'tick' }],
    ]);
    expect(log[0]!.runs).toEqual(['a:start', 'b:start']);
    expect(log[0]!.wakeAt).toBeUndefined(); // both running: nothing to wake for
    expect(log[1]!.wakeAt).toBe(60_050);
    expect(log[2]!.wakeAt).toBe(60_050);
    expect(log[3]!.runs).toEqual([]);
    expect(log[4]!.runs).toEqual(['a:schedule']);
  });

  it('a new export runs its site after the quiet period, once for a burst of events', () => {
    const { log } = play(['a', 'b'], [
      [0, { kind: 'tick' }],
      [10, { kind: 'finished', site: 'a', outcome: 'unchanged' }],
      [10, { kind: 'finished', site: 'b', outcome: 'unchanged' }],
      [1000, { kind: 'export', site: 'a' }],
      [1100, { kind: 'export', site: 'a' }],
      [1299, { kind: 'tick' }],
      [1300, { kind: 'tick' }],
      [1301, { kind: 'export', site: 'a' }],
    ]);
    expect(log[3]!.wakeAt).toBe(1200);
    expect(log[4]!.wakeAt).toBe(1300); // the quiet period restarts with each event
    expect(log[5]!.runs).toEqual([]);
    expect(log[6]!.runs).toEqual(['a:export']); // b stays on its schedule
    expect(log[7]!.runs).toEqual([]); // a is running: the event is kept for after it
  });

  it('an export that lands during a run runs the site again after it', () => {
    const { log } = play(['a'], [
      [0, { kind: 'tick' }],
      [5, { kind: 'export', site: 'a' }],
      [500, { kind: 'finished', site: 'a', outcome: 'published' }],
      [500, { kind: 'tick' }],
    ]);
    expect(log[2]!.runs).toEqual(['a:export']); // 5 + 200 is long past
  });

  it('a steady stream of events still runs within maxWait', () => {
    const steps: [number, ControlEvent][] = [[0, { kind: 'tick' }], [1, { kind: 'finished', site: 'a', outcome: 'unchanged' }]];
    for (let at = 100; at <= 1500; at += 100) steps.push([at, { kind: 'export', site: 'a' }]);
    const { log } = play(['a'], steps);
    const firstRun = log.find((l) => l.runs.length > 0 && l.at > 0)!;
    expect(firstRun.at).toBe(1100); // first event at 100 + maxWait 1000, although events never paused 200 ms
  });

  it('a lost conditional write runs again at once; a failure backs off; a guard refusal waits for news', () => {
    const { log, state } = play(['a'], [
      [0, { kind: 'tick' }],
      [10, { kind: 'finished', site: 'a', outcome: 'conflict' }],
      [20, { kind: 'finished', site: 'a', outcome: 'failed' }],
      [1019, { kind: 'tick' }],
      [1020, { kind: 'tick' }],
      [1030, { kind: 'finished', site: 'a', outcome: 'failed' }],
      [3030, { kind: 'tick' }],
      [3040, { kind: 'finished', site: 'a', outcome: 'refused' }],
    ]);
    expect(log[1]!.runs).toEqual(['a:conflict']);
    expect(log[2]!.wakeAt).toBe(1020);
    expect(log[3]!.runs).toEqual([]);
    expect(log[4]!.runs).toEqual(['a:retry']);
    expect(log[5]!.wakeAt).toBe(3030); // second failure: 2 s
    expect(log[6]!.runs).toEqual(['a:retry']);
    expect(log[7]!.runs).toEqual([]);
    expect(log[7]!.wakeAt).toBe(3040 + 60_000); // refused: the next schedule, no retry loop
    expect(state['a']!.failures).toBe(0);
  });

  it('a new export runs at once even while a failed site backs off', () => {
    const { log } = play(['a'], [
      [0, { kind: 'tick' }],
      [10, { kind: 'finished', site: 'a', outcome: 'failed' }],
      [10, { kind: 'finished', site: 'a', outcome: 'failed' }],
      [20, { kind: 'export', site: 'a' }],
      [220, { kind: 'tick' }],
    ]);
    expect(log[4]!.runs).toEqual(['a:export']);
  });

  it('backoff doubles and is capped', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((f) => backoffMs(f, T))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('events for sites it does not publish change nothing', () => {
    const { log } = play(['a'], [
      [0, { kind: 'tick' }],
      [10, { kind: 'finished', site: 'a', outcome: 'unchanged' }],
      [20, { kind: 'export', site: 'zz' }],
      [1000, { kind: 'tick' }],
    ]);
    expect(log[3]!.runs).toEqual([]);
  });
});
