/**
 * Agent benchmark (not a test: numbers only). Run: `npx tsx bench/agent-apply.ts [--sizes 10000,100000]`.
 * 1. The real daemon (in-process, local store, service none) at N MACs on tmpfs and on disk:
 *    first fill, a no-change poll, 50 flips; and, for comparison, the full scan + diff a no-change poll avoids.
 * 2. Pacing: a stand-in for dnsmasq's inotify reader (bench/inotify-probe.c, needs gcc) that burns a fixed CPU
 *    cost per event, against writes of the agent's own applyPlanToDirectory, paced or not: did the 16,384-event
 *    queue overflow, and how many files would dnsmasq have missed?
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { resolveConfig } from '../agent/config.ts';
import { AgentDaemon } from '../agent/daemon.ts';
import { applyPlanToDirectory, readDirectory } from '../agent/hostsdir-io.ts';
import { serviceControl } from '../agent/service.ts';
import { diffDirectory } from '../core/hostsdir.ts';
import type { Mac } from '../core/mac.ts';
import type { Policy } from '../core/policy.ts';
import { publishPolicy } from '../control/publish.ts';
import { LocalStore } from '../store/local-store.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const sizes = arg('sizes', '10000,100000').split(',').map(Number);
const mac = (i: number) => `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` as Mac;
const policy = (allow: Mac[], deny: Mac[]): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [...allow].sort(), deny: [...deny].sort() });
const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const filesystems = [
  { name: 'tmpfs (/dev/shm)', base: '/dev/shm' },
  { name: 'disk (/var/tmp, ext4)', base: '/var/tmp' },
].filter((f) => existsSync(f.base));

async function applyFigures(base: string, n: number) {
  const root = mkdtempSync(join(base, 'pxe-bench-'));
  try {
    const hostsdir = join(root, 'hostsdir');
    mkdirSync(hostsdir);
    const store = new LocalStore(join(root, 'store'));
    const macs = Array.from({ length: n }, (_, i) => mac(i));
    const allow = macs.slice(0, n / 10);
    const deny = macs.slice(n / 10);
    const publish = (p: Policy) => publishPolicy({ store, site: 'dc1', policy: p, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
    await publish(policy(allow, deny));
    const config = resolveConfig(
      { site: 'dc1', host: 'bench', store: `local:${root}/store`, hostsdir, stateFile: join(root, 'state', 'state.json'), readyFile: join(root, 'state', 'ready'), service: { mode: 'none' }, purge: true },
      {},
      {},
    );
    const controller = new AbortController();
    const daemon = new AgentDaemon({ config, store, service: serviceControl({ mode: 'none' }), log: pino({ level: 'silent' }), signal: controller.signal });

    let t0 = performance.now();
    await daemon.init();
    const firstFill = ms(t0);

    const polls: number[] = [];
    for (let i = 0; i < 20; i++) {
      t0 = performance.now();
      await daemon.poll();
      polls.push(ms(t0));
    }
    if (daemon.stats.scans !== 1) throw new Error(`no-change polls scanned the directory (${daemon.stats.scans} scans)`);

    t0 = performance.now();
    const scanned = await readDirectory(hostsdir);
    diffDirectory(policy(allow, deny), scanned);
    const scanDiff = ms(t0);

    const writesBefore = daemon.stats.writes;
    await publish(policy([...allow.slice(25), ...deny.slice(0, 25)], [...deny.slice(25), ...allow.slice(0, 25)]));
    t0 = performance.now();
    await daemon.poll();
    const flips = ms(t0);
    const flipWrites = daemon.stats.writes - writesBefore;
    if (flipWrites !== 50) throw new Error(`50 flips wrote ${flipWrites} files`);
    if (daemon.stats.scans !== 1 || daemon.stats.reloads !== 0) throw new Error(`50 flips scanned or reloaded (${JSON.stringify(daemon.stats)})`);
    const flipApply = daemon.buildReport().durationMs;
    await daemon.shutDown();
    return { firstFill, filesPerSecond: Math.round((n + 1) / (firstFill / 1000)), noChangePollMedian: median(polls), noChangePollMax: Math.max(...polls), scanDiff, flips, flipApply };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function buildProbe(): string | undefined {
  const out = join(tmpdir(), 'pxe-inotify-probe');
  try {
    execFileSync('gcc', ['-O2', '-o', out, 'bench/inotify-probe.c']);
    return out;
  } catch {
    return undefined;
  }
}

/** Write `files` new files with the agent's writer while the probe consumes events at `costUs` per event. */
async function pacingRun(probe: string, base: string, files: number, costUs: number, pacing?: { batchSize: number; pauseMs: number }) {
  const root = mkdtempSync(join(base, 'pxe-pace-'));
  try {
    const child = spawn(probe, [root, String(costUs), '1500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 5));
    const plan = diffDirectory(policy([], Array.from({ length: files }, (_, i) => mac(i))), new Map());
    plan.writes = plan.writes.filter((w) => w.name !== 'unknown_hosts_filter');
    const t0 = performance.now();
    await applyPlanToDirectory(root, plan, undefined, pacing);
    const writeMs = ms(t0);
    await new Promise((r) => child.on('exit', r));
    const result = JSON.parse(out.slice(out.indexOf('{'))) as { events: number; files: number; hidden: number; overflows: number };
    return { files, costUs, pacing: pacing ? `${pacing.batchSize}/${pacing.pauseMs}ms` : 'none', writeMs, seen: result.files, missed: files - result.files, overflow: result.overflows > 0 };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const results: Record<string, unknown> = { node: process.version, at: new Date().toISOString(), apply: [], pacing: [] };
for (const fs of filesystems) {
  for (const n of sizes) {
    const r = await applyFigures(fs.base, n);
    (results.apply as unknown[]).push({ fs: fs.name, macs: n, ...r });
    console.log(JSON.stringify({ fs: fs.name, macs: n, ...r }));
  }
}
const probe = buildProbe();
if (probe) {
  // Per-event costs: ~0 (idle reader), 50 µs (dnsmasq at ~1-10k records), 250 µs (~20k), 4,000 µs (50k rewrites).
  const runs: [number, number, { batchSize: number; pauseMs: number } | undefined][] = [
    [8000, 0, undefined],
    [8000, 4000, undefined],
    [4000, 4000, undefined],
    [20000, 50, undefined],
    [20000, 250, undefined],
    [20000, 250, { batchSize: 1000, pauseMs: 100 }],
    [30000, 4000, undefined],
    [30000, 50, { batchSize: 1000, pauseMs: 100 }],
  ];
  for (const [files, cost, pacing] of runs) {
    const r = await pacingRun(probe, '/dev/shm', files, cost, pacing);
    (results.pacing as unknown[]).push(r);
    console.log(JSON.stringify(r));
  }
} else {
  console.log('gcc not found: pacing runs skipped');
}
mkdirSync('bench/results', { recursive: true });
const { writeFileSync } = await import('node:fs');
writeFileSync(`bench/results/agent-apply-${Date.now()}.json`, `${JSON.stringify(results, null, 2)}\n`);
