/**
 * Every scenario of test/fixtures/reference-scenarios.json (the output of the real ironic-inspector dnsmasq
 * filter) run through our command line: `compute` on Ironic exports built from the scenario inputs, then
 * `agent once` on a real directory seeded with `before`. The result must be `after` with file names mapped to
 * dashes (fixtures README), except for the documented size-based-classification defect of the reference.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFlat, runCli, spawnCli, stderrLines, tempDir } from '../support/cli.ts';
import scenariosDoc from '../fixtures/reference-scenarios.json' with { type: 'json' };

interface Scenario {
  name: string;
  description: string;
  config: { purge_dhcp_hostsdir: boolean; deny_unknown_macs: boolean; node_not_found_hook: string | null };
  before: Record<string, string>;
  inputs: { ironic_ports: string[]; node_cache_active_macs: string[]; introspection_active: boolean };
  call: 'init_filter' | 'sync';
  after: Record<string, string>;
  removed: string[];
  file_modes_after?: string[];
}
const scenarios = (scenariosDoc as unknown as { scenarios: Scenario[] }).scenarios;

/** The reference names files by the colon MAC; we use dashes (docs/design.md §3). `unknown_hosts_filter` and foreign names stay. */
const mapName = (name: string) => (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(name) ? name.replaceAll(':', '-') : name);

/**
 * Ironic exports from the scenario inputs (fixtures README): one port per MAC, each on its own node; nodes
 * whose MAC is active have an unfinished introspection; `introspection_active` with no active MAC means a node
 * without ports is being inspected.
 */
function exportsFor(s: Scenario) {
  const nodeOf = (i: number) => `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
  const ports = { ports: s.inputs.ironic_ports.map((address, i) => ({ address, node_uuid: nodeOf(i), pxe_enabled: true, extra: {} })) };
  const introspection = s.inputs.ironic_ports.map((mac, i) => ({ uuid: nodeOf(i), finished: !s.inputs.node_cache_active_macs.includes(mac), state: 'waiting', error: null }));
  if (s.inputs.introspection_active && s.inputs.node_cache_active_macs.length === 0) {
    introspection.push({ uuid: nodeOf(999), finished: false, state: 'waiting', error: null });
  }
  return { ports, introspection: { introspection } };
}

const tmp = tempDir('scenarios');
afterAll(() => tmp.cleanup());

async function runScenario(s: Scenario, spawn: boolean) {
  const base = join(tmp.path, s.name);
  const hostsdir = join(base, 'hostsdir');
  mkdirSync(hostsdir, { recursive: true });
  for (const [name, content] of Object.entries(s.before)) writeFileSync(join(hostsdir, name), content, { mode: 0o644 });
  const ex = exportsFor(s);
  writeFileSync(join(base, 'ports.json'), JSON.stringify(ex.ports));
  writeFileSync(join(base, 'introspection.json'), JSON.stringify(ex.introspection));
  const manifest = join(base, 'manifest.json');
  const compute = [
    'compute', '--site', 'ref', '--ports', join(base, 'ports.json'), '--introspection', join(base, 'introspection.json'), '--out', manifest,
    ...(s.config.node_not_found_hook !== null ? ['--discovery'] : []),
    ...(s.config.deny_unknown_macs ? ['--deny-unknown-macs'] : []),
  ];
  // init_filter = start-up (purge when enabled, then sync); sync = a periodic pass, never a purge.
  const purge = s.call === 'init_filter' && s.config.purge_dhcp_hostsdir;
  const agent = ['agent', 'once', '--manifest', manifest, '--hostsdir', hostsdir, '--service', 'none', ...(purge ? [] : ['--no-purge'])];
  const run = spawn ? spawnCli : runCli;
  const c = await run(compute);
  expect(c, c.stderr).toMatchObject({ code: 0, stderr: '' });
  const a = await run(agent);
  expect(a, a.stderr).toMatchObject({ code: 0, stderr: '' });
  return { hostsdir, agentOut: a.stdout };
}

// Two scenarios through the spawned executable (what an operator runs), the rest in-process (same main()).
const SPAWNED = new Set(['init_active_n5', 'restart_purge_enabled']);

describe('reference scenarios (real ironic-inspector output) through compute + agent once', () => {
  it('covers all 9 scenarios of the fixture', () => {
    expect(scenarios.map((s) => s.name)).toEqual([
      'init_active_n5', 'init_inactive_n5', 'sync_nochange', 'sync_introspection_ends', 'sync_ports_removed_introspection_active',
      'sync_deny_unknown_macs', 'init_node_not_found_hook_inactive', 'restart_purge_enabled', 'sync_size_based_classification',
    ]);
  });

  for (const s of scenarios.filter((x) => x.name !== 'sync_size_based_classification')) {
    it(`${s.name}: same directory as the reference (names mapped to dashes), files 0644 — ${s.description}`, async () => {
      const { hostsdir } = await runScenario(s, SPAWNED.has(s.name));
      const expected = Object.fromEntries(Object.entries(s.after).map(([k, v]) => [mapName(k), v]));
      expect(readFlat(hostsdir)).toEqual(expected);
      for (const name of Object.keys(expected)) expect((statSync(join(hostsdir, name)).mode & 0o777).toString(8), name).toBe('644');
    });
  }

  it('sync_size_based_classification → DIFFERENT on purpose: the reference rewrote the foreign 18-byte "garbage" file as "garbage,ignore"; we parse contents, leave it (and "foo") untouched and report them', async () => {
    const s = scenarios.find((x) => x.name === 'sync_size_based_classification')!;
    const { hostsdir, agentOut } = await runScenario(s, true);
    const expected = Object.fromEntries(Object.entries(s.after).map(([k, v]) => [mapName(k), v]));
    expect(expected.garbage).toBe('garbage,ignore\n'); // the reference defect, as recorded
    expected.garbage = s.before.garbage!; // ours: untouched
    expect(readFlat(hostsdir)).toEqual(expected);
    expect(agentOut).toMatch(/2 foreign \(foo, garbage\)|2 foreign \(garbage, foo\)/);
    // The truncated reference record "…,ignore" without newline (24 bytes) is not trusted: rewritten to a full record.
    expect(readFlat(hostsdir)['52-54-00-00-00-01']).toBe('52:54:00:00:00:01,ignore\n');
  });

  it('agent once on a directory it cannot use exits 2 with one line and creates nothing', async () => {
    const s = scenarios[0]!;
    const base = join(tmp.path, 'nodir');
    mkdirSync(base);
    const ex = exportsFor(s);
    writeFileSync(join(base, 'ports.json'), JSON.stringify(ex.ports));
    writeFileSync(join(base, 'introspection.json'), JSON.stringify(ex.introspection));
    const manifest = join(base, 'm.json');
    expect((await runCli(['compute', '--site', 'ref', '--ports', join(base, 'ports.json'), '--introspection', join(base, 'introspection.json'), '--out', manifest])).code).toBe(0);
    const r = await runCli(['agent', 'once', '--manifest', manifest, '--hostsdir', join(base, 'missing'), '--service', 'none']);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toEqual([expect.stringContaining('--hostsdir')]);
    expect(() => statSync(join(base, 'missing'))).toThrow();
  });
});
