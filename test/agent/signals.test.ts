/**
 * Every way out of the daemon stops dnsmasq and removes the ready file (issue 12, defect 4): SIGTERM, SIGINT and
 * SIGQUIT (exit 0), a fatal error (exit 1, recorded in the status file), an uncaught error (exit 1); SIGHUP
 * re-checks the directory and keeps the agent running.
 */
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordText } from '../../core/hostsdir.ts';
import { macFileName } from '../../core/mac.ts';
import { resolveConfig } from '../../agent/config.ts';
import { AgentDaemon } from '../../agent/daemon.ts';
import { daemonHandlers, installProcessHandlers } from '../../agent/process-handlers.ts';
import { readStatusFile } from '../../agent/report.ts';
import { type Rig, isApplied, killAll, makeRig, macs, policyOf, publish, rewriteConfig, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

/** A service whose start and stop commands append to a log file (dnsmasq itself is not needed here). */
function loggingService(root: string, start = 'true') {
  const log = join(root, 'service.log');
  return { log, service: { mode: 'command', start: `${start} && echo start >> '${log}'`, stop: `echo stop >> '${log}'`, reload: `echo reload >> '${log}'` } };
}
const serviceLog = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

async function runningAgent() {
  rig = makeRig();
  const svc = loggingService(rig.root);
  rewriteConfig(rig, { service: svc.service });
  await publish(rig.store, policyOf(macs(20), macs(20, 20)));
  const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
  await agent.waitFor((l) => l.msg === 'dnsmasq started after the first full sync');
  const ready = join(rig.root, 'state', 'ready');
  expect(existsSync(ready)).toBe(true);
  return { agent, svc, ready, rig };
}

describe('agent run: signals and errors', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGQUIT'] as const)('%s stops dnsmasq, removes the ready file and exits 0', async (signal) => {
    const { agent, svc, ready, rig } = await runningAgent();
    agent.kill(signal);
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(serviceLog(svc.log)).toEqual(['stop', 'start', 'stop']); // stopped at start-up, started, stopped on the way out
    expect(existsSync(ready)).toBe(false);
    expect(agent.lines.some((l) => l.msg === 'stopping' && l.signal === signal)).toBe(true);
    expect((await readStatusFile(join(rig.root, 'state', 'status.json')))?.serviceRunning).toBe(false);
  });

  it('SIGHUP logs, repairs drift at once and keeps the agent (and dnsmasq) running', async () => {
    const { agent, svc, ready, rig } = await runningAgent();
    const victim = join(rig.hostsdir, macFileName(macs(1)[0]!));
    writeFileSync(victim, 'tampered\n');
    const mark = agent.lines.length;
    agent.kill('SIGHUP');
    await agent.waitFor((l) => l.msg.startsWith('SIGHUP: re-checking the hosts directory'), 10_000, mark);
    await agent.waitFor((l) => l.msg === 'directory drifted (on SIGHUP); repairing', 10_000, mark);
    await agent.waitFor(isApplied(1), 10_000, mark); // the repair is an apply of the same generation
    expect(readFileSync(victim, 'utf8')).toBe(recordText(macs(1)[0]!, 'allow'));
    // Still running and still applying.
    await publish(rig.store, policyOf(macs(10), macs(30, 10)));
    await agent.waitFor(isApplied(2), 15_000, mark);
    expect(existsSync(ready)).toBe(true);
    expect(serviceLog(svc.log)).toEqual(['stop', 'start']); // no stop since the start-up one
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('a fatal error (dnsmasq does not start) stops dnsmasq, removes the ready file, records the reason and exits 1', async () => {
    rig = makeRig();
    const svc = loggingService(rig.root, 'false');
    rewriteConfig(rig, { service: svc.service });
    await publish(rig.store, policyOf(macs(5), []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    expect((await agent.exited).code).toBe(1);
    expect(serviceLog(svc.log)).toEqual(['stop', 'stop']); // at start-up, then on the way out
    expect(existsSync(join(rig.root, 'state', 'ready'))).toBe(false);
    const status = await readStatusFile(join(rig.root, 'state', 'status.json'));
    expect(status?.lastError?.message).toMatch(/^fatal: cannot start dnsmasq/);
  });

  it('an uncaught error stops dnsmasq, removes the ready file, records the reason and exits 1', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(5), []));
    const config = resolveConfig(JSON.parse(readFileSync(rig.configPath, 'utf8')), {}, {});
    const service = { description: 'fake', start: vi.fn(async () => {}), stop: vi.fn(async () => {}), reload: vi.fn(async () => {}), isRunning: async () => true };
    const log = pino({ level: 'silent' });
    const controller = new AbortController();
    const daemon = new AgentDaemon({ config, store: rig.store, service, log, signal: controller.signal });
    await daemon.init();
    expect(existsSync(config.readyFile)).toBe(true);
    service.stop.mockClear(); // the start-up stop
    const target = new EventEmitter() as unknown as NodeJS.Process;
    const exited = new Promise<number>((exit) => installProcessHandlers(daemonHandlers({ daemon, log, abort: (r) => controller.abort(r), exit }), target));
    target.emit('uncaughtException', new Error('a bug'));
    expect(await exited).toBe(1);
    expect(service.stop).toHaveBeenCalledTimes(1);
    expect(existsSync(config.readyFile)).toBe(false);
    expect((await readStatusFile(config.statusFile))?.lastError?.message).toBe('fatal: crashed: a bug');
    controller.abort();
  });
});
