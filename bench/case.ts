/**
 * One bench case in a fresh process (so peak RSS belongs to that case alone). Prints one JSON line:
 * { case, n, wallMs, cpuMs, maxRssMb, writes, ... }.
 *   node case.mjs <case> <n> <dir> [per-mac|sharded]
 * Our cases drive the agent daemon itself (agent/daemon.ts: local store, service none, logs to /dev/null), so the
 * figures are its real code path: start-up purge + fetch + verify + full sync for a first fill or a restart, a
 * pointer read for a no-change poll, fetch + verify + incremental diff + apply + state/ack for a churn.
 * The floors make the same file-system calls as the product's writer and purge, and nothing else.
 */
import { openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveConfig } from '../agent/config.ts';
import { AgentDaemon } from '../agent/daemon.ts';
import { createLogger } from '../agent/log.ts';
import { writeStatusFile } from '../agent/report.ts';
import { serviceControl } from '../agent/service.ts';
import { syncDirectory } from '../agent/sync.ts';
import { publishPolicy, readCurrentManifest } from '../control/publish.ts';
import type { Policy } from '../core/policy.ts';
import { PER_MAC } from '../core/hostsdir-layout.ts';
import { LocalStore } from '../store/local-store.ts';
import { shardOf } from '../core/sharded.ts';
import { basePolicy, changedMacsOf, churnedPolicy } from './data.ts';
import { floorFill, floorPurge } from './floor.ts';

const [kind, nText, dir, layoutKind = 'per-mac'] = process.argv.slice(2);
const n = Number(nText);
if (!kind || !dir || !Number.isInteger(n) || (layoutKind !== 'per-mac' && layoutKind !== 'sharded')) throw new Error('usage: case.mjs <case> <n> <dir> [per-mac|sharded]');
const SITE = 'bench';
const SHARDS = 256;
const sharded = layoutKind === 'sharded';
/** Files a full sync writes: one per MAC or one per shard, plus the wildcard. */
const fullSyncWrites = sharded ? SHARDS + 1 : n + 1;

async function emptyDir(path: string) {
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: true });
}

async function measure<T>(fn: () => Promise<T>): Promise<{ wallMs: number; cpuMs: number; result: T }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, result };
}

/** A store next to the hosts directory (same file system), with `policy` published as generation 1. */
async function freshStore(): Promise<LocalStore> {
  const root = `${dir}.store`;
  await rm(root, { recursive: true, force: true });
  await rm(`${dir}.state`, { recursive: true, force: true }); // a state file of an earlier run would refuse generation 1
  const store = new LocalStore(root);
  await publish(store, basePolicy(n));
  return store;
}

async function publish(store: LocalStore, policy: Policy) {
  await publishPolicy({ store, site: SITE, policy, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
}

const devNull = openSync('/dev/null', 'w');

function daemonOn(store: LocalStore, purge = true): AgentDaemon {
  const state = `${dir}.state`;
  const config = resolveConfig(
    {
      site: SITE,
      host: 'bench',
      store: `local:${dir}.store`,
      hostsdir: dir!,
      stateFile: join(state, 'state.json'),
      readyFile: join(state, 'ready'),
      service: { mode: 'none' },
      purge,
      layout: sharded ? { kind: 'sharded', shards: SHARDS } : { kind: 'per-mac' },
    },
    {},
    {},
  );
  return new AgentDaemon({
    config,
    store,
    service: serviceControl({ mode: 'none' }),
    log: createLogger({ level: config.logLevel, site: SITE, host: 'bench', destination: devNull }),
    signal: new AbortController().signal,
  });
}

let out: Record<string, unknown>;
switch (kind) {
  case 'floor-fill': {
    await emptyDir(dir);
    const m = await measure(() => floorFill(dir, n));
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: n + 1 };
    break;
  }
  case 'floor-restart': {
    await emptyDir(dir);
    await floorFill(dir, n);
    const m = await measure(async () => {
      await floorPurge(dir);
      await floorFill(dir, n);
    });
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: n + 1 };
    break;
  }
  case 'first-fill':
  case 'restart': {
    await emptyDir(dir);
    const store = await freshStore();
    if (kind === 'restart') await daemonOn(store).init(); // a full directory left by the previous run
    const daemon = daemonOn(store);
    const m = await measure(() => daemon.init());
    if (daemon.stats.writes !== fullSyncWrites) throw new Error(`${kind} wrote ${daemon.stats.writes} files, expected ${fullSyncWrites}`);
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: daemon.stats.writes };
    break;
  }
  case 'no-change-poll': {
    // The daemon's steady state: directory filled, state in memory, pointer at the applied generation.
    await emptyDir(dir);
    const daemon = daemonOn(await freshStore());
    await daemon.init();
    // One turn of the daemon's loop: the poll, then the status file it writes after every poll.
    const m = await measure(async () => {
      await daemon.poll();
      await writeStatusFile(join(`${dir}.state`, 'status.json'), daemon.buildReport());
    });
    if (daemon.stats.writes !== fullSyncWrites || daemon.stats.scans !== 1) throw new Error(`no-change poll wrote or scanned: ${JSON.stringify(daemon.stats)}`);
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: 0 };
    break;
  }
  case 'no-change-rescan': {
    // Not the daemon's poll: what a full scan + diff costs (the hourly drift check, `agent once`).
    await emptyDir(dir);
    const daemon = daemonOn(await freshStore());
    await daemon.init();
    const current = (await readCurrentManifest(new LocalStore(`${dir}.store`), SITE))!.manifest;
    const m = await measure(() => syncDirectory(dir, current, { purge: false, layout: sharded ? { kind: 'sharded', shards: SHARDS } : PER_MAC }));
    if (m.result.plan.writes.length !== 0) throw new Error('rescan of an unchanged directory planned writes');
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: 0 };
    break;
  }
  case 'churn': {
    await emptyDir(dir);
    const store = await freshStore();
    const daemon = daemonOn(store);
    await daemon.init();
    await publish(store, churnedPolicy(n));
    const before = { ...daemon.stats };
    const m = await measure(async () => {
      await daemon.poll();
      await writeStatusFile(join(`${dir}.state`, 'status.json'), daemon.buildReport());
    });
    const writes = daemon.stats.writes - before.writes;
    const deletes = daemon.stats.deletes - before.deletes;
    // 50 flips + 25 removed (rewritten with the removed verdict) + 25 added = exactly 100 files (per-MAC) or the
    // shards of those 100 MACs, no scan.
    const expected = sharded ? new Set(changedMacsOf(n).map((mac) => shardOf(mac, SHARDS))).size : 100;
    if (writes !== expected || deletes !== 0 || daemon.stats.scans !== 1) throw new Error(`churn: ${writes} writes, ${deletes} deletes, ${daemon.stats.scans} scans`);
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes };
    break;
  }
  default:
    throw new Error(`unknown case ${kind}`);
}
global.gc?.();
process.stdout.write(`${JSON.stringify({ case: kind, n, ...out, maxRssMb: process.resourceUsage().maxRSS / 1024, rssAfterMb: process.memoryUsage().rss / 2 ** 20 })}\n`);
