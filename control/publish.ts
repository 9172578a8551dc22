/**
 * Publishing (docs/design.md §5): conditional write of the manifest object, then the pointer. The object is the
 * source of truth for the generation; the pointer only ever moves forward and only to an object that exists.
 */
import {
  type GuardReport,
  type Manifest,
  type Pointer,
  guardPolicy,
  nextManifest,
  serializeManifest,
  sha256,
} from '../core/manifest.ts';
import type { Policy } from '../core/policy.ts';
import type { GuardSettings } from '../core/settings.ts';
import { manifestKey, provenanceKey } from '../store/keys.ts';
import { readPointer, writePointer } from '../store/pointer.ts';
import type { Store } from '../store/store.ts';
import { parseStoredManifest, rememberManifest } from './manifest-cache.ts';
import type { ProvenanceWriter } from './provenance.ts';
import { type ManifestSigner, signManifestDigest } from './signing.ts';

export interface PublishRequest {
  store: Store;
  site: string;
  policy: Policy;
  inputs: { key: string; sha256: string }[];
  guard: GuardSettings;
  force: boolean;
  now: Date;
  /** Sign what is published (the pointer carries the signature); without it the pointer carries none. */
  signer?: ManifestSigner;
  /**
   * The provenance of a newly published manifest (core/provenance.ts), written beside it before the pointer moves,
   * so every generation agents can see has its explanation. Called only when a generation is published.
   */
  provenance?: ProvenanceWriter;
}

export interface PublishResult {
  status: 'published' | 'unchanged';
  manifest: Manifest;
  pointer: Pointer;
  guard: GuardReport;
  /** The pointer lagged behind the object (a publish died between the two writes) and was moved. */
  pointerRepaired: boolean;
  /** Which form of provenance was written with a new generation (core/provenance.ts); undefined when none was. */
  provenance?: 'full' | 'delta';
  /** The store's fast pointer (agents' poll), written after the pointer; undefined when the store has none. */
  fastPointer?: FastPointerWrite;
}

/** `error`: the fast pointer could not be written; the publish stands (agents still read the pointer, later). */
export type FastPointerWrite = { written: true } | { written: false; reason: 'newer' } | { written: false; reason: 'error'; error: string };

/** The current manifest object of a site, with its version; throws if it exists but is not valid. */
export async function readCurrentManifest(store: Store, site: string) {
  const key = manifestKey(site);
  const obj = await store.getObject(key);
  if (!obj) return undefined;
  return { object: obj, manifest: parseStoredManifest(obj) };
}

export async function publishPolicy(req: PublishRequest): Promise<PublishResult> {
  const { store, site } = req;
  const key = manifestKey(site);
  const current = await readCurrentManifest(store, site);
  const next = nextManifest(current?.manifest, { site, createdAt: req.now, inputs: req.inputs, policy: req.policy });
  const guard = guardPolicy(current?.manifest.policy, next.manifest.policy, req.guard, req.force);

  if (next.status === 'unchanged' && current) {
    const digest = sha256(current.object.bytes);
    const existing = await readPointer(store, site).catch(() => undefined);
    const pointer: Pointer = { site, generation: current.manifest.generation, key, versionId: current.object.versionId, sha256: digest };
    // An unchanged manifest is re-signed only when its pointer lacks this signer's signature (signing just turned on,
    // or the key was rotated): agents that trust only the new key must be able to verify the current generation.
    const kept = existing?.signature && existing.signature.sha256 === digest && existing.signature.keyId === req.signer?.keyId ? existing.signature : undefined;
    if (req.signer) pointer.signature = kept ?? (await signManifestDigest(req.signer, digest));
    const pointerRepaired = await movePointer(store, pointer, existing);
    // Every run, not only on a move: a fast pointer a failed write left behind is repaired by the next run.
    const fastPointer = await writeFastPointer(store, pointer);
    return { status: 'unchanged', manifest: current.manifest, pointer, guard, pointerRepaired, ...(fastPointer ? { fastPointer } : {}) };
  }
  const bytes = serializeManifest(next.manifest);
  const digest = sha256(bytes);
  // Signed before anything is written: a signer that fails (KMS unreachable) publishes nothing.
  const signature = req.signer ? await signManifestDigest(req.signer, digest) : undefined;
  // Conditional on the version we read: of two concurrent publishes of generation N+1 only one lands.
  const put = await store.putObject(key, bytes, {
    condition: current ? { ifMatch: current.object.etag } : { ifNoneMatch: '*' },
    contentType: 'application/json',
  });
  rememberManifest(key, put.versionId, next.manifest);
  const pointer: Pointer = { site, generation: next.manifest.generation, key, versionId: put.versionId, sha256: digest, ...(signature ? { signature } : {}) };
  let provenance: PublishResult['provenance'];
  if (req.provenance) {
    const { bytes, form } = req.provenance.render(next.manifest);
    provenance = form;
    const stored = await store.putObject(provenanceKey(site), bytes, { contentType: 'application/json' });
    req.provenance.stored(next.manifest, stored.versionId);
  }
  await movePointer(store, pointer, await readPointer(store, site).catch(() => undefined));
  const fastPointer = await writeFastPointer(store, pointer);
  return { status: 'published', manifest: next.manifest, pointer, guard, pointerRepaired: false, ...(provenance ? { provenance } : {}), ...(fastPointer ? { fastPointer } : {}) };
}

/**
 * After the pointer, never before: the fast pointer may lag the pointer, never lead it (agents fall back to the
 * pointer on a schedule). Its failure does not fail the publish: the caller logs it.
 */
async function writeFastPointer(store: Store, pointer: Pointer): Promise<FastPointerWrite | undefined> {
  if (!store.fastPointer) return undefined;
  try {
    return (await store.fastPointer.write(pointer)) ? { written: true } : { written: false, reason: 'newer' };
  } catch (err) {
    return { written: false, reason: 'error', error: err instanceof Error ? err.message : String(err) };
  }
}

/** Move the pointer forward; never backwards (a slow publisher must not undo a newer one). */
async function movePointer(store: Store, pointer: Pointer, existing: Pointer | undefined): Promise<boolean> {
  if (existing && existing.generation > pointer.generation) return false;
  const sameSignature = pointer.signature === undefined || existing?.signature?.signature === pointer.signature.signature;
  if (existing && existing.generation === pointer.generation && existing.versionId === pointer.versionId && existing.sha256 === pointer.sha256 && sameSignature) {
    return false;
  }
  await writePointer(store, pointer);
  return true;
}
