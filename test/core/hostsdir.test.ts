import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DirectoryState, UNKNOWN_HOSTS_FILE, applyPlan, applyPlanInPlace, classifyEntry, countRecords, diffDirectory, diffPolicyChange, recordText, wildcardText } from '../../core/hostsdir.ts';
import { type Mac, compareMacs, macFileName } from '../../core/mac.ts';
import { policyArbitrary, verdictArb } from '../support/arbitraries.ts';
import type { Policy, Verdict } from '../../core/policy.ts';

const m = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}` as Mac;
const policy = (p: Partial<Policy>): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [], deny: [], ...p });

/** What a directory says about each MAC and about unknown hosts, after a diff was applied. */
function verdicts(dir: DirectoryState) {
  const out = new Map<string, Verdict | undefined>();
  for (const [name, content] of dir) {
    const e = classifyEntry(name, content);
    if (e.kind === 'mac') out.set(e.mac, e.verdict);
  }
  return out;
}

describe('diffDirectory', () => {
  it('fills an empty directory: one file per MAC plus the wildcard, denies first', () => {
    const plan = diffDirectory(policy({ allow: [m(1)], deny: [m(2), m(3)], unknownHosts: 'allow' }), new Map());
    expect(plan.writes.map((w) => [w.name, w.content])).toEqual([
      ['52-54-00-00-00-02', '52:54:00:00:00:02,ignore\n'],
      ['52-54-00-00-00-03', '52:54:00:00:00:03,ignore\n'],
      ['52-54-00-00-00-01', '52:54:00:00:00:01\n'],
      [UNKNOWN_HOSTS_FILE, '*:*:*:*:*:*\n'],
    ]);
    expect(plan.deletes).toEqual([]);
    expect(plan.reloadNeeded).toBe(false);
  });

  it('writes nothing when the directory already matches', () => {
    const p = policy({ allow: [m(1)], deny: [m(2)] });
    const dir = applyPlan(new Map(), diffDirectory(p, new Map()));
    const again = diffDirectory(p, dir);
    expect(again.writes).toEqual([]);
    expect(again.deletes).toEqual([]);
    expect(again.counts).toEqual({ allow: 1, deny: 1, removed: 0 });
  });

  it('rewrites a removed MAC with the removed verdict and never deletes it', () => {
    const dir: DirectoryState = new Map([[macFileName(m(9)), recordText(m(9), 'deny')], [UNKNOWN_HOSTS_FILE, wildcardText('deny')]]);
    const plan = diffDirectory(policy({ removed: 'allow', unknownHosts: 'allow' }), dir);
    expect(plan.writes).toContainEqual({ name: '52-54-00-00-00-09', content: '52:54:00:00:00:09\n', reason: 'removed' });
    expect(plan.deletes).toEqual([]);
  });

  it('compaction deletes removed MACs and asks for a reload', () => {
    const dir: DirectoryState = new Map([[macFileName(m(9)), recordText(m(9), 'deny')]]);
    const plan = diffDirectory(policy({}), dir, { compactRemoved: true });
    expect(plan.deletes).toEqual([{ name: '52-54-00-00-00-09', reason: 'compacted' }]);
    expect(plan.reloadNeeded).toBe(true);
  });

  it('adopts a colon-named reference file: aligns it first, writes ours, then deletes it', () => {
    const dir: DirectoryState = new Map([[m(1), recordText(m(1), 'deny')]]);
    const plan = diffDirectory(policy({ allow: [m(1)] }), dir);
    expect(plan.writes.filter((w) => w.name !== UNKNOWN_HOSTS_FILE)).toEqual([
      { name: m(1), content: recordText(m(1), 'allow'), reason: 'adopt' },
      { name: macFileName(m(1)), content: recordText(m(1), 'allow'), reason: 'allow' },
    ]);
    expect(plan.deletes).toEqual([{ name: m(1), reason: 'adopted' }]);
    expect(plan.reloadNeeded).toBe(false);
  });

  it('reports foreign files and leaves them alone; removes stale hidden temp files', () => {
    const dir: DirectoryState = new Map<string, string | null>([
      ['garbage', '52:54:00:00:00:0\n'],
      ['subdir', null],
      ['.pxe-filter-52-54-00-00-00-01.123.0.tmp', '52:54:00:00:00:01\n'],
    ]);
    const plan = diffDirectory(policy({}), dir);
    expect(plan.foreign.map((f) => f.name).sort()).toEqual(['garbage', 'subdir']);
    expect(plan.writes.some((w) => w.name === 'garbage' || w.name === 'subdir')).toBe(false);
    expect(plan.deletes).toEqual([{ name: '.pxe-filter-52-54-00-00-00-01.123.0.tmp', reason: 'stale-temp' }]);
  });

  it('rewrites a MAC file whose content is not one of our two records (e.g. upper-case IGNORE)', () => {
    const dir: DirectoryState = new Map([[macFileName(m(2)), '52:54:00:00:00:02,IGNORE\n']]);
    const plan = diffDirectory(policy({ deny: [m(2)] }), dir);
    expect(plan.writes).toContainEqual({ name: '52-54-00-00-00-02', content: '52:54:00:00:00:02,ignore\n', reason: 'deny' });
  });

  // A random directory: our files, reference colon files, foreign files, in random states.
  const macArb = fc.integer({ min: 0, max: 40 }).map(m);
  const verdictArb = fc.constantFrom<Verdict>('allow', 'deny');
  const contentFor = (mac: Mac) => fc.oneof(verdictArb.map((v) => recordText(mac, v)), fc.constant(`${mac},IGNORE\n`), fc.constant(''));
  const entryArb = fc.oneof(
    macArb.chain((mac) => contentFor(mac).map((c) => [macFileName(mac), c] as [string, string | null])),
    macArb.chain((mac) => contentFor(mac).map((c) => [mac as string, c] as [string, string | null])),
    fc.constantFrom<[string, string | null]>(['garbage', 'x\n'], ['README', null], [UNKNOWN_HOSTS_FILE, wildcardText('allow')], [UNKNOWN_HOSTS_FILE, 'junk']),
  );
  const policyArb = fc
    .record({ allow: fc.uniqueArray(macArb), deny: fc.uniqueArray(macArb), open: fc.boolean() })
    .map(({ allow, deny, open }) => {
      const a = new Set(allow);
      const v: Verdict = open ? 'allow' : 'deny';
      return policy({ allow: [...a].sort(compareMacs), deny: deny.filter((x) => !a.has(x)).sort(compareMacs), unknownHosts: v, removed: v });
    });

  it('property: diff then apply = manifest, foreign files untouched, and a second diff is empty', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 60 }), policyArb, fc.boolean(), (entries, p, compact) => {
        const before: DirectoryState = new Map(entries);
        const plan = diffDirectory(p, before, { compactRemoved: compact });
        const after = applyPlan(before, plan);
        // The daemon's report counts, kept up to date by the in-place apply, equal a recount of the result.
        const counts = countRecords(before);
        expect(countRecords(applyPlanInPlace(new Map(before), plan, counts))).toEqual(counts);
        const v = verdicts(after);
        for (const mac of p.allow) expect(after.get(macFileName(mac))).toBe(recordText(mac, 'allow'));
        for (const mac of p.deny) expect(after.get(macFileName(mac))).toBe(recordText(mac, 'deny'));
        expect(after.get(UNKNOWN_HOSTS_FILE)).toBe(wildcardText(p.unknownHosts));
        const known = new Set([...p.allow, ...p.deny]);
        for (const [mac, verdict] of v) if (!known.has(mac as Mac)) expect(verdict).toBe(p.removed);
        if (compact) for (const mac of v.keys()) expect(known.has(mac as Mac)).toBe(true);
        // No colon-named file survives: each MAC has exactly one file.
        for (const name of after.keys()) expect(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(name)).toBe(false);
        for (const [name, content] of before) if (classifyEntry(name, content).kind === 'foreign') expect(after.get(name)).toBe(content);
        const again = diffDirectory(p, after, { compactRemoved: compact });
        expect(again.writes).toEqual([]);
        expect(again.deletes).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('property: adoptions come first; then every deny before every allow', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 40 }), policyArb, (entries, p) => {
        const own = diffDirectory(p, new Map(entries)).writes;
        const firstOwn = own.findIndex((w) => w.reason !== 'adopt');
        if (firstOwn >= 0) expect(own.slice(firstOwn).every((w) => w.reason !== 'adopt')).toBe(true);
        const homes = firstOwn >= 0 ? own.slice(firstOwn) : [];
        const firstAllow = homes.findIndex((w) => !w.content.endsWith(',ignore\n'));
        if (firstAllow >= 0) expect(homes.slice(firstAllow).every((w) => !w.content.endsWith(',ignore\n'))).toBe(true);
      }),
    );
  });
});

describe('diffPolicyChange (steady-state incremental diff)', () => {
  const macArb = fc.integer({ min: 0, max: 60 }).map(m);
  const policyArb = policyArbitrary(macArb);
  const dirArb = fc.array(
    fc.tuple(macArb, verdictArb, fc.boolean()).map(([mac, v, colon]) => [colon ? (mac as string) : macFileName(mac), recordText(mac, v)] as [string, string]),
    { maxLength: 30 },
  );

  it('property: gives the same directory as the full diff when the directory is what the previous policy left', () => {
    fc.assert(
      fc.property(dirArb, policyArb, policyArb, fc.boolean(), (entries, prev, next, compact) => {
        const start: DirectoryState = new Map(entries);
        const applied = applyPlan(start, diffDirectory(prev, start, { compactRemoved: compact }));
        const incremental = applyPlan(applied, diffPolicyChange(prev, next, applied, { compactRemoved: compact }));
        const full = applyPlan(applied, diffDirectory(next, applied, { compactRemoved: compact }));
        expect(new Map([...incremental].sort())).toEqual(new Map([...full].sort()));
      }),
      { numRuns: 1000 },
    );
  });

  it('touches only the MACs that changed', () => {
    const prev = policy({ allow: [m(1)], deny: [m(2), m(3)] });
    const next = policy({ allow: [m(2)], deny: [m(1), m(3)] });
    const dir = applyPlan(new Map(), diffDirectory(prev, new Map()));
    const plan = diffPolicyChange(prev, next, dir);
    expect(plan.writes.map((w) => w.name).sort()).toEqual(['52-54-00-00-00-01', '52-54-00-00-00-02']);
  });
});
