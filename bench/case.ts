/**
 * One bench case in a fresh process (so peak RSS belongs to that case alone). Prints one JSON line:
 * { case, n, wallMs, cpuMs, maxRssMb, writes, ... }.
 *   tsx bench/case.ts <case> <n> <dir> [<store dir>]
 */
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from '../agent/sync.ts';
import { recordText } from '../core/hostsdir.ts';
import { macFileName } from '../core/mac.ts';
import { serializeManifest, sha256 } from '../core/manifest.ts';
import { readPointer } from '../control/publish.ts';
import { LocalStore } from '../store/local-store.ts';
import { manifestKey, pointerParameter } from '../store/layout.ts';
import { basePolicy, churnedPolicy, macOf, manifestFor } from './data.ts';

const [kind, nText, dir, storeDir] = process.argv.slice(2);
const n = Number(nText);
if (!kind || !dir || !Number.isInteger(n)) throw new Error('usage: case.ts <case> <n> <dir> [store]');

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

/** The same calls the agent makes per file (open O_EXCL, chmod, write, close, rename), same concurrency, no logic. */
async function rawFill(count: number) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const mac = macOf(i);
      const tmp = join(dir!, `.raw-${i}.tmp`);
      const fh = await open(tmp, 'wx', 0o644);
      await fh.chmod(0o644);
      await fh.writeFile(recordText(mac, 'deny'));
      await fh.close();
      await rename(tmp, join(dir!, macFileName(mac)));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function rawPurge() {
  const names = await readdir(dir!);
  let next = 0;
  const worker = async () => {
    while (next < names.length) await unlink(join(dir!, names[next++]!));
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const base = manifestFor('bench', 1, basePolicy(n));
let out: Record<string, unknown>;
switch (kind) {
  case 'floor-fill': {
    await emptyDir(dir);
    const m = await measure(() => rawFill(n + 1));
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: n + 1 };
    break;
  }
  case 'floor-restart': {
    await emptyDir(dir);
    await rawFill(n + 1);
    const m = await measure(async () => {
      await rawPurge();
      await rawFill(n + 1);
    });
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: n + 1 };
    break;
  }
  case 'first-fill': {
    await emptyDir(dir);
    const m = await measure(() => syncDirectory(dir, base, { purge: false }));
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: m.result.plan.writes.length };
    break;
  }
  case 'restart': {
    await emptyDir(dir);
    await syncDirectory(dir, base, { purge: false });
    const m = await measure(() => syncDirectory(dir, base, { purge: true }));
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: m.result.plan.writes.length, purged: m.result.purged };
    break;
  }
  case 'no-change-poll':
  case 'no-change-diff':
  case 'no-change-rescan': {
    // The daemon's steady state: directory filled, state in memory, pointer at the applied generation.
    await emptyDir(dir);
    const store = new LocalStore(storeDir ?? `${dir}.store`);
    const bytes = serializeManifest(base);
    const put = await store.putObject(manifestKey('bench'), bytes);
    await store.putParameter(pointerParameter('bench'), JSON.stringify({ site: 'bench', generation: 1, key: manifestKey('bench'), versionId: put.versionId, sha256: sha256(bytes) }));
    const first = await syncDirectory(dir, base, { purge: false });
    const applied = 1;
    let scanned = false;
    let writes = 0;
    const m = await measure(async () => {
      if (kind === 'no-change-poll') {
        const pointer = await readPointer(store, 'bench');
        if (pointer?.generation !== applied) throw new Error('pointer moved');
      } else {
        const r = await syncDirectory(dir, base, kind === 'no-change-diff' ? { purge: false, knownState: first.state } : { purge: false });
        scanned = r.scanned;
        writes = r.plan.writes.length;
      }
    });
    global.gc?.();
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes, scanned, steadyRssMb: process.memoryUsage().rss / 2 ** 20, heldEntries: first.state.size };
    break;
  }
  case 'churn': {
    await emptyDir(dir);
    const first = await syncDirectory(dir, base, { purge: false });
    const next = manifestFor('bench', 2, churnedPolicy(n));
    const m = await measure(() => syncDirectory(dir, next, { purge: false, knownState: first.state }));
    out = { wallMs: m.wallMs, cpuMs: m.cpuMs, writes: m.result.plan.writes.length, scanned: m.result.scanned };
    break;
  }
  default:
    throw new Error(`unknown case ${kind}`);
}
process.stdout.write(`${JSON.stringify({ case: kind, n, ...out, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
