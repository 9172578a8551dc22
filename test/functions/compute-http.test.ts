/**
 * The compute handler with REAL SDK clients over loopback HTTP (test/support/aws-http.ts): every AWS call it
 * makes is first answered with throttling or a 5xx, and the SDK retry strategy configured by the AwsStore must
 * carry the publish through. aws-sdk-client-mock cannot show this: it replaces `send`, retry middleware included.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PointerSchema, sha256 } from '../../core/manifest.ts';
import { makeComputeHandler } from '../../functions/compute.ts';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, SCHEDULE_SOURCE } from '../../functions/names.ts';
import { AwsStore, makeS3Client, makeSsmClient } from '../../store/aws-store.ts';
import { exportKey, manifestKey, pointerParameter, provenanceKey, settingsParameter } from '../../store/keys.ts';
import { AwsHttp } from '../support/aws-http.ts';
import { exportBundle } from '../support/exports.ts';
import { FakeAws } from '../support/fake-aws.ts';

const BUCKET = 'pxe-filter-test';
const context = { functionName: 'compute-dc1', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

let fake: FakeAws;
let http: AwsHttp;
beforeEach(async () => {
  fake = new FakeAws();
  http = new AwsHttp(fake, BUCKET);
  await http.start();
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  fake.parameters.set(settingsParameter('dc1'), JSON.stringify({ source: 'ironic' }));
  fake.put(exportKey('dc1', new Date('2026-11-25T20:00:00Z')), JSON.stringify(exportBundle('dc1', { macs: 30, inspecting: [7] })));
});
afterEach(async () => {
  vi.restoreAllMocks();
  fake.restore();
  await http.stop();
});

function handler(maxAttempts?: number) {
  const opts = { endpoint: http.endpoint, region: 'eu-west-1', credentials: creds, ...(maxAttempts ? { maxAttempts } : {}) };
  return makeComputeHandler({
    store: new AwsStore(BUCKET, makeS3Client(opts), makeSsmClient(opts)),
    site: 'dc1',
    bucket: BUCKET,
    logger: new Logger({ serviceName: COMPUTE_SERVICE }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: COMPUTE_SERVICE, defaultDimensions: { site: 'dc1' } }),
    ackGraceMs: 900_000,
  });
}

describe('compute over HTTP with throttling and 5xx on every call', () => {
  it('publishes anyway: each call is retried by the SDK, and a failed write attempt leaves nothing behind', { timeout: 60_000 }, async () => {
    http.faults.set('GetParameter', ['ThrottlingException']);
    http.faults.set('ListObjectsV2', ['SlowDown']);
    http.faults.set('GetObject', ['InternalError']);
    http.faults.set('PutObject', ['SlowDown']);
    http.faults.set('PutParameter', ['ThrottlingException', 'InternalError']);
    const r = await handler()({ source: SCHEDULE_SOURCE, site: 'dc1' }, context);
    expect(r).toMatchObject({ status: 'published', generation: 1, allow: 1, deny: 29 });
    expect(http.count('PutObject')).toBe(3); // the manifest: one throttled, one served; then its provenance
    expect(fake.objects.get(provenanceKey('dc1'))).toHaveLength(1);
    expect(http.count('PutParameter')).toBe(3); // two failed, one served
    expect(http.count('GetObject')).toBeGreaterThanOrEqual(3); // export + absent manifest, one faulted
    const versions = fake.objects.get(manifestKey('dc1'))!;
    expect(versions).toHaveLength(1);
    const pointer = PointerSchema.parse(JSON.parse(fake.parameters.get(pointerParameter('dc1'))!));
    expect(pointer).toMatchObject({ generation: 1, versionId: versions[0]!.versionId, sha256: sha256(versions[0]!.bytes) });
  });

  it('an SSM outage outlasting the retries fails the run after the object write; the next run repairs the pointer', { timeout: 60_000 }, async () => {
    http.faults.set('PutParameter', ['ThrottlingException', 'ThrottlingException', 'ThrottlingException']);
    await expect(handler(3)({ source: SCHEDULE_SOURCE, site: 'dc1' }, context)).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(http.count('PutParameter')).toBe(3);
    expect(fake.objects.get(manifestKey('dc1'))).toHaveLength(1);
    expect(fake.parameters.has(pointerParameter('dc1'))).toBe(false); // never a pointer without its object

    const r = await handler(3)({ source: SCHEDULE_SOURCE, site: 'dc1' }, context); // Lambda's retry, or the schedule
    expect(r).toMatchObject({ status: 'unchanged', generation: 1 });
    const pointer = PointerSchema.parse(JSON.parse(fake.parameters.get(pointerParameter('dc1'))!));
    expect(pointer.versionId).toBe(fake.objects.get(manifestKey('dc1'))![0]!.versionId);
  });
});
