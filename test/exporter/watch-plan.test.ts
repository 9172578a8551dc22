/** The decisions of `export --watch` (exporter/watch-plan.ts), without processes: state, event, time → decision. */
import { describe, expect, it } from 'vitest';
import type { InspectionState } from '../../core/state-export.ts';
import { afterFailure, afterFullFailure, afterFullListing, afterReading, backoffMs, fullListingReason, initialWatchState } from '../../exporter/watch-plan.ts';

const o = { intervalMs: 2000, fullIntervalMs: 600_000, maxBackoffMs: 60_000, giveUpAfterMs: 600_000 };
const reading = (...uuids: string[]): InspectionState => ({ nodes: uuids.map((uuid) => ({ uuid, provisionState: 'inspect wait' as const, inspectInterface: 'agent' })), introspection: [] });
const listed = (s: ReturnType<typeof initialWatchState>, at: number, written: boolean, observed: InspectionState, nodes = ['a', 'b']) =>
  afterFullListing(s, { written, key: `full-${at}`, nodes: new Set(nodes), observed }, at).state;

describe('export --watch decisions', () => {
  it('the full listing: first, on the slow cadence, at once for a node it lacks; not for an introspection of a deleted node', () => {
    const s0 = initialWatchState();
    expect(fullListingReason(s0, reading(), 0, o)).toBe('first');
    const s1 = listed(s0, 1000, true, reading());
    expect(fullListingReason(s1, reading('a'), 2000, o)).toBeUndefined();
    expect(fullListingReason(s1, reading('a', 'c'), 3000, o)).toBe('unknown-node');
    expect(fullListingReason(s1, { nodes: [], introspection: ['gone'] }, 3000, o)).toBeUndefined();
    expect(fullListingReason(s1, reading(), 1000 + 600_000, o)).toBe('due');
  });

  it('a state export only when the reading differs from what computes see; a written full export is what they see', () => {
    const s1 = listed(initialWatchState(), 0, true, reading('a'));
    expect(afterReading(s1, reading('a')).publish).toBe(false);
    const changed = afterReading(s1, reading('a', 'b'));
    expect(changed.publish).toBe(true);
    expect(afterReading(changed.state, { nodes: [...reading('b', 'a').nodes], introspection: [] }).publish).toBe(false);
    // Unchanged full listing: the newest state export still stands; publish the listing's reading if it differs.
    expect(afterFullListing(changed.state, { written: false, key: 'full-0', nodes: new Set(['a', 'b']), observed: reading('a') }, 5).publish).toBe(true);
    expect(afterFullListing(changed.state, { written: true, key: 'full-9', nodes: new Set(['a', 'b']), observed: reading('a') }, 5)).toMatchObject({ publish: false, state: { fullKey: 'full-9' } });
  });

  it('failures: nothing published, the wait doubles from the interval up to the cap, give up after the set time, reset on success', () => {
    let s = listed(initialWatchState(), 0, true, reading('a'));
    const published = s.published;
    const waits: number[] = [];
    let giveUp = false;
    for (let t = 10_000; !giveUp; ) {
      const f = afterFailure(s, t, o);
      expect(f.state.published).toBe(published);
      waits.push(f.retryInMs);
      ({ state: s, giveUp } = f);
      t += f.retryInMs;
    }
    expect(waits.slice(0, 7)).toEqual([2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect(s.failures).toBe(waits.length);
    const ok = afterReading(s, reading('a'));
    expect(ok.state.failures).toBe(0);
    expect(ok.state.failingSince).toBeUndefined();
    expect(afterFailure(s, 0, { ...o, giveUpAfterMs: 0 }).giveUp).toBe(false);
  });

  it('a failed full listing is retried with its own backoff while the fast readings go on', () => {
    const s = afterFullFailure(listed(initialWatchState(), 0, true, reading()), 700_000, o);
    expect(s.retryInMs).toBe(2000);
    expect(fullListingReason(s.state, reading('c'), 701_000, o)).toBeUndefined();
    expect(fullListingReason(s.state, reading('c'), 702_000, o)).toBe('unknown-node');
    expect(backoffMs(100, o)).toBe(60_000);
  });
});
