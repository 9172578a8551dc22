/**
 * `pxe-filter agent explain` on a PXE host: the explanation of the generation this host applied, plus the hosts
 * directory's record for each MAC and whether it matches (exit 1 when one does not), in both layouts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAgentState } from '../../agent/state-file.ts';
import { syncDirectory } from '../../agent/sync.ts';
import { findGeneration } from '../../control/history.ts';
import type { Layout } from '../../core/hostsdir-layout.ts';
import { macFileName, type Mac } from '../../core/mac.ts';
import { explainMacs } from '../../control/explain.ts';
import type { LocalStore } from '../../store/local-store.ts';
import type { Store } from '../../store/store.ts';
import { runCli, tempDir } from '../support/cli.ts';
import { dc1Mac, dc1Site } from './sites.ts';

const tmp = tempDir('agent-explain');
const root = join(tmp.path, 'store');
let store: LocalStore;

beforeAll(async () => {
  store = (await dc1Site(root)).store;
}, 120_000);
afterAll(() => tmp.cleanup());

/** A host that applied `generation` (after `earlier` ones) in `layout`: its hosts directory, state file and config. */
async function host(name: string, generation: number, layout: Layout, earlier: number[] = []) {
  const dir = join(tmp.path, name);
  const hostsdir = join(dir, 'hostsdir');
  mkdirSync(hostsdir, { recursive: true });
  for (const g of earlier) await syncDirectory(hostsdir, (await findGeneration(store, 'dc1', g)).manifest, { purge: false, layout });
  const { manifest, sha256 } = await findGeneration(store, 'dc1', generation);
  await syncDirectory(hostsdir, manifest, { purge: false, layout });
  const stateFile = join(dir, 'state.json');
  await writeAgentState(stateFile, { site: 'dc1', generation, sha256, appliedAt: new Date().toISOString() });
  const config = join(dir, 'agent.json');
  writeFileSync(config, JSON.stringify({ site: 'dc1', host: name, store: `local:${root}`, hostsdir, stateFile, layout, service: { mode: 'none' } }));
  return { hostsdir, config };
}

type Out = { appliedGeneration: number; directory: { mac: string; record: { file: string | null; record: string | null; effective: string; expected: string; matches: boolean } }[]; explain: { generation: number; macs: { rule: string; verdict: string }[] } };

describe('agent explain', () => {
  it('per-MAC layout: the file and record of each MAC, matching the applied generation (not the current one)', async () => {
    const h = await host('pxe-per-mac', 2, { kind: 'per-mac' }, [1]);
    const r = await runCli(['agent', 'explain', dc1Mac(7, 0), dc1Mac(149, 0), 'aa:bb:cc:dd:ee:ff', '--config', h.config, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Out;
    expect(out.appliedGeneration).toBe(2);
    expect(out.explain.generation).toBe(2);
    expect(out.explain.macs.map((m) => [m.verdict, m.rule])).toEqual([
      ['allow', 'port-of-inspecting-node'],
      ['allow', 'removed'],
      ['allow', 'unknown'],
    ]);
    expect(out.directory.map((d) => [d.record.file, d.record.record, d.record.effective, d.record.matches])).toEqual([
      [macFileName(dc1Mac(7, 0) as Mac), dc1Mac(7, 0), 'allow', true],
      // Removed in generation 2: the file this host had is rewritten with the removed verdict.
      [macFileName(dc1Mac(149, 0) as Mac), dc1Mac(149, 0), 'allow', true],
      [null, null, 'allow', true],
    ]);
  });

  it('sharded layout: the shard holding the record; a tampered record does not match and fails the command (exit 1)', async () => {
    const h = await host('pxe-sharded', 3, { kind: 'sharded', shards: 16 });
    const ok = await runCli(['agent', 'explain', dc1Mac(10, 0), '--config', h.config, '--json']);
    expect(ok.code).toBe(0);
    const rec = (JSON.parse(ok.stdout) as Out).directory[0]!.record;
    expect(rec).toMatchObject({ record: `${dc1Mac(10, 0)},ignore`, effective: 'deny', expected: 'deny', matches: true });
    expect(rec.file).toMatch(/^shard-00\d\d$/);

    // Someone hand-edits the shard: the record now allows what the applied manifest denies.
    const { readFileSync } = await import('node:fs');
    const shard = join(h.hostsdir, rec.file!);
    writeFileSync(shard, readFileSync(shard, 'utf8').replace(`${dc1Mac(10, 0)},ignore\n`, `${dc1Mac(10, 0)}\n`));
    const bad = await runCli(['agent', 'explain', dc1Mac(10, 0), '--config', h.config]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`^${dc1Mac(10, 0)}: directory shard-\\d{4} holds "${dc1Mac(10, 0)}" \\(sharded/16\\) → allow; the applied manifest says deny: DOES NOT MATCH$`, 'm'));
  });

  it("with an agent role's rights (no version or ack listing): the current generation is explained, what needs a listing is reported", async () => {
    const denied = async () => {
      throw new Error('AccessDenied: not authorized to list');
    };
    const limited: Store = {
      description: store.description,
      getObject: (k, v) => store.getObject(k, v),
      putObject: (k, b, o) => store.putObject(k, b, o),
      getParameter: (n) => store.getParameter(n),
      putParameter: (n, v) => store.putParameter(n, v),
      listVersions: denied,
      listObjects: denied,
    };
    const r = await explainMacs({ store: limited, site: 'dc1', macs: [dc1Mac(7, 0), dc1Mac(149, 0)], limited: true });
    expect(r.macs[0]).toMatchObject({ verdict: 'deny', rule: 'other-port', provenance: true });
    expect(r.macs[0]!.ports[0]).toMatchObject({ nodeName: 'dc1-node-007', provisionState: 'manageable' });
    expect(r.macs[1]).toMatchObject({ verdict: 'deny', rule: 'unknown' });
    expect(r.macs[1]!.reason).toMatch(/^no Ironic port has this MAC in this generation/);
    expect(r.agents.error).toMatch(/^acks not readable with these credentials \(AccessDenied/);
    await expect(explainMacs({ store: limited, site: 'dc1', macs: [dc1Mac(7, 0)] })).rejects.toThrow(/AccessDenied/);
  });

  it('a host that has applied nothing yet is told so, with the state file named (exit 2)', async () => {
    const dir = join(tmp.path, 'pxe-new');
    mkdirSync(join(dir, 'hostsdir'), { recursive: true });
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ site: 'dc1', store: `local:${root}`, hostsdir: join(dir, 'hostsdir'), stateFile: join(dir, 'state.json') }));
    const r = await runCli(['agent', 'explain', dc1Mac(7, 0), '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`pxe-filter: stateFile: no generation applied on this host yet (is the agent running?): "${join(dir, 'state.json')}"\n`);
  });
});
