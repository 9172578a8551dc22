/**
 * The cloud store: S3 (a versioned bucket) plays the objects, SSM Parameter Store the parameters.
 * Same contract as LocalStore (store.ts), checked by the same contract tests.
 *
 * Throttling and 5xx are retried by the SDK's own retry strategy (standard mode, bounded attempts with
 * exponential backoff and jitter) instead of a hand-rolled loop; anything still failing after that throws,
 * so a Lambda invocation fails visibly and is retried or dead-lettered by Lambda.
 */
import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { GetParameterCommand, PutParameterCommand, SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';
import { InputError } from '../core/errors.ts';
import { type ObjectSummary, PreconditionFailedError, type PutCondition, type PutResult, type Store, type StoredObject } from './store.ts';

/** Attempts per call, first one included: enough to ride out a throttling burst, bounded for a Lambda timeout. */
export const DEFAULT_MAX_ATTEMPTS = 6;

export interface AwsClientOptions {
  region?: string;
  maxAttempts?: number;
  /** Only for tests and non-AWS endpoints. */
  endpoint?: string;
  credentials?: S3ClientConfig['credentials'];
}

export function makeS3Client(o: AwsClientOptions = {}): S3Client {
  return new S3Client({
    retryMode: 'standard',
    maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...(o.region ? { region: o.region } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  });
}

export function makeSsmClient(o: AwsClientOptions = {}): SSMClient {
  return new SSMClient({
    retryMode: 'standard',
    maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...(o.region ? { region: o.region } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials as SSMClientConfig['credentials'] } : {}),
  });
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class AwsStore implements Store {
  readonly description: string;
  constructor(
    readonly bucket: string,
    private readonly s3: S3Client = makeS3Client(),
    private readonly ssm: SSMClient = makeSsmClient(),
  ) {
    if (!BUCKET_NAME.test(bucket)) throw new InputError('bucket', bucket, 'not an S3 bucket name');
    this.description = `s3://${bucket} + SSM`;
  }

  async getObject(key: string, versionId?: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
      if (!out.Body) throw new Error(`s3://${this.bucket}/${key}: GetObject returned no body`);
      const bytes = await out.Body.transformToByteArray();
      return {
        key,
        versionId: required(out.VersionId, key, 'VersionId (is bucket versioning enabled?)'),
        etag: required(out.ETag, key, 'ETag'),
        bytes,
        lastModified: out.LastModified ?? new Date(0),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      // Without an unconditional s3:ListBucket, S3 answers a missing key with 403, not 404. Least-privilege roles
      // here may only list their own prefixes, so ask the listing (scoped by s3:prefix) whether the key exists.
      if (statusOf(err) === 403 && !versionId && !(await this.exists(key))) return undefined;
      throw err;
    }
  }

  private async exists(key: string): Promise<boolean> {
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 }));
    return page.Contents?.[0]?.Key === key;
  }

  async putObject(key: string, bytes: Uint8Array, options: { condition?: PutCondition; contentType?: string } = {}): Promise<PutResult> {
    const cond = options.condition;
    try {
      const out = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: options.contentType ?? 'application/json',
          ...(cond && 'ifNoneMatch' in cond ? { IfNoneMatch: '*' } : {}),
          ...(cond && 'ifMatch' in cond ? { IfMatch: cond.ifMatch } : {}),
        }),
      );
      return { versionId: required(out.VersionId, key, 'VersionId (is bucket versioning enabled?)'), etag: required(out.ETag, key, 'ETag') };
    } catch (err) {
      // 412: the condition did not hold. 409 ConditionalRequestConflict: a concurrent conditional write to the
      // same key is in flight. Both mean "another writer got there first".
      // IfMatch on a key that vanished answers 404: the version we read is gone, the same conflict.
      if (cond && ((('ifMatch' in cond) && isNotFound(err)) || statusOf(err) === 412 || statusOf(err) === 409 || nameOf(err) === 'PreconditionFailed' || nameOf(err) === 'ConditionalRequestConflict')) {
        throw new PreconditionFailedError(key);
      }
      throw err;
    }
  }

  async listVersions(key: string): Promise<{ versionId: string; lastModified: Date }[]> {
    const out: { versionId: string; lastModified: Date }[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: key,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionIdMarker ? { VersionIdMarker: versionIdMarker } : {}),
        }),
      );
      for (const v of page.Versions ?? []) {
        // The prefix also matches longer keys ("manifest.json.bak"); keep the exact key only.
        if (v.Key === key && v.VersionId && v.VersionId !== 'null') out.push({ versionId: v.VersionId, lastModified: v.LastModified ?? new Date(0) });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    // S3 lists the versions of a key newest first already; sort anyway so the contract does not rest on it.
    return out.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime());
  }

  async listObjects(prefix: string): Promise<ObjectSummary[]> {
    const out: ObjectSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), ...(o.ETag ? { version: o.ETag } : {}) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async getParameter(name: string): Promise<string | undefined> {
    try {
      const out = await this.ssm.send(new GetParameterCommand({ Name: name }));
      return out.Parameter?.Value;
    } catch (err) {
      if (nameOf(err) === 'ParameterNotFound') return undefined;
      throw err;
    }
  }

  async putParameter(name: string, value: string): Promise<void> {
    // Pointers are ~250 bytes: Standard tier (4 KB, free) is enough. Settings may be larger: SSM says so.
    await this.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
  }
}

function required(value: string | undefined, key: string, what: string): string {
  if (!value) throw new Error(`${key}: S3 response has no ${what}`);
  return value;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = nameOf(err);
  return name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'NotFound' || statusOf(err) === 404;
}
