/**
 * `npm run bench [-- --sizes 1000,10000,100000 --runs 3 --reference --write-docs --out FILE]`
 * Two kinds of case, each in fresh processes, several runs, medians with min–max:
 * - in-process (bench/case.ts, an esbuild bundle so neither tsx nor a test runner is in the figures): the agent
 *   daemon's own code path, timed inside the process — first fill and restart are its start-up (purge, fetch,
 *   verify, full sync), no-change is one turn of its loop, churn one poll applying 50 flips + 25 removed + 25 added;
 *   per-MAC and sharded (256 shards). Floors (bench/floor.ts): the writer's file-system calls with no product logic.
 * - whole process, timed from spawn to exit, as a user pays it: `agent once` of the built agent bundle
 *   (`npm run build`) filling an empty directory, per-MAC and sharded; `compute` of the same bundle on N-port Ironic
 *   exports; and the JSON floor (bench/json-floor.ts): a node process that only reads and parses those files.
 * `--reference` runs the real ironic-inspector filter (Debian python3-ironic-inspector, installed here if missing)
 * on the same inputs in the same run: its in-process time, and its whole process from spawn to exit.
 * Also: the real daemon's steady-state RSS (bench/steady-rss.ts).
 * Output: tables and MET/MISS per target on stdout, a JSON result file, and with `--write-docs` the plot
 * (docs/bench.svg), the result file (docs/bench-results.json) and the generated blocks of README.md and
 * docs/performance.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { commanderLazyChildProcess, zodEnglishOnly } from '../scripts/esbuild-plugins.mjs';
import { buildExecutable } from '../scripts/build-sea.mjs';
import { AGENT_NODE_FLAGS } from '../agent/heap.ts';
import { ironicExports } from './data.ts';
import { type BenchResult, type Machine, type Sample, plotPanels, readmeBlock, replaceBlock, resultsBlock, stats, targetLines } from './report.ts';
import { plotSvg } from './plot.ts';
import { buildAgentBundle, steadyStateRss } from './steady-rss.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    runs: { type: 'string', default: '3' },
    reference: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    /** Only these cases (comma-separated names as in the tables, e.g. agent-once,compute,json-floor,first-fill). */
    only: { type: 'string' },
    'no-steady': { type: 'boolean', default: false },
    dir: { type: 'string' },
    out: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const runs = Number(values.runs);
const only = values.only ? new Set(values.only.split(',')) : undefined;
const wanted = (kind: string) => !only || only.has(kind);
const base = values.dir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const work = join(base, `pxe-filter-bench-${process.pid}`);
const fsType = spawnSync('stat', ['-f', '-c', '%T', base], { encoding: 'utf8' }).stdout.trim();
mkdirSync(work, { recursive: true });
const started = performance.now();

const bundleDir = join(tmpdir(), `pxe-filter-bench-bundle-${process.pid}`);
await build({
  entryPoints: { case: 'bench/case.ts', 'json-floor': 'bench/json-floor.ts' },
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
  plugins: [zodEnglishOnly, commanderLazyChildProcess],
});

const PER_MAC_CASES = ['floor-fill', 'first-fill', 'no-change-poll', 'no-change-rescan', 'churn', 'floor-restart', 'restart'] as const;
const SHARDED_CASES = ['first-fill', 'no-change-poll', 'churn', 'restart'] as const;
/** Our case → the reference's: its no-change sync is what our poll replaces (it re-stats the whole directory). */
const REFERENCE = { 'first-fill': 'first-fill', 'no-change-poll': 'no-change', churn: 'churn', restart: 'restart' } as const;

function runCase(cmd: string, args: string[]): Sample {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const processWallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Sample), processWallMs };
}

// Whole processes: wall from spawn to exit; CPU and peak RSS of the child from GNU time when it is installed.
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
function runProcess(args: string[]): Sample {
  const timeFile = join(work, 'time.out');
  const [cmd, ...rest] = GNU_TIME ? [GNU_TIME, '-f', '%U %S %M', '-o', timeFile, ...args] : args;
  const t0 = performance.now();
  const r = spawnSync(cmd!, rest, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  if (!GNU_TIME) return { wallMs, cpuMs: NaN, maxRssMb: NaN };
  const [user, sys, rssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs, cpuMs: (user! + sys!) * 1000, maxRssMb: rssKb! / 1024 };
}

function record(r: Omit<BenchResult, 'wall' | 'cpu' | 'rss' | 'processWall'>, samples: Sample[]) {
  const result: BenchResult = { ...r, wall: stats(samples, 'wallMs'), cpu: stats(samples, 'cpuMs'), rss: stats(samples, 'maxRssMb'), writes: samples[0]!.writes };
  if (samples[0]!.processWallMs !== undefined) result.processWall = stats(samples, 'processWallMs');
  results.push(result);
  progress(`${r.impl} ${r.layout ?? ''} ${r.case} n=${r.n}: ${result.wall!.median.toFixed(1)} ms`);
}

if (values.reference) ensureReference();
const agentBundle = buildAgentBundle(join(bundleDir, 'agent')); // its own directory: the build replaces its chunks/
// /usr/bin/pxe-filter of the Debian package (the same code as one script with V8's code cache, in node's binary).
const executable = join(bundleDir, 'pxe-filter');
if (wanted('agent-once')) await buildExecutable(executable, join(bundleDir, 'sea-build'));

const results: BenchResult[] = [];
const repeat = <T>(fn: () => T) => Array.from({ length: runs }, fn);
for (const n of sizes) {
  const dir = join(work, `hostsdir-${n}`);
  // In-process: the daemon's code path.
  for (const kind of PER_MAC_CASES.filter(wanted)) {
    record({ impl: 'pxe-filter', layout: 'per-mac', scope: 'in-process', case: kind, n }, repeat(() => runCase(process.execPath, [...AGENT_NODE_FLAGS, join(bundleDir, 'case.mjs'), kind, String(n), dir, 'per-mac'])));
  }
  for (const kind of SHARDED_CASES.filter(wanted)) {
    record({ impl: 'pxe-filter', layout: 'sharded', scope: 'in-process', case: kind, n }, repeat(() => runCase(process.execPath, [...AGENT_NODE_FLAGS, join(bundleDir, 'case.mjs'), kind, String(n), dir, 'sharded'])));
  }

  // Whole processes: compute on N-port exports, its JSON floor, then `agent once` on the manifest it wrote.
  const ex = ironicExports(n);
  const portsFile = join(work, `ports-${n}.json`);
  const nodesFile = join(work, `nodes-${n}.json`);
  const manifestFile = join(work, `manifest-${n}.json`);
  writeFileSync(portsFile, JSON.stringify(ex.ports));
  writeFileSync(nodesFile, JSON.stringify(ex.nodes));
  if (wanted('json-floor')) record({ impl: 'pxe-filter', scope: 'process', case: 'json-floor', n }, repeat(() => runProcess([process.execPath, join(bundleDir, 'json-floor.mjs'), portsFile, nodesFile])));
  // Always run once at least: it writes the manifest `agent once` applies.
  record(
    { impl: 'pxe-filter', scope: 'process', case: 'compute', n },
    (wanted('compute') ? repeat : (fn: () => Sample) => [fn()])(() => runProcess([process.execPath, agentBundle, 'compute', '--site', 'bench', '--ports', portsFile, '--nodes', nodesFile, '--out', manifestFile, '--force'])),
  );
  for (const layout of wanted('agent-once') ? (['per-mac', 'sharded'] as const) : []) {
    const once = (command: string[]) =>
      repeat(() => {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        return runProcess([...command, 'agent', 'once', '--manifest', manifestFile, '--hostsdir', dir, '--service', 'none', '--layout', layout]);
      });
    record({ impl: 'pxe-filter', layout, scope: 'process', case: 'agent-once', n }, once([process.execPath, agentBundle]));
    record({ impl: 'pxe-filter', layout, scope: 'process', case: 'agent-once-executable', n }, once([executable]));
  }
  rmSync(dir, { recursive: true, force: true });

  const steady: Awaited<ReturnType<typeof steadyStateRss>>[] = [];
  for (let i = 0; i < (values['no-steady'] || !wanted('agent-steady-rss') ? 0 : runs); i++) steady.push(await steadyStateRss(agentBundle, join(work, `agent-${n}`), n));
  const rssOf = (k: 'rssMb' | 'hwmMb' | 'churnRssMaxMb') => stats(steady.map((s) => ({ wallMs: s[k], cpuMs: 0, maxRssMb: 0 })), 'wallMs');
  if (steady.length) results.push({ impl: 'pxe-filter', scope: 'process', case: 'agent-steady-rss', n, steadyRss: rssOf('rssMb'), peakRss: rssOf('hwmMb'), churnRss: rssOf('churnRssMaxMb') });
  if (steady.length) progress(`pxe-filter agent steady-state RSS n=${n}: ${rssOf('rssMb').median.toFixed(1)} MB (peak ${rssOf('hwmMb').median.toFixed(1)} MB; under changes ≤ ${rssOf('churnRssMaxMb').median.toFixed(1)} MB)`);

  if (values.reference) {
    for (const [ours, ref] of Object.entries(REFERENCE).filter(([ours]) => wanted(ours) || (ours === 'first-fill' && wanted('agent-once')))) {
      record({ impl: 'reference', scope: 'in-process', case: ours, n }, repeat(() => runCase('/usr/bin/python3', ['bench/reference_filter.py', ref, String(n), join(work, `ref-${n}`)])));
    }
    rmSync(join(work, `ref-${n}`), { recursive: true, force: true });
  }
}
execFileSync('rm', ['-rf', work, bundleDir]);

const machine: Machine = {
  date: new Date().toISOString(),
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  dir: base,
  fsType,
  runs,
  sizes,
  durationS: Math.round((performance.now() - started) / 1000),
  cpuPressure: readCpuPressure(),
};
const doc = { machine, results };
const outFile = values.out ?? join('bench', 'results', `bench-${machine.date.replaceAll(':', '')}.json`);
mkdirSync(join(outFile, '..'), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(doc, null, 2)}\n`);
const svg = plotSvg(plotPanels(doc), {
  title: `npm run bench: time against N (log–log), ${machine.date.slice(0, 10)}`,
  caption: `medians of ${runs}; ${machine.cpus}, shared machine; hosts dir on ${fsType}; in-process = timed inside the process, whole process = spawn to exit`,
});
process.stdout.write(`${resultsBlock(doc)}\n\n${targetLines(doc).join('\n')}\n\nresults: ${outFile}\n`);
if (values['write-docs']) {
  writeFileSync('docs/bench.svg', svg);
  writeFileSync('docs/bench-results.json', `${JSON.stringify(doc, null, 2)}\n`);
  replaceBlock('README.md', 'bench:readme', readmeBlock(doc));
  replaceBlock('docs/performance.md', 'bench:results', `${resultsBlock(doc)}\n\n${targetLines(doc).join('\n')}`);
  process.stdout.write('wrote docs/bench.svg, docs/bench-results.json and the generated blocks of README.md and docs/performance.md\n');
} else {
  const svgFile = outFile.replace(/\.json$/, '') + '.svg';
  writeFileSync(svgFile, svg);
  process.stdout.write(`plot: ${svgFile} (--write-docs updates docs/ and the README)\n`);
}
progress(`bench took ${machine.durationS} s`);

function progress(msg: string) {
  process.stderr.write(`${msg}\n`);
}

/** The machine's CPU pressure while the bench ran (PSI avg300), so a reader can tell a busy run. */
function readCpuPressure(): string | undefined {
  try {
    return readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0];
  } catch {
    return undefined;
  }
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
