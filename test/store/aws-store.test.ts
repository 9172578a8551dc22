/** AwsStore behaviour specific to S3 that the shared contract cannot express. */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsStore } from '../../store/aws-store.ts';
import { FakeAws, s3Error } from '../support/fake-aws.ts';

let fake: FakeAws;
beforeEach(() => {
  fake = new FakeAws();
});
afterEach(() => fake.restore());

describe('AwsStore on S3 specifics', () => {
  it('a 403 for a key that the (prefix-scoped) listing does not show reads as absent', async () => {
    // What S3 does for a role without an unconditional s3:ListBucket: missing keys answer 403, not 404.
    fake.s3Mock.on(GetObjectCommand).callsFake((input: { Key: string; VersionId?: string }) => {
      if (!fake.objects.has(input.Key)) throw s3Error('AccessDenied', 403);
      return fake.getObject(input);
    });
    const store = new AwsStore('pxe-filter-test', fake.s3, fake.ssm);
    expect(await store.getObject('manifests/dc1/manifest.json')).toBeUndefined();
    expect(fake.s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({ Prefix: 'manifests/dc1/manifest.json', MaxKeys: 1 });
  });

  it('a 403 for a key that exists stays an error (a real denial is never read as "absent")', async () => {
    fake.put('manifests/dc1/manifest.json', '{}');
    fake.s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));
    const store = new AwsStore('pxe-filter-test', fake.s3, fake.ssm);
    await expect(store.getObject('manifests/dc1/manifest.json')).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('a version id that does not exist reads as absent', async () => {
    fake.put('manifests/dc1/manifest.json', '{}');
    const store = new AwsStore('pxe-filter-test', fake.s3, fake.ssm);
    expect(await store.getObject('manifests/dc1/manifest.json', 'no-such-version')).toBeUndefined();
  });
});
