/**
 * Pacing benchmark (not a test: numbers only). Run: `npx tsx bench/agent-apply.ts`.
 * The daemon's apply figures (first fill, no-change poll, churn, restart; tmpfs or `--dir /var/tmp`) are in
 * `npm run bench` (bench/run.ts). Here: pacing — a stand-in for dnsmasq's inotify reader (bench/inotify-probe.c,
 * needs gcc) that burns a fixed CPU cost per event, against writes of the agent's own applyPlanToDirectory, paced or
 * not: did the 16,384-event queue overflow, and how many files would dnsmasq have missed?
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPlanToDirectory } from '../agent/hostsdir-io.ts';
import { diffDirectory } from '../core/hostsdir.ts';
import type { Mac } from '../core/mac.ts';
import type { Policy } from '../core/policy.ts';

const mac = (i: number) => `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` as Mac;
const policy = (allow: Mac[], deny: Mac[]): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [...allow].sort(), deny: [...deny].sort() });
const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

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

const results: Record<string, unknown> = { node: process.version, at: new Date().toISOString(), pacing: [] };
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
