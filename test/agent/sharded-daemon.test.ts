/**
 * The real agent process in the sharded layout (scale mode): a change rewrites only the shards it touches;
 * switching layouts at start without a purge migrates the directory and reloads dnsmasq even when it was never
 * stopped; compaction reloads after enough rewritten shard records, or on its schedule; status counts records.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRecords, recordText } from '../../core/hostsdir.ts';
import { macFileName } from '../../core/mac.ts';
import { shardName, shardOf } from '../../core/sharded.ts';
import { type Rig, countingService, fastTmp, isApplied, killAll, makeRig, macs, policyOf, publish, reloadCount, rewriteConfig, snapshot, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

const visible = (dir: string) => readdirSync(dir).filter((n) => !n.startsWith('.')).sort();

/** Every MAC's verdict as the directory says it, failing on a MAC with two records. */
function verdicts(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of visible(dir)) {
    if (name === 'unknown_hosts_filter') continue;
    for (const [m, v] of parseRecords(readFileSync(join(dir, name), 'utf8'))) {
      if (out.has(m)) throw new Error(`${m} has two records`);
      out.set(m, v);
    }
  }
  return out;
}

describe('agent run --layout sharded', () => {
  it('migrates a per-MAC directory at start (no purge, dnsmasq never stopped) and reloads once dnsmasq runs', async () => {
    rig = makeRig({}, fastTmp());
    const svc = countingService(rig.root);
    const all = macs(300);
    const p = policyOf(all.slice(0, 100), all.slice(100));
    await publish(rig.store, p);
    rewriteConfig(rig, { service: svc.service, stopServiceAtStart: false });
    const a1 = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await a1.waitFor(isApplied(1));
    a1.kill('SIGTERM');
    await a1.exited;
    expect(visible(rig.hostsdir)).toHaveLength(301);
    expect(reloadCount(svc.reloads)).toBe(0);

    const a2 = await startAgent(['agent', 'run', '--config', rig.configPath, '--layout', 'sharded', '--shards', '16']);
    await a2.waitFor(isApplied(1));
    await a2.waitFor((l) => l.msg === 'reloaded dnsmasq');
    expect(visible(rig.hostsdir)).toEqual([...Array.from({ length: 16 }, (_, i) => shardName(i)), 'unknown_hosts_filter'].sort());
    const v = verdicts(rig.hostsdir);
    expect(v.size).toBe(300);
    for (const m of all.slice(0, 100)) expect(v.get(m)).toBe('allow');
    for (const m of all.slice(100)) expect(v.get(m)).toBe('deny');
    for (const m of all) expect(parseRecords(readFileSync(join(rig.hostsdir, shardName(shardOf(m, 16))), 'utf8')).has(m)).toBe(true);
    expect(reloadCount(svc.reloads)).toBe(1);

    // `agent status` counts records, not files.
    const status = JSON.parse(readFileSync(join(rig.root, 'state', 'status.json'), 'utf8')) as { counts: { files: number; removed: number } };
    expect(status.counts.files).toBe(16);
    expect(status.counts.removed).toBe(0);
    a2.kill('SIGTERM');
    await a2.exited;

    // And back: per-MAC again. Every per-MAC file is written after the shards were aligned, so it is the newest
    // record dnsmasq holds for its MAC: the shards' copies are dead weight until the next reload, never a verdict,
    // and the per-MAC plan (which would cost ~8 s of dnsmasq at 50k) asks for no reload.
    const a3 = await startAgent(['agent', 'run', '--config', rig.configPath, '--layout', 'per-mac']);
    const back = await a3.waitFor(isApplied(1));
    expect(back.writes).toBe(300);
    expect(back.deletes).toBe(16);
    expect(visible(rig.hostsdir)).toEqual([...all.map(macFileName), 'unknown_hosts_filter'].sort());
    for (const m of all.slice(0, 100)) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, 'allow'));
    for (const m of all.slice(100)) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, 'deny'));
    expect(reloadCount(svc.reloads)).toBe(1);
  });

  it('a change rewrites only the touched shards; compaction reloads after enough rewritten records, and on schedule', async () => {
    rig = makeRig({}, fastTmp());
    const svc = countingService(rig.root);
    const all = macs(2000);
    let allow = all.slice(0, 1000);
    let deny = all.slice(1000);
    await publish(rig.store, policyOf(allow, deny));
    // 64 shards of ~31 records: 3 flips rewrite ≤ 3 shards (< 100 records), 5 more cross the 100-record threshold.
    rewriteConfig(rig, { service: svc.service, layout: { kind: 'sharded', shards: 64 }, compaction: { reloadAfterRecords: 100, reloadIntervalSeconds: 0 } });
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    expect(reloadCount(svc.reloads)).toBe(0);

    const flip = async (n: number, generation: number, proc = agent) => {
      const before = snapshot(rig!.hostsdir);
      const toDeny = allow.slice(0, n);
      allow = [...allow.slice(n)];
      deny = [...deny, ...toDeny];
      await publish(rig!.store, policyOf(allow, deny));
      const applied = await proc.waitFor(isApplied(generation));
      const after = snapshot(rig!.hostsdir);
      const changed = [...after].filter(([name, s]) => before.get(name)?.ino !== s.ino).map(([name]) => name).sort();
      expect(changed).toEqual([...new Set(toDeny.map((m) => shardName(shardOf(m, 64))))].sort());
      expect(applied.writes).toBe(changed.length);
      for (const m of toDeny) expect(verdicts(rig!.hostsdir).get(m)).toBe('deny');
      return applied;
    };
    expect((await flip(3, 2)).reload).toBe(false);
    expect(reloadCount(svc.reloads)).toBe(0);
    expect((await flip(5, 3)).reload).toBe(true);
    expect(reloadCount(svc.reloads)).toBe(1);
    const hup = agent.lines.find((l) => l.msg === 'reloaded dnsmasq')!;
    expect(hup.reason).toBe('compaction: rewritten shard records');
    expect(hup.rewrittenRecords as number).toBeGreaterThanOrEqual(100);
    agent.kill('SIGTERM');
    await agent.exited;

    // The schedule: anything rewritten and the interval passed → a reload from a poll that changed nothing.
    rewriteConfig(rig, { compaction: { reloadAfterRecords: 0, reloadIntervalSeconds: 0.3 } });
    const timed = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await timed.waitFor(isApplied(3));
    await new Promise((r) => setTimeout(r, 600));
    expect(timed.lines.some((l) => l.msg === 'reloaded dnsmasq')).toBe(false); // nothing rewritten yet
    const mark = timed.lines.length;
    await flip(1, 4, timed);
    const scheduled = await timed.waitFor((l) => l.msg === 'reloaded dnsmasq', 5_000, mark);
    expect(scheduled.reason).toBe('compaction: schedule');
    const count = reloadCount(svc.reloads);
    await new Promise((r) => setTimeout(r, 800));
    expect(reloadCount(svc.reloads)).toBe(count); // nothing rewritten since: no more reloads
  });
});
