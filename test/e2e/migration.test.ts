/**
 * Scale mode: switching the hosts-directory layout under a running dnsmasq (per-MAC → sharded → per-MAC) with
 * the real agent (`agent once --no-purge --layout …`), never restarting dnsmasq (same PID, one "started" line).
 * Each switch also changes verdicts, and the answers right after each step are the new policy's. While a switch
 * runs, a MAC that stays denied is probed all the time: it must never be offered (no window in which a record
 * file that disagrees with the policy is dnsmasq's newest record for it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Layout } from '../../core/hostsdir-layout.ts';
import { LayoutSchema } from '../../core/layout-schema.ts';
import type { Mac } from '../../core/mac.ts';
import { shardName, shardOf } from '../../core/sharded.ts';
import { agentOnceOk, expectedNames, policy, recordIn, visibleNames, writeManifest } from './support/agent.ts';
import { type DnsmasqRig, createDnsmasqRig, dnsmasqPid, readLog, readsOfHostsdir, startCount, verdictOf } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { waitFor } from './support/run.ts';

const mac = (n: number) => `52:54:00:e2:07:${n.toString(16).padStart(2, '0')}`;
const PER_MAC = LayoutSchema.parse({ kind: 'per-mac' });
const SHARDED = LayoutSchema.parse({ kind: 'sharded', shards: 16 });

describeE2E('layout migration under a running dnsmasq (per-MAC → sharded → per-MAC)', () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;
  let generation = 0;
  // 40 MACs: even allowed, odd denied; STAY_DENIED never changes; FLIP_* change at each switch.
  const macs = Array.from({ length: 40 }, (_, i) => mac(i + 1));
  const STAY_DENIED = macs[1]!;

  /** Apply while probing STAY_DENIED in a loop; returns the verdicts it got meanwhile. */
  async function applyWatched(allow: string[], deny: string[], layout: Layout) {
    const path = await writeManifest(rig, ++generation, policy({ allow, deny, unknownHosts: 'deny' }));
    let running = true;
    const seen: string[] = [];
    const watcher = (async () => {
      while (running) seen.push((await prober!.probe(STAY_DENIED, 300)).verdict);
    })();
    try {
      return { result: await agentOnceOk(rig, path, { purge: false, layout }), seen };
    } finally {
      running = false;
      await watcher;
    }
  }

  async function expectVerdicts(allow: string[], deny: string[]) {
    for (const m of allow) expect(await verdictOf(rig, prober!, m), `${m} should be offered`).toBe('offer');
    const refused = await prober!.probeMany(deny, 1_000, 2);
    expect(refused.filter((r) => r.verdict !== 'none').map((r) => r.mac)).toEqual([]);
    expect(await verdictOf(rig, prober!, mac(0xee))).toBe('ignored'); // unknown: the wildcard closes
  }

  beforeAll(async () => {
    pair = await createNetnsPair('migrate');
    rig = await createDnsmasqRig(pair);
    prober = await Prober.start(pair);
  });

  afterAll(() => tearDownRig({ prober, rig, pair }));

  it('switches both ways without a restart; verdicts right after each step; a denied MAC is never offered meanwhile', async () => {
    let allow = macs.filter((_, i) => i % 2 === 0);
    let deny = macs.filter((_, i) => i % 2 === 1);
    await agentOnceOk(rig, await writeManifest(rig, ++generation, policy({ allow, deny, unknownHosts: 'deny' })), { layout: PER_MAC });
    const pid = await waitFor('dnsmasq started by the agent', () => dnsmasqPid(rig), 5_000);
    expect(visibleNames(rig)).toEqual(expectedNames(PER_MAC, macs));
    await expectVerdicts(allow.slice(0, 4), deny);

    // → sharded, flipping two MACs and dropping one from Ironic (removed MACs keep the removed verdict: deny).
    const [a, b, gone] = [macs[2]!, macs[3]!, macs[4]!];
    allow = [...allow.filter((m) => m !== a && m !== gone), b];
    deny = [...deny.filter((m) => m !== b), a];
    const logBefore = (await readLog(rig)).length;
    const toSharded = await applyWatched(allow, deny, SHARDED);
    expect(toSharded.seen.length).toBeGreaterThan(0);
    expect(toSharded.seen.filter((v) => v !== 'none')).toEqual([]);
    expect(dnsmasqPid(rig)).toBe(pid);
    expect(await startCount(rig)).toBe(1);
    expect(visibleNames(rig)).toEqual(expectedNames(SHARDED, []));
    expect(recordIn(rig, SHARDED, a)).toBe(`${a},ignore\n`);
    expect(recordIn(rig, SHARDED, b)).toBe(`${b}\n`);
    expect(recordIn(rig, SHARDED, gone)).toBe(`${gone},ignore\n`);
    // The per-MAC files were deleted: the agent sent a SIGHUP (cheap with 17 files) so dnsmasq forgot their
    // records. Evidence: a shard read twice — once on its write (inotify), once more by the SIGHUP's re-read.
    const shardOfA = shardName(shardOf(a as Mac, SHARDED.kind === 'sharded' ? SHARDED.shards : 1));
    await waitFor(`${shardOfA} read again after the SIGHUP`, async () => (((await readsOfHostsdir(rig, logBefore)).get(shardOfA) ?? 0) >= 2 ? true : undefined), 5_000);
    await expectVerdicts([b, ...allow.slice(0, 3)], [a, gone, ...deny]);

    // → back to per-MAC, flipping them back.
    allow = [...allow.filter((m) => m !== b), a];
    deny = [...deny.filter((m) => m !== a), b];
    const toPerMac = await applyWatched(allow, deny, PER_MAC);
    expect(toPerMac.seen.filter((v) => v !== 'none')).toEqual([]);
    expect(dnsmasqPid(rig)).toBe(pid);
    expect(await startCount(rig)).toBe(1);
    expect(visibleNames(rig)).toEqual(expectedNames(PER_MAC, macs));
    expect(recordIn(rig, PER_MAC, a)).toBe(`${a}\n`);
    expect(recordIn(rig, PER_MAC, b)).toBe(`${b},ignore\n`);
    await expectVerdicts([a, ...allow.slice(0, 3)], [b, gone, ...deny]);
  });
});
