/**
 * Opens the store a command was told to use: `local:<dir>` (the embedded default) or `s3://<bucket>`
 * (S3 for objects, SSM Parameter Store for parameters; region and credentials from the usual AWS chain).
 */
import { InputError } from '../core/errors.ts';
import { LocalStore } from './local-store.ts';
import type { Store } from './store.ts';

export interface OpenStoreOptions {
  region?: string | undefined;
  /**
   * The fast pointer of an s3:// store (store/fast-pointer.ts): its DynamoDB table (default: the stack's
   * PxeFilter-pointers; '' = none, SSM only) and, for agents, how often SSM is still read.
   */
  fastPointer?: { table?: string | undefined; ssmIntervalSeconds?: number | undefined; ssmRetrySeconds?: number | undefined } | undefined;
}

export async function openStore(spec: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (spec.startsWith('local:')) return new LocalStore(spec.slice('local:'.length));
  if (spec.startsWith('s3://')) {
    const bucket = spec.slice('s3://'.length).replace(/\/$/, '');
    // Loaded on demand: the local mode and the agent never pay for the AWS SDK import.
    const [{ AwsStore, makeS3Client, makeSsmClient }, fast] = await Promise.all([import('./aws-store.ts'), import('./fast-pointer.ts')]);
    const region = options.region ? { region: options.region } : {};
    const f = options.fastPointer ?? {};
    const table = f.table ?? fast.DEFAULT_FAST_POINTER_TABLE;
    const fallback = {
      intervalMs: (f.ssmIntervalSeconds ?? fast.DEFAULT_SSM_FALLBACK.intervalMs / 1000) * 1000,
      retryMs: (f.ssmRetrySeconds ?? fast.DEFAULT_SSM_FALLBACK.retryMs / 1000) * 1000,
    };
    // Few attempts: a fast pointer that keeps failing is what the SSM fallback is for (within ssmRetrySeconds).
    const fastPointer = table ? new fast.DynamoFastPointer(table, fast.makeDynamoClient({ ...region, maxAttempts: fast.FAST_POINTER_MAX_ATTEMPTS }), fallback) : undefined;
    return new AwsStore(bucket, makeS3Client(region), makeSsmClient(region), fastPointer);
  }
  throw new InputError('--store', spec, 'expected local:<dir> or s3://<bucket>');
}
