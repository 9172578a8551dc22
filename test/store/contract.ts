/**
 * The Store contract, run against every implementation (LocalStore on a real directory, AwsStore against the
 * in-memory S3 + SSM behind aws-sdk-client-mock). Whatever the control plane relies on is asserted here.
 */
import { describe, expect, it } from 'vitest';
import { PreconditionFailedError, type Store } from '../../store/store.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    it('reads an absent object and an absent parameter as undefined', async () => {
      const store = await open();
      expect(await store.getObject('manifests/dc1/manifest.json')).toBeUndefined();
      expect(await store.getParameter('/pxe-filter/dc1/current')).toBeUndefined();
      expect(await store.listVersions('manifests/dc1/manifest.json')).toEqual([]);
      expect(await store.listObjects('exports/dc1/')).toEqual([]);
    });

    it('keeps every version: the current one by default, any earlier one by versionId', async () => {
      const store = await open();
      const key = 'manifests/dc1/manifest.json';
      const v1 = await store.putObject(key, enc('one'));
      const v2 = await store.putObject(key, enc('two'));
      expect(v1.versionId).not.toBe(v2.versionId);
      const cur = await store.getObject(key);
      expect(cur && dec(cur.bytes)).toBe('two');
      expect(cur?.versionId).toBe(v2.versionId);
      expect(cur?.etag).toBe(v2.etag);
      const old = await store.getObject(key, v1.versionId);
      expect(old && dec(old.bytes)).toBe('one');
      const versions = await store.listVersions(key);
      expect(versions.map((v) => v.versionId)).toEqual([v2.versionId, v1.versionId]);
    });

    it('lists versions of the exact key only', async () => {
      const store = await open();
      await store.putObject('manifests/dc1/manifest.json', enc('a'));
      await store.putObject('manifests/dc1/manifest.json.bak', enc('b'));
      expect(await store.listVersions('manifests/dc1/manifest.json')).toHaveLength(1);
    });

    it('ifNoneMatch "*" creates once, then refuses with PreconditionFailedError', async () => {
      const store = await open();
      const key = 'manifests/dc1/manifest.json';
      await store.putObject(key, enc('first'), { condition: { ifNoneMatch: '*' } });
      await expect(store.putObject(key, enc('second'), { condition: { ifNoneMatch: '*' } })).rejects.toBeInstanceOf(PreconditionFailedError);
      const cur = await store.getObject(key);
      expect(cur && dec(cur.bytes)).toBe('first');
    });

    it('ifMatch replaces only the version it read; a stale etag loses', async () => {
      const store = await open();
      const key = 'manifests/dc1/manifest.json';
      const a = await store.putObject(key, enc('a'));
      const b = await store.putObject(key, enc('b'), { condition: { ifMatch: a.etag } });
      await expect(store.putObject(key, enc('c'), { condition: { ifMatch: a.etag } })).rejects.toBeInstanceOf(PreconditionFailedError);
      const cur = await store.getObject(key);
      expect(cur?.versionId).toBe(b.versionId);
      expect(cur && dec(cur.bytes)).toBe('b');
    });

    it('ifMatch on a key that does not exist is a lost race, not a create', async () => {
      const store = await open();
      await expect(store.putObject('manifests/dc1/manifest.json', enc('x'), { condition: { ifMatch: '"0123"' } })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await store.getObject('manifests/dc1/manifest.json')).toBeUndefined();
    });

    it('of two concurrent conditional writes on the same version exactly one wins', async () => {
      const store = await open();
      const key = 'manifests/dc1/manifest.json';
      const base = await store.putObject(key, enc('base'));
      const results = await Promise.allSettled([
        store.putObject(key, enc('x'), { condition: { ifMatch: base.etag } }),
        store.putObject(key, enc('y'), { condition: { ifMatch: base.etag } }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(PreconditionFailedError);
      expect(await store.listVersions(key)).toHaveLength(2);
    });

    it('lists current objects under a prefix, sorted by key, across pages', async () => {
      const store = await open();
      const keys = ['exports/dc1/20261125T200500-000Z.json', 'exports/dc1/20261125T200000-000Z.json', 'exports/dc1/20261125T201000-000Z.json', 'exports/dc1/20261125T190000-000Z.json', 'exports/dc1/20261125T180000-000Z.json'];
      for (const k of keys) await store.putObject(k, enc(k));
      await store.putObject('exports/dc10/20261125T200000-000Z.json', enc('other site'));
      await store.putObject('exports/dc2/20261125T200000-000Z.json', enc('other site'));
      const listed = await store.listObjects('exports/dc1/');
      expect(listed.map((o) => o.key)).toEqual([...keys].sort());
      expect(listed[0]?.size).toBe(keys[4]!.length);
      expect(listed[0]?.lastModified).toBeInstanceOf(Date);
    });

    it('creates and overwrites parameters', async () => {
      const store = await open();
      await store.putParameter('/pxe-filter/dc1/current', '{"generation":1}');
      await store.putParameter('/pxe-filter/dc1/current', '{"generation":2}');
      expect(await store.getParameter('/pxe-filter/dc1/current')).toBe('{"generation":2}');
      expect(await store.getParameter('/pxe-filter/dc2/current')).toBeUndefined();
    });
  });
}
