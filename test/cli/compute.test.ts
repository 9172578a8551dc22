/**
 * `pxe-filter compute`: bad input and configuration exit 2 with exactly one stderr line naming the field and the
 * value, and write nothing; a guard refusal exits 3 and writes nothing; an unchanged policy writes nothing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, snapshotDir, spawnCli, stderrLines, tempDir } from '../support/cli.ts';
import { mac, writeSite } from '../support/exports.ts';
import { buildBundle } from '../../exporter/write-export.ts';

const tmp = tempDir('compute');
afterAll(() => tmp.cleanup());
const p = (name: string) => join(tmp.path, name);
let site: { ports: string; intro: string };
let good: string;

beforeAll(async () => {
  site = writeSite(tmp.path, 40, [1, 2]);
  good = p('good-manifest.json');
  expect((await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', good])).code).toBe(0);
});

/** Run a refused compute and check: the exit status, one stderr line containing every `mustContain`, no output. */
async function refused(args: string[], code: number, mustContain: string[]) {
  const out = p(`out-${Math.random().toString(36).slice(2)}.json`);
  const before = snapshotDir(tmp.path);
  const r = await runCli(['compute', ...args, '--out', out]);
  expect(r.code, r.stderr).toBe(code);
  const lines = stderrLines(r);
  expect(lines, r.stderr).toHaveLength(1);
  for (const s of mustContain) expect(lines[0]).toContain(s);
  expect(r.stdout).toBe('');
  expect(existsSync(out)).toBe(false);
  expect(snapshotDir(tmp.path)).toEqual(before);
  return lines[0]!;
}

describe('compute: bad input → exit 2, one line, nothing written', () => {
  it('bad MAC in a ports page: the line names the field path and the value', async () => {
    const bad = p('bad-mac.json');
    writeFileSync(bad, JSON.stringify({ ports: [{ address: mac(0), node_uuid: 'n0' }, { address: '52:54:00:zz:00:01', node_uuid: 'n1' }] }));
    await refused(['--site', 'dc1', '--ports', bad, '--introspection', site.intro], 2, [`${bad}.ports[1].address`, '"52:54:00:zz:00:01"', 'not a MAC address']);
  });

  it('bad MAC in the CLI (openstack … -f json) form names the row and column', async () => {
    const bad = p('bad-mac-cli.json');
    writeFileSync(bad, JSON.stringify([{ Address: mac(0), 'Node UUID': 'n0' }, { Address: '', 'Node UUID': 'n1' }]));
    await refused(['--site', 'dc1', '--ports', bad, '--introspection', site.intro], 2, [`${bad}[1].Address`, '""']);
  });

  it('spawned (the real executable): bad MAC → exit status 2, exactly one stderr line, nothing on stdout, no file', async () => {
    const bad = p('bad-mac-spawn.json');
    writeFileSync(bad, JSON.stringify({ ports: [{ address: '52:54:00:00:00:1', node_uuid: 'n0' }] }));
    const out = p('spawned-out.json');
    const r = await spawnCli(['compute', '--site', 'dc1', '--ports', bad, '--introspection', site.intro, '--out', out]);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toEqual([`pxe-filter: ${bad}.ports[0].address: not a MAC address (expected six hex octets like 52:54:00:12:34:56): "52:54:00:00:00:1"`]);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('invalid JSON', async () => {
    const bad = p('invalid.json');
    writeFileSync(bad, '{"ports": [');
    await refused(['--site', 'dc1', '--ports', bad, '--introspection', site.intro], 2, [bad, 'not valid JSON']);
  });

  it('missing file', async () => {
    await refused(['--site', 'dc1', '--ports', p('nope.json'), '--introspection', site.intro], 2, [p('nope.json'), 'cannot read file', 'ENOENT']);
  });

  it('several bad files: every file is read before any is checked, in the order ports, nodes, introspection', async () => {
    const badMac = p('order-bad-mac.json');
    writeFileSync(badMac, JSON.stringify({ ports: [{ address: '52:54:00:zz:00:01', node_uuid: 'n1' }] }));
    const badNodes = p('order-bad-nodes.json');
    writeFileSync(badNodes, JSON.stringify({ nodes: [{ uuid: 'n1' }] }));
    const invalid = p('order-invalid.json');
    writeFileSync(invalid, '{"nodes": [');
    // A file that cannot be read or parsed is reported before a bad row of an earlier list…
    await refused(['--site', 'dc1', '--ports', badMac, '--nodes', p('nope.json')], 2, [p('nope.json'), 'cannot read file']);
    await refused(['--site', 'dc1', '--ports', badMac, '--nodes', invalid], 2, [invalid, 'not valid JSON']);
    // …and among lists that all read, the ports are checked first, then the nodes, by the schemas' wording.
    await refused(['--site', 'dc1', '--ports', badMac, '--nodes', badNodes], 2, [`${badMac}.ports[0].address`]);
    await refused(['--site', 'dc1', '--ports', site.ports, '--nodes', badNodes], 2, [`${badNodes}.nodes[0]`]);
  });

  it('an unsigned compute removes a signature left beside --out; a directory there is refused as rm refuses it (exit 1)', async () => {
    const out = p('unsigned.json');
    writeFileSync(`${out}.sig`, '{"left":"from an earlier signed run"}');
    expect((await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', out])).code).toBe(0);
    expect(existsSync(`${out}.sig`)).toBe(false);
    expect((await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', out])).code).toBe(0); // none to remove
    const dirOut = p('sig-is-dir.json');
    mkdirSync(`${dirOut}.sig`);
    const r = await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', dirOut]);
    expect(r.code).toBe(1);
    expect(stderrLines(r)).toEqual([`pxe-filter: Path is a directory: rm returned EISDIR (is a directory) ${dirOut}.sig`]);
  });

  it('wrong schema: a node list given as --ports', async () => {
    const bad = p('nodes-as-ports.json');
    writeFileSync(bad, JSON.stringify({ nodes: [] }));
    await refused(['--site', 'dc1', '--ports', bad, '--introspection', site.intro], 2, [bad, 'not an Ironic port list']);
  });

  it('discovery + deny-unknown-macs is a configuration error (as ironic-inspector refuses it)', async () => {
    await refused(['--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--discovery', '--deny-unknown-macs'], 2, ['Configuration error', 'denyUnknownMacs']);
  });

  it('bad site name', async () => {
    await refused(['--site', '../etc', '--ports', site.ports, '--introspection', site.intro], 2, ['--site', '"../etc"']);
  });

  it('tampered --previous (digest no longer matches its policy)', async () => {
    const tampered = p('tampered.json');
    writeFileSync(tampered, readFileSync(good, 'utf8').replace('"unknownHosts":"allow"', '"unknownHosts":"deny"'));
    await refused(['--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--previous', tampered], 2, ['policyDigest', 'does not match']);
  });

  it('--previous of another site', async () => {
    const other = p('other-site.json');
    expect((await runCli(['compute', '--site', 'dc2', '--ports', site.ports, '--introspection', site.intro, '--out', other])).code).toBe(0);
    await refused(['--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--previous', other], 2, ['previous.site', '"dc2"']);
  });

  it('--out in a missing directory, or onto a directory: exit 2 naming --out, no temp file left', async () => {
    const r = await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', p('no-dir/m.json')]);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toEqual([expect.stringContaining('--out: cannot write file (ENOENT)')]);
    const before = snapshotDir(tmp.path);
    mkdirSync(p('a-dir'));
    const r2 = await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', p('a-dir')]);
    expect(r2.code).toBe(2);
    expect(stderrLines(r2)).toEqual([expect.stringContaining('--out: cannot write file')]);
    const after = snapshotDir(tmp.path);
    expect([...after.keys()].filter((k) => !before.has(k))).toEqual(['a-dir/']);
  });

  it('usage errors (unknown option, missing required option) are one line too', async () => {
    const r = await runCli(['compute', '--bogus']);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toHaveLength(1);
    const r2 = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', tmp.path, '--service', 'sometimes']);
    expect(r2.code).toBe(2);
    expect(stderrLines(r2)).toEqual([expect.stringContaining('sometimes')]);
  });
});

describe('compute: guard and generations', () => {
  it('guard refusal → exit 3, one line with the numbers, the existing --out file untouched', async () => {
    const shrunk = writeSite(tmp.path, 10, [1, 2], 'shrunk'); // 30 of 40 known MACs vanish
    const before = readFileSync(good);
    const r = await runCli(['compute', '--site', 'dc1', '--ports', shrunk.ports, '--introspection', shrunk.intro, '--previous', good, '--out', good]);
    expect(r.code).toBe(3);
    expect(stderrLines(r)).toEqual([expect.stringMatching(/guard: 30 of 40 known MACs changed at once/)]);
    expect(readFileSync(good)).toEqual(before);
    // --force overrides and continues the generation.
    const forced = p('forced.json');
    const f = await runCli(['compute', '--site', 'dc1', '--ports', shrunk.ports, '--introspection', shrunk.intro, '--previous', good, '--force', '--out', forced]);
    expect(f.code).toBe(0);
    expect(JSON.parse(readFileSync(forced, 'utf8'))).toMatchObject({ generation: 2 });
  });

  it('an empty port list is refused by the guard (exit 3) unless forced', async () => {
    const empty = p('empty-ports.json');
    writeFileSync(empty, JSON.stringify({ ports: [] }));
    await refused(['--site', 'dc1', '--ports', empty, '--introspection', site.intro], 3, ['no ports']);
  });

  it('unchanged policy with --previous → exit 0, "unchanged", nothing written (not even the same file again)', async () => {
    const before = snapshotDir(tmp.path);
    const r = await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--previous', good, '--out', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('unchanged: generation 1 still current, nothing written');
    expect(snapshotDir(tmp.path)).toEqual(before);
    const elsewhere = p('elsewhere.json');
    expect((await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--previous', good, '--out', elsewhere])).code).toBe(0);
    expect(existsSync(elsewhere)).toBe(false);
  });

  it('a changed policy with --previous → generation 2', async () => {
    const moved = writeSite(tmp.path, 40, [3], 'moved');
    const out = p('gen2.json');
    const r = await runCli(['compute', '--site', 'dc1', '--ports', moved.ports, '--introspection', moved.intro, '--previous', good, '--out', out]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const m = JSON.parse(readFileSync(out, 'utf8')) as { generation: number; policy: { allow: string[] } };
    expect(m.generation).toBe(2);
    expect(m.policy.allow).toEqual([mac(3)]);
  });
});

describe('--help on every command exits 0 and prints usage', () => {
  for (const argv of [['--help'], ['compute', '--help'], ['agent', '--help'], ['agent', 'once', '--help'], ['local', '--help'], ['local', 'run', '--help']]) {
    it(`pxe-filter ${argv.join(' ')}`, async () => {
      const r = await runCli(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: pxe-filter/);
      expect(r.stderr).toBe('');
    });
  }

  it('spawned: `pxe-filter agent once --help` exits 0 through the real executable', async () => {
    const r = await spawnCli(['agent', 'once', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--no-purge');
  });
});

describe('compute --export: the bundle `pxe-filter export --out DIR` writes', () => {
  const bundleOf = (site: string, ports: unknown, intro: unknown, path: string) => {
    writeFileSync(path, JSON.stringify(buildBundle(site, { ports: [ports], introspection: [intro] }, new Date(0))));
    return path;
  };
  const docs = () => ({ ports: JSON.parse(readFileSync(site.ports, 'utf8')) as unknown, intro: JSON.parse(readFileSync(site.intro, 'utf8')) as unknown });

  it('gives the same policy as the same documents passed as --ports/--introspection, and names the bundle as the input', async () => {
    const { ports, intro } = docs();
    const bundle = bundleOf('dc1', ports, intro, p('export-dc1.json'));
    const out = p('from-bundle.json');
    const r = await runCli(['compute', '--site', 'dc1', '--export', bundle, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(readFileSync(out, 'utf8')) as { policy: unknown; policyDigest: string; source: { inputs: { key: string }[] } };
    const b = JSON.parse(readFileSync(good, 'utf8')) as { policy: unknown; policyDigest: string };
    expect(a.policyDigest).toBe(b.policyDigest);
    expect(a.policy).toEqual(b.policy);
    expect(a.source.inputs.map((i) => i.key)).toEqual([bundle]);
  });

  it('refusals: both kinds of input, neither, another site, a bad MAC inside the bundle', async () => {
    const { ports, intro } = docs();
    const bundle = bundleOf('dc1', ports, intro, p('export-ok.json'));
    await refused(['--site', 'dc1', '--export', bundle, '--ports', site.ports], 2, ['--export', bundle, 'not both']);
    await refused(['--site', 'dc1'], 2, ['--ports', '--export']);
    const portsOnly = p('export-ports-only.json');
    writeFileSync(portsOnly, JSON.stringify(buildBundle('dc1', { ports: [ports] }, new Date(0))));
    await refused(['--site', 'dc1', '--export', portsOnly], 2, [portsOnly, 'no nodes and no introspection']);
    const other = bundleOf('dc2', ports, intro, p('export-dc2.json'));
    await refused(['--site', 'dc1', '--export', other], 2, [`${other}.site`, '"dc2"']);
    const badPorts = structuredClone(ports) as { ports: { address: string }[] };
    badPorts.ports[1]!.address = '52:54:00:zz:00:01';
    const bad = bundleOf('dc1', badPorts, intro, p('export-bad.json'));
    await refused(['--site', 'dc1', '--export', bad], 2, [`${bad}.ports[0].ports[1].address`, '"52:54:00:zz:00:01"']);
  });
});
