/**
 * dnsmasq safety at scale, with the real agent and a real service process: small applies are paced and never
 * reload; a burst past `reloadAboveOperations` is followed by one SIGHUP and a verification; removed MACs past
 * the compaction threshold are deleted and followed by a SIGHUP; below it they are rewritten, never deleted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recordText } from '../../core/hostsdir.ts';
import { macFileName } from '../../core/mac.ts';
import { type Rig, countingService, fastTmp, isApplied, killAll, makeRig, macs, policyOf, publish, reloadCount, rewriteConfig, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});


describe('agent run: pacing, bursts and compaction', () => {
  it('paces small applies without a reload; a burst is written, SIGHUPed once and verified', async () => {
    rig = makeRig({}, fastTmp());
    const svc = countingService(rig.root);
    rewriteConfig(rig, { service: svc.service, apply: { batchSize: 100, batchPauseMs: 30, reloadAboveOperations: 500 } });
    const all = macs(2000);
    await publish(rig.store, policyOf([], all.slice(0, 1000)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');
    expect(reloadCount(svc.reloads)).toBe(0); // the first sync happens before dnsmasq runs: no reload

    // 400 flips (≤ 500 operations): paced in batches of 100 with 30 ms pauses, no reload.
    await publish(rig.store, policyOf(all.slice(0, 400), all.slice(400, 1000)));
    const small = await agent.waitFor(isApplied(2));
    expect(small.writes).toBe(400);
    expect(small.reload).toBe(false);
    expect(small.durationMs as number).toBeGreaterThanOrEqual(3 * 30); // at least the three pauses between four batches
    expect(reloadCount(svc.reloads)).toBe(0);

    // 1000 new MACs: a burst past the limit → one SIGHUP, then the directory is re-read and checked.
    await publish(rig.store, policyOf(all.slice(0, 400), all.slice(400)));
    const big = await agent.waitFor(isApplied(3));
    expect(big.writes).toBe(1000);
    expect(big.reload).toBe(true);
    expect(reloadCount(svc.reloads)).toBe(1);
    const hup = agent.lines.find((l) => l.msg === 'reloaded dnsmasq')!;
    expect(hup.reason).toBe('burst');
    expect(agent.lines.some((l) => l.msg.startsWith('directory drifted'))).toBe(false);
    for (const m of all.slice(1000, 1010)) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, 'deny'));
  });

  it('compacts removed MACs past the threshold (delete + SIGHUP) and rewrites them below it', async () => {
    rig = makeRig({}, fastTmp());
    const svc = countingService(rig.root);
    rewriteConfig(rig, { service: svc.service, compaction: { enabled: true, minRemoved: 50, minShare: 0.1 } });
    const all = macs(300);
    await publish(rig.store, policyOf(all.slice(0, 10), all.slice(10)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');

    // 20 MACs vanish from Ironic: below 50 → rewritten with the removed verdict, kept, no reload.
    await publish(rig.store, policyOf(all.slice(0, 10), all.slice(10, 280), true));
    const kept = await agent.waitFor(isApplied(2));
    expect(kept.deletes).toBe(0);
    for (const m of all.slice(280)) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, 'allow'));
    expect(reloadCount(svc.reloads)).toBe(0);

    // 40 more (60 removed ≥ 50 and ≥ 10 % of 300 files): all 60 files deleted, then one SIGHUP.
    await publish(rig.store, policyOf(all.slice(0, 10), all.slice(10, 240), true));
    const compacted = await agent.waitFor(isApplied(3));
    expect(compacted.deletes).toBe(60);
    expect(compacted.reload).toBe(true);
    expect(reloadCount(svc.reloads)).toBe(1);
    for (const m of all.slice(240)) expect(existsSync(join(rig.hostsdir, macFileName(m)))).toBe(false);
    expect(agent.lines.find((l) => l.msg === 'reloaded dnsmasq')?.reason).toBe('records dropped');
  });

  it('a failed reload is fatal: the agent stops dnsmasq and exits 1', async () => {
    rig = makeRig({}, fastTmp());
    const log = join(rig.root, 'service.log');
    rewriteConfig(rig, {
      service: { mode: 'command', start: `echo start >> '${log}'`, stop: `echo stop >> '${log}'`, reload: 'echo cannot reload >&2; exit 3' },
      compaction: { enabled: true, minRemoved: 5, minShare: 0 },
    });
    const all = macs(20);
    await publish(rig.store, policyOf([], all));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');
    await publish(rig.store, policyOf([], all.slice(0, 10))); // 10 removed ≥ 5: compaction, then a reload that fails
    const fatal = await agent.waitFor((l) => l.msg === 'agent failed');
    expect(String(fatal.error)).toMatch(/cannot reload dnsmasq/);
    expect((await agent.exited).code).toBe(1);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['stop', 'start', 'stop']); // start-up stop, start, stop on exit
  });

  it('repairs drift found by the slow re-verification of the directory', async () => {
    rig = makeRig({ driftCheckSeconds: 0.5 }, fastTmp());
    const all = macs(50);
    await publish(rig.store, policyOf([], all));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(rig.hostsdir, macFileName(all[3]!)), `${all[3]}\n`); // someone opened a MAC by hand
    const drift = await agent.waitFor((l) => l.msg.startsWith('directory drifted'), 5000);
    expect(drift.count).toBe(1);
    await agent.waitFor((l) => l.msg === 'applied' && l.writes === 1);
    expect(readFileSync(join(rig.hostsdir, macFileName(all[3]!)), 'utf8')).toBe(recordText(all[3]!, 'deny'));
  });
});
