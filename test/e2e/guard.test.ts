/**
 * agent/dnsmasq-guard.sh, the systemd-less fallback that ties dnsmasq to the agent (docs/e2e.md): a real
 * dnsmasq in a namespace, started by the same service command the agent runs, watching a real process that
 * the test kills. (The agent daemon itself is killed in agent-kill.test.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type DnsmasqRig, REPO_ROOT, createDnsmasqRig, dnsmasqPid, readLog, serviceCommands } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { isAlive, run, waitFor } from './support/run.ts';

const GUARD = join(REPO_ROOT, 'agent/dnsmasq-guard.sh');
const ALLOWED = '52:54:00:e2:01:01';

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describeE2E('dnsmasq-guard.sh stops dnsmasq when the agent is gone', () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;
  let watched: ChildProcess | undefined;

  beforeAll(async () => {
    pair = await createNetnsPair('guard');
    rig = await createDnsmasqRig(pair);
    writeFileSync(join(rig.hostsdir, ALLOWED.replaceAll(':', '-')), `${ALLOWED}\n`, { mode: 0o644 });
    writeFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), '*:*:*:*:*:*,ignore\n', { mode: 0o644 });
    prober = await Prober.start(pair);
  });

  afterEach(async () => {
    if (watched?.pid !== undefined && isAlive(watched.pid)) watched.kill('SIGKILL');
    watched = undefined;
    await run('/bin/sh', ['-c', serviceCommands(rig).stop]);
  });

  afterAll(() => tearDownRig({ prober, rig, pair }));

  /** Start dnsmasq the way the agent's start command does, watching a fresh process instead of the agent. */
  async function startGuarded() {
    watched = spawn('sleep', ['600'], { stdio: 'ignore' });
    const start = serviceCommands(rig, { watchAgent: true }).start.replace('$PPID', String(watched.pid));
    const r = await run('/bin/sh', ['-c', start]);
    expect(r.code, r.stderr).toBe(0);
    const pid = await waitFor('dnsmasq under the guard', () => dnsmasqPid(rig), 5_000);
    const guard = parentOf(pid);
    expect(readFileSync(`/proc/${guard}/cmdline`, 'utf8')).toContain('dnsmasq-guard.sh');
    await prober!.until(ALLOWED, 'offer', 5_000);
    return { pid, guard, watchedPid: watched.pid! };
  }

  it('SIGKILL of the watched process: dnsmasq is stopped within a second and DHCP goes quiet', async () => {
    const { pid, guard, watchedPid } = await startGuarded();
    process.kill(watchedPid, 'SIGKILL');
    const killedAt = performance.now();
    await waitFor('dnsmasq to stop', () => (isAlive(pid) ? undefined : true), 3_000, 10);
    const stoppedMs = performance.now() - killedAt;
    console.log(`guard: dnsmasq stopped ${Math.round(stoppedMs)} ms after the watched PID was SIGKILLed`);
    expect(stoppedMs).toBeLessThan(2_000);
    await waitFor('the guard to exit', () => (isAlive(guard) ? undefined : true), 3_000, 10);
    expect((await prober!.probe(ALLOWED, 500)).verdict).toBe('none');
    expect(await readLog(rig)).toMatch(/dnsmasq-guard\[\d+\]: agent PID \d+ is gone; stopping PID \d+/);
  });

  it('SIGTERM to the guard stops dnsmasq too', async () => {
    const { pid, guard } = await startGuarded();
    process.kill(guard, 'SIGTERM');
    await waitFor('dnsmasq to stop', () => (isAlive(pid) ? undefined : true), 3_000, 10);
    await waitFor('the guard to exit', () => (isAlive(guard) ? undefined : true), 3_000, 10);
    expect((await prober!.probe(ALLOWED, 500)).verdict).toBe('none');
  });

  it('the stop command (by PID) ends dnsmasq and the guard with it, while the agent lives on', async () => {
    const { pid, guard, watchedPid } = await startGuarded();
    const r = await run('/bin/sh', ['-c', serviceCommands(rig).stop]);
    expect(r.code, r.stderr).toBe(0);
    expect(isAlive(pid)).toBe(false);
    await waitFor('the guard to exit', () => (isAlive(guard) ? undefined : true), 3_000, 10);
    expect(isAlive(watchedPid)).toBe(true);
  });

  it('refuses to start dnsmasq for a PID that is not running, and rejects bad arguments', async () => {
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const r = await run(GUARD, ['--watch-pid', String(gone.pid), '--', '/usr/sbin/dnsmasq', '--version']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not running');
    expect(r.stdout).not.toContain('Dnsmasq version');
    const bad = await run(GUARD, ['--watch-pid', '12x', '--', '/bin/true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--watch-pid must be a PID, got '12x'");
    expect((await run(GUARD, ['--watch-pid', '1'])).code).toBe(2);
  });
});
