/**
 * Issue 12 defect 7 (edge inputs), on the CLI as an operator runs it and on the compute function's code path:
 * - MACs no NIC can have (multicast, broadcast, all-zero) are never allowed, and reported with a count and the
 *   first few, in `compute`'s output and in the function's log;
 * - JSON nested 5,000 deep is exit 2 naming the file (it was exit 1 "Maximum call stack size exceeded");
 * - invalid UTF-8 is exit 2 naming the file and the byte offset, worded the same by the CLI and the Lambda (one
 *   shared strict decoder; the CLI used to replace it with U+FFFD silently).
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { parseManifestBytes } from '../../core/manifest.ts';
import { computeSite } from '../../control/compute-site.ts';
import { exportKey, settingsParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { runCli, snapshotDir, stderrLines, tempDir } from '../support/cli.ts';
import { exportBundle, nodeUuid } from '../support/exports.ts';

const tmp = tempDir('edge-inputs');
afterAll(() => tmp.cleanup());
const p = (name: string) => join(tmp.path, name);

/** Ports of nodes 0..n-1 on the given MACs; nodes listed in `inspecting` are in "inspect wait". */
function writePortsAndNodes(name: string, macs: string[], inspecting: number[]) {
  const ports = p(`${name}-ports.json`);
  const nodes = p(`${name}-nodes.json`);
  writeFileSync(ports, JSON.stringify({ ports: macs.map((address, i) => ({ address, node_uuid: nodeUuid(i) })) }));
  writeFileSync(
    nodes,
    JSON.stringify({ nodes: macs.map((_, i) => ({ uuid: nodeUuid(i), provision_state: inspecting.includes(i) ? 'inspect wait' : 'active', inspect_interface: 'agent' })) }),
  );
  return { ports, nodes };
}

async function refusedWithOneLine(args: string[]): Promise<string> {
  const out = p(`out-${Math.random().toString(36).slice(2)}.json`);
  const before = snapshotDir(tmp.path);
  const r = await runCli(['compute', '--site', 'dc1', ...args, '--out', out]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = stderrLines(r);
  expect(lines, r.stderr).toHaveLength(1);
  expect(snapshotDir(tmp.path)).toEqual(before);
  return lines[0]!;
}

describe('MACs no NIC can have', () => {
  const unusable = ['ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '01:00:5e:00:00:fb', '33:33:00:00:00:01', '03:00:00:00:00:01', 'cf:00:00:00:00:02'];
  const good = ['52:54:00:00:00:01', '52:54:00:00:00:02'];

  it('are denied even while their node is inspected, and `compute` reports the count and the first five', async () => {
    const all = [...unusable, ...good];
    const f = writePortsAndNodes('unusable', all, all.map((_, i) => i)); // every node inspecting
    const out = p('unusable-manifest.json');
    const r = await runCli(['compute', '--site', 'dc1', '--ports', f.ports, '--nodes', f.nodes, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const m = parseManifestBytes(new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(out))));
    expect(m.policy.allow).toEqual(good);
    expect(m.policy.deny).toEqual([...unusable].sort());
    const report = r.stdout.split('\n').find((l) => l.startsWith('denied '));
    expect(report).toBe(
      'denied 6 MACs no NIC can have (multicast, broadcast or all-zero): 00:00:00:00:00:00, 01:00:5e:00:00:fb, 03:00:00:00:00:01, 33:33:00:00:00:01, cf:00:00:00:00:02, … 1 more',
    );
  });

  it('a clean export says nothing about them', async () => {
    const f = writePortsAndNodes('clean', good, [0]);
    const r = await runCli(['compute', '--site', 'dc1', '--ports', f.ports, '--nodes', f.nodes, '--out', p('clean-manifest.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('no NIC');
  });
});

describe('JSON nested 5,000 deep', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

  it('in a ports file where a port row should be: exit 2 naming the file and field', async () => {
    const file = p('deep-ports.json');
    writeFileSync(file, `{"ports":${deep(5000)}}`);
    const f = writePortsAndNodes('deep-ok', ['52:54:00:00:00:01'], []);
    const line = await refusedWithOneLine(['--ports', file, '--nodes', f.nodes]);
    expect(line).toContain(`${file}.ports[0]`);
    expect(line).not.toMatch(/call stack/i);
  });

  it('as a MAC address value: exit 2 naming the file and field', async () => {
    const file = p('deep-address.json');
    writeFileSync(file, `{"ports":[{"address":${deep(5000)},"node_uuid":null}]}`);
    const f = writePortsAndNodes('deep-ok2', ['52:54:00:00:00:01'], []);
    const line = await refusedWithOneLine(['--ports', file, '--nodes', f.nodes]);
    expect(line).toContain(`${file}.ports[0].address`);
    expect(line).not.toMatch(/call stack/i);
  });

  it('in an export bundle: exit 2 naming the file', async () => {
    const file = p('deep-export.json');
    writeFileSync(file, `{"schema":"pxe-filter/export@1","site":"dc1","createdAt":"2026-11-25T20:00:00.000Z","ports":[${deep(5000)}],"nodes":[${deep(5000)}]}`);
    const line = await refusedWithOneLine(['--export', file]);
    expect(line).toContain(file);
    expect(line).not.toMatch(/call stack/i);
  });
});

describe('invalid UTF-8: exit 2 naming the file and the byte offset, worded the same on the CLI and the Lambda', () => {
  const valid = JSON.stringify(exportBundle('dc1', { macs: 3, inspecting: [1], createdAt: '2026-11-25T20:00:00.000Z' }));
  // A Latin-1 "é" (0xe9) inside a node UUID, where UTF-8 needs two bytes: what a mis-encoded file looks like.
  const at = valid.indexOf('active');
  const bytes = Buffer.concat([Buffer.from(valid.slice(0, at), 'utf8'), Buffer.from([0xe9]), Buffer.from(valid.slice(at), 'utf8')]);

  it('the CLI and the compute code report the same reason for the same bytes', async () => {
    const file = p('latin1-export.json');
    writeFileSync(file, bytes);
    const cli = await refusedWithOneLine(['--export', file]);
    expect(cli).toBe(`pxe-filter: ${file}: not valid UTF-8 at byte offset ${at}: "e9 61 63 74"`);

    const dir = await mkdtemp(join(tmpdir(), 'pxe-utf8-'));
    try {
      const store = new LocalStore(dir);
      await store.putParameter(settingsParameter('dc1'), JSON.stringify({ source: 'ironic' }));
      const key = exportKey('dc1', new Date('2026-11-25T20:00:00Z'));
      await store.putObject(key, bytes);
      const err = await computeSite({ store, site: 'dc1', now: new Date('2026-11-25T20:01:00Z') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toBe(`${key}: not valid UTF-8 at byte offset ${at}: "e9 61 63 74"`);
      expect(cli.slice(`pxe-filter: ${file}`.length)).toBe((err as Error).message.slice(key.length));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('in a plain ports file too (it was silently read as U+FFFD)', async () => {
    const file = p('latin1-ports.json');
    const text = '{"ports":[{"address":"52:54:00:00:00:01","node_uuid":"caf';
    writeFileSync(file, Buffer.concat([Buffer.from(text), Buffer.from([0xe9]), Buffer.from('"}]}')]));
    const f = writePortsAndNodes('utf8-ok', ['52:54:00:00:00:01'], []);
    const line = await refusedWithOneLine(['--ports', file, '--nodes', f.nodes]);
    expect(line).toBe(`pxe-filter: ${file}: not valid UTF-8 at byte offset ${text.length}: "e9 22 7d 5d"`);
  });
});

describe('compute --export with an export dated in the future (issue 12 defect 3, the CLI side)', () => {
  it('is refused: exit 2 naming the file and its createdAt, nothing written', async () => {
    const file = p('future-export.json');
    writeFileSync(file, JSON.stringify(exportBundle('dc1', { macs: 3, inspecting: [1], createdAt: '2099-01-01T00:00:00.000Z' })));
    const line = await refusedWithOneLine(['--export', file]);
    expect(line).toMatch(new RegExp(`^pxe-filter: ${file.replaceAll('/', '\\/')}\\.createdAt: createdAt 2099-01-01T00:00:00\\.000Z is more than 5 minutes after now \\(`));
  });
});
