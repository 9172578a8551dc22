/**
 * `pxe-filter fleet status` on examples/dc1 (three generations published by the compute path) with acks written
 * as the daemon writes them: hosts in step, behind within and past the grace period, failing, silent, unreadable;
 * and a store without acks. The exit status drives a check: 1 when a host is behind past the grace period or failing.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetRows } from '../../control/fleet.ts';
import { ackKey } from '../../store/keys.ts';
import type { LocalStore } from '../../store/local-store.ts';
import { runCli, tempDir } from '../support/cli.ts';
import { ack, at, dc1Site, putAck } from './sites.ts';

const tmp = tempDir('fleet');
const root = join(tmp.path, 'dc1');
let store: LocalStore;
const S = () => `local:${root}`;
// Generation 3 was published at minute 21 (compute at export minute 20, plus one).
const now = at(21 + 10);

beforeAll(async () => {
  store = (await dc1Site(root)).store;
}, 120_000);
afterAll(() => tmp.cleanup());

type Row = { host: string; generation: number | null; lag: number | null; behind: boolean; stale: boolean; problems: string[]; version: string | null; layout: string | null; counts: unknown };

async function status(args: string[] = []) {
  const r = await runCli(['fleet', 'status', '--site', 'dc1', '--store', S(), '--json', ...args]);
  return { code: r.code, stderr: r.stderr, doc: r.stdout ? (JSON.parse(r.stdout) as { generation: number; rows: Row[]; healthy: boolean }) : undefined };
}

describe('fleet status', () => {
  it('a store without acks: healthy (nothing is behind), and says so in words', async () => {
    const r = await runCli(['fleet', 'status', '--site', 'dc1', '--store', S()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no agent has acked this site (no acks in the store)');
  });

  it('one row per host with generation, lag, version, layout and counts; exit 0 while every host is in step', async () => {
    await putAck(store, ack('dc1', 'pxe-a', { generation: 3, reportedAt: new Date().toISOString(), layout: 'sharded/256' }));
    const r = await status();
    expect(r.code).toBe(0);
    expect(r.doc!.generation).toBe(3);
    expect(r.doc!.rows).toEqual([expect.objectContaining({ host: 'pxe-a', generation: 3, lag: 0, behind: false, stale: false, problems: [], version: '0.1.0', layout: 'sharded/256' })]);
  });

  it('a host behind past the grace period makes the check fail (exit 1); within the grace period it does not', async () => {
    await putAck(store, ack('dc1', 'pxe-b', { generation: 2, reportedAt: new Date().toISOString() }));
    // Generation 3 is days old by the wall clock: past any grace.
    const late = await status();
    expect(late.code).toBe(1);
    expect(late.doc!.rows.find((r) => r.host === 'pxe-b')).toMatchObject({ lag: 1, behind: true, problems: [expect.stringMatching(/^1 generation\(s\) behind, past the 900 s grace period$/)] });
    const text = await runCli(['fleet', 'status', '--site', 'dc1', '--store', S()]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^pxe-b\s+2\s+1\s+.*1 generation\(s\) behind/m);
    // The pure judgement with the clock just after the publish: within the grace period, not behind.
    const acks = [{ host: 'pxe-b', key: ackKey('dc1', 'pxe-b'), report: ack('dc1', 'pxe-b', { generation: 2, reportedAt: at(22).toISOString() }) }];
    const rows = fleetRows(acks, { generation: 3, publishedAt: at(21), now: at(23), graceMs: 900_000, silentAfterMs: 900_000 });
    expect(rows[0]).toMatchObject({ lag: 1, behind: false, problems: [] });
    await store.putObject(ackKey('dc1', 'pxe-b'), new TextEncoder().encode(JSON.stringify(ack('dc1', 'pxe-b', { generation: 3, reportedAt: new Date().toISOString() }))));
  });

  it('a failing host (last error, dnsmasq stopped), a silent one and an unreadable ack each fail the check', async () => {
    await putAck(store, ack('dc1', 'pxe-c', { generation: 3, reportedAt: new Date().toISOString(), lastError: { message: 'manifest refused: manifest.sha256: does not match', at: now.toISOString(), generation: 4 } }));
    await putAck(store, ack('dc1', 'pxe-d', { generation: 3, reportedAt: at(0).toISOString(), serviceRunning: false }));
    await store.putObject(ackKey('dc1', 'pxe-e'), new TextEncoder().encode('{"half":'));
    const r = await status();
    expect(r.code).toBe(1);
    const byHost = new Map(r.doc!.rows.map((x) => [x.host, x]));
    expect(byHost.get('pxe-a')!.problems).toEqual([]);
    expect(byHost.get('pxe-c')!.problems).toEqual([expect.stringMatching(/^last error \(.*\): manifest refused: manifest.sha256/)]);
    expect(byHost.get('pxe-d')).toMatchObject({ stale: true, problems: [expect.stringMatching(/^no report for \d+ s$/), 'dnsmasq not running'] });
    expect(byHost.get('pxe-e')!.problems).toEqual(['ack acks/dc1/pxe-e.json is unreadable: not JSON']);
  });

  it('refuses a site that never published, with the option named (exit 2)', async () => {
    const r = await runCli(['fleet', 'status', '--site', 'dc7', '--store', S()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pxe-filter: --site: has no published manifest in local store at .*: "dc7"\n$/);
  });
});
