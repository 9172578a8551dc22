/**
 * The current manifest of each site a warm compute process has read, parsed once per object version. Every compute
 * reads it to decide whether the policy changed; at 100k MACs parsing it again would be most of a compute on a state
 * export (control/export-cache.ts keeps the inputs). Keyed by the store's version id, which every write of the
 * key changes (S3 versioning, the local store's versions): an entry is only served for the exact bytes it came from.
 * The parsed manifest is shared between runs: callers treat it as read-only, as they do any parsed document.
 */
import { type Manifest, parseManifestBytes } from '../core/manifest.ts';
import type { StoredObject } from '../store/store.ts';

const parsed = new Map<string, { versionId: string; manifest: Manifest }>();

export function parseStoredManifest(obj: Pick<StoredObject, 'key' | 'versionId' | 'bytes'>): Manifest {
  const known = parsed.get(obj.key);
  if (known && known.versionId === obj.versionId) return known.manifest;
  const manifest = parseManifestBytes(obj.bytes, obj.key);
  parsed.set(obj.key, { versionId: obj.versionId, manifest });
  return manifest;
}

/** What this process just wrote is the next run's current manifest: no need to read it back to parse it. */
export function rememberManifest(key: string, versionId: string, manifest: Manifest): void {
  parsed.set(key, { versionId, manifest });
}
