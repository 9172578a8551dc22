/**
 * Warm compute of a state export at 100k ports (issue 16: ≤ 50 ms in-process). One process, as a warm Lambda
 * container: the first compute reads and parses the full export (cold), then every state export (who is being
 * inspected changes) is computed with the full export served from the module-scope cache (control/export-cache.ts).
 * On a LocalStore, so the figures are the in-process part (add the S3/SSM round trips from docs/deploy.md).
 * Run: npx tsx bench/state-compute.ts [--ports 100000] [--runs 20]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { computeSite } from '../control/compute-site.ts';
import { exportCache } from '../control/newest-export.ts';
import { provenanceForms } from '../control/provenance.ts';
import { buildStateExport } from '../core/state-export.ts';
import { exportKey, provenanceKey, settingsParameter, stateExportKey } from '../store/keys.ts';
import { LocalStore } from '../store/local-store.ts';
import { exportBundle, nodeUuid } from '../test/support/exports.ts';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '100000' }, runs: { type: 'string', default: '20' } } });
const ports = Number(values.ports);
const runs = Number(values.runs);
const dir = await mkdtemp(join(tmpdir(), 'pxe-bench-state-'));
try {
  const store = new LocalStore(dir);
  const site = 'bench';
  await store.putParameter(settingsParameter(site), JSON.stringify({ source: 'ironic', supportedInspectInterfaces: ['agent'], guard: { maxChangeShare: 1, minChangesToGuard: 0 } }));
  const t0 = Date.UTC(2026, 11, 2, 10, 0);
  const full = JSON.stringify(exportBundle(site, { macs: ports, inspecting: [0], createdAt: new Date(t0).toISOString() }));
  await store.putObject(exportKey(site, new Date(t0)), new TextEncoder().encode(full));
  const now = () => new Date(t0 + 3_600_000);
  let t = performance.now();
  const cold = await computeSite({ store, site, now: now() });
  const coldMs = performance.now() - t;
  const published: number[] = [];
  const unchanged: number[] = [];
  // CPU time too: on a shared machine wall time mostly measures the other processes (report both).
  const publishedCpu: number[] = [];
  const provenanceBytes: number[] = [];
  const unchangedCpu: number[] = [];
  for (let i = 1; i <= 2 * runs; i++) {
    // Odd runs: another node enters inspection (a new generation, provenance included: the expensive outcome).
    // Even runs: a node whose inspect interface the site does not support enters too (the policy stays: no publish).
    const at = new Date(t0 + i * 1000);
    const n = Math.ceil(i / 2);
    const nodes = [{ uuid: nodeUuid(n), provisionState: 'inspect wait' as const, inspectInterface: 'agent' }];
    if (i % 2 === 0) nodes.push({ uuid: nodeUuid(ports - n), provisionState: 'inspect wait', inspectInterface: 'fake' });
    const state = buildStateExport(site, { nodes }, at, cold.exportKey);
    await store.putObject(stateExportKey(site, at), new TextEncoder().encode(JSON.stringify(state)));
    t = performance.now();
    const cpu = process.cpuUsage();
    const r = await computeSite({ store, site, now: now() });
    (i % 2 ? published : unchanged).push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    (i % 2 ? publishedCpu : unchangedCpu).push((used.user + used.system) / 1000);
    if (r.published.status !== (i % 2 ? 'published' : 'unchanged') || r.stateExportKey === undefined) throw new Error(`run ${i}: unexpected ${r.published.status}`);
    if (i % 2) provenanceBytes.push((await store.getObject(provenanceKey(site)))!.bytes.byteLength);
  }
  const stats = (times: number[]) => {
    times.sort((a, b) => a - b);
    const q = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]!);
    return { median: q(0.5), p95: q(0.95), max: Math.round(times.at(-1)!) };
  };
  console.log(
    JSON.stringify({
      case: 'state-compute-warm',
      ports,
      runs,
      fullExportBytes: full.length,
      coldMs: Math.round(coldMs),
      warmUnchangedMs: stats(unchanged),
      warmUnchangedCpuMs: stats(unchangedCpu),
      warmPublishedMs: stats(published),
      warmPublishedCpuMs: stats(publishedCpu),
      loadAverage1m: Number(loadavg()[0]!.toFixed(1)),
      cpus: cpus().length,
      // The cold publish writes a full provenance; the warm ones a delta against it (control/provenance.ts).
      provenance: { ...provenanceForms, warmBytesMax: Math.max(...provenanceBytes) },
      cacheHits: exportCache.hits,
      cacheMisses: exportCache.misses,
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
