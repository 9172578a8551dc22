/**
 * `npm run bench [-- --sizes 1000,10000,100000 --runs 3 --reference --out FILE]`
 * Every case runs in a fresh plain-node process (an esbuild bundle, so neither tsx nor the test runner is in the
 * figures), several times; prints median/min/max of wall, CPU and peak RSS, and writes a JSON result file.
 * `--reference` runs the real ironic-inspector filter (Debian python3-ironic-inspector, installed here if missing)
 * on the same inputs in the same run and prints our-vs-reference ratios.
 * Cases (bench/case.ts): the agent daemon's own code path — first fill and restart are its start-up (purge, fetch,
 * verify, full sync), no-change is one turn of its loop (pointer read + status file), churn is a poll that applies
 * 50 flips + 25 removed + 25 added. Floors (bench/floor.ts): the writer's file-system calls with no product logic.
 * Also: the real daemon's steady-state RSS (bench/steady-rss.ts) and a cold `compute` process (bench/compute-entry.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { AGENT_NODE_FLAGS } from '../agent/heap.ts';
import { ironicExports } from './data.ts';
import { buildAgentBundle, steadyStateRss } from './steady-rss.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    runs: { type: 'string', default: '3' },
    reference: { type: 'boolean', default: false },
    dir: { type: 'string' },
    out: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const runs = Number(values.runs);
const base = values.dir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const work = join(base, `pxe-filter-bench-${process.pid}`);
const fsType = spawnSync('stat', ['-f', '-c', '%T', base], { encoding: 'utf8' }).stdout.trim();
mkdirSync(work, { recursive: true });

const bundleDir = join(tmpdir(), `pxe-filter-bench-bundle-${process.pid}`);
await build({
  entryPoints: { case: 'bench/case.ts', compute: 'bench/compute-entry.ts' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: bundleDir,
  outExtension: { '.js': '.mjs' },
  // Split like `npm run build` (scripts/build-agent.mjs): a command's code is loaded when it runs.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'error',
});

const OURS = ['floor-fill', 'first-fill', 'no-change-poll', 'no-change-rescan', 'churn', 'floor-restart', 'restart'] as const;
/** Our case → the reference's: its no-change sync is what our poll replaces (it re-stats the whole directory). */
const REFERENCE = { 'first-fill': 'first-fill', 'no-change-poll': 'no-change', churn: 'churn', restart: 'restart' } as const;
type Sample = { wallMs: number; cpuMs: number; maxRssMb: number; writes?: number };

function runCase(cmd: string, args: string[]): Sample {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Sample;
}

function stats(samples: Sample[], key: keyof Sample) {
  const v = samples.map((s) => Number(s[key] ?? NaN)).sort((a, b) => a - b);
  return { median: v[Math.floor(v.length / 2)]!, min: v[0]!, max: v.at(-1)! };
}

if (values.reference) ensureReference();
const agentBundle = buildAgentBundle(join(bundleDir, 'agent')); // its own directory: the build replaces its chunks/

const results: Record<string, unknown>[] = [];
for (const n of sizes) {
  const dir = join(work, `hostsdir-${n}`);
  for (const kind of OURS) {
    const samples = Array.from({ length: runs }, () => runCase(process.execPath, [...AGENT_NODE_FLAGS, join(bundleDir, 'case.mjs'), kind, String(n), dir]));
    results.push({ impl: 'pxe-filter', case: kind, n, wall: stats(samples, 'wallMs'), cpu: stats(samples, 'cpuMs'), rss: stats(samples, 'maxRssMb'), writes: samples[0]!.writes });
    progress(`pxe-filter ${kind} n=${n}: ${stats(samples, 'wallMs').median.toFixed(1)} ms`);
  }
  // compute: a cold process of the real CLI on N-port exports.
  const ex = ironicExports(n);
  const portsFile = join(work, `ports-${n}.json`);
  const nodesFile = join(work, `nodes-${n}.json`);
  writeFileSync(portsFile, JSON.stringify(ex.ports));
  writeFileSync(nodesFile, JSON.stringify(ex.nodes));
  const computeSamples = Array.from({ length: runs }, () => {
    const r = spawnSync(process.execPath, [join(bundleDir, 'compute.mjs'), 'compute', '--site', 'bench', '--ports', portsFile, '--nodes', nodesFile, '--out', join(work, `m-${n}.json`), '--force'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`compute failed: ${r.stderr}`);
    return JSON.parse(r.stderr.trim().split('\n').at(-1)!) as Sample;
  });
  const steady: Awaited<ReturnType<typeof steadyStateRss>>[] = [];
  for (let i = 0; i < runs; i++) steady.push(await steadyStateRss(agentBundle, join(work, `agent-${n}`), n));
  const rssOf = (k: 'rssMb' | 'hwmMb' | 'churnRssMaxMb') => stats(steady.map((s) => ({ wallMs: s[k], cpuMs: 0, maxRssMb: 0 })), 'wallMs');
  results.push({ impl: 'pxe-filter', case: 'agent-steady-rss', n, steadyRss: rssOf('rssMb'), peakRss: rssOf('hwmMb'), churnRss: rssOf('churnRssMaxMb') });
  progress(`pxe-filter agent steady-state RSS n=${n}: ${rssOf('rssMb').median.toFixed(1)} MB (peak ${rssOf('hwmMb').median.toFixed(1)} MB; under changes ≤ ${rssOf('churnRssMaxMb').median.toFixed(1)} MB)`);
  results.push({ impl: 'pxe-filter', case: 'compute', n, wall: stats(computeSamples, 'wallMs'), cpu: stats(computeSamples, 'cpuMs'), rss: stats(computeSamples, 'maxRssMb') });
  progress(`pxe-filter compute n=${n}: ${stats(computeSamples, 'wallMs').median.toFixed(1)} ms`);

  if (values.reference) {
    for (const [ours, ref] of Object.entries(REFERENCE)) {
      const samples = Array.from({ length: runs }, () => runCase('/usr/bin/python3', ['bench/reference_filter.py', ref, String(n), join(work, `ref-${n}`)]));
      results.push({ impl: 'reference', case: ours, n, wall: stats(samples, 'wallMs'), cpu: stats(samples, 'cpuMs'), rss: stats(samples, 'maxRssMb'), writes: samples[0]!.writes });
      progress(`reference ${ref} n=${n}: ${stats(samples, 'wallMs').median.toFixed(1)} ms`);
    }
  }
}
execFileSync('rm', ['-rf', work, bundleDir]);

const machine = { date: new Date().toISOString(), cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, dir: base, fsType, runs };
const outFile = values.out ?? join('bench', 'results', `bench-${machine.date.replaceAll(':', '')}.json`);
mkdirSync(join(outFile, '..'), { recursive: true });
writeFileSync(outFile, `${JSON.stringify({ machine, results }, null, 2)}\n`);
printTable();

function find(impl: string, kind: string, n: number) {
  return results.find((r) => r.impl === impl && r.case === kind && r.n === n) as { wall: { median: number; min: number; max: number }; cpu: { median: number }; rss: { median: number }; writes?: number; steadyRss?: number } | undefined;
}

function printTable() {
  const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
  const lines = [
    `machine: ${machine.cpus}, ${machine.memGiB} GiB, node ${machine.node}; hosts dir on ${base} (${fsType}); ${runs} runs each; ${machine.date}`,
    '',
    '| case | N | wall ms median (min–max) | CPU ms | peak RSS MB (whole case process, set-up included) | files written | reference wall ms | reference ÷ ours |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const n of sizes) {
    for (const kind of [...OURS, 'compute']) {
      const r = find('pxe-filter', kind, n);
      if (!r) continue;
      const ref = find('reference', kind, n);
      lines.push(
        `| ${kind} | ${n} | ${fmt(r.wall.median)} (${fmt(r.wall.min)}–${fmt(r.wall.max)}) | ${fmt(r.cpu.median)} | ${r.rss.median.toFixed(0)} | ${r.writes ?? ''} | ${ref ? fmt(ref.wall.median) : ''} | ${ref ? `${(ref.wall.median / r.wall.median).toFixed(1)}×` : ''} |`,
      );
    }
  }
  lines.push('', '| agent steady state (real daemon, after apply + polls) | N | VmRSS MB median (min–max) | VmHWM (peak) MB | highest VmRSS while applying 10 changes (sampled every 20 ms), median (min–max) |', '|---|---:|---:|---:|---:|');
  for (const n of sizes) {
    type Stat = { median: number; min: number; max: number };
    const s = results.find((x) => x.case === 'agent-steady-rss' && x.n === n) as { steadyRss: Stat; peakRss: Stat; churnRss: Stat } | undefined;
    const range = (v: Stat) => `${v.median.toFixed(0)} (${v.min.toFixed(0)}–${v.max.toFixed(0)})`;
    if (s) lines.push(`| agent run | ${n} | ${range(s.steadyRss)} | ${s.peakRss.median.toFixed(0)} | ${range(s.churnRss)} |`);
  }
  const big = Math.max(...sizes);
  const t = (label: string, ok: boolean | undefined, figure: string) => lines.push(`- ${ok === undefined ? 'n/a ' : ok ? 'MET ' : 'MISS'} ${label}: ${figure}`);
  const r = (k: string, impl = 'pxe-filter') => find(impl, k, big);
  lines.push('', `targets at N=${big}:`);
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a / b : undefined);
  const ff = ratio(r('first-fill')?.wall.median, r('floor-fill')?.wall.median);
  t('first fill ≤ 1.3× floor', ff === undefined ? undefined : ff <= 1.3, `${ff?.toFixed(2)}×`);
  const rs = ratio(r('restart')?.wall.median, r('floor-restart')?.wall.median);
  t('restart ≤ 1.5× floor', rs === undefined ? undefined : rs <= 1.5, `${rs?.toFixed(2)}×`);
  const nc = ratio(r('no-change-poll', 'reference')?.wall.median, r('no-change-poll')?.wall.median);
  t('no-change sync ≥ 100× faster than reference', nc === undefined ? undefined : nc >= 100, nc === undefined ? 'run with --reference' : `${nc.toFixed(0)}×`);
  const ch = ratio(r('churn', 'reference')?.wall.median, r('churn')?.wall.median);
  t('50-flip sync ≥ 25× faster than reference', ch === undefined ? undefined : ch >= 25, ch === undefined ? 'run with --reference' : `${ch.toFixed(1)}× (${r('churn')?.writes} files written)`);
  const c = r('compute');
  t('compute ≤ 300 ms and ≤ 256 MB (cold process)', c ? c.wall.median <= 300 && c.rss.median <= 256 : undefined, `${c?.wall.median.toFixed(0)} ms, ${c?.rss.median.toFixed(0)} MB`);
  const steady = (results.find((x) => x.case === 'agent-steady-rss' && x.n === big) as { steadyRss: { median: number }; peakRss: { median: number }; churnRss: { median: number } } | undefined);
  t(
    'agent steady-state RSS ≤ 120 MB',
    steady === undefined ? undefined : steady.steadyRss.median <= 120,
    `${steady?.steadyRss.median.toFixed(0)} MB between polls; highest sample while applying changes ${steady?.churnRss.median.toFixed(0)} MB; VmHWM ${steady?.peakRss.median.toFixed(0)} MB (the first sync)`,
  );
  lines.push('', `results: ${outFile}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function progress(msg: string) {
  process.stderr.write(`${msg}\n`);
}

function ensureReference() {
  const probe = () => spawnSync('/usr/bin/python3', ['-c', 'import ironic_inspector.pxe_filter.dnsmasq'], { stdio: 'ignore' }).status === 0;
  if (probe()) return;
  progress('installing the reference: apt-get install python3-ironic-inspector');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=600', 'python3-ironic-inspector'], { stdio: 'inherit', env });
  if (!probe()) throw new Error('python3-ironic-inspector is not importable after install');
}
