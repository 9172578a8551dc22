/**
 * The compute Lambda writes the fast pointer after the SSM pointer (docs/deploy.md, "Fleet scale"): its log line says
 * so; a failed write is a WARN line naming the error, and the run still succeeds (the SSM pointer moved).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PointerSchema } from '../../core/manifest.ts';
import { makeComputeHandler } from '../../functions/compute.ts';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, SCHEDULE_SOURCE } from '../../functions/names.ts';
import { AwsStore } from '../../store/aws-store.ts';
import { DynamoFastPointer } from '../../store/fast-pointer.ts';
import { exportKey, pointerParameter, settingsParameter } from '../../store/keys.ts';
import { FakeAws, ddbError } from '../support/fake-aws.ts';
import { exportBundle } from '../support/exports.ts';

const BUCKET = 'pxe-filter-test';
const SITE = 'dc1';
const TABLE = 'PxeFilter-pointers';
const context = { functionName: 'compute-dc1', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
let fake: FakeAws;
let out: string[];
let clock: number;

beforeEach(() => {
  fake = new FakeAws();
  out = [];
  clock = Date.parse('2026-11-25T20:00:00Z');
  const capture = (chunk: string | Uint8Array) => {
    out.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  fake.parameters.set(settingsParameter(SITE), JSON.stringify({ source: 'ironic', guard: { maxChangeShare: 1, minChangesToGuard: 5 } }));
});
afterEach(() => {
  vi.restoreAllMocks();
  fake.restore();
});

const handler = () =>
  makeComputeHandler({
    store: new AwsStore(BUCKET, fake.s3, fake.ssm, new DynamoFastPointer(TABLE, fake.ddb)),
    site: SITE,
    bucket: BUCKET,
    logger: new Logger({ serviceName: COMPUTE_SERVICE, persistentKeys: { site: SITE } }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: COMPUTE_SERVICE, defaultDimensions: { site: SITE } }),
    ackGraceMs: 600_000,
    now: () => new Date((clock += 60_000)),
  });
const upload = (inspecting: number[]) => fake.put(exportKey(SITE, new Date((clock += 1000))), JSON.stringify(exportBundle(SITE, { macs: 10, inspecting })));
const logs = () => out.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => !('_aws' in l));
const schedule = { source: SCHEDULE_SOURCE, site: SITE };

describe('compute Lambda: the fast pointer', () => {
  it('written after the pointer and logged; a failed write is a WARN and the run still publishes', async () => {
    upload([3]);
    expect(await handler()(schedule, context)).toMatchObject({ status: 'published', generation: 1 });
    expect(fake.items.get(`${TABLE}/${SITE}`)!.pointer!.S).toBe(fake.parameters.get(pointerParameter(SITE)));
    expect(logs().find((l) => l.message === 'published')).toMatchObject({ generation: 1, fastPointer: 'written' });

    fake.ddbMock.on(PutItemCommand).rejects(ddbError('ProvisionedThroughputExceededException', 400));
    upload([4]);
    expect(await handler()(schedule, context)).toMatchObject({ status: 'published', generation: 2 });
    expect(PointerSchema.parse(JSON.parse(fake.parameters.get(pointerParameter(SITE))!)).generation).toBe(2);
    const warn = logs().find((l) => l.message === 'fast pointer not written; agents fall back to the SSM pointer');
    expect(warn).toMatchObject({ level: 'WARN', generation: 2, error: expect.stringContaining('ProvisionedThroughputExceededException') });
    expect(logs().filter((l) => l.message === 'published').at(-1)).toMatchObject({ generation: 2, fastPointer: 'error' });
    expect(fake.items.get(`${TABLE}/${SITE}`)!.generation).toEqual({ N: '1' });
  });

  it('the entry point is given its table by FAST_POINTER_TABLE (the stack sets it)', async () => {
    vi.stubEnv('SITE', SITE);
    vi.stubEnv('BUCKET', BUCKET);
    const { handlerFromEnv } = await import('../../functions/compute-entry.ts');
    vi.unstubAllEnvs();
    expect(typeof handlerFromEnv({ SITE, BUCKET, FAST_POINTER_TABLE: TABLE })).toBe('function');
    expect(() => handlerFromEnv({ SITE, BUCKET, FAST_POINTER_TABLE: '' })).toThrow(/environment\.FAST_POINTER_TABLE/);
  });
});
