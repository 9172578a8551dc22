/**
 * The agent's manifest checks have a fast path (core/manifest.ts): one hand loop over the MAC lists and zod for the
 * rest, and a digest hashed in slices. The zod schema and JSON.stringify stay the definitions; these properties
 * hold the fast paths to them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Mac } from '../../core/mac.ts';
import { type Manifest, buildManifest, isCanonicalLists, parseManifestBytes, policyDigest, serializeManifest, sha256, validateManifest, validateManifestWithSchema } from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { policyArbitrary, verdictArb } from '../support/arbitraries.ts';

const hex2 = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
/** A few octets only, so lists collide, overlap and repeat often. */
const macArb = fc.tuple(fc.constantFrom('00', '0a', 'ff'), hex2).map(([a, b]) => `52:54:00:00:${a}:${b}` as Mac);

/** Either both paths give equal manifests, or both throw the same message. */
function outcome(f: () => unknown): { ok: unknown } | { err: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

const element = fc.oneof(
  { weight: 12, arbitrary: macArb },
  { weight: 1, arbitrary: fc.constantFrom('52-54-00-00-00-01', '52:54:00:00:00:0A', '52:54:00:00:00:1', '', ' 52:54:00:00:00:01', '52:54:00:00:00:01\n') },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant({}), fc.constant(['52:54:00:00:00:01']), fc.string({ maxLength: 18 })) },
);
/** Lists that are mostly canonical, sometimes sorted and deduplicated, sometimes not, sometimes not lists. */
const list = fc.oneof(
  { weight: 6, arbitrary: fc.uniqueArray(macArb, { maxLength: 12 }).map((l) => l.sort()) },
  { weight: 3, arbitrary: fc.array(element, { maxLength: 12 }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant('52:54:00:00:00:01'), fc.constant({ 0: '52:54:00:00:00:01', length: 1 })) },
);

/** A valid manifest, then its policy lists replaced and, sometimes, another field broken. */
const documentArb = fc
  .record({
    policy: policyArbitrary(macArb),
    allow: fc.option(list, { nil: undefined }),
    deny: fc.option(list, { nil: undefined }),
    dropDigest: fc.boolean(),
    envelope: fc.constantFrom('ok', 'ok', 'ok', 'site', 'generation', 'extra-key', 'policy-extra-key', 'unknownHosts'),
  })
  .map(({ policy, allow, deny, dropDigest, envelope }) => {
    const m = buildManifest({ site: 'dc1', generation: 3, createdAt: new Date(0), inputs: [], policy });
    const doc = JSON.parse(JSON.stringify(m)) as Record<string, unknown> & { policy: Record<string, unknown> };
    if (allow !== undefined) doc.policy.allow = allow;
    if (deny !== undefined) doc.policy.deny = deny;
    // A digest that matches whatever lists the document now has, so the checks before the digest are what differ.
    if (!dropDigest && Array.isArray(doc.policy.allow) && Array.isArray(doc.policy.deny)) {
      const p = { unknownHosts: policy.unknownHosts, removed: policy.removed, allow: doc.policy.allow, deny: doc.policy.deny };
      doc.policyDigest = sha256(JSON.stringify(p));
    }
    if (envelope === 'site') doc.site = 'Not A Site!';
    if (envelope === 'generation') doc.generation = 0;
    if (envelope === 'extra-key') doc.extra = true;
    if (envelope === 'policy-extra-key') doc.policy.extra = [];
    if (envelope === 'unknownHosts') doc.policy.unknownHosts = 'maybe';
    return doc;
  });

describe('manifest validation fast path agrees with the zod schema', () => {
  it('property: same manifest or same error message, on valid and broken documents', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(documentArb, (doc) => {
        const input = structuredClone(doc);
        const fast = outcome(() => validateManifest(input));
        const schema = outcome(() => validateManifestWithSchema(structuredClone(doc)));
        expect(fast).toEqual(schema);
        if ('ok' in fast) {
          accepted++;
          // Accepted documents are canonical, so the fast path must be the one that took them (it freezes).
          expect(Object.isFrozen((fast.ok as Manifest).policy.allow)).toBe(true);
        } else {
          refused++;
          // A refusal leaves the caller's document as it was (nothing frozen).
          const policy = (input as { policy?: { allow?: unknown } }).policy;
          if (Array.isArray(policy?.allow)) expect(Object.isFrozen(policy.allow)).toBe(false);
        }
      }),
      { numRuns: 1500 },
    );
    // The generator must exercise both outcomes, or the property says little.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(200);
  });

  it('a validated policy is frozen: nothing can make it non-canonical after the check that is then skipped', () => {
    const m = buildManifest({ site: 'dc1', generation: 1, createdAt: new Date(0), inputs: [], policy: { unknownHosts: 'allow', removed: 'allow', allow: ['52:54:00:00:00:02' as Mac], deny: ['52:54:00:00:00:01' as Mac] } });
    const v = validateManifest(JSON.parse(JSON.stringify(m)));
    expect(isCanonicalLists(v.policy)).toBe(true);
    expect(() => v.policy.allow.push('52:54:00:00:00:01' as Mac)).toThrow(TypeError);
    expect(() => {
      (v.policy as { allow: Mac[] }).allow = ['52:54:00:00:00:01' as Mac];
    }).toThrow(TypeError);
    expect(v.policy.allow).toEqual(['52:54:00:00:00:02']);
  });
});

describe('policyDigest hashes exactly the JSON of the canonical policy', () => {
  const reference = (p: Policy) => sha256(JSON.stringify({ unknownHosts: p.unknownHosts, removed: p.removed, allow: p.allow, deny: p.deny }));

  it('property: equal to sha256(JSON.stringify) for canonical policies of any size around the slice length', () => {
    const many = fc.integer({ min: 0, max: 5000 }).map((n) => Array.from({ length: n }, (_, i) => `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` as Mac));
    fc.assert(
      fc.property(many, fc.nat(), verdictArb, verdictArb, (macs, cut, unknownHosts, removed) => {
        const k = macs.length === 0 ? 0 : cut % (macs.length + 1);
        const p: Policy = { unknownHosts, removed, allow: macs.slice(0, k), deny: macs.slice(k) };
        // Interleave so both lists are sorted but neither is a prefix of the other.
        const allow = macs.filter((_, i) => i % 3 === 0);
        const deny = macs.filter((_, i) => i % 3 !== 0);
        expect(policyDigest(p)).toBe(reference(p));
        const q: Policy = { unknownHosts, removed, allow, deny };
        expect(isCanonicalLists(q)).toBe(true);
        expect(policyDigest(q)).toBe(reference(q));
      }),
      { numRuns: 60 },
    );
  });

  it('the slices are joined byte for byte, including around 2,048 and 4,096 entries', () => {
    for (const n of [0, 1, 2047, 2048, 2049, 4096, 4097]) {
      const macs = Array.from({ length: n }, (_, i) => `52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` as Mac);
      const p: Policy = { unknownHosts: 'deny', removed: 'allow', allow: macs, deny: [] };
      expect(policyDigest(p)).toBe(reference(p));
    }
  });
});

describe('serializeManifest writes exactly JSON.stringify of the ordered manifest', () => {
  const reference = (m: Manifest) =>
    `${JSON.stringify({
      schema: m.schema,
      site: m.site,
      generation: m.generation,
      createdAt: m.createdAt,
      source: { inputs: m.source.inputs.map((i) => ({ key: i.key, sha256: i.sha256 })) },
      policy: { unknownHosts: m.policy.unknownHosts, removed: m.policy.removed, allow: m.policy.allow, deny: m.policy.deny },
      policyDigest: m.policyDigest,
    })}\n`;
  const inputArb = fc.record({ key: fc.string({ minLength: 1, maxLength: 20 }), sha256: fc.constant('0'.repeat(64)) });

  it('property: built manifests (policy JSON reused from the digest) and parsed ones (written afresh)', () => {
    fc.assert(
      fc.property(policyArbitrary(macArb), fc.array(inputArb, { maxLength: 3 }), fc.integer({ min: 1, max: 1e6 }), (policy, inputs, generation) => {
        const built = buildManifest({ site: 'dc1', generation, createdAt: new Date(0), inputs, policy });
        const bytes = serializeManifest(built);
        expect(new TextDecoder().decode(bytes)).toBe(reference(built));
        expect(built.policyDigest).toBe(policyDigest(built.policy));
        const parsed = parseManifestBytes(bytes);
        expect(serializeManifest(parsed)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });
});
