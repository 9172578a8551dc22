import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, GuardError, InputError } from '../../core/errors.ts';
import { PointerSchema, parseManifestBytes, sha256 } from '../../core/manifest.ts';
import { makeComputeHandler } from '../../functions/compute.ts';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, SCHEDULE_SOURCE } from '../../functions/names.ts';
import { buildStateExport } from '../../core/state-export.ts';
import { exportKey, manifestKey, pointerParameter, provenanceKey, settingsParameter, stateExportKey } from '../../store/keys.ts';
import { AwsStore } from '../../store/aws-store.ts';
import { PreconditionFailedError } from '../../store/store.ts';
import { FakeAws, s3Error, ssmError } from '../support/fake-aws.ts';
import { exportBundle, nodeUuid } from '../support/exports.ts';

const BUCKET = 'pxe-filter-test';
const SITE = 'dc1';
const context = { functionName: 'compute-dc1', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:compute-dc1', functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

let fake: FakeAws;
let out: string[];
let clock: number;

beforeEach(() => {
  fake = new FakeAws();
  out = [];
  clock = Date.parse('2026-11-25T20:00:00Z');
  // Powertools (outside dev mode) writes one JSON document per line to stdout: logs and EMF alike.
  // Errors and warnings go to stderr; both are captured, in order.
  const capture = (chunk: string | Uint8Array) => {
    out.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  fake.parameters.set(settingsParameter(SITE), JSON.stringify({ source: 'ironic', guard: { maxChangeShare: 0.5, minChangesToGuard: 5 } }));
});
afterEach(() => {
  vi.restoreAllMocks();
  fake.restore();
});

function handler() {
  const logger = new Logger({ serviceName: COMPUTE_SERVICE, persistentKeys: { site: SITE } });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: COMPUTE_SERVICE, defaultDimensions: { site: SITE } });
  return makeComputeHandler({ store: new AwsStore(BUCKET, fake.s3, fake.ssm), site: SITE, bucket: BUCKET, logger, metrics, ackGraceMs: 600_000, now: () => new Date((clock += 60_000)) });
}

function uploadExport(bundle: Record<string, unknown>, at = new Date(clock)): string {
  const key = exportKey(SITE, at);
  fake.put(key, JSON.stringify(bundle));
  return key;
}

const s3Event = (key: string) => ({
  Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', awsRegion: 'eu-west-1', s3: { bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` }, object: { key: encodeURIComponent(key).replaceAll('%2F', '/'), size: 10 } } }],
});
const scheduleEvent = { source: SCHEDULE_SOURCE, site: SITE };

const lines = () => out.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
const logs = () => lines().filter((l) => !('_aws' in l));
const emf = () => lines().filter((l) => '_aws' in l);
const metricValue = (name: string) => emf().map((d) => d[name]).filter((v) => v !== undefined);
const pointer = () => PointerSchema.parse(JSON.parse(fake.parameters.get(pointerParameter(SITE))!));
const manifestVersions = () => fake.objects.get(manifestKey(SITE)) ?? [];

describe('compute handler', () => {
  it('happy path: S3 event → manifest object (versioned) → SSM pointer, with JSON logs and EMF metrics', async () => {
    const key = uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const r = await handler()(s3Event(key), context);
    expect(r).toMatchObject({ site: SITE, status: 'published', generation: 1, allow: 1, deny: 9, exportKey: key });

    const versions = manifestVersions();
    expect(versions).toHaveLength(1);
    const p = pointer();
    expect(p).toEqual({ site: SITE, generation: 1, key: manifestKey(SITE), versionId: versions[0]!.versionId, sha256: sha256(versions[0]!.bytes) });
    const m = parseManifestBytes(versions[0]!.bytes);
    expect(m.policy.allow).toEqual(['52:54:00:00:00:03']);
    expect(m.source.inputs).toEqual([{ key, sha256: sha256(fake.objects.get(key)![0]!.bytes) }]);

    const published = logs().find((l) => l.message === 'published');
    expect(published).toMatchObject({ level: 'INFO', service: COMPUTE_SERVICE, site: SITE, generation: 1, allow: 1, deny: 9, ports: 10, function_request_id: 'req-1' });
    const doc = emf().find((d) => d.Published !== undefined)!;
    expect(doc).toMatchObject({ site: SITE, service: COMPUTE_SERVICE, Published: 1, Unchanged: 0, Ports: 10, Allowed: 1, Denied: 9, Computed: 1, Generation: 1 });
    expect(JSON.stringify((doc._aws as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics)).toContain(METRICS_NAMESPACE);
    expect(typeof doc.DurationMs).toBe('number');
  });

  it('unchanged policy: the schedule recomputes, publishes nothing, keeps generation and pointer', async () => {
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    await h(scheduleEvent, context);
    const before = pointer();
    // A new export with the same content (new key, new createdAt) yields the same policy.
    const key2 = uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3], createdAt: '2026-11-25T21:00:00.000Z' }), new Date(clock + 3_600_000));
    const r = await h(s3Event(key2), context);
    expect(r.status).toBe('unchanged');
    expect(manifestVersions()).toHaveLength(1);
    expect(pointer()).toEqual(before);
    // The first run's manifest and its provenance; nothing from the second.
    expect(fake.s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual(['manifests/dc1/manifest.json', 'manifests/dc1/provenance.json']);
    expect(metricValue('Unchanged')).toEqual([0, 1]);
    expect(metricValue('Published')).toEqual([1, 0]);
    expect(logs().some((l) => l.message === 'unchanged' && l.generation === 1)).toBe(true);
  });

  it('warm container: a state export publishes with a provenance delta naming the full document by its S3 version', async () => {
    const full = uploadExport(exportBundle(SITE, { macs: 40, inspecting: [3] }));
    const h = handler();
    await h(s3Event(full), context);
    const at = new Date(clock + 1000);
    const state = buildStateExport(SITE, { nodes: [3, 7].map((n) => ({ uuid: nodeUuid(n), provisionState: 'inspect wait' as const, inspectInterface: 'agent' })) }, at, full);
    const stateKey = stateExportKey(SITE, at);
    fake.put(stateKey, JSON.stringify(state));
    const r = await h(s3Event(stateKey), context);
    expect(r).toMatchObject({ status: 'published', generation: 2 });
    const [base, delta] = fake.objects.get(provenanceKey(SITE))!;
    const doc = JSON.parse(new TextDecoder().decode(delta!.bytes)) as { schema: string; base: { versionId: string; generation: number }; macs: Record<string, unknown>; state: { key: string } };
    expect(doc).toMatchObject({ schema: 'pxe-filter/provenance-delta@1', base: { versionId: base!.versionId, generation: 1 }, state: { key: stateKey } });
    expect(Object.keys(doc.macs)).toEqual(['52:54:00:00:00:07']);
    expect(logs().find((l) => l.message === 'published' && l.generation === 2)).toMatchObject({ provenance: 'delta', stateExportKey: stateKey });
  });

  it('a change publishes generation + 1 from the newest export, even when the event names an older one', async () => {
    const old = uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    await h(s3Event(old), context);
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [4], createdAt: new Date(clock + 60_000).toISOString() }), new Date(clock + 3_600_000));
    const r = await h(s3Event(old), context); // a late, out-of-order notification
    expect(r).toMatchObject({ status: 'published', generation: 2 });
    const m = parseManifestBytes(manifestVersions().at(-1)!.bytes);
    expect(m.policy.allow).toEqual(['52:54:00:00:00:04']);
    expect(pointer().generation).toBe(2);
  });

  it('a future-dated key (2099), then a correct export: the correct one wins; the refusal is logged and counted (FutureExports)', async () => {
    const h = handler();
    const bad = uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3], createdAt: '2099-01-01T00:00:00.000Z' }), new Date('2099-01-01T00:00:00Z'));
    // Alone it is no usable export: the invocation fails (ComputeErrors), nothing is published, the refusal is counted.
    const err = await h(s3Event(bad), context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/no usable export: 1 refused .*createdAt 2099-01-01T00:00:00.000Z is more than 5 minutes after/);
    expect(fake.parameters.has(pointerParameter(SITE))).toBe(false);
    expect(metricValue('FutureExports')).toEqual([1]);
    expect(logs().filter((l) => l.level === 'ERROR').map((l) => l.message)).toEqual(['export refused: dated in the future', expect.stringMatching(/no usable export/)]);

    // The correct export, uploaded after it, wins (the key "2099…" still sorts last).
    const good = uploadExport(exportBundle(SITE, { macs: 10, inspecting: [4], createdAt: new Date(clock).toISOString() }));
    const r = await h(s3Event(good), context);
    expect(r).toMatchObject({ status: 'published', generation: 1, exportKey: good, refusedExports: 1 });
    expect(parseManifestBytes(manifestVersions().at(-1)!.bytes).policy.allow).toEqual(['52:54:00:00:00:04']);
    expect(metricValue('FutureExports')).toEqual([1, 1]);
    expect(logs().filter((l) => l.message === 'export refused: dated in the future').at(-1)).toMatchObject({ exportKey: bad, createdAt: '2099-01-01T00:00:00.000Z', site: SITE });

    // Next change: generation 2 from the newest correct export; nothing is pinned.
    const next = uploadExport(exportBundle(SITE, { macs: 10, inspecting: [5], createdAt: new Date(clock).toISOString() }));
    expect(await h(s3Event(next), context)).toMatchObject({ status: 'published', generation: 2, exportKey: next });
  });

  it('ports with MACs no NIC can have: denied, counted (UnusableMacs) and logged with the first few', async () => {
    const bundle = exportBundle(SITE, { macs: 3, inspecting: [0, 1, 2] });
    const page = (bundle.ports as { ports: { address: string }[] }[])[0]!;
    page.ports[0]!.address = 'ff:ff:ff:ff:ff:ff';
    page.ports[1]!.address = '01:00:5e:00:00:01';
    const r = await handler()(s3Event(uploadExport(bundle)), context);
    expect(r).toMatchObject({ status: 'published', allow: 1, deny: 2, unusableMacs: 2 });
    expect(metricValue('UnusableMacs')).toEqual([2]);
    expect(logs().find((l) => l.level === 'WARN')).toMatchObject({
      message: expect.stringMatching(/no NIC can have/),
      unusableMacs: 2,
      first: ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff'],
    });
  });

  it('guard refusal: nothing published, the error surfaces with the numbers, GuardRefusals is emitted', async () => {
    uploadExport(exportBundle(SITE, { macs: 40 }));
    const h = handler();
    await h(scheduleEvent, context);
    const before = pointer();
    uploadExport(exportBundle(SITE, { macs: 10 }), new Date(clock + 3_600_000)); // 30 of 40 MACs vanished
    const err = await h(scheduleEvent, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardError);
    expect((err as GuardError).message).toMatch(/30 of 40 known MACs changed at once/);
    expect(manifestVersions()).toHaveLength(1);
    expect(pointer()).toEqual(before);
    expect(fake.ssmMock.commandCalls(PutParameterCommand)).toHaveLength(1);
    expect(metricValue('GuardRefusals')).toEqual([1]);
    expect(logs().find((l) => l.level === 'ERROR')).toMatchObject({ message: expect.stringMatching(/guard refused/), vanished: 30, known: 40, site: SITE });
  });

  it('an operator can force past the guard with a manual invoke ({..., "force": true}); the schedule never forces', async () => {
    uploadExport(exportBundle(SITE, { macs: 40 }));
    const h = handler();
    await h(scheduleEvent, context);
    uploadExport(exportBundle(SITE, { macs: 10 }), new Date(clock + 3_600_000));
    await expect(h(scheduleEvent, context)).rejects.toBeInstanceOf(GuardError);
    const r = await h({ ...scheduleEvent, force: true }, context);
    expect(r).toMatchObject({ status: 'published', generation: 2, deny: 10 });
    expect(logs().some((l) => l.message === 'compute started' && l.force === true)).toBe(true);
    await expect(h({ ...scheduleEvent, force: 'yes' }, context)).rejects.toThrow(/^event\.force: /);
  });

  it('conditional-write conflict: of two concurrent computes exactly one publishes; the loser throws', async () => {
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    const results = await Promise.allSettled([h(scheduleEvent, context), h(scheduleEvent, context)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(PreconditionFailedError);
    expect(manifestVersions()).toHaveLength(1);
    expect(pointer().versionId).toBe(manifestVersions()[0]!.versionId);
  });

  it('conflict with a publisher that wins between our read and our write: we throw, the retry builds on the winner', async () => {
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    await h(scheduleEvent, context);
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [5] }), new Date(clock + 3_600_000));
    // Another compute publishes generation 2 while ours is between GetObject and PutObject.
    const winner = handler();
    let raced = false;
    fake.s3Mock.on(PutObjectCommand).callsFake(async (input: Parameters<FakeAws['putObject']>[0]) => {
      if (!raced && input.Key === manifestKey(SITE)) {
        raced = true;
        await winner(scheduleEvent, context);
      }
      return fake.putObject(input);
    });
    await expect(h(scheduleEvent, context)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(manifestVersions()).toHaveLength(2);
    expect(pointer().generation).toBe(2);
    // Lambda's retry: same policy as the winner's → unchanged, generation 2 stays, nothing new written.
    const retry = await h(scheduleEvent, context);
    expect(retry).toMatchObject({ status: 'unchanged', generation: 2 });
    expect(manifestVersions()).toHaveLength(2);
  });

  it('malformed export: a clear error naming the field and value; previous manifest and pointer stay', async () => {
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    await h(scheduleEvent, context);
    const before = pointer();
    const bad = exportBundle(SITE, { macs: 10 });
    ((bad.ports as { ports: { address: string }[] }[])[0]!.ports[2]!).address = 'zz:54:00:00:00:02';
    const key = uploadExport(bad, new Date(clock + 3_600_000));
    const err = await h(s3Event(key), context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).field).toBe(`${key}.ports[0].ports[2].address`);
    expect((err as InputError).message).toContain('"zz:54:00:00:00:02"');
    expect(manifestVersions()).toHaveLength(1);
    expect(pointer()).toEqual(before);
    expect(logs().find((l) => l.level === 'ERROR')).toMatchObject({ field: `${key}.ports[0].ports[2].address` });
  });

  it('an export that is not JSON, or names another site, is refused', async () => {
    const key = exportKey(SITE, new Date(clock));
    fake.put(key, '{"schema": "pxe-filter/export@1", "site": ');
    await expect(handler()(s3Event(key), context)).rejects.toThrow(new RegExp(`^${key}: not valid JSON`));
    fake.put(key, JSON.stringify(exportBundle('dc2', { macs: 3 })));
    await expect(handler()(s3Event(key), context)).rejects.toThrow(`${key}.site: is not the site "dc1"`);
    expect(manifestVersions()).toHaveLength(0);
  });

  it('bad or missing site settings are clear errors naming the parameter and field', async () => {
    uploadExport(exportBundle(SITE, { macs: 3 }));
    fake.parameters.set(settingsParameter(SITE), JSON.stringify({ source: 'ironic', guard: { maxChangeShare: 2 } }));
    await expect(handler()(scheduleEvent, context)).rejects.toThrow(/^\/pxe-filter\/dc1\/settings\.guard\.maxChangeShare: .*: 2$/);
    fake.parameters.set(settingsParameter(SITE), JSON.stringify({ source: 'ironic', discovery: true, denyUnknownMacs: true }));
    await expect(handler()(scheduleEvent, context)).rejects.toBeInstanceOf(ConfigError);
    fake.parameters.set(settingsParameter(SITE), JSON.stringify({ source: 'inspector' }));
    await expect(handler()(scheduleEvent, context)).rejects.toThrow(/^introspection: the site uses source "inspector"/);
    fake.parameters.delete(settingsParameter(SITE));
    await expect(handler()(scheduleEvent, context)).rejects.toThrow(/^\/pxe-filter\/dc1\/settings: no settings for site "dc1"/);
    expect(manifestVersions()).toHaveLength(0);
  });

  it('events for another site or bucket, and unknown events, are refused', async () => {
    uploadExport(exportBundle(SITE, { macs: 3 }));
    await expect(handler()({ source: SCHEDULE_SOURCE, site: 'dc2' }, context)).rejects.toThrow('event.site: is not this function\'s site "dc1"');
    await expect(handler()(s3Event('exports/dc2/x.json'), context)).rejects.toThrow(/^event\.Records\[0\]\.s3\.object\.key: is not under exports\/dc1\//);
    await expect(handler()({ hello: 'world' }, context)).rejects.toThrow(/^event\.source/);
    expect(manifestVersions()).toHaveLength(0);
  });

  it('ordering: the pointer is written only after its object exists, and never when the object write fails', async () => {
    const missing: string[] = [];
    fake.ssmMock.on(PutParameterCommand).callsFake((input: { Name: string; Value: string }) => {
      const p = PointerSchema.parse(JSON.parse(input.Value));
      if (!fake.objects.get(p.key)?.some((v) => v.versionId === p.versionId)) missing.push(p.versionId);
      fake.parameters.set(input.Name, input.Value);
      return {};
    });
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    await h(scheduleEvent, context);
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [4] }), new Date(clock + 3_600_000));
    await h(scheduleEvent, context);
    expect(missing).toEqual([]);
    expect(pointer().generation).toBe(2);

    // The object write fails for good (5xx after the SDK's retries): the pointer must not move.
    fake.s3Mock.on(PutObjectCommand).rejects(s3Error('InternalError', 500));
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [5] }), new Date(clock + 7_200_000));
    await expect(h(scheduleEvent, context)).rejects.toMatchObject({ name: 'InternalError' });
    expect(pointer().generation).toBe(2);
    expect(missing).toEqual([]);
  });

  it('throttling that outlasts the SDK retries fails the invocation (Lambda retries it), nothing half-published', async () => {
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    fake.ssmMock.on(GetParameterCommand).rejects(ssmError('ThrottlingException', 400));
    await expect(handler()(scheduleEvent, context)).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(manifestVersions()).toHaveLength(0);
    expect(logs().find((l) => l.level === 'ERROR')).toMatchObject({ message: 'compute failed', site: SITE });
  });

  it('counts agents that have not acked the current generation once the grace period is over', async () => {
    fake.put('acks/dc1/host-a.json', '{}', new Date(clock - 1000));
    fake.put('acks/dc1/host-b.json', '{}', new Date(clock - 1000));
    fake.put('acks/dc2/host-z.json', '{}', new Date(clock - 1000));
    uploadExport(exportBundle(SITE, { macs: 10, inspecting: [3] }));
    const h = handler();
    await h(scheduleEvent, context); // publish at t; both acks are older
    expect(metricValue('AgentsBehind')).toEqual([0]); // within the grace period
    expect(metricValue('Agents')).toEqual([2]);
    clock += 3_600_000;
    fake.put('acks/dc1/host-a.json', '{}', new Date(clock)); // host-a applied the current generation
    await h(scheduleEvent, context);
    expect(metricValue('AgentsBehind')).toEqual([0, 1]);
  });
});
