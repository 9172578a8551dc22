/**
 * The storage contract shared by the cloud (S3 + SSM) and the embedded local default (a directory).
 * It is deliberately the intersection of what S3 and SSM do: versioned objects with conditional writes,
 * and named string parameters.
 */
export interface StoredObject {
  key: string;
  versionId: string;
  etag: string;
  bytes: Uint8Array;
  lastModified: Date;
}

export interface ObjectSummary {
  key: string;
  size: number;
  lastModified: Date;
  /**
   * Changes whenever the current content may have: S3's ETag from the listing, the local store's version id.
   * Lets a reader keep what it parsed from an object without reading it again (control/export-cache.ts).
   */
  version?: string;
}

/** `ifNoneMatch: '*'`: create only if absent. `ifMatch`: replace only the version with this etag. */
export type PutCondition = { ifNoneMatch: '*' } | { ifMatch: string };

export interface PutResult {
  versionId: string;
  etag: string;
}

export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';
  constructor(readonly key: string) {
    super(`conditional write to ${key} lost: another writer changed it first`);
  }
}

export interface Store {
  /** Human description for logs and summaries ("local store at …", "s3://bucket + SSM"). */
  readonly description: string;
  /** The current version, or a given one. `undefined` when absent. */
  getObject(key: string, versionId?: string): Promise<StoredObject | undefined>;
  putObject(key: string, bytes: Uint8Array, options?: { condition?: PutCondition; contentType?: string }): Promise<PutResult>;
  /** Every version of one key, newest first (S3 ListObjectVersions). */
  listVersions(key: string): Promise<{ versionId: string; lastModified: Date }[]>;
  /** Current objects under a prefix, sorted by key. */
  listObjects(prefix: string): Promise<ObjectSummary[]>;
  getParameter(name: string): Promise<string | undefined>;
  putParameter(name: string, value: string): Promise<void>;
}
