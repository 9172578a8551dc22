/**
 * The parsed full exports a warm process (a Lambda container, `control run`) has already read, kept by key and
 * the store's version of the object (S3 ETag, local version id). A state export arrives every few seconds while
 * the full export it complements changes every few minutes at most: reading and parsing tens of megabytes again
 * for each state export would be most of the compute. A different version of a key is a different entry, so an
 * object rewritten in place is read again; an entry is only ever served for the exact version it was read from.
 */
import { sha256 } from '../core/manifest.ts';

export interface CachedExport<P> {
  key: string;
  version: string;
  bytes: Uint8Array;
  parsed: P;
  /** sha256 of `bytes`, computed once (the manifest records it for every input). */
  digest(): string;
}

export class ExportCache<P> {
  private readonly entries: CachedExport<P>[] = [];
  /** Reads served from the cache and reads that parsed (for tests and logs). */
  hits = 0;
  misses = 0;

  /** `size`: entries kept, most recent first; the newest export and the one before it cover the walk. */
  constructor(private readonly size = 2) {}

  get(key: string, version: string): CachedExport<P> | undefined {
    const found = this.entries.find((e) => e.key === key && e.version === version);
    if (found) this.hits++;
    return found;
  }

  put(key: string, version: string, bytes: Uint8Array, parsed: P): CachedExport<P> {
    this.misses++;
    const entry: CachedExport<P> = { key, version, bytes, parsed, digest: cachedDigest(bytes) };
    const i = this.entries.findIndex((e) => e.key === key);
    if (i >= 0) this.entries.splice(i, 1);
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, this.size);
    return entry;
  }

  clear(): void {
    this.entries.length = 0;
    this.hits = 0;
    this.misses = 0;
  }
}

/** The sha256 of `bytes`, computed at the first call only. */
export function cachedDigest(bytes: Uint8Array): () => string {
  let digest: string | undefined;
  return () => (digest ??= sha256(bytes));
}
