/**
 * `local run` (what `npm start` runs) on a copy of examples/dc1: generation 1 with 301 files; a second run
 * publishes nothing and writes no file at all (inode + mtime of every file under the run directory); one node
 * edited to "inspect wait" gives generation 2 and rewrites exactly that node's two files.
 */
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { PointerSchema } from '../../core/manifest.ts';
import { trustStoreFromPems, verifyManifestSignature } from '../../core/signature.ts';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, type FileSnapshot, runCli, snapshotDir, spawnCli, tempDir } from '../support/cli.ts';
import { exportKey, pointerParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';

interface NodesDoc {
  nodes: { uuid: string; provision_state: string; inspect_interface: string }[];
}
interface PortsDoc {
  ports: { address: string; node_uuid: string }[];
}

const tmp = tempDir('local-run');
const example = join(tmp.path, 'example');
const dir = join(tmp.path, 'run');
const hostsdir = join(dir, 'hostsdir');
const args = () => ['local', 'run', '--example', example, '--dir', dir, '--site', 'dc1'];

beforeAll(() => cpSync(join(REPO_ROOT, 'examples', 'dc1'), example, { recursive: true }));
afterAll(() => tmp.cleanup());

function changedFiles(before: Map<string, FileSnapshot>, after: Map<string, FileSnapshot>): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((n) => {
    const a = before.get(n);
    const b = after.get(n);
    if (n.endsWith('/')) return !a || !b; // a directory's mtime moves when an entry is renamed into it
    return !a || !b || a.ino !== b.ino || a.mtimeNs !== b.mtimeNs || a.content !== b.content;
  }).sort();
}

describe('local run (npm start) on a copy of examples/dc1', () => {
  it('a first run on a broken example (bad settings.json) exits 2 with one line and creates nothing at all', async () => {
    const broken = join(tmp.path, 'broken');
    cpSync(join(REPO_ROOT, 'examples', 'dc1'), broken, { recursive: true });
    writeFileSync(join(broken, 'settings.json'), JSON.stringify({ source: 'ironic', discovery: 'yes' }));
    const target = join(tmp.path, 'never');
    const r = await runCli(['local', 'run', '--example', broken, '--dir', target]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([expect.stringContaining('settings.json.discovery')]);
    expect(existsSync(target)).toBe(false);
  });

  let afterFirst: Map<string, FileSnapshot>;

  it('first run (spawned, as npm start does): generation 1, 301 files (300 ports + unknown_hosts_filter), all 0644', async () => {
    const r = await spawnCli(args());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('published generation 1');
    expect(r.stdout).toContain('301 files written');
    const files = snapshotDir(hostsdir);
    expect(files.size).toBe(301);
    for (const [name, f] of files) expect(f.mode, name).toBe(0o644);
    expect(files.get('unknown_hosts_filter')?.content).toBe('*:*:*:*:*:*\n');
    afterFirst = snapshotDir(dir);
  });

  it('the default path signs: a key pair under the run directory (private 0600), the pointer signed, the agent verified it', async () => {
    const priv = join(dir, 'keys', 'pxe-filter-sign.key');
    expect(statSync(priv).mode & 0o777).toBe(0o600);
    const text = (await new LocalStore(join(dir, 'store')).getParameter(pointerParameter('dc1')))!;
    const pointer = PointerSchema.parse(JSON.parse(text));
    const trust = trustStoreFromPems([{ pem: readFileSync(join(dir, 'keys', 'pxe-filter-sign.pub'), 'utf8'), label: 'pub' }]);
    expect(verifyManifestSignature(pointer.sha256, pointer.signature, trust)?.algorithm).toBe('ed25519');
    expect(text).not.toContain('PRIVATE');
  });

  it('second run: publishes nothing and writes no file anywhere under the run directory (inode + mtime of every file)', async () => {
    const r = await runCli(args());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('nothing new, generation 1 is current');
    expect(r.stdout).toContain('0 files written');
    expect(changedFiles(afterFirst, snapshotDir(dir))).toEqual([]);
  });

  it('edit one node to "inspect wait": generation 2, exactly that node\'s 2 files rewritten in the hosts directory', async () => {
    const nodesPath = join(example, 'nodes.json');
    const nodes = JSON.parse(readFileSync(nodesPath, 'utf8')) as NodesDoc;
    const ports = JSON.parse(readFileSync(join(example, 'ports.json'), 'utf8')) as PortsDoc;
    const node = nodes.nodes.find((n) => n.provision_state === 'manageable' && n.inspect_interface === 'agent')!;
    node.provision_state = 'inspect wait';
    writeFileSync(nodesPath, JSON.stringify(nodes, null, 1));
    const macs = ports.ports.filter((p) => p.node_uuid === node.uuid).map((p) => p.address.replaceAll(':', '-')).sort();
    expect(macs).toHaveLength(2);

    const before = snapshotDir(hostsdir);
    const r = await runCli(args());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('published generation 2');
    const after = snapshotDir(hostsdir);
    expect(changedFiles(before, after)).toEqual(macs);
    for (const name of macs) expect(after.get(name)?.content).toBe(`${name.replaceAll('-', ':')}\n`);

    // And a run after that is quiet again.
    const settled = snapshotDir(dir);
    expect((await runCli(args())).stdout).toContain('nothing new, generation 2 is current');
    expect(changedFiles(settled, snapshotDir(dir))).toEqual([]);
  });

  it('a broken edit (bad MAC in ports.json) exits 2 with one line naming field and value, and changes nothing', async () => {
    const portsPath = join(example, 'ports.json');
    const original = readFileSync(portsPath, 'utf8');
    const ports = JSON.parse(original) as PortsDoc;
    ports.ports[3]!.address = 'zz:54:00:00:00:03';
    writeFileSync(portsPath, JSON.stringify(ports));
    const before = snapshotDir(dir);
    try {
      const r = await runCli(args());
      expect(r.code).toBe(2);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      // Against the file the user edited, not an internal store key (issue 14).
      expect(lines[0]).toMatch(new RegExp(`^pxe-filter: ${portsPath.replaceAll('/', '\\/')}\\.ports\\[3\\]\\.address: `));
      expect(lines[0]).toContain('zz:54:00:00:00:03');
      expect(lines[0]).not.toContain('exports/');
      expect(changedFiles(before, snapshotDir(dir))).toEqual([]);
    } finally {
      writeFileSync(portsPath, original);
    }
  });

  it('invalid JSON in nodes.json: exit 2 naming the file, the line and the column; nothing changes', async () => {
    const nodesPath = join(example, 'nodes.json');
    const original = readFileSync(nodesPath, 'utf8');
    // A trailing comma on line 3, as a hand edit leaves it.
    writeFileSync(nodesPath, '{\n  "nodes": [\n    {"uuid": "x"},\n  ]\n}\n');
    const before = snapshotDir(dir);
    try {
      const r = await runCli(args());
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(new RegExp(`^pxe-filter: ${nodesPath.replaceAll('/', '\\/')}: not valid JSON at line 4 column 3 `))]);
      expect(changedFiles(before, snapshotDir(dir))).toEqual([]);
    } finally {
      writeFileSync(nodesPath, original);
    }
  });

  it('a future-dated export in the store (key and createdAt 2099) does not pin the policy: refused with a warning, the example wins', async () => {
    const store = new LocalStore(join(dir, 'store'));
    const current = (await store.listObjects('exports/dc1/')).at(-1)!;
    const doc = JSON.parse(new TextDecoder().decode((await store.getObject(current.key))!.bytes)) as { createdAt: string; nodes: NodesDoc[] };
    // Someone's export with a clock in 2099 that also sets one more node inspecting: it must not be used.
    doc.createdAt = '2099-01-01T00:00:00.000Z';
    const node = doc.nodes[0]!.nodes.find((n) => n.provision_state === 'manageable')!;
    node.provision_state = 'inspect wait';
    await store.putObject(exportKey('dc1', new Date('2099-01-01T00:00:00Z')), new TextEncoder().encode(JSON.stringify(doc)));

    const nodesPath = join(example, 'nodes.json');
    const original = readFileSync(nodesPath, 'utf8');
    const nodes = JSON.parse(original) as NodesDoc;
    nodes.nodes.find((n) => n.provision_state === 'inspect wait')!.provision_state = 'manageable';
    writeFileSync(nodesPath, JSON.stringify(nodes, null, 1));
    try {
      const r = await runCli(args());
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('published generation 3');
      expect(r.stdout).toMatch(/export: {4}exports\/dc1\/20\d\d-.*\(new\)/);
      expect(r.stdout).not.toContain('2099');
      expect(r.stderr).toMatch(/^pxe-filter: warning: export refused: exports\/dc1\/2099-01-01T000000-000Z\.json: createdAt 2099-01-01T00:00:00\.000Z is more than 5 minutes after /);
      const m = await store.getObject('manifests/dc1/manifest.json');
      const inputs = (JSON.parse(new TextDecoder().decode(m!.bytes)) as { source: { inputs: { key: string }[] } }).source.inputs;
      expect(inputs[0]!.key).not.toContain('2099');
    } finally {
      writeFileSync(nodesPath, original);
    }
  });
});
