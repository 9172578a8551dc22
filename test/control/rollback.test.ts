import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { PointerSchema, parseManifestBytes } from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { publishPolicy } from '../../control/publish.ts';
import { rollbackSite } from '../../control/rollback.ts';
import { main } from '../../cli/main.ts';
import { manifestKey, pointerParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { AwsStore } from '../../store/aws-store.ts';
import type { Store } from '../../store/store.ts';
import { FakeAws } from '../support/fake-aws.ts';
import { mac } from '../support/exports.ts';
import { parseMac } from '../../core/mac.ts';

const SITE = 'dc1';
const guard = { maxChangeShare: 0.5, minChangesToGuard: 20 };
const policy = (allow: number[], deny: number[]): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: allow.map((i) => parseMac(mac(i))), deny: deny.map((i) => parseMac(mac(i))) });

async function publishThree(store: Store): Promise<void> {
  let t = Date.parse('2026-11-25T20:00:00Z');
  for (const p of [policy([1], [2, 3]), policy([2], [1, 3]), policy([3], [1, 2])]) {
    await publishPolicy({ store, site: SITE, policy: p, inputs: [], guard, force: false, now: new Date((t += 60_000)) });
  }
}

async function pointerOf(store: Store) {
  return PointerSchema.parse(JSON.parse((await store.getParameter(pointerParameter(SITE)))!));
}

let dir: string;
let fake: FakeAws;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-rollback-'));
  fake = new FakeAws();
});
afterEach(async () => {
  vi.restoreAllMocks();
  fake.restore();
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['LocalStore', () => new LocalStore(dir) as Store],
  ['AwsStore', () => new AwsStore('pxe-filter-test', fake.s3, fake.ssm) as Store],
])('rollback on %s', (_name, open) => {
  it("publishes generation 1's policy as generation 4; the pointer moves forward to it", async () => {
    const store = open();
    await publishThree(store);
    const r = await rollbackSite({ store, site: SITE, toGeneration: 1, now: new Date('2026-11-25T21:00:00Z') });
    expect(r.published.status).toBe('published');
    expect(r.published.manifest.generation).toBe(4);
    expect(r.published.manifest.policy).toEqual(policy([1], [2, 3]));
    const p = await pointerOf(store);
    expect(p.generation).toBe(4);
    const obj = await store.getObject(manifestKey(SITE), p.versionId);
    expect(parseManifestBytes(obj!.bytes).source.inputs[0]!.key).toBe(`${manifestKey(SITE)}?versionId=${r.from.versionId}`);
    expect(await store.listVersions(manifestKey(SITE))).toHaveLength(4);
  });

  it('refuses a generation that does not exist or is not below the current one, and changes nothing', async () => {
    const store = open();
    await publishThree(store);
    const before = await pointerOf(store);
    await expect(rollbackSite({ store, site: SITE, toGeneration: 3, now: new Date() })).rejects.toThrow(/^--to-generation: must be below the current generation 3: 3$/);
    await expect(rollbackSite({ store, site: SITE, toGeneration: 0, now: new Date() })).rejects.toBeInstanceOf(InputError);
    expect(await pointerOf(store)).toEqual(before);
    expect(await store.listVersions(manifestKey(SITE))).toHaveLength(3);
  });

  it('refuses a site with nothing published', async () => {
    await expect(rollbackSite({ store: open(), site: SITE, toGeneration: 1, now: new Date() })).rejects.toThrow(/^--site: has no published manifest/);
  });
});

describe('pxe-filter rollback (CLI)', () => {
  it('rolls back a local store and exits 0; bad arguments exit 2 with one message', async () => {
    const store = new LocalStore(dir);
    await publishThree(store);
    const stdout: string[] = [];
    const stderr: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (stdout.push(String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (stderr.push(String(c)), true));
    expect(await main(['rollback', '--site', SITE, '--to-generation', '2', '--store', `local:${dir}`])).toBe(0);
    expect(stdout.join('')).toMatch(/^published generation 4 with the policy of generation 2 \(allow 1, deny 2, unknown hosts deny\)/);
    expect((await pointerOf(store)).generation).toBe(4);

    expect(await main(['rollback', '--site', SITE, '--to-generation', '9', '--store', `local:${dir}`])).toBe(2);
    expect(stderr.join('')).toMatch(/--to-generation: must be below the current generation 4: 9/);
    expect(await main(['rollback', '--site', SITE, '--to-generation', '1', '--store', 'ftp://x'])).toBe(2);
    expect(stderr.join('')).toMatch(/--store: expected local:<dir> or s3:\/\/<bucket>: "ftp:\/\/x"/);
    expect(await main(['rollback', '--site', 'DC 1', '--to-generation', '1', '--store', `local:${dir}`])).toBe(2);
    expect((await pointerOf(store)).generation).toBe(4);
  });
});
