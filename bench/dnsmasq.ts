/**
 * dnsmasq benchmark, per-MAC vs sharded hosts directory (not a test: numbers only; needs root, `ip netns`,
 * /usr/sbin/dnsmasq). Run: `npm run bench:dnsmasq [-- --sizes 10000,50000 --layouts per-mac,sharded:256 --reps 3]`.
 *
 * A real dnsmasq 2.90 in a network namespace (the e2e rig: test/e2e/support), DISCOVERs from another one.
 * Per layout and size, `reps` times: the agent's full sync into an empty directory (agent apply time), dnsmasq
 * started on it (its CPU until idle, and how long a DISCOVER sent right after exec waits for its OFFER), a SIGHUP
 * (CPU), and an incremental change of 50 MACs applied by the daemon's path (dnsmasq CPU, agent wall and CPU).
 * dnsmasq CPU is per process (schedstat ns, utime+stime ticks as a cross-check): robust to other load on the
 * machine; wall times are not. Medians are reported.
 * `--rss`: dnsmasq RSS over 10,000 single-MAC changes at `--rss-size` MACs: per-MAC, sharded without compaction,
 * sharded with the daemon's compaction rule (reload after `compaction.reloadAfterRecords` rewritten records).
 * Output: a table on stdout and JSON in bench/results/dnsmasq-<date>.json (or --out).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CompactionConfigSchema } from '../agent/config.ts';
import { syncDirectory } from '../agent/sync.ts';
import type { DirectoryState } from '../core/hostsdir.ts';
import type { Layout } from '../core/hostsdir-layout.ts';
import { LayoutSchema } from '../core/layout-schema.ts';
import type { Mac } from '../core/mac.ts';
import { type Manifest, buildManifest } from '../core/manifest.ts';
import type { Policy } from '../core/policy.ts';
import { type DnsmasqRig, createDnsmasqRig, destroyDnsmasqRig, stopDnsmasq } from '../test/e2e/support/dnsmasq.ts';
import { DNSMASQ } from '../test/e2e/support/env.ts';
import { type NetnsPair, createNetnsPair, destroyNetnsPair } from '../test/e2e/support/netns.ts';
import { Prober } from '../test/e2e/support/prober.ts';
import { isAlive, sleep } from '../test/e2e/support/run.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,50000' },
    layouts: { type: 'string', default: 'per-mac,sharded:64,sharded:256,sharded:1024' },
    reps: { type: 'string', default: '3' },
    rss: { type: 'boolean', default: false },
    'rss-only': { type: 'boolean', default: false },
    'rss-size': { type: 'string', default: '10000' },
    'rss-changes': { type: 'string', default: '10000' },
    /** Compaction threshold for the "with compaction" run (default: the agent's compaction.reloadAfterRecords). */
    'rss-reload-after': { type: 'string' },
    /** Which RSS runs: per-mac, none (sharded without compaction), compact (sharded with it). */
    'rss-variants': { type: 'string', default: 'per-mac,none,compact' },
    out: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const reps = Number(values.reps);
const layouts: Layout[] = values.layouts.split(',').map((s) => LayoutSchema.parse(s === 'per-mac' ? { kind: 'per-mac' } : { kind: 'sharded', shards: Number(s.split(':')[1] ?? 256) }));
const CHANGE = 50;
const TICK_MS = 1000 / 100; // USER_HZ

const layoutName = (l: Layout) => (l.kind === 'per-mac' ? 'per-mac' : `sharded/${l.shards}`);
const mac = (i: number) => `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` as Mac;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** dnsmasq's CPU so far: schedstat (ns) and utime+stime (ticks of 10 ms). */
function cpuOf(pid: number): { ns: number; ticksMs: number } {
  const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ns, ticksMs: (Number(f[11]) + Number(f[12])) * TICK_MS };
}
const cpuMs = (a: { ns: number; ticksMs: number }, b: { ns: number; ticksMs: number }) => ({ ms: round((b.ns - a.ns) / 1e6), ticksMs: b.ticksMs - a.ticksMs });

function rssKb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** Wait until dnsmasq has used no CPU for `quietMs` (it is idle: the work that was queued is done). */
async function quiesce(pid: number, quietMs = 300): Promise<void> {
  let last = cpuOf(pid).ns;
  let since = performance.now();
  for (;;) {
    await sleep(20);
    const now = cpuOf(pid).ns;
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return;
  }
}

/** dnsmasq started directly (PID known at exec, so a DISCOVER can follow at once); stopped by PID. */
function spawnDnsmasq(rig: DnsmasqRig): number {
  const log = openSync(rig.logPath, 'a');
  // The rig's configuration (logging included: dnsmasq logs a line per file it reads, part of its real cost).
  const child = spawn('ip', ['netns', 'exec', rig.pair.srv, DNSMASQ, `--conf-file=${join(rig.runDir, 'dnsmasq.conf')}`], {
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error('dnsmasq did not start');
  return child.pid; // `ip netns exec` execs dnsmasq: same PID
}

async function stop(rig: DnsmasqRig, pid: number): Promise<void> {
  await stopDnsmasq(rig);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(20);
}

function manifestOf(policy: Policy, generation: number): Manifest {
  return buildManifest({ site: 'bench', generation, createdAt: new Date(), inputs: [], policy });
}
const policyOf = (allow: Mac[], deny: Mac[]): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [...allow].sort(), deny: [...deny].sort() });

/** Flip `count` MACs starting at `from` (allow↔deny), as a new policy. */
function flipped(p: Policy, macs: Mac[]): Policy {
  const toAllow = new Set(macs.filter((m) => p.deny.includes(m)));
  const toDeny = new Set(macs.filter((m) => p.allow.includes(m)));
  return policyOf([...p.allow.filter((m) => !toDeny.has(m)), ...toAllow], [...p.deny.filter((m) => !toAllow.has(m)), ...toDeny]);
}

interface Rep {
  applyMs: number;
  startupCpuMs: number;
  startupTicksMs: number;
  startupWallMs: number;
  dhcpAfterStartMs: number;
  hupCpuMs: number;
  hupTicksMs: number;
  incrementalCpuMs: number;
  incrementalTicksMs: number;
  incrementalAgentMs: number;
  incrementalAgentCpuMs: number;
  incrementalWrites: number;
  rssAfterStartKb: number;
}

async function runCase(pair: NetnsPair, prober: Prober, layout: Layout, n: number): Promise<Rep[]> {
  const all = Array.from({ length: n }, (_, i) => mac(i));
  const base = policyOf(
    all.filter((_, i) => i % 2 === 0),
    all.filter((_, i) => i % 2 === 1),
  );
  const out: Rep[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const rig = await createDnsmasqRig(pair);
    let pid: number | undefined;
    try {
      // Agent apply: the start-up sync (purge, then every file) into an empty directory.
      const t0 = performance.now();
      const sync = await syncDirectory(rig.hostsdir, manifestOf(base, 1), { purge: true, layout });
      const applyMs = performance.now() - t0;

      // Start dnsmasq and send DISCOVERs for an allowed MAC at once: the first OFFER marks the end of its read.
      const started = performance.now();
      pid = spawnDnsmasq(rig);
      const probeMac = base.allow[rep * 7]!;
      // 20 ms per DISCOVER: the first ones may leave before dnsmasq has bound its socket, and are lost.
      await prober.until(probeMac, 'offer', 120_000, 20);
      const dhcpAfterStartMs = performance.now() - started;
      await quiesce(pid);
      const startupWallMs = performance.now() - started;
      const startup = cpuMs({ ns: 0, ticksMs: 0 }, cpuOf(pid));
      const rssAfterStartKb = rssKb(pid);

      const h0 = cpuOf(pid);
      process.kill(pid, 'SIGHUP');
      await sleep(50);
      await quiesce(pid);
      const hup = cpuMs(h0, cpuOf(pid));

      // Incremental: 25 allow→deny and 25 deny→allow, applied by the daemon's steady-state path.
      const macs = Array.from({ length: CHANGE }, (_, k) => all[(k * 9973 + rep * 131) % n]!);
      const next = flipped(base, macs);
      const i0 = cpuOf(pid);
      const a0 = process.cpuUsage();
      const t1 = performance.now();
      const inc = await syncDirectory(rig.hostsdir, manifestOf(next, 2), { purge: false, layout, knownState: sync.state as DirectoryState, previousPolicy: base });
      const incrementalAgentMs = performance.now() - t1;
      const agentCpu = process.cpuUsage(a0);
      await sleep(50);
      await quiesce(pid);
      const incremental = cpuMs(i0, cpuOf(pid));
      // Sanity: the running dnsmasq enforces the change.
      const denied = macs.find((m) => next.deny.includes(m))!;
      const allowed = macs.find((m) => next.allow.includes(m))!;
      const [d, a] = [await prober.probe(denied, 1_000), await prober.probe(allowed, 1_000)];
      if (d.verdict !== 'none' || a.verdict !== 'offer') throw new Error(`${layoutName(layout)} ${n}: wrong verdicts after the change (${denied}=${d.verdict}, ${allowed}=${a.verdict})`);

      out.push({
        applyMs: round(applyMs),
        startupCpuMs: startup.ms,
        startupTicksMs: startup.ticksMs,
        startupWallMs: round(startupWallMs),
        dhcpAfterStartMs: round(dhcpAfterStartMs),
        hupCpuMs: hup.ms,
        hupTicksMs: hup.ticksMs,
        incrementalCpuMs: incremental.ms,
        incrementalTicksMs: incremental.ticksMs,
        incrementalAgentMs: round(incrementalAgentMs),
        incrementalAgentCpuMs: round((agentCpu.user + agentCpu.system) / 1000),
        incrementalWrites: inc.plan.writes.length,
        rssAfterStartKb,
      });
      process.stderr.write(`  ${layoutName(layout)} n=${n} rep ${rep + 1}/${reps}: ${JSON.stringify(out.at(-1))}\n`);
    } finally {
      if (pid !== undefined) await stop(rig, pid);
      await destroyDnsmasqRig(rig);
    }
  }
  return out;
}

interface RssRun {
  variant: string;
  samples: { changes: number; rssKb: number; cpuMs: number; reloads: number }[];
  reloads: number;
  finalRssKb: number;
  cpuMs: number;
}

/** RSS over single-MAC changes, each applied by the daemon's path; `reloadAfter` = the daemon's compaction rule. */
async function rssRun(pair: NetnsPair, layout: Layout, n: number, changes: number, reloadAfter: number | undefined, variant: string): Promise<RssRun> {
  const all = Array.from({ length: n }, (_, i) => mac(i));
  let policy = policyOf(
    all.filter((_, i) => i % 2 === 0),
    all.filter((_, i) => i % 2 === 1),
  );
  const rig = await createDnsmasqRig(pair);
  let pid: number | undefined;
  try {
    let sync = await syncDirectory(rig.hostsdir, manifestOf(policy, 1), { purge: true, layout });
    let state = sync.state;
    pid = spawnDnsmasq(rig);
    await sleep(200);
    await quiesce(pid);
    const c0 = cpuOf(pid);
    const samples: RssRun['samples'] = [{ changes: 0, rssKb: rssKb(pid), cpuMs: 0, reloads: 0 }];
    let rewritten = 0;
    let reloads = 0;
    const manifest = manifestOf(policy, 1);
    for (let k = 1; k <= changes; k++) {
      // One MAC flips (no re-canonicalisation: the diff does not need sorted lists, and 10,000 manifests would
      // make this loop measure the bench instead of dnsmasq).
      const m = all[(k * 7919) % n]!;
      const wasAllowed = policy.allow.includes(m);
      const next: Policy = wasAllowed
        ? { ...policy, allow: policy.allow.filter((x) => x !== m), deny: [...policy.deny, m] }
        : { ...policy, deny: policy.deny.filter((x) => x !== m), allow: [...policy.allow, m] };
      sync = await syncDirectory(rig.hostsdir, { ...manifest, generation: k + 1, policy: next }, { purge: false, layout, knownState: state, previousPolicy: policy });
      state = sync.state;
      policy = next;
      for (const w of sync.plan.writes) if (w.reason === 'shard') rewritten += w.content.split('\n').length - 1;
      if (reloadAfter !== undefined && rewritten >= reloadAfter) {
        await quiesce(pid, 100);
        process.kill(pid, 'SIGHUP');
        reloads++;
        rewritten = 0;
      }
      if (k % 100 === 0) await quiesce(pid, 50); // dnsmasq keeps up: no inotify overflow
      if (k % 1000 === 0) {
        await quiesce(pid);
        samples.push({ changes: k, rssKb: rssKb(pid), cpuMs: cpuMs(c0, cpuOf(pid)).ms, reloads });
        process.stderr.write(`  rss ${variant}: ${JSON.stringify(samples.at(-1))}\n`);
      }
    }
    const last = samples.at(-1)!;
    return { variant, samples, reloads, finalRssKb: last.rssKb, cpuMs: last.cpuMs };
  } finally {
    if (pid !== undefined) await stop(rig, pid);
    await destroyDnsmasqRig(rig);
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const pair = await createNetnsPair('bench', { prefix: 'pxf-bench-' });
  const prober = await Prober.start(pair);
  const results: Record<string, unknown>[] = [];
  const rss: RssRun[] = [];
  try {
    if (!values['rss-only']) {
      for (const n of sizes) {
        for (const layout of layouts) {
          const runs = await runCase(pair, prober, layout, n);
          const m = (k: keyof Rep) => median(runs.map((r) => r[k]));
          results.push({
            layout: layoutName(layout),
            macs: n,
            files: layout.kind === 'per-mac' ? n + 1 : layout.shards + 1,
            startupCpuMs: m('startupCpuMs'),
            hupCpuMs: m('hupCpuMs'),
            incrementalCpuMs: m('incrementalCpuMs'),
            dhcpAfterStartMs: m('dhcpAfterStartMs'),
            applyMs: m('applyMs'),
            incrementalAgentMs: m('incrementalAgentMs'),
            incrementalAgentCpuMs: m('incrementalAgentCpuMs'),
            incrementalWrites: m('incrementalWrites'),
            rssAfterStartKb: m('rssAfterStartKb'),
            runs,
          });
        }
      }
    }
    if (values.rss || values['rss-only']) {
      const n = Number(values['rss-size']);
      const changes = Number(values['rss-changes']);
      const reloadAfter = Number(values['rss-reload-after'] ?? CompactionConfigSchema.parse({}).reloadAfterRecords);
      const sharded = LayoutSchema.parse({ kind: 'sharded' });
      const variants = values['rss-variants'].split(',');
      const tag = `sharded/${sharded.kind === 'sharded' ? sharded.shards : ''}`;
      if (variants.includes('per-mac')) rss.push(await rssRun(pair, { kind: 'per-mac' }, n, changes, undefined, `per-mac at ${n} MACs (no reload)`));
      if (variants.includes('none')) rss.push(await rssRun(pair, sharded, n, changes, undefined, `${tag} at ${n} MACs without compaction`));
      if (variants.includes('compact')) rss.push(await rssRun(pair, sharded, n, changes, reloadAfter, `${tag} at ${n} MACs with compaction (reload after ${reloadAfter} rewritten records)`));
    }
  } finally {
    await prober.stop();
    await destroyNetnsPair(pair);
  }

  const head = ['layout', 'MACs', 'files', 'start-up CPU ms', 'SIGHUP CPU ms', '50-MAC change CPU ms', 'DHCP after start ms', 'agent apply ms', 'agent 50-MAC ms (CPU)', 'files written by the change', 'RSS KB'];
  const rows = results.map((r) => [
    r.layout,
    r.macs,
    r.files,
    r.startupCpuMs,
    r.hupCpuMs,
    r.incrementalCpuMs,
    r.dhcpAfterStartMs,
    r.applyMs,
    `${r.incrementalAgentMs as number} (${r.incrementalAgentCpuMs as number})`,
    r.incrementalWrites,
    r.rssAfterStartKb,
  ]);
  const table = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  process.stdout.write(`\n${table}\n`);
  for (const n of sizes) {
    const perMac = results.find((r) => r.layout === 'per-mac' && r.macs === n);
    for (const r of results.filter((x) => x.layout !== 'per-mac' && x.macs === n)) {
      if (!perMac) continue;
      const x = (k: string) => round((perMac[k] as number) / (r[k] as number), 1);
      process.stdout.write(`${n} MACs, per-mac ÷ ${r.layout as string}: start-up ${x('startupCpuMs')}×, SIGHUP ${x('hupCpuMs')}×, 50-MAC change ${x('incrementalCpuMs')}× (below 1 = sharded costs more)\n`);
    }
  }
  for (const r of rss) {
    process.stdout.write(`RSS ${r.variant}: ${r.samples.map((s) => `${s.changes}:${s.rssKb}`).join(' ')} KB; dnsmasq CPU ${r.cpuMs} ms; reloads ${r.reloads}\n`);
  }
  const date = new Date().toISOString();
  const out = values.out ?? join('bench', 'results', `dnsmasq-${date.replaceAll(':', '')}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  const kernel = readFileSync('/proc/version', 'utf8').trim();
  // The figures depend on the version: 2.88–2.91 scan every known path per file at start-up and SIGHUP, 2.92 does not.
  const dnsmasqVersion = spawnSync('/usr/sbin/dnsmasq', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim();
  writeFileSync(out, `${JSON.stringify({ machine: { date, cpus: cpus().length, cpu: cpus()[0]?.model, kernel, dnsmasq: dnsmasqVersion }, reps, results, rss }, null, 2)}\n`);
  process.stdout.write(`\n${dnsmasqVersion ?? 'dnsmasq version unknown'}\nJSON: ${out}\n`);
}

await main();
