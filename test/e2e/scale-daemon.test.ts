/**
 * Issue case 6 through the product's own path: the agent daemon (`pxe-filter agent run`) polls a local store,
 * and a published manifest of 30,000 MACs reaches a RUNNING dnsmasq without losing a record; then a published
 * incremental change is enforced within 1 s of the daemon writing the files. (scale.test.ts is the same case
 * through `agent once`.) Evidence: support/scale.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalStore } from '../../store/local-store.ts';
import { type AgentProcess, daemonConfig, launchAgentDaemon, publishToStore } from './support/agent.ts';
import { type DnsmasqRig, createDnsmasqRig, dnsmasqPid, logSize, startCount } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { waitFor } from './support/run.ts';
import { ALLOW, ALLOW_AFTER_FLIP, DENY, DENY_AFTER_FLIP, TOTAL, expectNoRecordLost, measureFlip } from './support/scale.ts';

const SITE = 'e2e-scale';

describeE2E('real dnsmasq at scale, agent daemon (case 6)', () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;
  let store: LocalStore;
  let agent: AgentProcess | undefined;

  const publish = (allow: string[], deny: string[]) => publishToStore(store, SITE, allow, deny);
  const appliedGeneration = (): number | undefined => {
    try {
      return (JSON.parse(readFileSync(join(rig.runDir, 'agent-state.json'), 'utf8')) as { generation?: number }).generation;
    } catch {
      return undefined;
    }
  };
  const waitApplied = (generation: number, timeoutMs: number) =>
    waitFor(
      `the agent daemon to apply generation ${generation}`,
      () => {
        if (agent && (agent.child.exitCode !== null || agent.child.signalCode !== null)) {
          throw new Error(`the agent daemon (pxe-filter agent run) exited with ${agent.child.exitCode ?? agent.child.signalCode}:\n${agent.output()}`);
        }
        return (appliedGeneration() ?? 0) >= generation ? true : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    pair = await createNetnsPair('scaled');
    rig = await createDnsmasqRig(pair);
    await mkdir(join(rig.runDir, 'store'));
    store = new LocalStore(join(rig.runDir, 'store'));
    await publish([], []);
    prober = await Prober.start(pair);
  });

  afterAll(() => tearDownRig({ prober, rig, pair }));

  it(`a published manifest of ${TOTAL.toLocaleString('en')} MACs reaches a running dnsmasq without losing a record; a change after it is enforced within 1 s`, { timeout: 240_000 }, async () => {
    agent = await launchAgentDaemon(rig, daemonConfig(rig, SITE, join(rig.runDir, 'store')));
    await waitApplied(1, 30_000);
    const pid = await waitFor('dnsmasq started by the agent daemon', () => dnsmasqPid(rig), 10_000);

    const offset = await logSize(rig);
    const published = performance.now();
    await publish(ALLOW, DENY);
    await waitApplied(2, 180_000);
    // The first answer after the apply means dnsmasq has drained its inotify backlog (or finished its SIGHUP).
    await prober!.until(ALLOW[0]!, 'offer', 60_000, 1_000);
    console.log(`scale (daemon): generation 2 (${TOTAL} MACs) applied and answered ${Math.round(performance.now() - published)} ms after publishing`);
    await expectNoRecordLost('scale (daemon)', rig, prober!, offset);

    const lags = await measureFlip(rig, prober!, async () => {
      await publish(ALLOW_AFTER_FLIP, DENY_AFTER_FLIP);
      await waitApplied(3, 30_000);
    });
    console.log(`scale (daemon): incremental change enforced ${lags.map((l) => Math.round(l)).join(' ms / ')} ms after each file was written`);
    for (const l of lags) expect(l).toBeLessThan(1_000);

    expect(dnsmasqPid(rig)).toBe(pid);
    expect(await startCount(rig)).toBe(1);
    process.kill(agent.pid, 'SIGTERM');
    await agent.exited;
  });
});
