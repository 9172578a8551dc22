/**
 * Plan.counts has one meaning on every path (core/hostsdir.ts PlanCounts): after any sequence of policy changes,
 * the daemon's incremental diff reports exactly what the full diff of the same directory reports, in the per-MAC
 * and the sharded layout — allow/deny the policy's MACs, removed the records of MACs it no longer names.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DirectoryState, applyPlan, countRecords, countRemovedMacs, recordText, removedRecords } from '../../core/hostsdir.ts';
import { type Layout, planSync } from '../../core/hostsdir-layout.ts';
import { LayoutSchema } from '../../core/layout-schema.ts';
import { type Mac, macFileName } from '../../core/mac.ts';
import type { Policy } from '../../core/policy.ts';
import { policyArbitrary, verdictArb } from '../support/arbitraries.ts';

const m = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}` as Mac;
const policyArb = policyArbitrary(fc.integer({ min: 0, max: 60 }).map(m));
/** What an earlier agent or the reference left: dashed and colon-named one-record files. */
const leftoverArb = fc.array(fc.record({ n: fc.integer({ min: 0, max: 60 }), v: verdictArb, colon: fc.boolean() }), { maxLength: 20 }).map((files) => {
  const dir: DirectoryState = new Map();
  for (const f of files) dir.set(f.colon ? m(f.n) : macFileName(m(f.n)), recordText(m(f.n), f.v));
  return dir;
});
const layoutArb = fc.constantFrom<Layout>(LayoutSchema.parse({ kind: 'per-mac' }), LayoutSchema.parse({ kind: 'sharded', shards: 1 }), LayoutSchema.parse({ kind: 'sharded', shards: 8 }));

describe('Plan.counts: one meaning on every path', () => {
  it('property: incremental = full after every change, per-MAC and sharded, with compactions in between', () => {
    fc.assert(
      fc.property(layoutArb, leftoverArb, policyArb, fc.array(fc.tuple(policyArb, fc.boolean()), { minLength: 1, maxLength: 5 }), (layout, leftover, first, changes) => {
        // The start-up: a full diff of whatever is there; from then on the directory is exactly what it applied.
        let dir = applyPlan(leftover, planSync(layout, first, leftover));
        let previous = first;
        for (const [next, compact] of changes) {
          const previousRemoved = removedRecords(previous, countRecords(dir));
          expect(previousRemoved).toBe(countRemovedMacs(previous, dir));
          const full = planSync(layout, next, dir);
          const incremental = planSync(layout, next, dir, { previous, previousRemoved });
          const counted = planSync(layout, next, dir, { previous });
          expect(full.counts).toEqual({ allow: next.allow.length, deny: next.deny.length, removed: countRemovedMacs(next, dir) });
          expect(incremental.counts).toEqual(full.counts);
          expect(counted.counts).toEqual(full.counts);
          dir = applyPlan(dir, incremental);
          if (compact) {
            const compaction = planSync(layout, next, dir, { compactRemoved: true });
            expect(compaction.counts).toEqual(full.counts);
            dir = applyPlan(dir, compaction);
            expect(countRemovedMacs(next, dir)).toBe(0);
          }
          previous = next;
        }
      }),
      { numRuns: 400 },
    );
  });

  it('one flip reports the whole policy on every path, not the change', () => {
    const macs = [m(1), m(2), m(3)];
    const p1: Policy = { unknownHosts: 'deny', removed: 'deny', allow: macs.slice(0, 2), deny: [macs[2]!] };
    const p2: Policy = { ...p1, allow: [macs[0]!], deny: macs.slice(1) };
    for (const layout of [LayoutSchema.parse({ kind: 'per-mac' }), LayoutSchema.parse({ kind: 'sharded', shards: 4 })]) {
      const dir = applyPlan(new Map(), planSync(layout, p1, new Map()));
      expect(planSync(layout, p2, dir, { previous: p1, previousRemoved: 0 }).counts).toEqual({ allow: 1, deny: 2, removed: 0 });
      expect(planSync(layout, p2, dir).counts).toEqual({ allow: 1, deny: 2, removed: 0 });
    }
  });
});
