/**
 * `agent status` is honest (issue 12, defect 5): exit 1 with the reason printed when the agent that wrote the
 * status file is gone, when the last apply failed (a fatal error is recorded before the exit), when dnsmasq should
 * run and does not, or when the published generation is ahead of the applied one past the grace period.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../agent/lock.ts';
import { ACK_SCHEMA, type StatusFile, writeStatusFile } from '../../agent/report.ts';
import { runCli } from '../support/cli.ts';
import { type Rig, killAll, makeRig, macs, policyOf, publish, rewriteConfig, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();

/** A rig whose dnsmasq "runs" while the file `running` exists (the status command), with generation 1 published. */
async function statusRig(extra: Record<string, unknown> = {}) {
  rig = makeRig();
  const running = join(rig.root, 'running');
  writeFileSync(running, '');
  rewriteConfig(rig, { service: { mode: 'command', start: 'true', stop: 'true', status: `test -e '${running}'` }, ...extra });
  const published = await publish(rig.store, policyOf(macs(3), []));
  const statusFile = join(dirname(rig.stateFile), 'status.json');
  mkdirSync(dirname(statusFile), { recursive: true });
  return { rig, running, statusFile, sha256: published.pointer.sha256 };
}

/** A status file as a running agent (this very process) writes it after applying generation 1. */
function statusDoc(sha256: string, over: Partial<StatusFile> = {}): StatusFile {
  return {
    schema: ACK_SCHEMA,
    site: 'dc1',
    host: 'pxe-1',
    generation: 1,
    sha256,
    appliedAt: ago(60),
    lastContactAt: ago(1),
    reportedAt: ago(1),
    counts: { allow: 3, deny: 0, removed: 0, files: 4, foreign: 0, writes: 4, deletes: 0 },
    durationMs: 3,
    reloads: 0,
    serviceRunning: true,
    stale: false,
    lastError: null,
    owner: { pid: process.pid, start: processStartTime(process.pid)!, command: 'agent run', since: ago(60) },
    ...over,
  };
}

/** In-process: `main` reports status's verdict through process.exitCode, which must not leak between runs. */
async function status(r: Rig) {
  process.exitCode = undefined;
  try {
    return await runCli(['agent', 'status', '--config', r.configPath]);
  } finally {
    process.exitCode = undefined;
  }
}

describe('agent status', () => {
  it('healthy: the agent runs, dnsmasq runs, the applied generation is the published one', async () => {
    const { rig, statusFile, sha256 } = await statusRig();
    await writeStatusFile(statusFile, statusDoc(sha256));
    const r = await status(rig);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('published: generation 1');
    expect(r.stdout).not.toContain('problem');
  });

  it('exit 1 when the agent that wrote the status file is not running', async () => {
    const { rig, statusFile, sha256 } = await statusRig();
    const gone = spawnSync('true').pid!;
    await writeStatusFile(statusFile, statusDoc(sha256, { owner: { pid: gone, start: '1', command: 'agent run', since: ago(60) } }));
    const r = await status(rig);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`problem: the agent is not running (pid ${gone}, agent run since`);
  });

  it('exit 1 when the last apply failed', async () => {
    const { rig, statusFile, sha256 } = await statusRig();
    await writeStatusFile(statusFile, statusDoc(sha256, { lastError: { message: 'fatal: cannot write the hosts directory /x: EACCES', at: ago(5), generation: 1 } }));
    const r = await status(rig);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/problem: last error \(.*\): fatal: cannot write the hosts directory/);
  });

  it('exit 1 when dnsmasq should run and does not', async () => {
    const { rig, running, statusFile, sha256 } = await statusRig();
    await writeStatusFile(statusFile, statusDoc(sha256));
    const { rmSync } = await import('node:fs');
    rmSync(running);
    const r = await status(rig);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('dnsmasq not running');
    expect(r.stdout).toContain('problem: dnsmasq is not running, but the agent has applied a policy');
  });

  it('exit 1 when the applied generation is behind the published one past the grace period, not within it', async () => {
    const { rig, statusFile, sha256 } = await statusRig({ behindAfterSeconds: 3600 });
    await writeStatusFile(statusFile, statusDoc(sha256));
    await publish(rig.store, policyOf(macs(4), []));
    const within = await status(rig);
    expect(within.code, within.stdout).toBe(0);
    expect(within.stdout).toContain('published: generation 2');
    rewriteConfig(rig, { behindAfterSeconds: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    const past = await status(rig);
    expect(past.code).toBe(1);
    expect(past.stdout).toMatch(/problem: behind: generation 2 was published \d+ s ago, generation 1 is applied \(limit 0 s\)/);
  });

  it('after the agent died of a fatal error: exit 1, the error and the dead agent printed', async () => {
    rig = makeRig();
    rewriteConfig(rig, { service: { mode: 'command', start: 'false', stop: 'true' } });
    await publish(rig.store, policyOf(macs(3), []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    expect((await agent.exited).code).toBe(1);
    expect(existsSync(join(dirname(rig.stateFile), 'status.json'))).toBe(true);
    const r = await status(rig);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/problem: last error \(.*\): fatal: cannot start dnsmasq/);
    expect(r.stdout).toContain('problem: the agent is not running');
  });
});
