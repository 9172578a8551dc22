/** LocalStore (the embedded default standing in for S3 + SSM): versions, conditional writes, parameters, path safety. */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { sha256 } from '../../core/manifest.ts';
import { LocalStore } from '../../store/local-store.ts';
import { openStore } from '../../store/open.ts';
import { PreconditionFailedError } from '../../store/store.ts';
import { tempDir } from '../support/cli.ts';

const b = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u ? new TextDecoder().decode(u) : undefined);
let tmp: { path: string; cleanup: () => void };
let store: LocalStore;
beforeEach(() => {
  tmp = tempDir('store');
  store = new LocalStore(join(tmp.path, 'store'));
});
afterEach(() => tmp.cleanup());

describe('LocalStore objects', () => {
  it('absent key → undefined; each put is a new version; old versions stay readable; newest first', async () => {
    mkdirSync(store.root); // an existing, empty store (a missing one is refused: test/cli/store-missing.test.ts)
    expect(await store.getObject('manifests/dc1/manifest.json')).toBeUndefined();
    const v1 = await store.putObject('manifests/dc1/manifest.json', b('one'));
    const v2 = await store.putObject('manifests/dc1/manifest.json', b('two'));
    expect(v1.versionId).not.toBe(v2.versionId);
    expect(v2.etag).toBe(sha256(b('two')));
    expect(text((await store.getObject('manifests/dc1/manifest.json'))?.bytes)).toBe('two');
    expect(text((await store.getObject('manifests/dc1/manifest.json', v1.versionId))?.bytes)).toBe('one');
    expect((await store.listVersions('manifests/dc1/manifest.json')).map((v) => v.versionId)).toEqual([v2.versionId, v1.versionId]);
    expect(await store.getObject('manifests/dc1/manifest.json', '000000000000000-aaaaaaaaaaaa')).toBeUndefined();
  });

  it('listObjects under a prefix, sorted, current objects only', async () => {
    await store.putObject('exports/dc1/b.json', b('bb'));
    await store.putObject('exports/dc1/a.json', b('a'));
    await store.putObject('exports/dc2/c.json', b('c'));
    await store.putObject('exports/dc1/a.json', b('aaa'));
    expect((await store.listObjects('exports/dc1/')).map((o) => [o.key, o.size])).toEqual([['exports/dc1/a.json', 3], ['exports/dc1/b.json', 2]]);
  });

  it('ifNoneMatch "*": create only if absent', async () => {
    await store.putObject('k/x', b('1'), { condition: { ifNoneMatch: '*' } });
    await expect(store.putObject('k/x', b('2'), { condition: { ifNoneMatch: '*' } })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(text((await store.getObject('k/x'))?.bytes)).toBe('1');
  });

  it('ifMatch: replace only the version read; a stale etag loses and changes nothing', async () => {
    const first = await store.putObject('k/y', b('1'));
    const second = await store.putObject('k/y', b('2'), { condition: { ifMatch: first.etag } });
    await expect(store.putObject('k/y', b('3'), { condition: { ifMatch: first.etag } })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await store.getObject('k/y'))?.versionId).toBe(second.versionId);
    expect(await store.listVersions('k/y')).toHaveLength(2);
  });

  it('two concurrent conditional writers of the same generation: exactly one wins (20 rounds)', async () => {
    for (let round = 0; round < 20; round++) {
      const key = `race/r${round}`;
      const base = await store.putObject(key, b('base'));
      const results = await Promise.allSettled([
        store.putObject(key, b('writer A'), { condition: { ifMatch: base.etag } }),
        store.putObject(key, b('writer B'), { condition: { ifMatch: base.etag } }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(PreconditionFailedError);
      const winner = (won[0] as PromiseFulfilledResult<{ versionId: string }>).value.versionId;
      expect((await store.getObject(key))?.versionId).toBe(winner);
      expect(await store.listVersions(key)).toHaveLength(2);
    }
  });

  it('two store instances (as two processes would have) racing ifNoneMatch: exactly one wins', async () => {
    const other = new LocalStore(store.root);
    const results = await Promise.allSettled([
      store.putObject('race/new', b('A'), { condition: { ifNoneMatch: '*' } }),
      other.putObject('race/new', b('B'), { condition: { ifNoneMatch: '*' } }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('refuses keys that could leave the store directory; nothing is created', async () => {
    for (const key of ['../escape', 'a/../../b', '/abs', 'a//b', 'a/./b', 'a/b\u0000c', 'x/current', 'x/versions/y', 'sp ace']) {
      await expect(store.putObject(key, b('x')), key).rejects.toBeInstanceOf(InputError);
      await expect(store.getObject(key), key).rejects.toBeInstanceOf(InputError);
    }
    await expect(store.getObject('k/ok', '../../x')).rejects.toBeInstanceOf(InputError);
    expect(existsSync(join(tmp.path, 'escape'))).toBe(false);
    expect(readdirSync(tmp.path)).toEqual([]);
  });
});

describe('LocalStore parameters', () => {
  it('absent → undefined; put replaces; names must start with "/" and stay inside', async () => {
    mkdirSync(store.root);
    expect(await store.getParameter('/pxe-filter/dc1/current')).toBeUndefined();
    await store.putParameter('/pxe-filter/dc1/current', 'one');
    await store.putParameter('/pxe-filter/dc1/current', 'two');
    expect(await store.getParameter('/pxe-filter/dc1/current')).toBe('two');
    for (const name of ['pxe-filter/x', '/../x', '/a/../../x', '/a/\u0000']) {
      await expect(store.putParameter(name, 'v'), name).rejects.toBeInstanceOf(InputError);
    }
    expect(readdirSync(join(tmp.path, 'store'))).toEqual(['parameters']);
  });
});

describe('openStore', () => {
  it('local:<dir> opens a LocalStore; anything else is bad input naming --store', async () => {
    expect(await openStore(`local:${tmp.path}`)).toBeInstanceOf(LocalStore);
    await expect(openStore('ftp://x')).rejects.toThrow(/--store: expected local:<dir>/);
  });
});
