/**
 * `pxe-filter control run` (issue 16), as systemd runs it: a real process on a local store, its JSON log read line by
 * line. A new export is published without waiting for the schedule; nothing new publishes nothing; a guard refusal
 * publishes nothing and says so; a pointer left behind by a crash is repaired; two services on one store: one
 * publishes, the other refuses; SIGTERM ends it with status 0.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { manifestKey } from '../../store/keys.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { trustStoreFromPems } from '../../core/signature.ts';
import { snapshotDir, spawnCli, stderrLines, tempDir } from '../support/cli.ts';
import { type Service, pointerGeneration, putExport, siteStore, spawnControlRun } from '../support/control.ts';

const tmp = tempDir('control-run');
afterAll(() => tmp.cleanup());
const running: Service[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
});
let n = 0;
async function fresh(sites = ['dc1']) {
  const root = join(tmp.path, `store-${++n}`);
  mkdirSync(root);
  const store = await siteStore(root, sites[0]);
  for (const s of sites.slice(1)) await siteStore(root, s);
  return { root, store };
}
const start = (args: string[], env?: NodeJS.ProcessEnv) => {
  const s = spawnControlRun(args, env);
  running.push(s);
  return s;
};
// The schedule far away: every publish in these tests comes from the watch (or the start-up run).
const NO_SCHEDULE = ['--schedule-seconds', '3600'];

describe('pxe-filter control run', () => {
  it('publishes at start, then each new export as it lands (not on the schedule); nothing new → nothing; SIGTERM → exit 0', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1', { inspecting: [1] });
    const svc = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    const first = await svc.waitFor((l) => l.msg === 'published', 'the start-up publish');
    expect(first).toMatchObject({ level: 'info', site: 'dc1', generation: 1, trigger: 'start', allow: 1 });

    const key = await putExport(store, 'dc1', { inspecting: [1, 2] });
    const landed = Date.now();
    const second = await svc.waitFor((l) => l.msg === 'published' && l.generation === 2, 'the publish of the new export');
    const latencyMs = Date.now() - landed;
    expect(second).toMatchObject({ site: 'dc1', trigger: 'export', exportKey: key, allow: 2 });
    // Generous: the watch publishes within well under a second on an idle machine; the schedule is an hour away.
    expect(latencyMs).toBeLessThan(10_000);
    expect(await pointerGeneration(store)).toBe(2);

    // An export saying what the last one said: a run, and nothing written.
    const objects = snapshotDir(join(root, 'objects', 'manifests'));
    const params = snapshotDir(join(root, 'parameters'));
    await putExport(store, 'dc1', { inspecting: [2, 1] });
    const same = await svc.waitFor((l) => l.msg === 'unchanged' && l.trigger === 'export', 'the run on an unchanged export');
    expect(same).toMatchObject({ generation: 2, pointerRepaired: false });
    expect(snapshotDir(join(root, 'objects', 'manifests'))).toEqual(objects);
    expect(snapshotDir(join(root, 'parameters'))).toEqual(params);

    const exit = await svc.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(svc.lines.at(-1)).toMatchObject({ msg: 'control stopped' });
    expect(svc.lines.filter((l) => l.msg === 'published')).toHaveLength(2);
  });

  it('a guard refusal publishes nothing and logs why; the service keeps running and publishes the next good export', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1', { macs: 30 });
    const svc = start(['--store', `local:${root}`, '--site', 'dc1', ...NO_SCHEDULE]);
    await svc.waitFor((l) => l.msg === 'published', 'the start-up publish');
    await putExport(store, 'dc1', { macs: 30, firstMac: 1000 });
    const refused = await svc.waitFor((l) => l.msg === 'guard refused: nothing published', 'the refusal');
    expect(refused).toMatchObject({ level: 'error', site: 'dc1', vanished: 30 });
    expect(String(refused['error'])).toMatch(/^guard: 30 of 30 known MACs changed at once/);
    expect(await pointerGeneration(store)).toBe(1);
    expect((await store.listVersions(manifestKey('dc1'))).length).toBe(1);
    await putExport(store, 'dc1', { macs: 30, inspecting: [7] });
    await svc.waitFor((l) => l.msg === 'published' && l.generation === 2, 'the next good export');
    expect((await svc.stop()).code).toBe(0);
  });

  it('a pointer left behind by a crash (manifest written, pointer not) is repaired by the start-up run', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1');
    const first = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    await first.waitFor((l) => l.msg === 'published', 'generation 1');
    await first.stop();
    // Generation 2's object lands; the publisher dies before the pointer (simulated: the pointer put back to 1).
    const pointerPath = join(root, 'parameters', 'pxe-filter', 'dc1', 'current');
    const { writeFileSync } = await import('node:fs');
    const pointer1 = readFileSync(pointerPath, 'utf8');
    await putExport(store, 'dc1', { inspecting: [9] });
    const second = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    await second.waitFor((l) => l.msg === 'published' && l.generation === 2, 'generation 2');
    await second.stop();
    writeFileSync(pointerPath, pointer1);
    expect(await pointerGeneration(store)).toBe(1);

    const third = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    const repaired = await third.waitFor((l) => l.msg === 'unchanged', 'the repair');
    expect(repaired).toMatchObject({ generation: 2, pointerRepaired: true, trigger: 'start' });
    expect(await pointerGeneration(store)).toBe(2);
  });

  it('two services on one store: exactly one publishes, the other refuses at start naming the first', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1');
    const [a, b] = [start(['--store', `local:${root}`, ...NO_SCHEDULE]), start(['--store', `local:${root}`, ...NO_SCHEDULE])];
    const loser = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
    const winner = loser === a ? b : a;
    expect((await loser.exited).code).toBe(1);
    expect(stderrLines({ code: 1, stdout: '', stderr: loser.stderr() })).toEqual([
      expect.stringMatching(new RegExp(`^pxe-filter: local store ${root.replaceAll('/', '\\/')} is in use by pid ${winner.child.pid} \\(control run, since [^)]+\\); lock ${root.replaceAll('/', '\\/')}\\/locks\\/control\\.lock$`)),
    ]);
    expect(loser.lines.filter((l) => l.msg === 'published')).toEqual([]);
    await winner.waitFor((l) => l.msg === 'published', 'the winner\'s publish');
    await putExport(store, 'dc1', { inspecting: [3] });
    await winner.waitFor((l) => l.msg === 'published' && l.generation === 2, 'the next export');
    expect((await store.listVersions(manifestKey('dc1'))).length).toBe(2);

    // Once the first is gone (even killed: the lock names a dead pid), a second one starts and takes over.
    await winner.stop('SIGKILL');
    const next = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    await next.waitFor((l) => l.msg === 'unchanged' && l.trigger === 'start', 'the successor\'s start-up run');
  });

  it('signs with --sign-key, or with the systemd credential sign-key (LoadCredential=); agents trusting the key accept it', async () => {
    const keys = join(tmp.path, `keys-${++n}`);
    mkdirSync(keys);
    expect((await spawnCli(['keygen', '--out', keys])).code).toBe(0);
    const trust = trustStoreFromPems([{ pem: readFileSync(join(keys, 'pxe-filter-sign.pub'), 'utf8'), label: 'pub' }]);

    const { root, store } = await fresh();
    await putExport(store, 'dc1');
    const flag = start(['--store', `local:${root}`, '--sign-key', join(keys, 'pxe-filter-sign.key'), ...NO_SCHEDULE]);
    const signed = await flag.waitFor((l) => l.msg === 'published', 'the signed publish');
    expect(signed.signedBy).toMatch(/^[0-9a-f]{64}$/);
    expect((await new ManifestSource(store, 'dc1', trust).current(undefined))?.pointer.signature?.keyId).toBe(signed.signedBy);
    await flag.stop();

    // systemd hands the credential over as a file of the service's own user, mode 0400.
    const credentials = join(tmp.path, `credentials-${n}`);
    mkdirSync(credentials);
    copyFileSync(join(keys, 'pxe-filter-sign.key'), join(credentials, 'sign-key'));
    chmodSync(join(credentials, 'sign-key'), 0o400);
    await putExport(store, 'dc1', { inspecting: [2] });
    const unit = start(['--store', `local:${root}`, ...NO_SCHEDULE], { ...process.env, CREDENTIALS_DIRECTORY: credentials });
    const starting = await unit.waitFor((l) => l.msg === 'control starting', 'the start line');
    expect(starting).toMatchObject({ signedBy: signed.signedBy, signingKey: `ed25519 key ${join(credentials, 'sign-key')}` });
    const second = await unit.waitFor((l) => l.msg === 'published', 'the publish');
    expect(second).toMatchObject({ generation: 2, signedBy: signed.signedBy });
    expect((await new ManifestSource(store, 'dc1', trust).current(undefined))?.manifest.generation).toBe(2);
  });

  it('several sites: each export publishes its own site only', async () => {
    const { root, store } = await fresh(['dc1', 'dc2']);
    await putExport(store, 'dc1');
    await putExport(store, 'dc2');
    const svc = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    await svc.waitFor((l) => l.msg === 'published' && l.site === 'dc2', 'dc2 at start');
    await svc.waitFor((l) => l.msg === 'published' && l.site === 'dc1', 'dc1 at start');
    await putExport(store, 'dc2', { inspecting: [1] });
    await svc.waitFor((l) => l.msg === 'published' && l.site === 'dc2' && l.generation === 2, 'dc2 generation 2');
    expect(await pointerGeneration(store, 'dc1')).toBe(1);
    expect(svc.lines.filter((l) => l.site === 'dc1' && l.trigger === 'export')).toEqual([]);
  });

  it('SIGHUP runs every site now (systemctl reload), e.g. after its settings changed', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1', { inspecting: [1] });
    const svc = start(['--store', `local:${root}`, ...NO_SCHEDULE]);
    await svc.waitFor((l) => l.msg === 'published', 'the start-up publish');
    // Unknown MACs denied from now on; no new export, so only a run on demand publishes it.
    await siteStore(root, 'dc1', { source: 'ironic', denyUnknownMacs: true });
    svc.child.kill('SIGHUP');
    const published = await svc.waitFor((l) => l.msg === 'published' && l.generation === 2, 'the publish on SIGHUP');
    expect(published).toMatchObject({ unknownHosts: 'deny' });
    expect(svc.lines.find((l) => l.msg.startsWith('SIGHUP'))).toBeDefined();
  });

  it('the schedule runs a site without any watch event', async () => {
    const { root, store } = await fresh();
    await putExport(store, 'dc1');
    const svc = start(['--store', `local:${root}`, '--schedule-seconds', '1', '--log-level', 'debug']);
    await svc.waitFor((l) => l.msg === 'published', 'the start-up publish');
    const scheduled = await svc.waitFor((l) => l.trigger === 'schedule', 'a scheduled run');
    expect(scheduled).toMatchObject({ level: 'debug', msg: 'unchanged', generation: 1 });
  });

  describe('bad input: exit 2, one line naming the option, nothing written', () => {
    it.each([
      ['a store directory that does not exist', (root: string) => ['--store', `local:${root}/nope`], /^pxe-filter: --store: no such directory /],
      ['a site without settings', (root: string) => ['--store', `local:${root}`, '--site', 'dc9'], /^pxe-filter: --site: no settings for this site in local:.*: "dc9"$/],
      ['an unreadable signing key', (root: string) => ['--store', `local:${root}`, '--sign-key', `${root}/none.key`], /^pxe-filter: --sign-key: cannot read the signing key \(ENOENT\): /],
      ['a schedule that is not a number', (root: string) => ['--store', `local:${root}`, '--schedule-seconds', 'soon'], /^pxe-filter: error: option '--schedule-seconds <n>' argument 'soon' is invalid\. expected seconds from 1 to 86400/],
    ])('%s', async (_what, args, message) => {
      const { root, store } = await fresh();
      await putExport(store, 'dc1');
      const before = snapshotDir(root);
      const svc = start(args(root));
      const exit = await svc.exited;
      expect(exit.code, svc.stderr()).toBe(2);
      expect(svc.lines).toEqual([]);
      expect(stderrLines({ code: 2, stdout: '', stderr: svc.stderr() })).toEqual([expect.stringMatching(message)]);
      expect(snapshotDir(root)).toEqual(before);
    });

    it('a store with no site at all and no --site', async () => {
      const root = join(tmp.path, `empty-${++n}`);
      mkdirSync(root);
      const svc = start(['--store', `local:${root}`]);
      expect((await svc.exited).code).toBe(2);
      expect(svc.stderr()).toBe(`pxe-filter: --site: none given, and no site has settings in local:${root} (parameters/pxe-filter/<site>/settings)\n`);
    });
  });
});
