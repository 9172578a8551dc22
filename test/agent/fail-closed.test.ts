/**
 * Fail closed, with a real child process standing in for dnsmasq (service mode `command`, the reference's
 * dnsmasq_start_command / dnsmasq_stop_command): not started before the first full sync, stopped on SIGTERM
 * and when the agent dies of a fatal error.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { HOSTSDIR_LOCK_NAME, isLockEntry } from '../../agent/lock.ts';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, rewriteConfig, fastTmp, isApplied, killAll, makeRig, manifestBytes, macs, policyOf, publish, publishRaw, startAgent } from './support.ts';

let rig: Rig | undefined;
let standIns: number[] = [];
afterEach(async () => {
  await killAll();
  for (const pid of standIns) if (alive(pid)) process.kill(pid, 'SIGKILL');
  standIns = [];
  rig?.cleanup();
  rig = undefined;
});

/** Running, and not a zombie (an orphaned stand-in is reaped by whoever is pid 1, maybe never). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A stand-in dnsmasq: records how many entries the hosts directory had when it started, then runs until killed. */
function commandService(root: string, hostsdir: string) {
  const pidFile = join(root, 'dnsmasq.pid');
  const seen = join(root, 'seen-at-start');
  return {
    pidFile,
    seen,
    service: {
      mode: 'command',
      start: `ls -A '${hostsdir}' | grep -vx '${HOSTSDIR_LOCK_NAME}' | wc -l > '${seen}'; setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! > '${pidFile}'`,
      stop: `if [ -f '${pidFile}' ]; then kill "$(cat '${pidFile}')" 2>/dev/null; rm -f '${pidFile}'; fi`,
      reload: `kill -HUP "$(cat '${pidFile}')"`,
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** kill() only queues the signal: give the stand-in a moment to be scheduled and die. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
  return !alive(pid);
}

describe('agent run: fail closed with a real service process', () => {
  it('keeps dnsmasq stopped until the first full sync, starts it after, stops it on SIGTERM', async () => {
    rig = makeRig({}, fastTmp());
    const svc = commandService(rig.root, rig.hostsdir);
    rewriteConfig(rig, { service: svc.service, purge: true });
    const all = macs(1500);
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    // Nothing published yet: the agent retries with backoff and dnsmasq stays stopped.
    await agent.waitFor((l) => l.msg.startsWith('no verified manifest yet'));
    await sleep(800);
    expect(existsSync(svc.pidFile)).toBe(false);
    // A tampered first manifest does not start it either.
    await publishRaw(rig.store, manifestBytes(policyOf(all, []), 1).bytes, { generation: 1, sha256: 'c'.repeat(64) });
    await agent.waitFor((l) => l.msg.startsWith('manifest refused'));
    await sleep(300);
    expect(existsSync(svc.pidFile)).toBe(false);
    expect(readdirSync(rig.hostsdir).filter((n) => !isLockEntry(n))).toEqual([]); // only the agent's lock

    await publish(rig.store, policyOf(all.slice(0, 10), all.slice(10)));
    await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');
    const pid = Number(readFileSync(svc.pidFile, 'utf8'));
    standIns.push(pid);
    expect(alive(pid)).toBe(true);
    // When it started, the directory was already complete: every MAC and the wildcard.
    expect(Number(readFileSync(svc.seen, 'utf8'))).toBe(1501);

    agent.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(0);
    expect(await gone(pid)).toBe(true);
    expect(existsSync(svc.pidFile)).toBe(false);
  });

  it('stops dnsmasq and exits non-zero when the agent dies of a fatal error', async () => {
    rig = makeRig({}, fastTmp());
    const svc = commandService(rig.root, rig.hostsdir);
    rewriteConfig(rig, { service: svc.service });
    const all = macs(100);
    await publish(rig.store, policyOf(all.slice(0, 10), all.slice(10)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');
    const pid = Number(readFileSync(svc.pidFile, 'utf8'));
    standIns.push(pid);
    expect(alive(pid)).toBe(true);
    // The hosts directory disappears under the agent; the next apply cannot write.
    rmSync(rig.hostsdir, { recursive: true });
    await publish(rig.store, policyOf(all.slice(0, 20), all.slice(20)));
    const fatal = await agent.waitFor((l) => l.msg === 'agent failed');
    expect(String(fatal.error)).toMatch(/cannot write the hosts directory/);
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(await gone(pid)).toBe(true);
  });

  it('without a reload command, a burst restarts the service (stop + start) so it re-reads the directory', async () => {
    rig = makeRig({}, fastTmp());
    const svc = commandService(rig.root, rig.hostsdir);
    rewriteConfig(rig, { service: { ...svc.service, reload: '' }, apply: { batchSize: 0, batchPauseMs: 0, reloadAboveOperations: 100, reloadWindowSeconds: 60, verifyAfterReload: true } });
    const all = macs(400);
    await publish(rig.store, policyOf([], all.slice(0, 50)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');
    const pid1 = Number(readFileSync(svc.pidFile, 'utf8'));
    standIns.push(pid1);
    await publish(rig.store, policyOf([], all)); // 350 new files > 100: a burst
    await agent.waitFor(isApplied(2));
    await agent.waitFor((l) => l.msg === 'reloaded dnsmasq');
    const pid2 = Number(readFileSync(svc.pidFile, 'utf8'));
    standIns.push(pid2);
    expect(pid2).not.toBe(pid1);
    expect(await gone(pid1)).toBe(true);
    expect(alive(pid2)).toBe(true);
    expect(Number(readFileSync(svc.seen, 'utf8'))).toBe(401); // restarted on the complete directory
  });

  it('a second agent on the same directory is refused while the first runs; a SIGKILLed owner is taken over', async () => {
    rig = makeRig({}, fastTmp());
    await publish(rig.store, policyOf(macs(10), []));
    const first = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await first.waitFor(isApplied(1));
    const second = await startAgent(['agent', 'run', '--config', rig.configPath]);
    const r = await second.exited;
    expect(r.code).toBe(1);
    expect(second.stderr).toMatch(/hosts directory .* is in use by pid \d+ \(agent run, since /);
    first.kill('SIGKILL');
    await first.exited;
    const third = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await third.waitFor(isApplied(1));
  });
});
