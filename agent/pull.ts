/** Fetch and verify the current manifest of a site from a store (pointer → exact version → sha256). */
import { InputError } from '../core/errors.ts';
import { type Manifest, type Pointer, verifyManifest } from '../core/manifest.ts';
import { readPointer } from '../control/publish.ts';
import type { Store } from '../store/store.ts';

export async function pullManifest(
  store: Store,
  site: string,
  appliedGeneration: number | undefined,
): Promise<{ pointer: Pointer; manifest: Manifest } | undefined> {
  const pointer = await readPointer(store, site);
  if (!pointer) return undefined;
  if (pointer.site !== site) throw new InputError('pointer.site', pointer.site, `is not this agent's site "${site}"`);
  const obj = await store.getObject(pointer.key, pointer.versionId);
  if (!obj) throw new InputError('pointer.versionId', pointer.versionId, `no such version of ${pointer.key}`);
  return { pointer, manifest: verifyManifest(obj.bytes, pointer, { site, appliedGeneration }) };
}
