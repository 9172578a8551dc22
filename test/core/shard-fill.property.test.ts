import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { type DirectoryState, UNKNOWN_HOSTS_FILE, recordText, wildcardText } from '../../core/hostsdir.ts';
import type { Mac } from '../../core/mac.ts';
import { buildManifest, serializeManifest } from '../../core/manifest-build.ts';
import { readCanonicalManifest } from '../../core/manifest-bytes.ts';
import type { Policy } from '../../core/policy.ts';
import { shardFill } from '../../core/shard-fill.ts';
import { diffSharded, mergedRecordsText, shardName, shardOf } from '../../core/sharded.ts';
import { policyArbitrary, verdictArb } from '../support/arbitraries.ts';
import { applyPlanToDirectory, readDirectory } from '../../agent/hostsdir-io.ts';

// Any canonical MAC (every hex digit drawn), so the hash sees all the byte values a manifest can hold.
const macArb = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
  .map((octets) => octets.map((o) => o.toString(16).padStart(2, '0')).join(':') as Mac);
const shardsArb = fc.oneof(fc.constantFrom(1, 2, 7, 256), fc.integer({ min: 1, max: 4096 }));

/** The policy as the agent reads it from a manifest file (bytes kept, lists made on demand). */
function readBack(policy: Policy): Policy {
  const bytes = serializeManifest(buildManifest({ site: 'dc1', generation: 1, createdAt: new Date(0), inputs: [], policy }));
  return readCanonicalManifest(bytes)!.policy;
}

/** The same lists as plain arrays: diffSharded takes its string path for it. */
const plain = (p: Policy): Policy => ({ unknownHosts: p.unknownHosts, removed: p.removed, allow: [...p.allow], deny: [...p.deny] });

/** Directories a first fill can find: nothing, or no records (wildcard, a stale temp file, a foreign entry). */
const recordlessDirArb: fc.Arbitrary<DirectoryState> = fc
  .record({ wildcard: fc.option(verdictArb, { nil: undefined }), temp: fc.boolean(), foreign: fc.boolean() })
  .map(({ wildcard, temp, foreign }) => {
    const dir: DirectoryState = new Map();
    if (wildcard) dir.set(UNKNOWN_HOSTS_FILE, wildcardText(wildcard));
    if (temp) dir.set('.shard-0001.123.abcd.tmp', 'partial');
    if (foreign) dir.set('lost+found', null);
    return dir;
  });

describe('sharded first fill from the manifest bytes (core/shard-fill.ts)', () => {
  it('property: each shard file is mergedRecordsText of its MACs, hashed by shardOf', () => {
    fc.assert(
      fc.property(policyArbitrary(macArb), shardsArb, (policy, shards) => {
        const fill = shardFill(readBack(policy), shards)!;
        expect(fill.bytes).toHaveLength(shards);
        for (let i = 0; i < shards; i++) {
          const allow = policy.allow.filter((mac) => shardOf(mac, shards) === i);
          const deny = policy.deny.filter((mac) => shardOf(mac, shards) === i);
          expect(fill.bytes[i]!.toString('latin1')).toBe(mergedRecordsText(allow, deny));
          expect(fill.denies[i]).toBe(deny.length > 0 ? 1 : 0);
        }
        expect([fill.allow, fill.deny]).toEqual([policy.allow.length, policy.deny.length]);
      }),
      { numRuns: 150 },
    );
  });

  it('property: diffSharded plans the same first fill from the bytes as from the strings', () => {
    fc.assert(
      fc.property(policyArbitrary(macArb), shardsArb, recordlessDirArb, fc.boolean(), (policy, shards, dir, compactRemoved) => {
        const fromBytes = diffSharded(readBack(policy), dir, { shards, compactRemoved });
        const fromStrings = diffSharded(plain(policy), dir, { shards, compactRemoved });
        expect(fromBytes).toEqual(fromStrings);
      }),
      { numRuns: 150 },
    );
  });

  it('a directory that already holds shard files takes the general diff, with the same answer', () => {
    const policy: Policy = { unknownHosts: 'allow', removed: 'deny', allow: ['52:54:00:00:00:01' as Mac], deny: ['52:54:00:00:00:02' as Mac, '52:54:00:00:00:03' as Mac] };
    const shards = 4;
    const read = readBack(policy);
    const empty = diffSharded(read, new Map(), { shards });
    // What the first fill wrote, in place: nothing is left to write.
    const filled: DirectoryState = new Map(empty.writes.map((w) => [w.name, w.content]));
    expect(diffSharded(read, filled, { shards }).writes).toEqual([]);
    // An empty shard file already there is not rewritten (the first-fill path would write every shard).
    const used = new Set([...policy.allow, ...policy.deny].map((mac) => shardOf(mac, 64)));
    const emptyShard = Array.from({ length: 64 }, (_, i) => i).find((i) => !used.has(i))!;
    const withEmptyShard: DirectoryState = new Map([[shardName(emptyShard), '']]);
    const plan = diffSharded(read, withEmptyShard, { shards: 64 });
    expect(plan.writes.map((w) => w.name)).not.toContain(shardName(emptyShard));
    expect(plan).toEqual(diffSharded(plain(policy), withEmptyShard, { shards: 64 }));
    // A per-MAC file to migrate: the same plan as from the strings.
    const legacy: DirectoryState = new Map([['52-54-00-00-00-02', recordText('52:54:00:00:00:02' as Mac, 'allow')]]);
    expect(diffSharded(read, legacy, { shards })).toEqual(diffSharded(plain(policy), legacy, { shards }));
  });

  it('the writer writes the bytes: the files hold what the plan says', async () => {
    const policy: Policy = { unknownHosts: 'deny', removed: 'deny', allow: ['52:54:00:00:00:01' as Mac], deny: ['52:54:00:00:00:02' as Mac, '52:54:00:00:00:03' as Mac] };
    const plan = diffSharded(readBack(policy), new Map(), { shards: 8 });
    expect(plan.writes.filter((w) => w.bytes !== undefined)).toHaveLength(8);
    const dir = mkdtempSync(join(tmpdir(), 'pxe-shard-fill-'));
    try {
      await applyPlanToDirectory(dir, plan);
      const written = await readDirectory(dir);
      expect(new Map(plan.writes.map((w) => [w.name, w.content]))).toEqual(written);
      expect(written.get(shardName(shardOf('52:54:00:00:00:02' as Mac, 8)))).toContain('52:54:00:00:00:02,ignore\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not taken for a policy that was not read from manifest bytes', () => {
    expect(shardFill(plain({ unknownHosts: 'deny', removed: 'deny', allow: ['52:54:00:00:00:01' as Mac], deny: [] }), 256)).toBeUndefined();
  });

  it('makes no MAC string: the lists of a policy read from bytes are not parsed by a first fill', () => {
    const policy = readBack({ unknownHosts: 'deny', removed: 'deny', allow: ['52:54:00:00:00:01' as Mac], deny: ['52:54:00:00:00:02' as Mac] });
    // The lists are parsed (one JSON.parse each) when first read; a first fill from the bytes never reads them.
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const plan = diffSharded(policy, new Map(), { shards: 256 });
      expect(plan.writes).toHaveLength(257);
      expect(parse).not.toHaveBeenCalled();
      expect(policy.allow).toEqual(['52:54:00:00:00:01']);
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });
});
