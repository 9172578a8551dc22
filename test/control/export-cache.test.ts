/**
 * Issue 16 item 3: a warm process keeps the parsed full export by key and the store's version of the object (S3
 * ETag from the listing, the local store's version id); the same version is never read again, a changed one always is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exportCache, newestExport } from '../../control/newest-export.ts';
import { exportKey } from '../../store/keys.ts';
import { AwsStore } from '../../store/aws-store.ts';
import { LocalStore } from '../../store/local-store.ts';
import type { Store } from '../../store/store.ts';
import { FakeAws } from '../support/fake-aws.ts';
import { exportBundle, mac } from '../support/exports.ts';

const enc = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
const NOW = new Date('2026-11-25T21:00:00Z');
const KEY = exportKey('dc1', new Date('2026-11-25T20:00:00Z'));
const bundle = (first: number) => exportBundle('dc1', { macs: 3, firstMac: first, createdAt: '2026-11-25T20:00:00.000Z' });
const macsOf = async (store: Store) => (await newestExport(store, 'dc1', NOW)).chosen.parsed.ports.map((p) => p.mac);

beforeEach(() => exportCache.clear());

describe('the parsed-export cache on S3 (ETag from the listing)', () => {
  let fake: FakeAws;
  beforeEach(() => {
    fake = new FakeAws();
  });
  afterEach(() => fake.restore());

  it('the same ETag is served without a GetObject; a changed ETag of the same key is read and parsed again', async () => {
    const store = new AwsStore('pxe-filter-test', fake.s3, fake.ssm);
    await store.putObject(KEY, enc(bundle(0)));
    const first = await newestExport(store, 'dc1', NOW);
    expect(first.read).toBe(1);
    expect(first.chosen.parsed.ports.map((p) => p.mac)).toEqual([mac(0), mac(1), mac(2)]);
    expect(fake.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);

    const again = await newestExport(store, 'dc1', NOW);
    expect(again.read).toBe(0);
    expect(again.chosen.parsed).toBe(first.chosen.parsed);
    expect(again.chosen.digest()).toBe(first.chosen.digest());
    expect(fake.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);

    // Rewritten in place (same key, other bytes, so another ETag): read again, never the stale parse.
    await store.putObject(KEY, enc(bundle(10)));
    expect(await macsOf(store)).toEqual([mac(10), mac(11), mac(12)]);
    expect(fake.s3Mock.commandCalls(GetObjectCommand)).toHaveLength(2);
    expect(exportCache).toMatchObject({ hits: 1, misses: 2 });
  });
});

describe('the parsed-export cache on the local store (version id)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pxe-cache-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a new version of the key is read again; the same version is not', async () => {
    const store = new LocalStore(dir);
    await store.putObject(KEY, enc(bundle(0)));
    const get = vi.spyOn(store, 'getObject');
    expect(await macsOf(store)).toEqual([mac(0), mac(1), mac(2)]);
    expect(await macsOf(store)).toEqual([mac(0), mac(1), mac(2)]);
    expect(get).toHaveBeenCalledTimes(1);
    await store.putObject(KEY, enc(bundle(20)));
    expect(await macsOf(store)).toEqual([mac(20), mac(21), mac(22)]);
    expect(get).toHaveBeenCalledTimes(2);
  });

  it('a store whose listing gives no version: every run reads (nothing could tell a stale entry)', async () => {
    const local = new LocalStore(dir);
    const store: Store = Object.assign(Object.create(local) as LocalStore, {
      listObjects: async (prefix: string) => (await local.listObjects(prefix)).map(({ version: _v, ...rest }) => rest),
    });
    await local.putObject(KEY, enc(bundle(0)));
    expect((await newestExport(store, 'dc1', NOW)).read).toBe(1);
    expect((await newestExport(store, 'dc1', NOW)).read).toBe(1);
    expect(exportCache.hits).toBe(0);
  });
});
