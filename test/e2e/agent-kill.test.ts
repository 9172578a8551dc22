/**
 * Issue case 5: kill the agent daemon (`pxe-filter agent run --config FILE`) and dnsmasq must stop answering;
 * restart it and it must purge, sync, start dnsmasq and answer correctly again.
 *  - SIGTERM: the agent runs its stop command, then exits (stopServiceOnExit).
 *  - SIGKILL: nothing runs in the agent; the systemd-less fallback, agent/dnsmasq-guard.sh (started by the
 *    start command with the agent's PID), stops dnsmasq.
 * Manifests are published into a local store (the embedded default) exactly as the control plane does.
 * Runs in both hosts-directory layouts (one file per MAC, and scale mode's shard files).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordText, wildcardText } from '../../core/hostsdir.ts';
import type { Mac } from '../../core/mac.ts';
import { LocalStore } from '../../store/local-store.ts';
import { type AgentProcess, LAYOUTS, daemonConfig, expectedNames, launchAgentDaemon, publishToStore, layoutName, recordIn, visibleNames } from './support/agent.ts';
import { type DnsmasqRig, createDnsmasqRig, dnsmasqPid, ignoredCount, readLog, startCount } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { isAlive, sleep, waitFor } from './support/run.ts';

const SITE = 'e2e-kill';
const ALLOWED = '52:54:00:e2:05:01';
const DENIED = '52:54:00:e2:05:02';
const STRAY = '52:54:00:e2:05:99'; // a record nobody published, left in the directory while the agent was down
const file = (m: string) => m.replaceAll(':', '-');

for (const layout of LAYOUTS) describeE2E(`killing and restarting the agent daemon (case 5), ${layoutName(layout)}`, () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;
  let store: LocalStore;
  let agent: AgentProcess | undefined;
  let dnsmasq: number | undefined;

  const publish = (allow: string[], deny: string[]) => publishToStore(store, SITE, allow, deny);

  /** Launch the daemon and wait until dnsmasq, started by it, answers the allowed MAC. */
  async function startAgent(): Promise<{ agent: AgentProcess; dnsmasq: number; readyMs: number }> {
    const started = performance.now();
    const a = await launchAgentDaemon(rig, daemonConfig(rig, SITE, join(rig.runDir, 'store'), layout));
    agent = a;
    let exitedEarly: number | string | undefined;
    void a.exited.then((code) => (exitedEarly = code));
    const pid = await waitFor(
      'dnsmasq started by the agent daemon',
      () => {
        if (exitedEarly !== undefined) {
          throw new Error(`the agent daemon (pxe-filter agent run) exited with ${exitedEarly} before starting dnsmasq:\n${a.output()}`);
        }
        return dnsmasqPid(rig);
      },
      30_000,
    );
    await prober!.until(ALLOWED, 'offer', 15_000);
    return { agent: a, dnsmasq: pid, readyMs: performance.now() - started };
  }

  /** The agent the previous test left running (the cases build on each other, as an operator's day does). */
  function runningAgent(): AgentProcess {
    if (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null || dnsmasq === undefined) {
      throw new Error('needs the agent daemon and its dnsmasq running from the previous test, which did not get that far');
    }
    return agent;
  }

  /** The agent has exited and dnsmasq no longer answers even the allowed MAC. */
  async function expectQuiet(dnsmasqPid_: number): Promise<number> {
    const from = performance.now();
    await waitFor('dnsmasq to be gone', () => (isAlive(dnsmasqPid_) ? undefined : true), 5_000, 10);
    const goneMs = performance.now() - from;
    expect(dnsmasqPid(rig)).toBeUndefined();
    expect((await prober!.probe(ALLOWED, 1_000)).verdict).toBe('none');
    return goneMs;
  }

  /** Verdicts by real DISCOVERs, with dnsmasq's "ignored" line as evidence for each refusal. */
  async function expectVerdicts(allowed: string[], refused: string[]) {
    for (const m of allowed) expect((await prober!.probe(m, 1_000)).verdict, m).toBe('offer');
    for (const m of refused) {
      const before = await ignoredCount(rig, m);
      expect((await prober!.probe(m, 1_000)).verdict, m).toBe('none');
      await waitFor(`"ignored" for ${m}`, async () => ((await ignoredCount(rig, m)) > before ? true : undefined), 2_000);
    }
  }

  beforeAll(async () => {
    pair = await createNetnsPair('kill');
    rig = await createDnsmasqRig(pair);
    await mkdir(join(rig.runDir, 'store'));
    store = new LocalStore(join(rig.runDir, 'store'));
    await publish([ALLOWED], [DENIED]);
    prober = await Prober.start(pair);
  });

  afterAll(() => tearDownRig({ prober, rig, pair }));

  it('starts: purge, sync, start dnsmasq; answers per the published manifest', async () => {
    const s = await startAgent();
    dnsmasq = s.dnsmasq;
    console.log(`agent-kill: first start served after ${Math.round(s.readyMs)} ms`);
    await expectVerdicts([ALLOWED], [DENIED, STRAY]);
    expect(recordIn(rig, layout, DENIED)).toBe(`${DENIED},ignore\n`);
  });

  it('SIGTERM: the agent runs its stop command and exits; dnsmasq stops answering', async () => {
    const a = runningAgent();
    const logBefore = (await readLog(rig)).length;
    process.kill(a.pid, 'SIGTERM');
    const code = await Promise.race([a.exited, sleep(15_000).then(() => 'still running after 15 s')]);
    expect(code, a.output()).not.toBe('still running after 15 s');
    await expectQuiet(dnsmasq!);
    // The stop command ended dnsmasq (the guard saw its child exit), not the fallback.
    const log = (await readLog(rig)).slice(logBefore);
    expect(log).toMatch(new RegExp(`dnsmasq-guard\\[\\d+\\]: PID ${dnsmasq} exited with status`));
    expect(log).not.toMatch(new RegExp(`agent PID ${a.pid} is gone`));
  });

  it('restart after SIGTERM: purges the directory, syncs, starts dnsmasq and answers correctly', async () => {
    // While the agent is down, someone leaves records behind: an allow for a denied MAC and a stray allow.
    writeFileSync(join(rig.hostsdir, file(DENIED)), recordText(DENIED as Mac, 'allow'), { mode: 0o644 });
    writeFileSync(join(rig.hostsdir, file(STRAY)), recordText(STRAY as Mac, 'allow'), { mode: 0o644 });
    const starts = await startCount(rig);
    const s = await startAgent();
    dnsmasq = s.dnsmasq;
    expect(await startCount(rig)).toBe(starts + 1);
    // dnsmasq read the directory only after the purge: the stray file was never read by this dnsmasq.
    const sinceStart = (await readLog(rig)).slice((await readLog(rig)).lastIndexOf(`dnsmasq[${s.dnsmasq}]: started`));
    expect(sinceStart).not.toContain(`read ${rig.hostsdir}/${file(STRAY)}`);
    expect(existsSync(join(rig.hostsdir, file(STRAY)))).toBe(false);
    // (Hidden names are skipped by dnsmasq; the agent may keep a lock or temp file there.)
    expect(visibleNames(rig)).toEqual(expectedNames(layout, [ALLOWED, DENIED]));
    expect(readFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), 'utf8')).toBe(wildcardText('deny'));
    await expectVerdicts([ALLOWED], [DENIED, STRAY]);
  });

  it('SIGKILL: the agent runs nothing, dnsmasq-guard.sh stops dnsmasq; DHCP goes quiet', async () => {
    const a = runningAgent();
    const logBefore = (await readLog(rig)).length;
    process.kill(a.pid, 'SIGKILL');
    const goneMs = await expectQuiet(dnsmasq!);
    expect(await a.exited).toBe('SIGKILL');
    console.log(`agent-kill: dnsmasq gone ${Math.round(goneMs)} ms after SIGKILL of the agent (and DHCP quiet)`);
    const log = (await readLog(rig)).slice(logBefore);
    expect(log).toMatch(new RegExp(`dnsmasq-guard\\[\\d+\\]: agent PID ${a.pid} is gone; stopping PID ${dnsmasq}`));
  });

  it('restart after SIGKILL: purges, syncs, starts dnsmasq, answers correctly, then follows a new generation', async () => {
    writeFileSync(join(rig.hostsdir, file(STRAY)), recordText(STRAY as Mac, 'allow'), { mode: 0o644 });
    const s = await startAgent();
    dnsmasq = s.dnsmasq;
    expect(existsSync(join(rig.hostsdir, file(STRAY)))).toBe(false);
    await expectVerdicts([ALLOWED], [DENIED, STRAY]);

    // The daemon keeps polling: a new generation flips both MACs on the running dnsmasq.
    await publish([DENIED], [ALLOWED]);
    await prober!.until(DENIED, 'offer', 15_000, 200);
    await expectVerdicts([DENIED], [ALLOWED]);
    expect(dnsmasqPid(rig)).toBe(s.dnsmasq);

    process.kill(s.agent.pid, 'SIGTERM');
    await s.agent.exited;
    await expectQuiet(s.dnsmasq);
  });
});
