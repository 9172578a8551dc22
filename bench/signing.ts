/**
 * What signature verification costs the agent at 100k MACs (not a test: numbers only). Run: `npx tsx bench/signing.ts
 * [--macs N] [--runs N]`. A manifest of N MACs (2 % inspecting) is published signed into a local store, once with an
 * Ed25519 key (`pxe-filter keygen`) and once with a P-256 key (what KMS signs with); the agent's own fetch path
 * (agent/manifest-source.ts fetch: read the version, check the signature, sha256, parse, validate) runs with and
 * without trusted keys, and the signature check alone is timed. Medians of --runs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ManifestSource } from '../agent/manifest-source.ts';
import type { Mac } from '../core/mac.ts';
import { type TrustStore, trustStoreFromPems, verifyManifestSignature } from '../core/signature.ts';
import { publishPolicy } from '../control/publish.ts';
import { readPointer } from '../store/pointer.ts';
import { type ManifestSigner, keySigner } from '../control/signing.ts';
import { LocalStore } from '../store/local-store.ts';

const { values } = parseArgs({ options: { macs: { type: 'string', default: '100000' }, runs: { type: 'string', default: '21' } } });
const N = Number(values.macs);
const RUNS = Number(values.runs);
const mac = (i: number) => `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` as Mac;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function timed(fn: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function caseFor(name: string, keys: ReturnType<typeof generateKeyPairSync>) {
  const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'pxe-sign-bench-'));
  try {
    const store = new LocalStore(root);
    const signer: ManifestSigner = keySigner(keys.privateKey, name);
    const macs = Array.from({ length: N }, (_, i) => mac(i));
    const inspecting = Math.round(N * 0.02);
    await publishPolicy({
      store,
      site: 'bench',
      policy: { unknownHosts: 'allow', removed: 'allow', allow: macs.slice(0, inspecting), deny: macs.slice(inspecting) },
      inputs: [],
      guard: { maxChangeShare: 1, minChangesToGuard: 0 },
      force: true,
      now: new Date(),
      signer,
    });
    const pointer = (await readPointer(store, 'bench'))!;
    const bytes = (await store.getObject(pointer.key, pointer.versionId))!.bytes.byteLength;
    const trust: TrustStore = trustStoreFromPems([{ pem: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string, label: name }]);
    const none: TrustStore = new Map();
    const signatureOnly: number[] = [];
    const withTrust: number[] = [];
    const without: number[] = [];
    const trusting = new ManifestSource(store, 'bench', trust);
    const notTrusting = new ManifestSource(store, 'bench', none);
    const fetchVerified = async (source: ManifestSource) => {
      const f = await source.fetch(pointer, undefined);
      if (f.kind !== 'verified') throw new Error(`bench manifest not verified: ${f.kind}`);
    };
    for (let i = 0; i < 3; i++) await fetchVerified(trusting); // warm-up
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so drift of a busy machine hits both sides alike.
      without.push(await timed(() => fetchVerified(notTrusting)));
      withTrust.push(await timed(() => fetchVerified(trusting)));
      signatureOnly.push(await timed(() => verifyManifestSignature(pointer.sha256, pointer.signature, trust)));
    }
    return { name, bytes, signatureMs: median(signatureOnly), fetchWithMs: median(withTrust), fetchWithoutMs: median(without) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const results = [await caseFor('ed25519', generateKeyPairSync('ed25519')), await caseFor('ecdsa-p256-sha256', generateKeyPairSync('ec', { namedCurve: 'P-256' }))];
console.log(`signature verification at ${N.toLocaleString('en')} MACs, medians of ${RUNS} (node ${process.version}, ${new Date().toISOString()})`);
console.log('| key | manifest | signature check alone | agent fetch + verify, signed | same, no key trusted | difference |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  const f = (ms: number) => `${ms.toFixed(3)} ms`;
  console.log(`| ${r.name} | ${(r.bytes / 1e6).toFixed(2)} MB | ${f(r.signatureMs)} | ${f(r.fetchWithMs)} | ${f(r.fetchWithoutMs)} | ${(r.fetchWithMs - r.fetchWithoutMs).toFixed(3)} ms |`);
}
