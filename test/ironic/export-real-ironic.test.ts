/**
 * `pxe-filter export` against a real Ironic 21.4 and a real ironic-inspector 11.1 on loopback (noauth,
 * SQLite, fake hardware), then `compute` on what it wrote; and the `openstack baremetal` CLI output of the
 * same Ironic through `compute`, which must give the same policy.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExportBundle } from '../../core/export-bundle.ts';
import { parseManifestBytes } from '../../core/manifest.ts';
import { SiteSettingsSchema } from '../../core/settings.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { LocalStore } from '../../store/local-store.ts';
import { pxeFilter } from './support/cli.ts';
import { type Enrolled, type NodeSpec, enrollNode, macFor } from './support/enroll.ts';
import { IRONIC_BINARIES, type Rig, destroyRig, startRig } from './support/ironic-rig.ts';

const SITE = 'rig1';
let rig: Rig | undefined;
let work: string;
let nodes: Enrolled[] = [];

// 7 nodes x 2 ports = 14 ports; page size 4 => 4 port pages, 2 node pages.
const SPECS: Omit<NodeSpec, 'macs'>[] = [
  { name: 'n0-enroll', state: 'enroll' },
  { name: 'n1-manageable', state: 'manageable' },
  { name: 'n2-available', state: 'available' },
  { name: 'n3-inspector', state: 'inspect wait via inspector' },
  { name: 'n4-inspector', state: 'inspect wait via inspector' },
  { name: 'n5-wait-fake', state: 'inspect wait via sql' },
  { name: 'n6-inspecting-fake', state: 'inspecting via sql' },
];
const PAGE = 4;

beforeAll(async () => {
  const missing = IRONIC_BINARIES.filter((b) => !existsSync(b));
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}: apt-get install ironic-common python3-ironic-inspector python3-openstackclient python3-ironicclient sqlite3 (see .ci/run)`);
  }
  work = await mkdtemp(join(tmpdir(), 'pxe-filter-export-'));
  rig = await startRig({ withInspector: true });
  nodes = [];
  for (const [i, spec] of SPECS.entries()) nodes.push(await enrollNode(rig, { ...spec, macs: [macFor(i, 0), macFor(i, 1)] }));
}, 180_000);

afterAll(async () => {
  await destroyRig(rig);
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

const r = () => rig!;
const macsOf = (...names: string[]) => nodes.filter((n) => names.includes(n.name)).flatMap((n) => n.macs).sort();
const allMacs = () => nodes.flatMap((n) => n.macs).sort();

async function exportTo(dir: string, extra: string[] = []) {
  return pxeFilter(['export', '--site', SITE, '--ironic-url', r().ironicUrl, '--inspector-url', r().inspectorUrl!, '--to', `local:${dir}`, '--page-size', String(PAGE), ...extra]);
}

async function onlyExport(storeDir: string) {
  const store = new LocalStore(storeDir);
  const objects = await store.listObjects(`exports/${SITE}/`);
  expect(objects).toHaveLength(1);
  const obj = await store.getObject(objects[0]!.key);
  return { key: objects[0]!.key, bundle: JSON.parse(new TextDecoder().decode(obj!.bytes)) as Record<string, unknown[]> & { site: string; schema: string } };
}

/** The bundle's raw pages as files, the way an operator would hand them to `compute`. */
async function pagesToFiles(dir: string, bundle: Record<string, unknown[]>) {
  const args: string[] = [];
  for (const [field, flag] of [['ports', '--ports'], ['nodes', '--nodes'], ['introspection', '--introspection']] as const) {
    for (const [i, page] of (bundle[field] ?? []).entries()) {
      const file = join(dir, `${field}-${i}.json`);
      await writeFile(file, JSON.stringify(page));
      args.push(flag, file);
    }
  }
  return args;
}

async function compute(dir: string, inputs: string[], extra: string[]) {
  const out = join(dir, `manifest-${Math.random().toString(36).slice(2)}.json`);
  const res = await pxeFilter(['compute', '--site', SITE, ...inputs, ...extra, '--out', out]);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return parseManifestBytes(await readFile(out), out);
}

describe('export against a real Ironic + ironic-inspector', () => {
  it('the rig holds the states the tests rely on', () => {
    expect(nodes.map((n) => n.state)).toEqual(['enroll', 'manageable', 'available', 'inspect wait', 'inspect wait', 'inspect wait', 'inspecting']);
  });

  it('pages through ports, nodes and introspections (page size below the counts) and publishes one bundle', async () => {
    const dir = join(work, 'store-pages');
    const res = await exportTo(dir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^wrote export local store at .*: exports\/rig1\/\S+\.json \(14 ports, 7 nodes, 2 introspections, \d+ bytes, \d+ ms\)\n$/);
    const { bundle, key } = await onlyExport(dir);
    expect(key).toMatch(/^exports\/rig1\/\d{4}-\d{2}-\d{2}T\d{6}-\d{3}Z\.json$/);
    expect(bundle.schema).toBe('pxe-filter/export@1');
    const portPages = bundle['ports'] as { ports: { address: string }[]; next?: string }[];
    const nodePages = bundle['nodes'] as { nodes: unknown[]; next?: string }[];
    expect(portPages.map((p) => p.ports.length)).toEqual([4, 4, 4, 2]);
    expect(nodePages.map((p) => p.nodes.length)).toEqual([4, 3]);
    // Every full page carries Ironic's `next`; the last one does not.
    expect(portPages.map((p) => p.next !== undefined)).toEqual([true, true, true, false]);
    expect(portPages.flatMap((p) => p.ports.map((x) => x.address)).sort()).toEqual(allMacs());
    const parsed = parseExportBundle(bundle, key);
    expect(parsed.ports).toHaveLength(14);
    expect(new Set(parsed.nodes!.map((n) => n.uuid))).toEqual(new Set(nodes.map((n) => n.uuid)));
    // The pinned API version reports `inspect wait` (API 1.1 would say `inspecting`).
    expect(parsed.nodes!.find((n) => n.uuid === nodes[3]!.uuid)).toMatchObject({ provisionState: 'inspect wait', inspectInterface: 'inspector' });
    // A JSON log line per fetched list on stderr, with stable keys.
    const events = res.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; resource?: string; pages?: number });
    expect(events.filter((e) => e.msg === 'export.fetched').map((e) => [e.resource, e.pages])).toEqual([['ports', 4], ['nodes', 2], ['introspection', 1]]);
  });

  it('nodes put into inspect wait through the inspector interface show as waiting in ironic-inspector, paged with limit+marker', async () => {
    const dir = join(work, 'store-intro');
    const res = await exportTo(dir, ['--page-size', '1']);
    expect(res.code, res.stderr).toBe(0);
    const { bundle } = await onlyExport(dir);
    const pages = bundle['introspection'] as { introspection: { uuid: string; state: string; finished: boolean }[] }[];
    // Two entries with limit 1: [a], [b], [] — the empty page ends the walk.
    expect(pages.map((p) => p.introspection.length)).toEqual([1, 1, 0]);
    const rows = pages.flatMap((p) => p.introspection);
    expect(rows.map((x) => x.uuid).sort()).toEqual([nodes[3]!.uuid, nodes[4]!.uuid].sort());
    expect(rows.map((x) => [x.state, x.finished])).toEqual([['waiting', false], ['waiting', false]]);
  });

  it('export + compute give the expected policy for each way of counting inspection', async () => {
    const dir = join(work, 'store-compute');
    expect((await exportTo(dir)).code).toBe(0);
    const { bundle, key } = await onlyExport(dir);
    const files = await pagesToFiles(work, bundle);
    const ironicOnly = files.filter((_, i, a) => !(a[i] === '--introspection' || a[i - 1] === '--introspection'));

    // Ironic source, reference default (inspect interface "agent"): nobody is inspecting here.
    const agent = await compute(work, ironicOnly, ['--source', 'ironic']);
    expect(agent.policy).toMatchObject({ allow: [], deny: allMacs(), unknownHosts: 'deny' });
    // Ironic source counting the inspector interface: n3, n4 (inspect wait via ironic-inspector).
    const viaInspectorIface = await compute(work, ironicOnly, ['--source', 'ironic', '--inspect-interfaces', 'inspector']);
    expect(viaInspectorIface.policy.allow).toEqual(macsOf('n3-inspector', 'n4-inspector'));
    expect(viaInspectorIface.policy.deny).toEqual(allMacs().filter((m) => !macsOf('n3-inspector', 'n4-inspector').includes(m)));
    expect(viaInspectorIface.policy.unknownHosts).toBe('allow');
    // …and the fake interface too: `inspect wait` and `inspecting` both count.
    const both = await compute(work, ironicOnly, ['--source', 'ironic', '--inspect-interfaces', 'inspector,fake']);
    expect(both.policy.allow).toEqual(macsOf('n3-inspector', 'n4-inspector', 'n5-wait-fake', 'n6-inspecting-fake'));
    // ironic-inspector source: unfinished introspections are n3 and n4.
    const inspector = await compute(work, files, ['--source', 'inspector']);
    expect(inspector.policy.allow).toEqual(macsOf('n3-inspector', 'n4-inspector'));
    expect(inspector.policy.unknownHosts).toBe('allow');

    // What the compute function does with the stored object gives the same policy.
    const settings = SiteSettingsSchema.parse({ source: 'ironic', supportedInspectInterfaces: ['inspector'] });
    expect(policyFromExport(parseExportBundle(bundle, key), settings).policy).toEqual(viaInspectorIface.policy);
  });

  it('`openstack baremetal port/node list --long -f json` from the same Ironic gives the same manifest as the API form', async () => {
    const dir = join(work, 'store-cli');
    expect((await exportTo(dir)).code).toBe(0);
    const { bundle } = await onlyExport(dir);
    const apiFiles = (await pagesToFiles(join(work), bundle)).filter((_, i, a) => !(a[i] === '--introspection' || a[i - 1] === '--introspection'));
    const portsCli = await r().openstack(['baremetal', 'port', 'list', '--long', '-f', 'json']);
    const nodesCli = await r().openstack(['baremetal', 'node', 'list', '--long', '-f', 'json']);
    expect((JSON.parse(portsCli) as unknown[]).length).toBe(14);
    expect((JSON.parse(nodesCli) as { 'Provisioning State': string }[]).map((n) => n['Provisioning State']).sort()).toEqual(nodes.map((n) => n.state).sort());
    await writeFile(join(work, 'cli-ports.json'), portsCli);
    await writeFile(join(work, 'cli-nodes.json'), nodesCli);
    for (const ifaces of ['agent', 'inspector', 'inspector,fake']) {
      const flags = ['--source', 'ironic', '--inspect-interfaces', ifaces];
      const fromApi = await compute(work, apiFiles, flags);
      const fromCli = await compute(work, ['--ports', join(work, 'cli-ports.json'), '--nodes', join(work, 'cli-nodes.json')], flags);
      expect(fromCli.policy).toEqual(fromApi.policy);
      expect(fromCli.policyDigest).toBe(fromApi.policyDigest);
      expect(fromCli.generation).toBe(fromApi.generation);
      // The same CLI documents inside an export bundle, as the compute function would read them.
      const settings = SiteSettingsSchema.parse({ source: 'ironic', supportedInspectInterfaces: ifaces.split(',') });
      const cliBundle = { schema: 'pxe-filter/export@1', site: SITE, createdAt: new Date().toISOString(), ports: [JSON.parse(portsCli)], nodes: [JSON.parse(nodesCli)] };
      expect(policyFromExport(parseExportBundle(cliBundle, 'cli-bundle'), settings).policy).toEqual(fromApi.policy);
    }
  }, 120_000); // two Python `openstack` runs: ~10 s each when the machine is busy

  it('an unchanged Ironic writes nothing new; a change writes a second export', async () => {
    const dir = join(work, 'store-dedupe');
    expect((await exportTo(dir)).code).toBe(0);
    const again = await exportTo(dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged: Ironic says what the latest export .* says, nothing written/);
    const store = new LocalStore(dir);
    expect(await store.listObjects(`exports/${SITE}/`)).toHaveLength(1);
    const n1 = nodes.find((n) => n.name === 'n1-manageable')!;
    const port = (await r().api('POST', '/v1/ports', { node_uuid: n1.uuid, address: '52:54:00:ee:ee:01' })) as { uuid: string };
    try {
      const changed = await exportTo(dir);
      expect(changed.code, changed.stderr).toBe(0);
      expect(changed.stdout).toMatch(/^wrote export .*\(15 ports/);
      const objects = await store.listObjects(`exports/${SITE}/`);
      expect(objects).toHaveLength(2);
      const newest = await store.getObject(objects[1]!.key);
      expect(parseExportBundle(JSON.parse(new TextDecoder().decode(newest!.bytes)), 'newest').ports.map((p) => p.mac)).toContain('52:54:00:ee:ee:01');
    } finally {
      await r().api('DELETE', `/v1/ports/${port.uuid}`);
    }
  });

  it('--out DIR writes the same bundle file atomically, and only when it changed', async () => {
    const out = join(work, 'out-dir');
    const res = await pxeFilter(['export', '--site', SITE, '--ironic-url', `${r().ironicUrl}/v1/`, '--out', out, '--page-size', '5']);
    expect(res.code, res.stderr).toBe(0);
    const names = await readdir(out);
    expect(names).toHaveLength(1); // no temp file left behind
    expect(names[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{6}-\d{3}Z\.json$/);
    const parsed = parseExportBundle(JSON.parse(await readFile(join(out, names[0]!), 'utf8')), names[0]!);
    expect(parsed.ports.map((p) => p.mac).sort()).toEqual(allMacs());
    expect(parsed.introspections).toBeUndefined();
    const again = await pxeFilter(['export', '--site', SITE, '--ironic-url', r().ironicUrl, '--out', out, '--page-size', '5']);
    expect(again.stdout).toMatch(/^unchanged/);
    expect(await readdir(out)).toHaveLength(1);
  });
});
