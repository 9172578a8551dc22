/**
 * The agent's one manifest source: every outcome a value (verified | refused | unreachable), the replay check made
 * once, on the pointer, and a pointer whose key names another site's manifest refused before any fetch.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestSource, pointerMoved } from '../../agent/manifest-source.ts';
import { manifestKey, pointerParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import type { Store } from '../../store/store.ts';
import { sha256 } from '../../core/manifest.ts';
import { macs, manifestBytes, policyOf, publish } from './support.ts';

let root: string;
let store: LocalStore;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pxe-source-'));
  // An existing, empty store: a missing store directory is refused as such (test/cli/store-missing.test.ts).
  mkdirSync(join(root, 'store'));
  store = new LocalStore(join(root, 'store'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const source = (s: Store = store) => new ManifestSource(s, 'dc1');

describe('ManifestSource', () => {
  it('verified: the exact version the pointer names', async () => {
    const r = await publish(store, policyOf(macs(3), []));
    const read = await source().readPointer();
    expect(read).toEqual({ kind: 'pointer', pointer: r.pointer });
    const f = await source().fetch(r.pointer, undefined);
    expect(f).toMatchObject({ kind: 'verified', manifest: { generation: 1, policy: { allow: macs(3) } } });
    expect(pointerMoved(r.pointer, undefined)).toBe(true);
    expect(pointerMoved(r.pointer, { generation: 1, sha256: r.pointer.sha256 })).toBe(false);
  });

  it('unpublished, and a pointer that is not JSON is refused (not retried as unreachable)', async () => {
    expect(await source().readPointer()).toEqual({ kind: 'unpublished' });
    await store.putParameter(pointerParameter('dc1'), '{"site":');
    expect(await source().readPointer()).toMatchObject({ kind: 'refused', reason: expect.stringContaining('pointer is not JSON') });
  });

  it('replays are refused on the pointer, once: an older generation, or the applied generation with other bytes', async () => {
    const r = await publish(store, policyOf(macs(3), []));
    expect(await source().fetch(r.pointer, { generation: 2, sha256: 'x' })).toMatchObject({ kind: 'refused', reason: expect.stringContaining('older than the applied generation 2 (replay refused)') });
    expect(await source().fetch(r.pointer, { generation: 1, sha256: 'other' })).toMatchObject({ kind: 'refused', reason: expect.stringContaining('already applied with different bytes') });
  });

  it("a pointer whose key names another site's manifest is refused before any fetch", async () => {
    // Whoever may write dc2's prefix puts a manifest for dc1 there — valid in itself — and points dc1 at it.
    const { bytes } = manifestBytes(policyOf(macs(3), []), 1, 'dc1');
    const put = await store.putObject(manifestKey('dc2'), bytes);
    const forged = { site: 'dc1', generation: 1, key: manifestKey('dc2'), versionId: put.versionId, sha256: sha256(bytes) };
    let fetched = 0;
    const counting: Store = Object.assign(Object.create(store) as Store, {
      getObject: (...a: Parameters<Store['getObject']>) => {
        fetched++;
        return store.getObject(...a);
      },
    });
    const f = await source(counting).fetch(forged, undefined);
    expect(f).toEqual({ kind: 'refused', pointer: forged, reason: `pointer.key: is not this site's manifest (${manifestKey('dc1')}): "${manifestKey('dc2')}"` });
    expect(fetched).toBe(0);
  });

  it('a missing version is refused; a store that fails is unreachable', async () => {
    const r = await publish(store, policyOf(macs(3), []));
    expect(await source().fetch({ ...r.pointer, versionId: '000000000000009-aaaaaaaaaaaa' }, undefined)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('no such version') });
    // A file where the store's directory was: every read fails (ENOTDIR), like an unreachable endpoint.
    const broken = join(root, 'broken');
    writeFileSync(broken, 'not a store\n');
    const gone = new LocalStore(broken);
    expect(await new ManifestSource(gone, 'dc1').readPointer()).toMatchObject({ kind: 'unreachable' });
    expect(await new ManifestSource(gone, 'dc1').fetch(r.pointer, undefined)).toMatchObject({ kind: 'unreachable' });
  });
});
