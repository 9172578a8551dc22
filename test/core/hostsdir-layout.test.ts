import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DirectoryState, applyPlan, applyPlanInPlace, countRecords } from '../../core/hostsdir.ts';
import { planSync } from '../../core/hostsdir-layout.ts';
import { LayoutSchema } from '../../core/layout-schema.ts';
import { type Mac, compareMacs } from '../../core/mac.ts';
import type { Policy, Verdict } from '../../core/policy.ts';
import { diffSharded, shardName, shardOf } from '../../core/sharded.ts';

const m = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}` as Mac;
const verdictArb = fc.constantFrom<Verdict>('allow', 'deny');
const policyArb = fc
  .record({ allow: fc.uniqueArray(fc.integer({ min: 0, max: 120 }).map(m)), deny: fc.uniqueArray(fc.integer({ min: 0, max: 120 }).map(m)), unknown: verdictArb, removed: verdictArb })
  .map(({ allow, deny, unknown, removed }): Policy => {
    const a = new Set(allow);
    return { allow: [...a].sort(compareMacs), deny: deny.filter((x) => !a.has(x)).sort(compareMacs), unknownHosts: unknown, removed };
  });
const sorted = (d: DirectoryState) => new Map([...d].sort());

describe('planSync, sharded layout', () => {
  it('property: the incremental diff (previous policy known) leaves the same directory as the full diff', () => {
    fc.assert(
      fc.property(policyArb, policyArb, policyArb, fc.constantFrom(1, 3, 16, 256), fc.boolean(), (p0, p1, p2, shards, sameRemoved) => {
        const layout = LayoutSchema.parse({ kind: 'sharded', shards });
        const next = sameRemoved ? { ...p2, removed: p1.removed } : p2;
        // p0 then p1 (full diffs): the directory holds records of MACs p1 no longer names (removed records).
        const dir = applyPlan(applyPlan(new Map(), diffSharded(p0, new Map(), { shards })), diffSharded(p1, applyPlan(new Map(), diffSharded(p0, new Map(), { shards })), { shards }));
        const inc = planSync(layout, next, dir, { previous: p1 });
        const full = diffSharded(next, dir, { shards });
        expect(sorted(applyPlan(dir, inc))).toEqual(sorted(applyPlan(dir, full)));
        const counts = countRecords(dir);
        expect(countRecords(applyPlanInPlace(new Map(dir), inc, counts))).toEqual(counts);
        expect(inc.reloadNeeded).toBe(full.reloadNeeded);
        expect([inc.counts.allow, inc.counts.deny]).toEqual([next.allow.length, next.deny.length]);
      }),
      { numRuns: 500 },
    );
  });

  it('the incremental diff looks only at the touched shards: a flip writes exactly its shard', () => {
    const layout = LayoutSchema.parse({ kind: 'sharded', shards: 64 });
    const macs = Array.from({ length: 2000 }, (_, i) => m(i));
    const p1: Policy = { unknownHosts: 'deny', removed: 'deny', allow: macs.slice(0, 1000), deny: macs.slice(1000) };
    const dir = applyPlan(new Map(), diffSharded(p1, new Map(), { shards: 64 }));
    const p2: Policy = { ...p1, allow: macs.slice(1, 1000), deny: [...macs.slice(1000), macs[0]!] };
    const plan = planSync(layout, p2, dir, { previous: p1 });
    expect(plan.writes.map((w) => w.name)).toEqual([shardName(shardOf(macs[0]!, 64))]);
    expect(plan.deletes).toEqual([]);
    expect(plan.reloadNeeded).toBe(false);
  });
});
