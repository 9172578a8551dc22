/**
 * `pxe-filter export --watch` as an operator runs it, against a real Ironic and a real ironic-inspector on
 * loopback (through a proxy that can cut them off), writing into a local store; computeSite (the code of the
 * Lambda, `compute`-less `local run` and `publish`) reading what it wrote.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSite } from '../../control/compute-site.ts';
import { parseStateExport } from '../../core/state-export.ts';
import { exportsPrefix, settingsParameter, stateExportsPrefix } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { pxeFilter } from './support/cli.ts';
import { type Enrolled, enrollNode, macFor, waitIntrospection } from './support/enroll.ts';
import { type FaultProxy, startProxy } from './support/fault-proxy.ts';
import { IRONIC_BINARIES, type Rig, destroyRig, startRig } from './support/ironic-rig.ts';

const BIN = fileURLToPath(new URL('../../cli/bin.js', import.meta.url));
const SITE = 'watch1';
let rig: Rig | undefined;
let proxy: FaultProxy | undefined;
let work: string;
let store: LocalStore;
let watcher: ChildProcess | undefined;
const logs: Record<string, unknown>[] = [];
let outage = false;
const nodes: Enrolled[] = [];

beforeAll(async () => {
  const missing = IRONIC_BINARIES.filter((b) => !existsSync(b));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: apt-get install ironic-common python3-ironic-inspector python3-openstackclient python3-ironicclient sqlite3 (see .ci/run)`);
  work = await mkdtemp(join(tmpdir(), 'pxe-filter-watch-'));
  store = new LocalStore(join(work, 'store'));
  rig = await startRig({ withInspector: true });
  for (const [i, name] of ['w0', 'w1', 'w2'].entries()) nodes.push(await enrollNode(rig, { name, state: 'manageable', macs: [macFor(100 + i, 0), macFor(100 + i, 1)] }));
  proxy = await startProxy({ target: rig.ironicUrl, inspectorTarget: rig.inspectorUrl!, fault: () => (outage ? 'reset' : 'pass') });
}, 180_000);

afterAll(async () => {
  if (watcher?.pid && watcher.exitCode === null) {
    watcher.kill('SIGTERM');
    await new Promise((r) => watcher!.once('exit', r));
  }
  await proxy?.close();
  await destroyRig(rig);
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

const r = () => rig!;
const macsOf = (...names: string[]) => nodes.filter((n) => names.includes(n.name)).flatMap((n) => n.macs).sort();
const byName = (name: string) => nodes.find((n) => n.name === name)!;

function startWatcher(extra: string[] = []): ChildProcess {
  const child = spawn(
    process.execPath,
    [BIN, 'export', '--watch', '--site', SITE, '--ironic-url', proxy!.url, '--inspector-url', proxy!.url, '--to', `local:${join(work, 'store')}`, '--interval', '0.3', '--full-interval', '600', '--max-backoff', '2', '--page-size', '2', ...extra],
    { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let buf = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: 'non-json', line });
      }
    }
  });
  return child;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last log lines: ${JSON.stringify(logs.slice(-5))}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const fullExports = async () => (await store.listObjects(exportsPrefix(SITE))).filter((o) => !o.key.startsWith(stateExportsPrefix(SITE)));
const stateExports = async () => store.listObjects(stateExportsPrefix(SITE));
const setState = (uuid: string, state: string) =>
  r().sql(`UPDATE nodes SET provision_state='${state}', target_provision_state=${state === 'manageable' ? 'NULL' : "'manageable'"}, provision_updated_at=CURRENT_TIMESTAMP WHERE uuid='${uuid}'`);
const compute = (source: 'ironic' | 'inspector') =>
  store
    .putParameter(settingsParameter(SITE), JSON.stringify({ source, supportedInspectInterfaces: ['fake', 'inspector'], guard: { maxChangeShare: 1, minChangesToGuard: 0 } }))
    .then(() => computeSite({ store, site: SITE, now: new Date() }));

describe('export --watch against a real Ironic + ironic-inspector', () => {
  it('writes the full export first, then a state export only when who is inspected changes; compute combines them', async () => {
    watcher = startWatcher();
    await until('the first full export', async () => (await fullExports()).length === 1);
    const first = await compute('ironic');
    expect(first.published.manifest.policy.allow).toEqual([]);
    expect(first.published.manifest.policy.deny).toEqual(macsOf('w0', 'w1', 'w2'));
    expect(first.stateExportKey).toBeUndefined();

    // Several quiet intervals: nothing changes, nothing is written.
    await new Promise((res) => setTimeout(res, 1500));
    expect(await stateExports()).toHaveLength(0);
    expect(await fullExports()).toHaveLength(1);

    await setState(byName('w0').uuid, 'inspect wait');
    const [state] = await until('a state export', async () => ((await stateExports()).length === 1 ? stateExports() : undefined));
    const doc = parseStateExport(JSON.parse(new TextDecoder().decode((await store.getObject(state!.key))!.bytes)), state!.key);
    expect(doc.nodes).toEqual([{ uuid: byName('w0').uuid, provisionState: 'inspect wait', inspectInterface: 'fake' }]);
    expect(doc.fullExport).toBe((await fullExports())[0]!.key);
    // A known node: no new full listing for it.
    expect(await fullExports()).toHaveLength(1);
    const second = await compute('ironic');
    expect(second.stateExportKey).toBe(state!.key);
    expect(second.published.manifest.policy).toMatchObject({ allow: macsOf('w0'), unknownHosts: 'allow' });
    expect(second.published.manifest.source.inputs.map((i) => i.key).sort()).toEqual([(await fullExports())[0]!.key, state!.key].sort());

    // Same state on later readings: still one state export.
    await new Promise((res) => setTimeout(res, 1000));
    expect(await stateExports()).toHaveLength(1);
  }, 120_000);

  it('a node the inventory lacks: the full listing runs at once, and its ports are allowed', async () => {
    const fresh = await enrollNode(r(), { name: 'w3', state: 'manageable', macs: [macFor(103, 0)] });
    nodes.push(fresh);
    await setState(fresh.uuid, 'inspecting');
    await until('a second full export', async () => (await fullExports()).length === 2);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'watch.full-listing', reason: 'unknown-node', status: 'written' }));
    const third = await compute('ironic');
    expect(third.published.manifest.policy.allow).toEqual(macsOf('w0', 'w3'));
  }, 120_000);

  it('an introspection started in ironic-inspector is read; the inspector source allows its ports', async () => {
    const w1 = byName('w1');
    await r().api('PATCH', `/v1/nodes/${w1.uuid}`, [{ op: 'replace', path: '/inspect_interface', value: 'inspector' }]);
    const before = (await stateExports()).length;
    await r().api('PUT', `/v1/nodes/${w1.uuid}/states/provision`, { target: 'inspect' });
    await waitIntrospection(r(), w1.uuid, 'waiting');
    await until('a state export naming the introspection', async () => {
      const list = await stateExports();
      if (list.length <= before) return undefined;
      const last = list.at(-1)!;
      const doc = parseStateExport(JSON.parse(new TextDecoder().decode((await store.getObject(last.key))!.bytes)), last.key);
      // Both readings settled (Ironic passes through "inspecting" on its way to "inspect wait"), so that no
      // change is still on its way when the next test counts the state exports.
      const waiting = doc.nodes.some((n) => n.uuid === w1.uuid && n.provisionState === 'inspect wait');
      return doc.introspection?.includes(w1.uuid) && waiting ? doc : undefined;
    });
    const viaInspector = await compute('inspector');
    expect(viaInspector.published.manifest.policy.allow).toEqual(macsOf('w1'));
  }, 120_000);

  it('Ironic and inspector unreachable: failures logged with a growing wait, nothing written; on recovery the change is published', async () => {
    const states = (await stateExports()).length;
    const fulls = (await fullExports()).length;
    const failedBefore = logs.filter((l) => l['msg'] === 'watch.failed').length;
    outage = true;
    await until('three logged failures', () => logs.filter((l) => l['msg'] === 'watch.failed').length >= failedBefore + 3 || undefined);
    // During the outage the inspection ends: nothing may be concluded, so nothing is written.
    await setState(byName('w0').uuid, 'manageable');
    await setState(byName('w3').uuid, 'manageable');
    await until('two more failures', () => logs.filter((l) => l['msg'] === 'watch.failed').length >= failedBefore + 5 || undefined);
    expect(await stateExports()).toHaveLength(states);
    expect(await fullExports()).toHaveLength(fulls);
    const failures = logs.filter((l) => l['msg'] === 'watch.failed').slice(failedBefore);
    expect(failures[0]).toMatchObject({ level: 'warn', site: SITE, failures: 1, retryInMs: 300 });
    // Doubling from --interval, capped at --max-backoff.
    expect(failures.slice(0, 5).map((f) => f['retryInMs'])).toEqual([300, 600, 1200, 2000, 2000]);
    expect(String(failures[0]!['error'])).toMatch(/Ironic|ironic-inspector/);
    // The store still gives the last good state.
    const during = await compute('ironic');
    expect(during.published.manifest.policy.allow).toEqual(macsOf('w0', 'w1', 'w3'));

    outage = false;
    await until('a state export after recovery', async () => (await stateExports()).length === states + 1);
    // Logged before the write; read from the watcher's stderr pipe, which may lag the file.
    await until('the recovery logged', () => logs.some((l) => l['msg'] === 'watch.recovered') || undefined);
    const after = await compute('ironic');
    // w1 is still in inspect wait (its interface "inspector" is supported here); w0 and w3 left inspection.
    expect(after.published.manifest.policy.allow).toEqual(macsOf('w1'));
  }, 120_000);

  it('stops on SIGTERM with status 0', async () => {
    watcher!.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => watcher!.once('exit', (c) => res(c)));
    expect(code).toBe(0);
    expect(logs.at(-1)).toMatchObject({ msg: 'watch.stopped' });
  }, 30_000);

  it('failing longer than --give-up-after: exit status 75 with the reason, nothing written', async () => {
    const dir = join(work, 'dead');
    const res = await pxeFilter(['export', '--watch', '--site', SITE, '--ironic-url', 'http://127.0.0.1:9', '--to', `local:${dir}`, '--interval', '0.2', '--max-backoff', '0.4', '--give-up-after', '1.5']);
    expect(res.code).toBe(75);
    expect(res.stderr).toMatch(/pxe-filter: export --watch: Ironic\/inspector failing for \d+ s .*giving up so the service manager restarts the watcher/);
    expect(res.stderr).toMatch(/"msg":"watch.failed"/);
    expect(await new LocalStore(dir).listObjects('exports/')).toEqual([]);
  }, 60_000);

  it('a bad option is the operator\'s error: exit 2 at once, not retried (systemd does not restart it either)', async () => {
    const res = await pxeFilter(['export', '--watch', '--site', SITE, '--ironic-url', 'ftp://127.0.0.1:9', '--to', `local:${join(work, 'bad')}`]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--ironic-url.*expected an http:\/\/ or https:\/\/ URL/);
    expect(res.stderr).not.toMatch(/watch\.failed/);
  }, 30_000);
});
