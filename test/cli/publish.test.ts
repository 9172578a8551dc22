/**
 * `pxe-filter publish` (issue 16, a control plane without AWS), spawned as an operator types it: one compute run on
 * a local store through the Lambda's code path, one JSON line, and every refusal leaving the store as it was.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishPolicy } from '../../control/publish.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { loadSiteSettings } from '../../control/site-settings.ts';
import { newestExport } from '../../control/newest-export.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { trustStoreFromPems } from '../../core/signature.ts';
import { sha256 } from '../../core/manifest.ts';
import { manifestKey } from '../../store/keys.ts';
import type { Store } from '../../store/store.ts';
import { type CliResult, snapshotDir, spawnCli, stderrLines, tempDir } from '../support/cli.ts';
import { type LogLine, pointerGeneration, putExport, siteStore } from '../support/control.ts';

const tmp = tempDir('publish');
afterAll(() => tmp.cleanup());
let n = 0;
async function fresh() {
  const root = join(tmp.path, `store-${++n}`);
  mkdirSync(root);
  return { root, store: await siteStore(root) };
}

const line = (r: CliResult): LogLine => {
  const lines = r.stdout.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  return JSON.parse(lines[0]!) as LogLine;
};
/** The store's content (objects and parameters): a run's lock comes and goes in locks/, which is not content. */
const content = (root: string) => [snapshotDir(join(root, 'objects')), snapshotDir(join(root, 'parameters'))];

describe('pxe-filter publish', () => {
  it('a new export → a new generation; the same again → "unchanged" and nothing written; a newer export → the next', async () => {
    const { root, store } = await fresh();
    const key = await putExport(store, 'dc1', { inspecting: [1] });
    const first = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`]);
    expect(first.code, first.stderr).toBe(0);
    expect(line(first)).toMatchObject({ level: 'info', msg: 'published', site: 'dc1', generation: 1, exportKey: key, allow: 1, deny: 29, signedBy: null });
    expect(await pointerGeneration(store)).toBe(1);

    const before = content(root);
    const again = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`]);
    expect(again.code, again.stderr).toBe(0);
    expect(line(again)).toMatchObject({ msg: 'unchanged', generation: 1, pointerRepaired: false });
    expect(content(root)).toEqual(before);

    await putExport(store, 'dc1', { inspecting: [1, 2] });
    const next = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`]);
    expect(line(next)).toMatchObject({ msg: 'published', generation: 2, allow: 2 });
    expect(await pointerGeneration(store)).toBe(2);
  });

  it('a guard refusal: exit 3, one line saying why, nothing published; --force publishes it', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1', { macs: 30 });
    expect((await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`])).code).toBe(0);
    // Every known MAC vanished at once: what a broken Ironic listing looks like.
    await putExport(store, 'dc1', { macs: 30, firstMac: 1000 });
    const before = content(root);
    const r = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(stderrLines(r)).toEqual([expect.stringMatching(/^pxe-filter: guard: 30 of 30 known MACs changed at once \(30 vanished, 0 flipped, 100\.0% > 50\.0%\); refusing to publish \(use --force/)]);
    expect(content(root)).toEqual(before);
    expect(await pointerGeneration(store)).toBe(1);

    const forced = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`, '--force']);
    expect(line(forced)).toMatchObject({ msg: 'published', generation: 2 });
  });

  it('a crash between the manifest and the pointer is repaired by the next run', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1');
    expect((await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`])).code).toBe(0);
    await putExport(store, 'dc1', { inspecting: [3] });
    // The same publish as the CLI's, dying after the manifest object was written and before the pointer moved.
    const dying: Store = Object.assign(Object.create(store) as Store, {
      putParameter: async () => {
        throw new Error('killed between the manifest and the pointer');
      },
    });
    const settings = await loadSiteSettings(store, 'dc1');
    const chosen = (await newestExport(store, 'dc1', new Date())).chosen;
    await expect(
      publishPolicy({ store: dying, site: 'dc1', policy: policyFromExport(chosen.parsed, settings).policy, inputs: [{ key: chosen.key, sha256: sha256(chosen.bytes) }], guard: settings.guard, force: false, now: new Date() }),
    ).rejects.toThrow(/killed/);
    const object = await store.getObject(manifestKey('dc1'));
    expect(JSON.parse(new TextDecoder().decode(object!.bytes))).toMatchObject({ generation: 2 });
    expect(await pointerGeneration(store)).toBe(1); // agents still see generation 1

    const r = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(line(r)).toMatchObject({ msg: 'unchanged', generation: 2, pointerRepaired: true, versionId: object!.versionId });
    expect(await pointerGeneration(store)).toBe(2);
  });

  it('--sign-key: the pointer carries a signature an agent trusting the public key accepts', async () => {
    const { root, store } = await fresh();
    const keys = join(tmp.path, `keys-${n}`);
    mkdirSync(keys);
    expect((await spawnCli(['keygen', '--out', keys])).code).toBe(0);
    await putExport(store, 'dc1', { inspecting: [4] });
    const r = await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`, '--sign-key', join(keys, 'pxe-filter-sign.key')]);
    expect(r.code, r.stderr).toBe(0);
    const published = line(r);
    expect(published.signedBy).toMatch(/^[0-9a-f]{64}$/);
    const trust = trustStoreFromPems([{ pem: readFileSync(join(keys, 'pxe-filter-sign.pub'), 'utf8'), label: 'pub' }]);
    const pulled = await new ManifestSource(store, 'dc1', trust).current(undefined);
    expect(pulled?.manifest.generation).toBe(1);
    expect(pulled?.pointer.signature?.keyId).toBe(published.signedBy);
  });

  it('two publishes at once on a new export: one generation, published by exactly one of them', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1');
    await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`]);
    await putExport(store, 'dc1', { inspecting: [5] });
    const rs = await Promise.all([1, 2, 3].map(() => spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`])));
    const msgs = rs.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return line(r);
    });
    expect(msgs.filter((m) => m.msg === 'published')).toHaveLength(1);
    expect(msgs.map((m) => m.generation)).toEqual([2, 2, 2]);
    expect(await pointerGeneration(store)).toBe(2);
    expect((await store.listVersions(manifestKey('dc1'))).length).toBe(2);
  });

  describe('bad input: exit 2, one line naming the option, nothing written', () => {
    const openKey = join(tmp.path, 'open.key');
    beforeAll(async () => {
      const keys = join(tmp.path, 'open-keys');
      mkdirSync(keys);
      expect((await spawnCli(['keygen', '--out', keys])).code).toBe(0);
      copyFileSync(join(keys, 'pxe-filter-sign.key'), openKey);
      chmodSync(openKey, 0o644);
    });

    it.each([
      ['a store directory that does not exist', (root: string) => ['--site', 'dc1', '--store', `local:${root}/nope`], /^pxe-filter: --store: no such directory .*: "local:.*\/nope"$/],
      ['a site without settings in the store', (root: string) => ['--site', 'dc9', '--store', `local:${root}`], /^pxe-filter: --site: no settings for this site in local:.* \(parameter \/pxe-filter\/dc9\/settings.*: "dc9"$/],
      ['a site name that is not one', (root: string) => ['--site', 'DC 1', '--store', `local:${root}`], /^pxe-filter: --site: /],
      ['a store that is neither local: nor s3://', () => ['--site', 'dc1', '--store', '/var/lib/store'], /^pxe-filter: --store: expected local:<dir> or s3:\/\/<bucket>: "\/var\/lib\/store"$/],
      ['a signing key that does not exist', (root: string) => ['--site', 'dc1', '--store', `local:${root}`, '--sign-key', `${root}/no.key`], /^pxe-filter: --sign-key: cannot read the signing key \(ENOENT\): ".*\/no\.key"$/],
      ['a signing key others may read', (root: string) => ['--site', 'dc1', '--store', `local:${root}`, '--sign-key', openKey], /^pxe-filter: --sign-key: the signing key is readable by others \(mode 644\); chmod 600 it: ".*open\.key"$/],
    ])('%s', async (_what, args, message) => {
      const { root, store } = await fresh();
      await putExport(store, 'dc1');
      const before = snapshotDir(root);
      const r = await spawnCli(['publish', ...args(root)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(stderrLines(r)).toEqual([expect.stringMatching(message)]);
      expect(snapshotDir(root)).toEqual(before);
    });
  });
});
