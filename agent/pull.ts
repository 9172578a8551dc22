/** Fetch and verify the current manifest of a site from a store (pointer → exact version → sha256 → signature). */
import { InputError } from '../core/errors.ts';
import { type Manifest, type Pointer, verifyManifest } from '../core/manifest.ts';
import { type TrustStore, verifyManifestSignature } from '../core/signature.ts';
import { readPointer } from '../control/publish.ts';
import type { Store } from '../store/store.ts';

const NO_TRUST: TrustStore = new Map();

/**
 * The exact version the pointer names, verified (sha256 of the bytes, schema, site, generation, and — when this
 * agent trusts any key — the pointer's signature) before use.
 */
export async function fetchVerified(store: Store, site: string, pointer: Pointer, appliedGeneration: number | undefined, trust: TrustStore = NO_TRUST): Promise<Manifest> {
  if (pointer.site !== site) throw new InputError('pointer.site', pointer.site, `is not this agent's site "${site}"`);
  const obj = await store.getObject(pointer.key, pointer.versionId);
  if (!obj) throw new InputError('pointer.versionId', pointer.versionId, `no such version of ${pointer.key}`);
  // The signature first, over the digest the pointer claims (nothing unauthenticated is parsed); verifyManifest then
  // holds the bytes to that digest, and refuses a replayed older generation even when its signature is valid.
  verifyManifestSignature(pointer.sha256, pointer.signature, trust, 'pointer.signature');
  return verifyManifest(obj.bytes, pointer, { site, appliedGeneration });
}

export async function pullManifest(
  store: Store,
  site: string,
  appliedGeneration: number | undefined,
  trust: TrustStore = NO_TRUST,
): Promise<{ pointer: Pointer; manifest: Manifest } | undefined> {
  const pointer = await readPointer(store, site);
  if (!pointer) return undefined;
  return { pointer, manifest: await fetchVerified(store, site, pointer, appliedGeneration, trust) };
}
