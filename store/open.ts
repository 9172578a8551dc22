/**
 * Opens the store a command was told to use: `local:<dir>` (the embedded default) or `s3://<bucket>`
 * (S3 for objects, SSM Parameter Store for parameters; region and credentials from the usual AWS chain).
 */
import { InputError } from '../core/errors.ts';
import { LocalStore } from './local-store.ts';
import type { Store } from './store.ts';

export async function openStore(spec: string, options: { region?: string | undefined } = {}): Promise<Store> {
  if (spec.startsWith('local:')) return new LocalStore(spec.slice('local:'.length));
  if (spec.startsWith('s3://')) {
    const bucket = spec.slice('s3://'.length).replace(/\/$/, '');
    // Loaded on demand: the local mode and the agent never pay for the AWS SDK import.
    const { AwsStore, makeS3Client, makeSsmClient } = await import('./aws-store.ts');
    const region = options.region ? { region: options.region } : {};
    return new AwsStore(bucket, makeS3Client(region), makeSsmClient(region));
  }
  throw new InputError('--store', spec, 'expected local:<dir> or s3://<bucket>');
}
