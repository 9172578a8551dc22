/**
 * The canonical-bytes reader read against a previous policy (core/manifest-bytes.ts readListAgainst: equal runs of
 * entries compared with the previous manifest's bytes, the rest read one by one) answers exactly as it does alone —
 * the same manifest, or undefined — and as the full path through parseManifestBytes; and what it records of the
 * change gives the daemon's diff the very plan a walk of both policies gives (core/hostsdir.ts changedMacs).
 * Lists long enough for whole blocks (256 entries) and binary searches within them, changed a little (a poll) or
 * a lot, and the bytes mutated at the text level.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordedChanges } from '../../core/canonical-policy.ts';
import { applyPlan, changedMacs, diffDirectory, diffPolicyChange, listChanges } from '../../core/hostsdir.ts';
import type { Mac } from '../../core/mac.ts';
import { readCanonicalManifest } from '../../core/manifest-bytes.ts';
import { type Manifest, buildManifest, parseManifestBytes, serializeManifest, sha256 } from '../../core/manifest.ts';
import type { Policy, Verdict } from '../../core/policy.ts';

const macOf = (i: number) => `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` as Mac;

/** A policy over MAC numbers: each number's verdict, undefined = not named. */
type Verdicts = Map<number, Verdict>;

function policyOf(v: Verdicts, unknownHosts: Verdict, removed: Verdict): Policy {
  const numbers = [...v.keys()].sort((a, b) => a - b);
  return { unknownHosts, removed, allow: numbers.filter((i) => v.get(i) === 'allow').map(macOf), deny: numbers.filter((i) => v.get(i) === 'deny').map(macOf) };
}

function manifestOf(policy: Policy, generation: number): Manifest {
  return buildManifest({ site: 'dc1', generation, createdAt: new Date(Date.UTC(2026, 0, 1)), inputs: [], policy });
}

/** A pseudo-random stream from a seed (fast-check shrinks the seed; the lists themselves stay cheap to build). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Case {
  size: number;
  /** Share of MACs allowed; share of them changed in the next policy (a poll changes few). */
  allowShare: number;
  churn: number;
  seed: number;
  verdicts: [Verdict, Verdict, Verdict, Verdict];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  size: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 200, max: 1500 })),
  allowShare: fc.constantFrom(0, 0.02, 0.5, 1),
  churn: fc.constantFrom(0, 0.001, 0.01, 0.2, 1),
  seed: fc.integer(),
  verdicts: fc.tuple(fc.constantFrom<Verdict>('allow', 'deny'), fc.constantFrom<Verdict>('allow', 'deny'), fc.constantFrom<Verdict>('allow', 'deny'), fc.constantFrom<Verdict>('allow', 'deny')),
});

/** The previous policy and the next one: some MACs flipped, some dropped, some added (anywhere in the order). */
function policies(c: Case): [Policy, Policy] {
  const random = rng(c.seed);
  const before: Verdicts = new Map();
  for (let i = 0; i < c.size; i++) if (random() < 0.9) before.set(i * 4, random() < c.allowShare ? 'allow' : 'deny');
  const after = evolve(before, c, random);
  return [policyOf(before, c.verdicts[0], c.verdicts[1]), policyOf(after, c.verdicts[2], c.verdicts[3])];
}

function evolve(before: Verdicts, c: Case, random: () => number): Verdicts {
  const after: Verdicts = new Map(before);
  const changes = Math.round(c.churn * c.size) + (random() < 0.5 ? 1 : 0);
  for (let k = 0; k < changes; k++) {
    const i = Math.floor(random() * (c.size * 4 + 8));
    const r = random();
    if (r < 0.4 && after.has(i)) after.set(i, after.get(i) === 'allow' ? 'deny' : 'allow');
    else if (r < 0.7) after.delete(i);
    else after.set(i, random() < 0.5 ? 'allow' : 'deny');
  }
  return after;
}

type Mutation = { kind: 'none' } | { kind: 'char'; at: number; op: 'replace' | 'insert' | 'delete'; char: string; fixDigest: boolean } | { kind: 'mac'; at: number; op: 'duplicate' | 'swap' | 'to-other-list' | 'drop-quote'; fixDigest: boolean };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('char' as const), at: fc.nat(), op: fc.constantFrom('replace' as const, 'insert' as const, 'delete' as const), char: fc.constantFrom(' ', '"', ',', ']', '[', ':', 'A', 'a', 'f', 'g', '0', '9', 'é'), fixDigest: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mac' as const), at: fc.nat(), op: fc.constantFrom('duplicate' as const, 'swap' as const, 'to-other-list' as const, 'drop-quote' as const), fixDigest: fc.boolean() }) },
);

function withFixedDigest(text: string): string {
  const start = text.indexOf(',"policy":');
  const end = text.lastIndexOf(',"policyDigest":"');
  if (start < 0 || end < start) return text;
  return `${text.slice(0, end)},"policyDigest":"${sha256(text.slice(start + ',"policy":'.length, end))}"${text.slice(end + ',"policyDigest":"'.length + 65)}`;
}

/** Mutations land in the lists mostly (that is where the reader compares bytes). */
function mutate(text: string, m: Mutation): Uint8Array {
  const encode = (t: string) => new TextEncoder().encode(t);
  if (m.kind === 'none') return encode(text);
  if (m.kind === 'char') {
    const at = m.at % text.length;
    const t = m.op === 'replace' ? text.slice(0, at) + m.char + text.slice(at + 1) : m.op === 'insert' ? text.slice(0, at) + m.char + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
    return encode(m.fixDigest ? withFixedDigest(t) : t);
  }
  const macs = [...text.matchAll(/"([0-9a-f]{2}(?::[0-9a-f]{2}){5})"/g)];
  if (macs.length === 0) return encode(text);
  const hit = macs[m.at % macs.length]!;
  const at = hit.index;
  let t = text;
  if (m.op === 'duplicate') t = `${text.slice(0, at)}${hit[0]},${text.slice(at)}`;
  else if (m.op === 'drop-quote') t = text.slice(0, at) + text.slice(at + 1);
  else if (m.op === 'swap') {
    const next = macs[(m.at % macs.length) + 1];
    if (next) t = `${text.slice(0, at)}${next[0]}${text.slice(at + 19, next.index)}${hit[0]}${text.slice(next.index + 19)}`;
  } else {
    const other = text.indexOf('"deny":[') > at ? '"deny":[' : '"allow":[';
    const i = text.indexOf(other) + other.length;
    t = text.slice(0, i) + hit[0] + (text[i] === ']' ? '' : ',') + text.slice(i);
  }
  return encode(m.fixDigest ? withFixedDigest(t) : t);
}

function outcome(f: () => unknown): { ok: unknown } | { err: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

/** An unfrozen copy: nothing recorded for it, so changedMacs walks both policies (the path before the reader). */
const copyOf = (p: Policy): Policy => ({ unknownHosts: p.unknownHosts, removed: p.removed, allow: [...p.allow], deny: [...p.deny] });

describe('canonical-bytes reader against the previous policy', () => {
  it('property: reads what it reads alone (same manifest or undefined), and parseManifestBytes answers the same', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(caseArb, mutationArb, (c, mutation) => {
        const [before, after] = policies(c);
        const previous = readCanonicalManifest(serializeManifest(manifestOf(before, 1)))!;
        expect(previous).toBeDefined();
        const bytes = mutate(new TextDecoder().decode(serializeManifest(manifestOf(after, 2))), mutation);
        const alone = readCanonicalManifest(bytes);
        const against = readCanonicalManifest(bytes, previous.policy);
        expect(against).toEqual(alone);
        if (against) {
          accepted++;
          expect(Object.isFrozen(against.policy.allow) && Object.isFrozen(against.policy.deny)).toBe(true);
        } else refused++;
        expect(outcome(() => parseManifestBytes(bytes, 'manifest', previous.policy))).toEqual(outcome(() => parseManifestBytes(bytes)));
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(50);
  });

  it('property: the changes it records give changedMacs and the incremental plan exactly what walking both policies gives', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const [before, after] = policies(c);
        const previous = readCanonicalManifest(serializeManifest(manifestOf(before, 1)))!.policy;
        const next = readCanonicalManifest(serializeManifest(manifestOf(after, 2)), previous)!.policy;
        expect(recordedChanges(previous, next)).toEqual(listChanges(copyOf(previous), copyOf(next)));
        expect([...changedMacs(previous, next)]).toEqual([...changedMacs(copyOf(previous), copyOf(next))]);
        // The daemon's steady state: the directory is what applying `previous` left.
        const dir = applyPlan(new Map(), diffDirectory(previous, new Map()));
        expect(diffPolicyChange(previous, next, dir)).toEqual(diffPolicyChange(copyOf(previous), copyOf(next), dir));
      }),
      { numRuns: 200 },
    );
  });

  it('property: a chain of reads, each against the one before, equals each manifest read alone', () => {
    fc.assert(
      fc.property(fc.array(caseArb, { minLength: 2, maxLength: 4 }), (cases) => {
        let previous: Policy | undefined;
        cases.forEach((c, g) => {
          const policy = policies(c)[g % 2]!;
          const bytes = serializeManifest(manifestOf(policy, g + 1));
          const read = readCanonicalManifest(bytes, previous)!;
          expect(read).toEqual(readCanonicalManifest(bytes));
          previous = read.policy;
        });
      }),
      { numRuns: 100 },
    );
  });

  it('property: polls in a row (each manifest a few changes from the one before, read against it) read as alone', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 2, max: 8 }), (c, polls) => {
        const random = rng(c.seed ^ 0x5bd1e995);
        let verdicts: Verdicts = new Map();
        for (let i = 0; i < c.size; i++) if (random() < 0.9) verdicts.set(i * 4, random() < c.allowShare ? 'allow' : 'deny');
        let previous: Policy | undefined;
        for (let g = 1; g <= polls; g++) {
          const policy = policyOf(verdicts, c.verdicts[g % 4]!, c.verdicts[(g + 1) % 4]!);
          const bytes = serializeManifest(manifestOf(policy, g));
          const read = readCanonicalManifest(bytes, previous)!;
          expect(read).toEqual(readCanonicalManifest(bytes));
          if (previous) expect([...changedMacs(previous, read.policy)]).toEqual([...changedMacs(copyOf(previous), copyOf(read.policy))]);
          previous = read.policy;
          verdicts = evolve(verdicts, c, random);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('shares the previous strings and records only what changed', () => {
    const before: Verdicts = new Map(Array.from({ length: 1000 }, (_, i) => [i, i % 50 === 0 ? 'allow' : 'deny'] as const));
    const after: Verdicts = new Map(before);
    after.set(1, 'allow'); // flipped
    after.delete(3); // removed
    after.set(5000, 'deny'); // added
    const previous = readCanonicalManifest(serializeManifest(manifestOf(policyOf(before, 'allow', 'allow'), 1)))!.policy;
    const next = readCanonicalManifest(serializeManifest(manifestOf(policyOf(after, 'allow', 'allow'), 2)), previous)!.policy;
    // The same string objects: the kept MACs' from their list, the flipped MAC's from the other one.
    expect(next.deny[0]).toBe(previous.deny[1]);
    expect(next.allow[1]).toBe(previous.deny[0]);
    expect(next.allow[2]).toBe(previous.allow[1]);
    expect(recordedChanges(previous, next)).toEqual({ newAllow: [macOf(1)], goneAllow: [], newDeny: [macOf(5000)], goneDeny: [macOf(1), macOf(3)] });
    expect([...changedMacs(previous, next)]).toEqual([
      [macOf(1), 'allow'],
      [macOf(5000), 'deny'],
      [macOf(3), undefined],
    ]);
  });
});
