import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DirectoryState, type Plan, UNKNOWN_HOSTS_FILE, applyPlan, diffDirectory, parseRecords, recordText, recordsText, wildcardText } from '../../core/hostsdir.ts';
import { type Mac, macFileName, macFromFileName } from '../../core/mac.ts';
import type { Policy, Verdict } from '../../core/policy.ts';
import { policyArbitrary, verdictArb } from '../support/arbitraries.ts';
import { diffSharded, mergedRecordsText, shardIndexOf, shardName, shardOf } from '../../core/sharded.ts';

const m = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}` as Mac;
const policy = (p: Partial<Policy>): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [], deny: [], ...p });

/** Every record every file holds, per MAC. */
function recordsByMac(dir: DirectoryState): Map<Mac, Verdict[]> {
  const out = new Map<Mac, Verdict[]>();
  for (const [name, content] of dir) {
    if (content === null || name === UNKNOWN_HOSTS_FILE || name.startsWith('.')) continue;
    if (shardIndexOf(name) === undefined && !macFromFileName(name)) continue;
    for (const [mac, v] of parseRecords(content)) out.set(mac, [...(out.get(mac) ?? []), v]);
  }
  return out;
}

/** Apply a plan one operation at a time, calling `check` after each, as an interrupted apply would leave it. */
function stepwise(dir: DirectoryState, plan: Plan, check: (d: DirectoryState) => void): DirectoryState {
  let cur = new Map(dir);
  check(cur);
  for (const w of plan.writes) {
    cur = new Map(cur).set(w.name, w.content);
    check(cur);
  }
  for (const d of plan.deletes) {
    cur = new Map(cur);
    cur.delete(d.name);
    check(cur);
  }
  return cur;
}

const noDisagreement = (d: DirectoryState) => {
  for (const [mac, vs] of recordsByMac(d)) expect(new Set(vs).size, `records of ${mac}: ${vs.join(',')}`).toBe(1);
};

const macArb = fc.integer({ min: 0, max: 80 }).map(m);
const policyArb = policyArbitrary(macArb);
const shardsArb = fc.constantFrom(1, 3, 16);
/** A consistent starting directory: the reference's colon files, or what either layout left for some policy. */
const startArb = fc.oneof(
  fc.uniqueArray(fc.tuple(macArb, verdictArb), { selector: ([mac]) => mac, maxLength: 30 }).map((rs) => new Map(rs.map(([mac, v]) => [mac as string, recordText(mac, v)])) as DirectoryState),
  fc.tuple(policyArb, shardsArb).map(([p, k]) => applyPlan(new Map(), diffSharded(p, new Map(), { shards: k }))),
  policyArb.map((p) => applyPlan(new Map(), diffDirectory(p, new Map()))),
);

describe('sharded layout', () => {
  it('puts each MAC in exactly one shard, by a stable hash, evenly enough', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 50_000; i++) counts[shardOf(`52:54:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` as Mac, 256)]!++;
    const mean = 50_000 / 256;
    expect(Math.max(...counts)).toBeLessThan(mean * 1.5);
    expect(Math.min(...counts)).toBeGreaterThan(mean * 0.5);
    expect(shardOf(m(1), 256)).toBe(shardOf(m(1), 256));
    expect(shardName(7)).toBe('shard-0007');
  });

  it('fills an empty directory with every shard plus the wildcard; revoking shards first', () => {
    const plan = diffSharded(policy({ allow: [m(1)], deny: [m(2)], unknownHosts: 'allow' }), new Map(), { shards: 4 });
    const dir = applyPlan(new Map(), plan);
    expect([...dir.keys()].sort()).toEqual(['shard-0000', 'shard-0001', 'shard-0002', 'shard-0003', UNKNOWN_HOSTS_FILE]);
    expect(dir.get(shardName(shardOf(m(1), 4)))).toContain('52:54:00:00:00:01\n');
    expect(dir.get(shardName(shardOf(m(2), 4)))).toContain('52:54:00:00:00:02,ignore\n');
    const firstGranting = plan.writes.findIndex((w) => !w.content.includes(',ignore'));
    expect(plan.writes.slice(firstGranting).some((w) => w.content.includes(',ignore') && w.name !== shardName(shardOf(m(1), 4)))).toBe(false);
  });

  it('a flip rewrites only the shard of that MAC', () => {
    const p1 = policy({ allow: [m(1)], deny: [m(2), m(3), m(4), m(5)] });
    const dir = applyPlan(new Map(), diffSharded(p1, new Map(), { shards: 16 }));
    const plan = diffSharded(policy({ allow: [m(2)], deny: [m(1), m(3), m(4), m(5)] }), dir, { shards: 16 });
    expect(plan.writes.map((w) => w.name).sort()).toEqual([...new Set([shardName(shardOf(m(1), 16)), shardName(shardOf(m(2), 16))])].sort());
    expect(plan.reloadNeeded).toBe(false);
  });

  it('property: diff then apply = policy, one record per MAC, idempotent; compaction drops removed MACs with a reload', () => {
    fc.assert(
      fc.property(startArb, policyArb, shardsArb, fc.boolean(), (start, p, shards, compact) => {
        const plan = diffSharded(p, start, { shards, compactRemoved: compact });
        const after = applyPlan(start, plan);
        const recs = recordsByMac(after);
        for (const mac of p.allow) expect(recs.get(mac)).toEqual(['allow']);
        for (const mac of p.deny) expect(recs.get(mac)).toEqual(['deny']);
        const known = new Set<Mac>([...p.allow, ...p.deny]);
        const before = recordsByMac(start);
        for (const mac of before.keys()) {
          if (known.has(mac)) continue;
          if (compact) expect(recs.has(mac)).toBe(false);
          else expect(recs.get(mac)).toEqual([p.removed]);
        }
        if (compact && [...before.keys()].some((mac) => !known.has(mac))) expect(plan.reloadNeeded).toBe(true);
        expect(after.get(UNKNOWN_HOSTS_FILE)).toBe(wildcardText(p.unknownHosts));
        for (const name of after.keys()) expect(macFromFileName(name)).toBeUndefined();
        const again = diffSharded(p, after, { shards, compactRemoved: compact });
        expect(again.writes).toEqual([]);
        expect(again.deletes).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('property: migration per-MAC → sharded never leaves two files that disagree, at any step', () => {
    fc.assert(
      fc.property(startArb, policyArb, shardsArb, (start, p, shards) => {
        stepwise(start, diffSharded(p, start, { shards }), noDisagreement);
      }),
      { numRuns: 400 },
    );
  });

  it('property: migration sharded → per-MAC never leaves two files that disagree, at any step', () => {
    fc.assert(
      fc.property(startArb, policyArb, (start, p) => {
        const after = stepwise(start, diffDirectory(p, start), noDisagreement);
        for (const name of after.keys()) expect(shardIndexOf(name)).toBeUndefined();
        const recs = recordsByMac(after);
        for (const mac of p.allow) expect(after.get(macFileName(mac))).toBe(recordText(mac, 'allow'));
        for (const [, vs] of recs) expect(vs.length).toBe(1);
      }),
      { numRuns: 400 },
    );
  });

  it('property: incremental (onlyShards of the changed MACs) gives the same directory as the full diff', () => {
    fc.assert(
      fc.property(policyArb, policyArb, shardsArb, (prev, next, shards) => {
        fc.pre(prev.removed === next.removed);
        const dir = applyPlan(new Map(), diffSharded(prev, new Map(), { shards }));
        const before = new Map<Mac, Verdict>([...prev.allow.map((x) => [x, 'allow'] as const), ...prev.deny.map((x) => [x, 'deny'] as const)]);
        const after = new Map<Mac, Verdict>([...next.allow.map((x) => [x, 'allow'] as const), ...next.deny.map((x) => [x, 'deny'] as const)]);
        const changed = [...new Set([...before.keys(), ...after.keys()])].filter((x) => before.get(x) !== after.get(x));
        const only = new Set(changed.map((x) => shardOf(x, shards)));
        const inc = applyPlan(dir, diffSharded(next, dir, { shards, onlyShards: only }));
        const full = applyPlan(dir, diffSharded(next, dir, { shards }));
        expect(new Map([...inc].sort())).toEqual(new Map([...full].sort()));
      }),
      { numRuns: 400 },
    );
  });
});

describe('mergedRecordsText (a shard\'s text from its sorted allow and deny lists, one join per run)', () => {
  it('is recordsText of the same records, for any two disjoint sorted lists (runs of every length, either list empty)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 2000 }), verdictArb), { selector: ([n]) => n, maxLength: 120 }), (records) => {
        const pairs = records.map(([n, v]) => [m(n), v] as const);
        const sorted = (v: Verdict) => pairs.filter(([, w]) => w === v).map(([mac]) => mac).sort();
        expect(mergedRecordsText(sorted('allow'), sorted('deny'))).toBe(recordsText(pairs));
      }),
    );
    expect(mergedRecordsText([], [])).toBe('');
    expect(mergedRecordsText([m(1), m(2)], [m(3)])).toBe(`${m(1)}\n${m(2)}\n${m(3)},ignore\n`);
  });
});
