/**
 * The MAC lists' JSON written from their values (core/mac-list-json.ts) is JSON.stringify's text, and a manifest
 * built from computePolicy's policy (whose lists carry their values) is the same bytes as JSON.stringify writes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Mac } from '../../core/mac.ts';
import { macListJsonBytes, recordMacValues, recordedMacValues } from '../../core/mac-list-json.ts';

const macListJson = (list: readonly Mac[]) => new TextDecoder().decode(macListJsonBytes(list));
import { buildManifest, policyDigest, serializeManifest } from '../../core/manifest-build.ts';
import { computePolicy } from '../../core/policy.ts';

const HALF = 0x1000000;
/** Any 48-bit value, with the edges (all-zero, all-ones, one half zero) often. */
const valueArb = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: HALF - 1 }), fc.integer({ min: 0, max: HALF - 1 })).map(([hi, lo]) => hi * HALF + lo),
  fc.constantFrom(0, HALF - 1, HALF, 2 ** 48 - 1, 0x525400000000, 0xffffff000000),
);
const macOf = (value: number) =>
  value
    .toString(16)
    .padStart(12, '0')
    .match(/../g)!
    .join(':') as Mac;

describe('macListJsonBytes', () => {
  it('property: from recorded values, exactly JSON.stringify of the list', () => {
    fc.assert(
      fc.property(fc.uniqueArray(valueArb, { maxLength: 40 }), (raw) => {
        const values = Float64Array.from(raw.sort((a, b) => a - b));
        const list = Object.freeze(Array.from(values, macOf));
        recordMacValues(list, values);
        expect(recordedMacValues(list)).toBe(values);
        expect(macListJson(list)).toBe(JSON.stringify(list));
      }),
      { numRuns: 500 },
    );
  });

  it('a list without recorded values is JSON.stringified; values are recorded only for a frozen list, one per MAC', () => {
    const list = ['52:54:00:00:00:01', 'not a mac "quoted"'] as Mac[];
    expect(macListJson(list)).toBe(JSON.stringify(list));
    expect(macListJson(Object.freeze([]))).toBe('[]');
    expect(() => recordMacValues(['52:54:00:00:00:01'] as Mac[], new Float64Array([0x525400000001]))).toThrow(/frozen/);
    expect(() => recordMacValues(Object.freeze(['52:54:00:00:00:01'] as Mac[]), new Float64Array(2))).toThrow(/one value per MAC/);
  });

  it('property: the manifest of computePolicy\'s policy (lists written from their values) is JSON.stringify\'s bytes', () => {
    const macArb = fc.oneof(valueArb.map(macOf), fc.constantFrom('ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '01:00:5e:00:00:01') as fc.Arbitrary<Mac>);
    const portArb = fc.record({ mac: macArb, nodeUuid: fc.constantFrom('a', 'b', 'c', null) });
    fc.assert(
      fc.property(fc.array(portArb, { maxLength: 30 }), fc.subarray(['a', 'b', 'c']), (ports, inspecting) => {
        const { policy } = computePolicy({ ports, source: { kind: 'inspector', introspections: inspecting.map((uuid) => ({ uuid, finished: false })) }, discovery: false, denyUnknownMacs: false });
        // The path under test is taken: computePolicy recorded the lists' values.
        expect(recordedMacValues(policy.allow)).toHaveLength(policy.allow.length);
        expect(recordedMacValues(policy.deny)).toHaveLength(policy.deny.length);
        const m = buildManifest({ site: 'dc1', generation: 1, createdAt: new Date(0), inputs: [], policy });
        expect(recordedMacValues(m.policy.allow)).toHaveLength(policy.allow.length); // the manifest shares the lists
        const reference = `${JSON.stringify({
          schema: m.schema,
          site: m.site,
          generation: m.generation,
          createdAt: m.createdAt,
          source: { inputs: [] },
          policy: { unknownHosts: m.policy.unknownHosts, removed: m.policy.removed, allow: m.policy.allow, deny: m.policy.deny },
          policyDigest: m.policyDigest,
        })}\n`;
        expect(new TextDecoder().decode(serializeManifest(m))).toBe(reference);
        expect(m.policyDigest).toBe(policyDigest(m.policy)); // hashed from JSON.stringify's slices (core/canonical-policy.ts)
      }),
      { numRuns: 300 },
    );
  });
});
