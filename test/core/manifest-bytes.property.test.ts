/**
 * The canonical-bytes reader (core/manifest-bytes.ts) is a fast path only: whatever it accepts, the full path
 * (JSON.parse, then the zod schema, the canonical-list and digest checks) accepts too, with an equal manifest;
 * whatever it does not, parseManifestBytes answers exactly as the full path does. Checked on manifests as the
 * publisher writes them and on those bytes mutated at the text level (head fields, lists, structure, encoding).
 */
import fc from 'fast-check';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { decodeJsonBytes } from '../../core/json-text.ts';
import { type Mac } from '../../core/mac.ts';
import { ISO_DATETIME, readCanonicalManifest } from '../../core/manifest-bytes.ts';
import { buildManifest, parseManifestBytes, serializeManifest, sha256, validateManifestWithSchema } from '../../core/manifest.ts';
import { policyArbitrary } from '../support/arbitraries.ts';

const hex2 = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
/** A few octets only, so lists collide and overlap often once mutated. */
const macArb = fc.tuple(fc.constantFrom('00', '0a', 'ff'), hex2).map(([a, b]) => `52:54:00:00:${a}:${b}` as Mac);
const hex64 = fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: 64, maxLength: 64 }).map((c) => c.join(''));
const keyArb = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }), fc.constantFrom('k'.repeat(1024), '😀'.repeat(512)));

const manifestArb = fc.record({
  site: fc.constantFrom('dc1', 'a', 'x'.repeat(63), 'bench-2', '0site'),
  generation: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  createdAt: fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
  inputs: fc.array(fc.record({ key: keyArb, sha256: hex64 }), { maxLength: 3 }),
  policy: policyArbitrary(macArb),
});

/** Text-level replacements of one head field: values the schema must refuse, or accept, or that change the form. */
const HEAD_EDITS: [RegExp, string[]][] = [
  [/"generation":\d+/, ['"generation":0', '"generation":-1', '"generation":1.5', '"generation":1e0', '"generation":9007199254740992', '"generation":1E2', '"generation": 7', '"generation":"7"']],
  [
    /"createdAt":"[^"]*"/,
    [
      '"createdAt":"2024-02-30T00:00:00Z"',
      '"createdAt":"2024-02-29T00:00:00Z"',
      '"createdAt":"2023-02-29T00:00:00.000Z"',
      '"createdAt":"2024-01-01T24:00:00Z"',
      '"createdAt":"2024-01-01T00:00:00+00:00"',
      '"createdAt":"2024-01-01T00:00Z"',
      '"createdAt":"2024-01-01t00:00:00Z"',
      '"createdAt":"2024-01-01T00:00:00.Z"',
      '"createdAt":"2024-01-01T00:00:00.123456789Z"',
      '"createdAt":"2000-02-29T23:59:59Z"',
      '"createdAt":"1900-02-29T00:00:00Z"',
    ],
  ],
  [/"site":"[^"]*"/, ['"site":"Dc1"', '"site":"-dc"', `"site":"${'a'.repeat(64)}"`, '"site":"dc\u00e91"', '"site":"dc_1"', '"site":"\\u0064c1"', '"site":"dc1","site":"dc2"', '"site":"dc1","extra":1', '"site":1']],
  [/"schema":"[^"]*"/, ['"schema":"pxe-filter/manifest@2"', '"schema":"pxe-filter\\/manifest@1"']],
  [/"inputs":\[/, ['"inputs":[{"key":"","sha256":"' + '0'.repeat(64) + '"},', `"inputs":[{"key":"${'k'.repeat(1025)}","sha256":"${'0'.repeat(64)}"},`, '"inputs":[{"key":"a","sha256":"' + 'A'.repeat(64) + '"},', '"inputs":[{"sha256":"' + '0'.repeat(64) + '","key":"a"},', '"inputs":[{"key":"a","sha256":"' + '0'.repeat(64) + '","x":0},']],
];
const ODD_CHARS = [' ', '"', ',', ']', '[', '}', '{', ':', 'A', 'a', 'f', 'g', '0', '9', '\n', '\\', 'é', '\u2028'];

type Mutation =
  | { kind: 'none' }
  | { kind: 'bom' }
  | { kind: 'head'; edit: number; choice: number }
  | { kind: 'char'; at: number; op: 'replace' | 'insert' | 'delete'; char: string; fixDigest: boolean }
  | { kind: 'mac'; at: number; op: 'duplicate' | 'swap' | 'to-other-list'; fixDigest: boolean };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bom' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('head' as const), edit: fc.nat(HEAD_EDITS.length - 1), choice: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('char' as const), at: fc.nat(), op: fc.constantFrom('replace' as const, 'insert' as const, 'delete' as const), char: fc.constantFrom(...ODD_CHARS), fixDigest: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mac' as const), at: fc.nat(), op: fc.constantFrom('duplicate' as const, 'swap' as const, 'to-other-list' as const), fixDigest: fc.boolean() }) },
);

/** The digest recomputed over whatever the policy's text now is, so the checks before the digest are what differ. */
function withFixedDigest(text: string): string {
  const start = text.indexOf(',"policy":');
  const end = text.lastIndexOf(',"policyDigest":"');
  if (start < 0 || end < start) return text;
  const digest = sha256(text.slice(start + ',"policy":'.length, end));
  return `${text.slice(0, end)},"policyDigest":"${digest}"${text.slice(end + ',"policyDigest":"'.length + 64 + 1)}`;
}

function mutate(text: string, m: Mutation): Uint8Array {
  const encode = (t: string) => new TextEncoder().encode(t);
  switch (m.kind) {
    case 'none':
      return encode(text);
    case 'bom':
      return new Uint8Array([0xef, 0xbb, 0xbf, ...encode(text)]);
    case 'head': {
      const [pattern, choices] = HEAD_EDITS[m.edit]!;
      return encode(text.replace(pattern, choices[m.choice % choices.length]!));
    }
    case 'char': {
      const at = m.at % text.length;
      const t = m.op === 'replace' ? text.slice(0, at) + m.char + text.slice(at + 1) : m.op === 'insert' ? text.slice(0, at) + m.char + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
      return encode(m.fixDigest ? withFixedDigest(t) : t);
    }
    case 'mac': {
      const macs = [...text.matchAll(/"([0-9a-f]{2}(?::[0-9a-f]{2}){5})"/g)];
      if (macs.length === 0) return encode(text);
      const hit = macs[m.at % macs.length]!;
      const at = hit.index;
      let t: string;
      if (m.op === 'duplicate') t = `${text.slice(0, at)}${hit[0]},${text.slice(at)}`;
      else if (m.op === 'swap') {
        const next = macs[(m.at % macs.length) + 1];
        t = next ? `${text.slice(0, at)}${next[0]}${text.slice(at + 19, next.index)}${hit[0]}${text.slice(next.index + 19)}` : text;
      } else {
        // Put the MAC into the other list too (allow and deny then overlap), keeping both sorted.
        const other = text.indexOf('"deny":[') > at ? '"deny":[' : '"allow":[';
        const i = text.indexOf(other) + other.length;
        t = text.slice(0, i) + hit[0] + (text[i] === ']' ? '' : ',') + text.slice(i);
      }
      return encode(m.fixDigest ? withFixedDigest(t) : t);
    }
  }
}

/** The full path (no fast reader): the definition the fast path is held to. */
function fullPath(bytes: Uint8Array): { ok: unknown } | { err: string } {
  try {
    return { ok: validateManifestWithSchema(decodeJsonBytes(bytes, 'manifest'), 'manifest') };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

function outcome(f: () => unknown): { ok: unknown } | { err: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

describe('canonical-bytes manifest reader (no zod) agrees with the full path', () => {
  it('its date-time pattern is the one z.iso.datetime() checks', () => {
    expect(ISO_DATETIME.source).toBe((z.iso.datetime()._zod.def as { pattern?: RegExp }).pattern?.source);
  });

  it('reads every manifest the publisher writes, equal to the full path\'s', () => {
    fc.assert(
      fc.property(manifestArb, (input) => {
        const bytes = serializeManifest(buildManifest(input));
        const fast = readCanonicalManifest(bytes);
        expect(fast).toBeDefined();
        expect(fast).toEqual((fullPath(bytes) as { ok: unknown }).ok);
        expect(Object.isFrozen(fast!.policy.allow)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('property: on mutated bytes, what it accepts the full path accepts equally, and parseManifestBytes answers as the full path', () => {
    let fastAccepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(manifestArb, mutationArb, (input, mutation) => {
        const bytes = mutate(new TextDecoder().decode(serializeManifest(buildManifest(input))), mutation);
        const full = fullPath(bytes);
        const fast = readCanonicalManifest(bytes);
        if (fast !== undefined) {
          fastAccepted++;
          expect(full).toEqual({ ok: fast });
        }
        if ('err' in full) refused++;
        expect(outcome(() => parseManifestBytes(bytes))).toEqual(full);
      }),
      { numRuns: 2000 },
    );
    // Both outcomes must be exercised, or the property says little.
    expect(fastAccepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });

  it('falls back (undefined) for the same manifest in another JSON layout, which the full path accepts', () => {
    const m = buildManifest({ site: 'dc1', generation: 2, createdAt: new Date(0), inputs: [], policy: { unknownHosts: 'allow', removed: 'deny', allow: ['52:54:00:00:00:01' as Mac], deny: ['52:54:00:00:00:02' as Mac] } });
    for (const text of [JSON.stringify(m, null, 2), JSON.stringify(m), `${JSON.stringify(m)}\n\n`]) {
      const bytes = new TextEncoder().encode(text);
      expect(readCanonicalManifest(bytes)).toBeUndefined();
      expect(parseManifestBytes(bytes)).toEqual(m);
    }
  });
});
