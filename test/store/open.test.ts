import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { AwsStore } from '../../store/aws-store.ts';
import { LocalStore } from '../../store/local-store.ts';
import { openStore } from '../../store/open.ts';

describe('openStore', () => {
  it('opens local:<dir> and s3://<bucket>', async () => {
    expect(await openStore('local:/tmp/x')).toBeInstanceOf(LocalStore);
    const s3 = await openStore('s3://pxe-filter-prod/');
    expect(s3).toBeInstanceOf(AwsStore);
    expect(s3.description).toBe('s3://pxe-filter-prod + SSM + DynamoDB table PxeFilter-pointers');
    expect(s3.fastPointer?.fallback).toEqual({ intervalMs: 300_000, retryMs: 30_000 });
    const tuned = await openStore('s3://pxe-filter-prod', { fastPointer: { table: 'Staging-pointers', ssmIntervalSeconds: 120, ssmRetrySeconds: 10 } });
    expect(tuned.description).toBe('s3://pxe-filter-prod + SSM + DynamoDB table Staging-pointers');
    expect(tuned.fastPointer?.fallback).toEqual({ intervalMs: 120_000, retryMs: 10_000 });
    const ssmOnly = await openStore('s3://pxe-filter-prod', { fastPointer: { table: '' } });
    expect(ssmOnly.description).toBe('s3://pxe-filter-prod + SSM');
    expect(ssmOnly.fastPointer).toBeUndefined();
    expect((await openStore('local:/tmp/x', { fastPointer: { table: 'T-pointers' } })).fastPointer).toBeUndefined();
  });
  it('refuses anything else, and bucket names S3 would refuse, naming the value', async () => {
    await expect(openStore('gs://x')).rejects.toThrow(/^--store: expected local:<dir> or s3:\/\/<bucket>: "gs:\/\/x"$/);
    await expect(openStore('s3://Bad_Bucket')).rejects.toBeInstanceOf(InputError);
  });
});
