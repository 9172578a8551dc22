/** Manifest: canonical bytes, digest, generations, the publish guard, and everything verifyManifest refuses. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuardError, InputError } from '../../core/errors.ts';
import type { Mac } from '../../core/mac.ts';
import {
  type Pointer,
  buildManifest,
  guardPolicy,
  nextManifest,
  parseManifestBytes,
  policyDigest,
  serializeManifest,
  sha256,
  verifyManifest,
} from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { DEFAULT_MAX_CHANGE_SHARE, DEFAULT_MIN_CHANGES_TO_GUARD } from '../../core/settings.ts';
import { policyArbitrary, verdictArb } from '../support/arbitraries.ts';

const m = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}` as Mac;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => m(a + i));
const policy = (p: Partial<Policy>): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [], deny: [], ...p });
const at = new Date('2026-11-25T12:00:00Z');
const guard = { maxChangeShare: DEFAULT_MAX_CHANGE_SHARE, minChangesToGuard: DEFAULT_MIN_CHANGES_TO_GUARD };
const manifest = (p: Policy, generation = 1, site = 'dc1') => buildManifest({ site, generation, createdAt: at, inputs: [{ key: 'exports/dc1/a.json', sha256: sha256('a') }], policy: p });
const pointerFor = (bytes: Uint8Array, generation = 1, site = 'dc1'): Pointer => ({ site, generation, key: `manifests/${site}/manifest.json`, versionId: 'v1', sha256: sha256(bytes) });
const textOf = (b: Uint8Array) => new TextDecoder().decode(b);
const bytesOf = (s: string) => new TextEncoder().encode(s);

describe('canonical manifest', () => {
  it('canonicalises (sorted, unique, allow wins) and serialises to stable bytes that parse back', () => {
    const a = manifest(policy({ allow: [m(3), m(1), m(1)], deny: [m(2), m(1)] }));
    expect(a.policy).toEqual({ unknownHosts: 'deny', removed: 'deny', allow: [m(1), m(3)], deny: [m(2)] });
    const bytes = serializeManifest(a);
    expect(serializeManifest(parseManifestBytes(bytes))).toEqual(bytes);
    expect(textOf(bytes).endsWith('}\n')).toBe(true);
    expect(manifest(policy({ allow: [m(1), m(3)], deny: [m(2)] })).policyDigest).toBe(a.policyDigest);
  });
});

describe('generations', () => {
  it('first is 1; unchanged policy → unchanged (same manifest); a change → previous + 1', () => {
    const first = nextManifest(undefined, { site: 'dc1', createdAt: at, inputs: [], policy: policy({ deny: [m(1)] }) });
    expect(first).toMatchObject({ status: 'changed', manifest: { generation: 1 } });
    const same = nextManifest(first.manifest, { site: 'dc1', createdAt: new Date(), inputs: [{ key: 'k', sha256: sha256('other') }], policy: policy({ deny: [m(1)] }) });
    expect(same.status).toBe('unchanged');
    expect(same.manifest).toBe(first.manifest);
    expect(nextManifest(first.manifest, { site: 'dc1', createdAt: at, inputs: [], policy: policy({ allow: [m(1)] }) }).manifest.generation).toBe(2);
  });

  it('property: "unchanged" exactly when the policy digest is equal, for canonical and non-canonical policies alike', () => {
    // nextManifest compares canonical lists instead of hashing them; the digest stays the definition.
    const macArb = fc.integer({ min: 0, max: 24 }).map(m);
    const raw = fc.record({ allow: fc.array(macArb, { maxLength: 12 }), deny: fc.array(macArb, { maxLength: 12 }), unknownHosts: verdictArb, removed: verdictArb });
    fc.assert(
      fc.property(policyArbitrary(macArb), fc.oneof(policyArbitrary(macArb), raw), fc.boolean(), (before, after, reuse) => {
        const previous = manifest(before);
        // Half the time the same lists again (a policy recomputed from the same export) with the other policy's
        // wildcard verdicts, else an independent policy.
        const next: Policy = reuse ? { unknownHosts: after.unknownHosts, removed: after.removed, allow: [...before.allow], deny: [...before.deny] } : after;
        const r = nextManifest(previous, { site: 'dc1', createdAt: at, inputs: [], policy: next });
        expect(r.status === 'unchanged').toBe(previous.policyDigest === policyDigest(next));
      }),
      { numRuns: 2000, seed: 20261202 },
    );
  });

  it('a previous manifest of another site is refused', () => {
    expect(() => nextManifest(manifest(policy({}), 4, 'dc2'), { site: 'dc1', createdAt: at, inputs: [], policy: policy({}) })).toThrow(/previous\.site/);
  });
});

describe('verifyManifest (what the agent checks before writing a byte)', () => {
  const good = manifest(policy({ allow: [m(1)], deny: [m(2)], unknownHosts: 'allow', removed: 'allow' }), 5);
  const bytes = serializeManifest(good);

  it('accepts the exact bytes of its pointer', () => {
    expect(verifyManifest(bytes, pointerFor(bytes, 5), { site: 'dc1' })).toEqual(good);
  });

  it('tampered bytes (one byte flipped) → refused on the sha256 before parsing', () => {
    const t = bytesOf(textOf(bytes).replace('"allow","removed"', '"deny","removed"'));
    expect(() => verifyManifest(t, pointerFor(bytes, 5), { site: 'dc1' })).toThrow(/manifest\.sha256: does not match the pointer/);
  });

  it('tampered bytes with a matching pointer (attacker controls both) → refused on the policy digest', () => {
    const t = bytesOf(textOf(bytes).replace(`"allow":["${m(1)}"]`, `"allow":["${m(1)}","${m(9)}"]`));
    expect(() => verifyManifest(t, pointerFor(t, 5), { site: 'dc1' })).toThrow(/policyDigest: does not match the policy/);
  });

  it('truncated bytes → refused', () => {
    const t = bytes.slice(0, bytes.length - 10);
    expect(() => verifyManifest(t, pointerFor(t, 5), { site: 'dc1' })).toThrow(/not valid (UTF-8|JSON)/);
  });

  // Replays (a generation lower than the applied one) are refused on the pointer: test/agent/manifest-source.test.ts.

  it('pointer generation different from the manifest → refused', () => {
    expect(() => verifyManifest(bytes, pointerFor(bytes, 4), { site: 'dc1' })).toThrow(/does not match the pointer generation 4/);
  });

  it('another site → refused', () => {
    expect(() => verifyManifest(bytes, pointerFor(bytes, 5), { site: 'dc2' })).toThrow(/manifest\.site: is not this agent's site "dc2"/);
  });

  it('"../" or NUL in a MAC → refused naming the field (never reaches a file name)', () => {
    for (const evil of ['../../etc/passwd', '52:54:00:00:00:01\u0000', '52-54-00-00-00-01', '52:54:00:00:00:0A']) {
      const doc = JSON.parse(textOf(bytes)) as { policy: { allow: string[] } };
      doc.policy.allow = [evil];
      const t = bytesOf(JSON.stringify(doc));
      try {
        verifyManifest(t, pointerFor(t, 5), { site: 'dc1' });
        expect.unreachable(`accepted ${JSON.stringify(evil)}`);
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        expect((err as InputError).field).toBe('manifest.policy.allow[0]');
      }
    }
  });

  it('10 MB of junk → refused with one short message (value not echoed whole)', () => {
    const junk = new Uint8Array(10 * 1024 * 1024).map((_, i) => (i * 7919) % 256);
    try {
      verifyManifest(junk, pointerFor(junk, 5), { site: 'dc1' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message.length).toBeLessThan(300);
      expect((err as Error).message).not.toContain('\n');
    }
    const jsonJunk = bytesOf(`{"schema":"pxe-filter/manifest@1","x":"${'a'.repeat(10 * 1024 * 1024)}"}`);
    expect(() => verifyManifest(jsonJunk, pointerFor(jsonJunk, 5), { site: 'dc1' })).toThrow(InputError);
  });

  it('a MAC in both lists, or unsorted lists → refused', () => {
    const doc = JSON.parse(textOf(bytes)) as { policy: { deny: string[] } };
    doc.policy.deny = [m(1), m(2)];
    const t = bytesOf(JSON.stringify(doc));
    expect(() => parseManifestBytes(t)).toThrow(/in both allow and deny/);
    doc.policy.deny = [m(3), m(2)];
    expect(() => parseManifestBytes(bytesOf(JSON.stringify(doc)))).toThrow(/not sorted or duplicated/);
  });
});

describe('publish guard', () => {
  const prev = policy({ deny: range(0, 100) });

  it('refuses an empty export, unless forced', () => {
    expect(() => guardPolicy(prev, policy({}), guard, false)).toThrow(GuardError);
    expect(guardPolicy(prev, policy({}), guard, true).vanished).toBe(100);
  });

  it('refuses when more than the share vanished or flipped (with the numbers), allows at or below it', () => {
    expect(() => guardPolicy(prev, policy({ deny: range(0, 49) }), guard, false)).toThrow(/51 of 100 known MACs changed at once \(51 vanished, 0 flipped/);
    expect(() => guardPolicy(prev, policy({ allow: range(0, 60), deny: range(60, 100) }), guard, false)).toThrow(/60 flipped/);
    expect(guardPolicy(prev, policy({ deny: range(0, 50) }), guard, false)).toMatchObject({ vanished: 50, share: 0.5 });
  });

  it('never trips below minChangesToGuard (a small site may flip a whole rack)', () => {
    expect(guardPolicy(policy({ deny: range(0, 10) }), policy({ allow: range(0, 10) }), guard, false)).toMatchObject({ flipped: 10, share: 1 });
  });

  it('first publish (no previous) is never guarded except for emptiness', () => {
    expect(guardPolicy(undefined, policy({ deny: [m(1)] }), guard, false)).toEqual({ known: 0, vanished: 0, flipped: 0, share: 0 });
  });
});

describe('policyDigest', () => {
  it('is the sha256 of the canonical policy JSON, for MAC lists and for strings JSON must escape (hashed slice by slice)', () => {
    const macs = Array.from({ length: 5000 }, (_, i) => m(i)).sort();
    const odd = ['a"quote', 'back\\slash', 'ctl\u0001', 'lone\ud800', 'pair\ud83d\ude00', 'plain'].sort() as Mac[];
    for (const p of [
      policy({ allow: macs.slice(0, 2049), deny: macs.slice(2049) }),
      policy({ allow: [], deny: [] }),
      policy({ allow: odd.slice(0, 3), deny: odd.slice(3), unknownHosts: 'allow' }),
    ]) {
      expect(policyDigest(p)).toBe(sha256(JSON.stringify({ unknownHosts: p.unknownHosts, removed: p.removed, allow: p.allow, deny: p.deny })));
    }
  });
});

describe('measureChange (the guard\'s count) by a merge walk', () => {
  it('property: counts what a per-MAC comparison counts', async () => {
    const fc = (await import('fast-check')).default;
    const { policyArbitrary } = await import('../support/arbitraries.ts');
    const { measureChange } = await import('../../core/manifest.ts');
    const macArb = fc.integer({ min: 0, max: 60 }).map((n) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}` as Mac);
    fc.assert(
      fc.property(policyArbitrary(macArb), policyArbitrary(macArb), (prev, next) => {
        const verdict = new Map<string, string>([...next.allow.map((x) => [x, 'allow'] as const), ...next.deny.map((x) => [x, 'deny'] as const)]);
        let vanished = 0;
        let flipped = 0;
        for (const [list, was] of [[prev.allow, 'allow'], [prev.deny, 'deny']] as const) {
          for (const x of list) {
            const now = verdict.get(x);
            if (now === undefined) vanished++;
            else if (now !== was) flipped++;
          }
        }
        expect(measureChange(prev, next)).toMatchObject({ vanished, flipped, known: prev.allow.length + prev.deny.length });
      }),
      { numRuns: 500 },
    );
  });
});
