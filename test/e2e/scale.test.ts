/**
 * Issue case 6: a manifest of 30,000 MACs applied by the real agent (`pxe-filter agent once --no-purge`) to a
 * RUNNING dnsmasq loses no record, and an incremental change after it is enforced within 1 s.
 *
 * dnsmasq reads the hosts directory through inotify, whose queue holds 16,384 events by default; a burst
 * larger than dnsmasq can drain is lost without a word in its log (docs/design.md §4). The evidence is in
 * support/scale.ts. scale-daemon.test.ts runs the same case through the agent daemon.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentOnceOk, policy, writeManifest } from './support/agent.ts';
import { type DnsmasqRig, createDnsmasqRig, dnsmasqPid, logSize, startCount } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { waitFor } from './support/run.ts';
import { ALLOW, ALLOW_AFTER_FLIP, DENY, DENY_AFTER_FLIP, FLIP_TO_ALLOW, FLIP_TO_DENY, TOTAL, expectNoRecordLost, measureFlip } from './support/scale.ts';

describeE2E('real dnsmasq at scale, agent once (case 6)', () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;

  beforeAll(async () => {
    pair = await createNetnsPair('scale');
    rig = await createDnsmasqRig(pair);
    await agentOnceOk(rig, await writeManifest(rig, 1, policy({ unknownHosts: 'deny' })));
    await waitFor('dnsmasq started by the agent', () => dnsmasqPid(rig), 5_000);
    prober = await Prober.start(pair);
  });

  afterAll(() => tearDownRig({ prober, rig, pair }));

  it(`applies ${TOTAL.toLocaleString('en')} MACs to a running dnsmasq without losing a record, then enforces a change within 1 s`, { timeout: 240_000 }, async () => {
    const pid = dnsmasqPid(rig)!;
    const offset = await logSize(rig);
    const apply = await agentOnceOk(rig, await writeManifest(rig, 2, policy({ allow: ALLOW, deny: DENY, unknownHosts: 'deny' })), { purge: false });
    const written = Number(/(\d+) written/.exec(apply.stdout)?.[1]);
    expect(written).toBe(TOTAL);
    // dnsmasq handles its whole inotify backlog before the next DHCP packet: the first answer means it is done.
    const drain = await prober!.until(ALLOW[0]!, 'offer', 60_000, 1_000);
    console.log(`scale (agent once): wrote ${written} files in ${Math.round(apply.ms)} ms (process total); dnsmasq answered ${Math.round(drain.elapsedMs)} ms after the agent exited`);
    await expectNoRecordLost('scale (agent once)', rig, prober!, offset);

    const manifest3 = await writeManifest(rig, 3, policy({ allow: ALLOW_AFTER_FLIP, deny: DENY_AFTER_FLIP, unknownHosts: 'deny' }));
    let incrementalMs = 0;
    const lags = await measureFlip(rig, prober!, async () => {
      incrementalMs = (await agentOnceOk(rig, manifest3, { purge: false })).ms;
    });
    console.log(
      `scale (agent once): incremental change (agent once ${Math.round(incrementalMs)} ms incl. a scan of ${TOTAL} files) enforced ` +
        `${lags.map((l) => Math.round(l)).join(' ms / ')} ms after each file was written`,
    );
    for (const l of lags) expect(l).toBeLessThan(1_000);
    // And the next DISCOVERs after the agent returned agree.
    expect([(await prober!.probe(FLIP_TO_DENY, 1_000)).verdict, (await prober!.probe(FLIP_TO_ALLOW)).verdict]).toEqual(['none', 'offer']);

    expect(dnsmasqPid(rig)).toBe(pid);
    expect(await startCount(rig)).toBe(1);
  });
});
