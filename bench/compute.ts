/**
 * Compute-path CPU budget: newest export → settings → policy → guard → manifest bytes → conditional put →
 * pointer, on a LocalStore (local disk stands in for S3/SSM, so this is the in-process part of the latency
 * budget; add the AWS request round trips from docs/deploy.md). Run: npx tsx bench/compute.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeSite } from '../control/compute-site.ts';
import { exportKey, settingsParameter } from '../store/keys.ts';
import { LocalStore } from '../store/local-store.ts';
import { exportBundle } from '../test/support/exports.ts';

for (const macs of [1_000, 10_000, 50_000]) {
  const dir = await mkdtemp(join(tmpdir(), 'pxe-bench-'));
  const store = new LocalStore(dir);
  await store.putParameter(settingsParameter('dc1'), JSON.stringify({ source: 'ironic', guard: { maxChangeShare: 1, minChangesToGuard: 0 } }));
  const runs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    // Alternate which nodes are inspecting so that every run publishes a new generation.
    const text = JSON.stringify(exportBundle('dc1', { macs, inspecting: [i] }));
    bytes = text.length;
    await store.putObject(exportKey('dc1', new Date(Date.UTC(2026, 10, 25, 20, i))), new TextEncoder().encode(text));
    const t0 = performance.now();
    const r = await computeSite({ store, site: 'dc1', now: new Date() });
    runs.push(performance.now() - t0);
    if (r.published.status !== 'published') throw new Error('expected a publish');
  }
  runs.sort((a, b) => a - b);
  const manifest = await store.getObject('manifests/dc1/manifest.json');
  console.log(
    JSON.stringify({ macs, exportBytes: bytes, manifestBytes: manifest?.bytes.byteLength, firstRunMs: Math.round(runs.at(-1)!), medianMs: Math.round(runs[2]!), minMs: Math.round(runs[0]!) }),
  );
  await rm(dir, { recursive: true, force: true });
}
