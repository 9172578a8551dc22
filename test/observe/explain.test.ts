/**
 * `pxe-filter explain`, `history` and `diff` as an operator types them, on stores filled by the Lambda's compute
 * path: examples/dc1 over three generations and a generated 10k-MAC site.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSite } from '../../control/compute-site.ts';
import { buildStateExport } from '../../core/state-export.ts';
import { provenanceKey, stateExportKey } from '../../store/keys.ts';
import type { LocalStore } from '../../store/local-store.ts';
import { runCli, stderrLines, tempDir } from '../support/cli.ts';
import { mac as bigMac } from '../support/exports.ts';
import { ack, at, bigSite, dc1Mac, dc1Node, dc1Site, expireGeneration, putAck } from './sites.ts';

const tmp = tempDir('explain');
const dc1Root = join(tmp.path, 'dc1');
const bigRoot = join(tmp.path, 'big');
let dc1: LocalStore;
const S = () => `local:${dc1Root}`;
const B = () => `local:${bigRoot}`;

beforeAll(async () => {
  dc1 = (await dc1Site(dc1Root)).store;
  await bigSite(bigRoot);
  await putAck(dc1, ack('dc1', 'pxe-a', { generation: 3, reportedAt: at(22).toISOString() }));
  await putAck(dc1, ack('dc1', 'pxe-b', { generation: 2, reportedAt: at(22).toISOString() }));
}, 120_000);
afterAll(() => tmp.cleanup());

async function explainJson(args: string[]) {
  const r = await runCli(['explain', ...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as {
    generation: number;
    currentGeneration: number;
    macs: { mac: string; input: string; verdict: string; rule: string; reason: string; ports: { port: string; node: string; nodeName: string; provisionState: string; rule: string }[]; lastSeen: unknown; export: { key: string; createdAt: string }; provenance: boolean }[];
    agents: { applied: { host: string }[]; notApplied: { host: string }[] };
  };
}

describe('explain on examples/dc1', () => {
  it('gives the rule, the port, the node and its state, the export and when it was taken (generation 2, any MAC form)', async () => {
    const r = await explainJson([dc1Mac(7, 0), dc1Mac(0, 1).toUpperCase().replaceAll(':', '-'), '5254.0000.0a00', '--site', 'dc1', '--store', S(), '--generation', '2']);
    expect(r.generation).toBe(2);
    expect(r.currentGeneration).toBe(3);
    const [inspecting, flipped, other] = r.macs;
    expect(inspecting).toMatchObject({ mac: dc1Mac(7, 0), verdict: 'allow', rule: 'port-of-inspecting-node', provenance: true });
    expect(inspecting!.ports).toEqual([expect.objectContaining({ node: dc1Node(7), nodeName: 'dc1-node-007', provisionState: 'inspect wait', rule: 'node-inspecting', port: '00000002-0000-4000-8000-00000000000e' })]);
    expect(inspecting!.export.key).toBe('exports/dc1/2026-11-25T201000-000Z.json');
    expect(inspecting!.export.createdAt).toBe(at(10).toISOString());
    // Node 0 was set to "inspect wait" in generation 2.
    expect(flipped).toMatchObject({ mac: dc1Mac(0, 1), input: '52-54-00-00-00-01', verdict: 'allow', rule: 'port-of-inspecting-node' });
    expect(other).toMatchObject({ mac: dc1Mac(10, 0), verdict: 'deny', rule: 'other-port' });
    expect(other!.ports[0]).toMatchObject({ nodeName: 'dc1-node-010', provisionState: 'manageable', rule: 'node-not-inspecting' });
    // Acks: pxe-a is on 3 (applied 2 or later), pxe-b on 2.
    expect(r.agents.applied.map((a) => a.host).sort()).toEqual(['pxe-a', 'pxe-b']);
  });

  it('a MAC on two nodes: allowed when one of them is inspected, both ports shown; denied when neither is', async () => {
    const r = await explainJson([dc1Mac(1, 0), dc1Mac(2, 0), '--site', 'dc1', '--store', S(), '--generation', '1']);
    const [one, none] = r.macs;
    expect(one).toMatchObject({ verdict: 'allow', rule: 'port-of-inspecting-node' });
    expect(one!.ports.map((p) => [p.port, p.node, p.rule]).sort()).toEqual([
      ['00000002-0000-4000-8000-000000000002', dc1Node(1), 'node-not-inspecting'],
      ['moved-port-1', dc1Node(8), 'node-inspecting'],
    ]);
    expect(one!.reason).toMatch(/on 2 ports, and one inspecting node is enough/);
    expect(none).toMatchObject({ verdict: 'deny', rule: 'other-port' });
    expect(none!.ports).toHaveLength(2);
  });

  it('a removed MAC: the removed verdict, and the generation that last had it; unknown hosts open or closed and why', async () => {
    const open = await explainJson([dc1Mac(149, 0), '--site', 'dc1', '--store', S(), '--generation', '2']);
    expect(open.macs[0]).toMatchObject({ verdict: 'allow', rule: 'removed', lastSeen: { generation: 1, verdict: 'deny' } });
    expect(open.macs[0]!.reason).toMatch(/unknown hosts open: 7 node\(s\) being inspected/);
    const closed = await explainJson([dc1Mac(149, 0), '--site', 'dc1', '--store', S()]);
    expect(closed.generation).toBe(3);
    expect(closed.macs[0]).toMatchObject({ verdict: 'deny', rule: 'removed', lastSeen: { generation: 2 - 1, verdict: 'deny' } });
    expect(closed.macs[0]!.reason).toMatch(/no node is being inspected and discovery is off/);
  });

  it('a MAC Ironic never knew says so; the text form names the agents that have and have not applied', async () => {
    const r = await runCli(['explain', 'de:ad:be:ef:00:01', '--site', 'dc1', '--store', S()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('de:ad:be:ef:00:01: DENY — unknown');
    expect(r.stdout).toContain('Ironic has never had a port with this MAC (in any stored generation)');
    expect(r.stdout).toContain('agents that applied generation 3 or later: pxe-a (3)');
    expect(r.stdout).toContain('agents not yet on it: pxe-b (2)');
  });

  it('refuses a bad MAC, an unknown site and a generation never published, with one line naming what was given (exit 2)', async () => {
    const bad = await runCli(['explain', '52:54:00:00:07:00', 'zz:00', '--site', 'dc1', '--store', S()]);
    expect(bad.code).toBe(2);
    expect(stderrLines(bad)).toEqual(['pxe-filter: MAC: not a MAC address (expected six hex octets like 52:54:00:12:34:56): "zz:00"']);
    const site = await runCli(['explain', '52:54:00:00:07:00', '--site', 'dc9', '--store', S()]);
    expect(site.code).toBe(2);
    expect(stderrLines(site)[0]).toMatch(/^pxe-filter: --site: has no published manifest in local store at .*: "dc9"$/);
    const future = await runCli(['explain', '52:54:00:00:07:00', '--site', 'dc1', '--store', S(), '--generation', '9']);
    expect(future.code).toBe(2);
    expect(stderrLines(future)).toEqual(['pxe-filter: --generation: is newer than the current generation 3: 9']);
  });

  it('history lists every generation with its counts and export; diff gives the changed MACs with the reason on each side', async () => {
    const h = await runCli(['history', '--site', 'dc1', '--store', S(), '--json']);
    expect(h.code).toBe(0);
    const gens = (JSON.parse(h.stdout) as { generations: { generation: number; allow: number; deny: number; unknownHosts: string; current: boolean; inputs: { key: string }[] }[] }).generations;
    expect(gens.map((g) => [g.generation, g.allow, g.deny, g.unknownHosts, g.current])).toEqual([
      [3, 0, 298, 'deny', true],
      [2, 15, 283, 'allow', false],
      [1, 13, 287, 'allow', false],
    ]);
    expect(gens[2]!.inputs[0]!.key).toBe('exports/dc1/2026-11-25T200000-000Z.json');
    const text = await runCli(['history', '--site', 'dc1', '--store', S()]);
    expect(text.stdout).toMatch(/^3\*\s+2026-11-25T20:21:00.000Z\s+0\s+298\s+deny\s+exports\/dc1\/2026-11-25T202000-000Z.json$/m);

    const d = await runCli(['diff', '--site', 'dc1', '--from', '1', '--to', '2', '--store', S(), '--json']);
    expect(d.code).toBe(0);
    const diff = JSON.parse(d.stdout) as { changes: { mac: string; change: string; from: { verdict: string; rule: string }; to: { verdict: string; rule: string; reason: string } }[]; verdictChanges: number };
    expect(diff.changes.map((c) => [c.mac, c.change, c.from.verdict, c.to.verdict, c.to.rule])).toEqual([
      [dc1Mac(0, 0), 'flipped', 'deny', 'allow', 'port-of-inspecting-node'],
      [dc1Mac(0, 1), 'flipped', 'deny', 'allow', 'port-of-inspecting-node'],
      [dc1Mac(149, 0), 'removed', 'deny', 'allow', 'removed'],
      [dc1Mac(149, 1), 'removed', 'deny', 'allow', 'removed'],
    ]);
    expect(diff.verdictChanges).toBe(4);
    const dt = await runCli(['diff', '--site', 'dc1', '--from', '2', '--to', '3', '--store', S()]);
    expect(dt.stdout).toContain('unknown hosts: allow → deny');
    expect(dt.stdout).toMatch(/52:54:00:00:07:00: allow → deny \(flipped\)\n {2}2: allowed: port .* of node dc1-node-007 .*being inspected\n {2}3: denied: .*dc1-node-007.*"manageable"/);
  });
});

describe('explain, history and diff on a generated 10k-MAC site', () => {
  it('explains MACs of a 10k site, a removed one included, and works for both stored generations', async () => {
    const r = await explainJson([bigMac(0), bigMac(1), bigMac(9_999), bigMac(20_000), '--site', 'big', '--store', B()]);
    expect(r.macs.map((m) => [m.verdict, m.rule])).toEqual([
      ['allow', 'port-of-inspecting-node'],
      ['allow', 'port-of-inspecting-node'],
      ['allow', 'removed'],
      ['allow', 'unknown'],
    ]);
    const g1 = await explainJson([bigMac(1), bigMac(9_999), '--site', 'big', '--store', B(), '--generation', '1']);
    expect(g1.macs.map((m) => [m.verdict, m.rule, m.ports[0]?.provisionState])).toEqual([
      ['deny', 'other-port', 'active'],
      ['deny', 'other-port', 'active'],
    ]);
    const d = await runCli(['diff', '--site', 'big', '--from', '1', '--to', '2', '--store', B(), '--json']);
    const diff = JSON.parse(d.stdout) as { changes: { change: string }[] };
    expect(diff.changes.filter((c) => c.change === 'removed')).toHaveLength(50);
    expect(diff.changes.filter((c) => c.change === 'flipped')).toHaveLength(1);
  });

  it('a store without acks: explain says no agent has acked', async () => {
    const r = await runCli(['explain', bigMac(5), '--site', 'big', '--store', B()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('agents: no agent has acked this site (no acks in the store)');
  });

  it('a generation no longer stored is a clear error naming the option; the stored ones still work', async () => {
    expireGeneration(bigRoot, 'big', 1);
    const e = await runCli(['explain', bigMac(1), '--site', 'big', '--store', B(), '--generation', '1']);
    expect(e.code).toBe(2);
    expect(stderrLines(e)).toEqual(['pxe-filter: --generation: no version of manifests/big/manifest.json holds this generation (never published, or expired by the bucket lifecycle): 1']);
    const d = await runCli(['diff', '--site', 'big', '--from', '1', '--to', '2', '--store', B()]);
    expect(d.code).toBe(2);
    expect(stderrLines(d)[0]).toMatch(/^pxe-filter: --from: no version of manifests\/big\/manifest.json holds this generation/);
    const h = await runCli(['history', '--site', 'big', '--store', B(), '--json']);
    expect((JSON.parse(h.stdout) as { generations: { generation: number }[] }).generations.map((g) => g.generation)).toEqual([2]);
    // The removed MAC's earlier generation is gone too: it can no longer be told apart from one never known.
    const now = await explainJson([bigMac(9_999), '--site', 'big', '--store', B()]);
    expect(now.macs[0]).toMatchObject({ rule: 'unknown', verdict: 'allow' });
  });

  it('a rollback carries the provenance of the generation it restores', async () => {
    const root = join(tmp.path, 'dc1-rollback');
    await dc1Site(root);
    const rb = await runCli(['rollback', '--site', 'dc1', '--to-generation', '2', '--store', `local:${root}`]);
    expect(rb.code).toBe(0);
    const r = await explainJson([dc1Mac(0, 0), '--site', 'dc1', '--store', `local:${root}`]);
    expect(r.generation).toBe(4);
    expect(r.macs[0]).toMatchObject({ verdict: 'allow', rule: 'port-of-inspecting-node', provenance: true });
    expect(r.macs[0]!.ports[0]).toMatchObject({ nodeName: 'dc1-node-000', provisionState: 'inspect wait' });
  });

  it('a generation published from a state export is stored as a delta and explained in full; its base expired: no provenance, no error', async () => {
    const root = join(tmp.path, 'dc1-state');
    const { store } = await dc1Site(root);
    // Node 5 enters inspection: a state export, combined with generation 3's full export.
    const state = buildStateExport('dc1', { nodes: [{ uuid: dc1Node(5), provisionState: 'inspecting', inspectInterface: 'agent' }] }, at(30), null);
    await store.putObject(stateExportKey('dc1', at(30)), new TextEncoder().encode(JSON.stringify(state)));
    const g4 = await computeSite({ store, site: 'dc1', now: at(31) });
    expect(g4.published).toMatchObject({ status: 'published', manifest: { generation: 4 } });
    const stored = await store.getObject(provenanceKey('dc1'));
    const doc = JSON.parse(new TextDecoder().decode(stored!.bytes)) as { schema: string; base: { generation: number }; macs: Record<string, unknown> };
    expect(doc.schema).toBe('pxe-filter/provenance-delta@1');
    expect(doc.base.generation).toBe(3);
    expect(Object.keys(doc.macs).sort()).toEqual([dc1Mac(5, 0), dc1Mac(5, 1)]);
    expect(stored!.bytes.byteLength).toBeLessThan(4096);
    const r = await explainJson([dc1Mac(5, 0), dc1Mac(6, 0), '--site', 'dc1', '--store', `local:${root}`]);
    expect(r.generation).toBe(4);
    expect(r.macs[0]).toMatchObject({ verdict: 'allow', rule: 'port-of-inspecting-node', provenance: true });
    expect(r.macs[0]!.ports).toEqual([expect.objectContaining({ node: dc1Node(5), nodeName: 'dc1-node-005', provisionState: 'inspecting', rule: 'node-inspecting' })]);
    // A MAC the delta does not hold comes from the base, as it was.
    expect(r.macs[1]).toMatchObject({ verdict: 'deny', rule: 'other-port', provenance: true });
    expect(r.macs[1]!.ports[0]).toMatchObject({ nodeName: 'dc1-node-006', provisionState: 'active' });
    expireGeneration(root, 'dc1', 3);
    const gone = await explainJson([dc1Mac(5, 0), '--site', 'dc1', '--store', `local:${root}`]);
    expect(gone.macs[0]).toMatchObject({ verdict: 'allow', rule: 'port-of-inspecting-node', provenance: false });
  });

  it('provenance is kept beside the manifest, one version per published generation', async () => {
    const { LocalStore } = await import('../../store/local-store.ts');
    const versions = await new LocalStore(dc1Root).listVersions(provenanceKey('dc1'));
    expect(versions).toHaveLength(3);
  });
});
