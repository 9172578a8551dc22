/** Fetch and verify the current manifest of a site from a store (pointer → exact version → sha256). */
import { InputError } from '../core/errors.ts';
import { type Manifest, type Pointer, verifyManifest } from '../core/manifest.ts';
import { readPointer } from '../control/publish.ts';
import type { Store } from '../store/store.ts';

/** The exact version the pointer names, verified (sha256 of the bytes, schema, site, generation) before use. */
export async function fetchVerified(store: Store, site: string, pointer: Pointer, appliedGeneration: number | undefined): Promise<Manifest> {
  if (pointer.site !== site) throw new InputError('pointer.site', pointer.site, `is not this agent's site "${site}"`);
  const obj = await store.getObject(pointer.key, pointer.versionId);
  if (!obj) throw new InputError('pointer.versionId', pointer.versionId, `no such version of ${pointer.key}`);
  return verifyManifest(obj.bytes, pointer, { site, appliedGeneration });
}

export async function pullManifest(
  store: Store,
  site: string,
  appliedGeneration: number | undefined,
): Promise<{ pointer: Pointer; manifest: Manifest } | undefined> {
  const pointer = await readPointer(store, site);
  if (!pointer) return undefined;
  return { pointer, manifest: await fetchVerified(store, site, pointer, appliedGeneration) };
}
