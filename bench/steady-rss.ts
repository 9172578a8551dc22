/**
 * The agent's steady-state memory: the real daemon (`npm run build` bundle, `agent run`, local store, service none,
 * the node flags of the systemd unit), then while it applies ten changes, one after the other
 * on N MACs; once it has applied and polled a few times, VmRSS (and the peak, VmHWM) from /proc/<pid>/status.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS } from '../agent/heap.ts';
import { publishPolicy } from '../control/publish.ts';
import { LocalStore } from '../store/local-store.ts';
import { basePolicy, churnedPolicy } from './data.ts';

export function buildAgentBundle(outDir: string): string {
  const out = join(outDir, 'pxe-filter-agent.mjs');
  execFileSync(process.execPath, ['scripts/build-agent.mjs', out], { stdio: 'ignore' });
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

function appliedGeneration(stateFile: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(stateFile, 'utf8')) as { generation?: number }).generation;
  } catch {
    return undefined; // not written yet, or being replaced
  }
}

export interface SteadyRss {
  /** After the first sync and `polls` no-change polls. */
  rssMb: number;
  hwmMb: number;
  /** Then `changes` applied changes (the churn case's 100 files, back and forth): the highest VmRSS sampled. */
  churnRssMaxMb: number;
  polls: number;
  waitedMs: number;
}

export async function steadyStateRss(bundle: string, root: string, n: number, polls = 5, changes = 10): Promise<SteadyRss> {
  rmSync(root, { recursive: true, force: true });
  const hostsdir = join(root, 'hostsdir');
  mkdirSync(hostsdir, { recursive: true });
  const store = new LocalStore(join(root, 'store'));
  await publishPolicy({ store, site: 'bench', policy: basePolicy(n), inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
  const pollSeconds = 0.5;
  const config = {
    site: 'bench',
    host: 'bench',
    store: `local:${join(root, 'store')}`,
    hostsdir,
    stateFile: join(root, 'state', 'state.json'),
    readyFile: join(root, 'state', 'ready'),
    service: { mode: 'none' },
    pollIntervalSeconds: pollSeconds,
    pollJitter: 0,
    logLevel: 'info',
  };
  writeFileSync(join(root, 'agent.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, bundle, 'agent', 'run', '--config', join(root, 'agent.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const t0 = performance.now();
  try {
    while (!existsSync(config.readyFile)) {
      if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
      if (performance.now() - t0 > 120_000) throw new Error('agent not ready after 120 s');
      await sleep(50);
    }
    await sleep(polls * pollSeconds * 1000 + 200);
    const rssMb = statusKb(child.pid!, 'VmRSS') / 1024;
    const hwmMb = statusKb(child.pid!, 'VmHWM') / 1024;
    // A site whose policy keeps changing: each applied manifest replaces the previous one in memory. VmRSS is read
    // every 20 ms from the publish until the agent has applied it and a poll interval more has passed, so the
    // highest sample includes the apply itself (parse, diff, writes) and not only the state after the collection.
    const base = basePolicy(n);
    const churned = churnedPolicy(n);
    let churnRssMaxMb = 0;
    for (let i = 0; i < changes; i++) {
      const r = await publishPolicy({ store, site: 'bench', policy: i % 2 === 0 ? churned : base, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
      const generation = r.manifest.generation;
      const t1 = performance.now();
      let appliedAt: number | undefined;
      while (appliedAt === undefined || performance.now() - appliedAt < pollSeconds * 1000) {
        if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
        if (performance.now() - t1 > 30_000) throw new Error(`generation ${generation} not applied after 30 s`);
        churnRssMaxMb = Math.max(churnRssMaxMb, statusKb(child.pid!, 'VmRSS') / 1024);
        if (appliedAt === undefined && appliedGeneration(config.stateFile) === generation) appliedAt = performance.now();
        await sleep(20);
      }
    }
    return { rssMb, hwmMb, churnRssMaxMb, polls, waitedMs: performance.now() - t0 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    rmSync(root, { recursive: true, force: true });
  }
}
