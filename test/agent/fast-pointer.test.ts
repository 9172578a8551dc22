/**
 * The fast pointer (docs/deploy.md, "Fleet scale") through aws-sdk-client-mock: the publisher writes it after the
 * SSM pointer and a failure there does not fail the publish; the agent's ManifestSource polls it, reads SSM only on
 * its slower schedule (or sooner while the fast pointer fails), and follows whatever it names only through the same
 * site/key/replay/signature checks as an SSM pointer — a forged one is refused and then ignored.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestSource, choosePointer, ssmReadDue, type FastRead } from '../../agent/manifest-source.ts';
import { type Pointer, sha256 } from '../../core/manifest.ts';
import { trustStoreFromPems } from '../../core/signature.ts';
import { publishPolicy } from '../../control/publish.ts';
import { type ManifestSigner, keySigner } from '../../control/signing.ts';
import { AwsStore } from '../../store/aws-store.ts';
import { DynamoFastPointer } from '../../store/fast-pointer.ts';
import { manifestKey, pointerParameter } from '../../store/keys.ts';
import { FakeAws, ddbError, s3Error } from '../support/fake-aws.ts';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { macs, manifestBytes, policyOf } from './support.ts';

const BUCKET = 'pxe-filter-test';
const TABLE = 'PxeFilter-pointers';
const FALLBACK = { intervalMs: 300_000, retryMs: 30_000 };
let fake: FakeAws;
let store: AwsStore;
let clock: number;
let signer: ManifestSigner;
let trustPem: string;

beforeEach(() => {
  fake = new FakeAws();
  store = new AwsStore(BUCKET, fake.s3, fake.ssm, new DynamoFastPointer(TABLE, fake.ddb, FALLBACK));
  clock = Date.parse('2026-12-02T10:00:00Z');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  signer = keySigner(privateKey, 'test key');
  trustPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
});
afterEach(() => fake.restore());

const publish = (allow = 3, s = store) =>
  publishPolicy({ store: s, site: 'dc1', policy: policyOf(macs(allow), []), inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date(clock), signer });
const source = () => new ManifestSource(store, 'dc1', trustStoreFromPems([{ pem: trustPem, label: 'test.pub' }]), () => clock);
const fastItem = () => fake.items.get(`${TABLE}/dc1`);
const count = (prefix: string) => fake.calls.filter((c) => c.startsWith(prefix)).length;

describe('publisher: the fast pointer after the SSM pointer', () => {
  it('writes the same pointer text, after PutParameter; an unchanged run rewrites it (repair)', async () => {
    const r = await publish();
    expect(r.fastPointer).toEqual({ written: true });
    expect(fastItem()).toEqual({ site: { S: 'dc1' }, generation: { N: '1' }, pointer: { S: fake.parameters.get(pointerParameter('dc1')) } });
    const order = fake.calls.filter((c) => c.startsWith('PutParameter') || c.startsWith('PutItem'));
    expect(order).toEqual([`PutParameter ${pointerParameter('dc1')}`, `PutItem ${TABLE}`]);
    fake.items.clear(); // a fast pointer lost (or never written)
    const again = await publish();
    expect(again.status).toBe('unchanged');
    expect(again.fastPointer).toEqual({ written: true });
    expect(JSON.parse(fastItem()!.pointer!.S!)).toEqual(r.pointer);
  });

  it('a failing fast pointer does not fail the publish: the SSM pointer moved, the failure is in the result', async () => {
    fake.ddbMock.on(PutItemCommand).rejects(ddbError('InternalServerError', 500));
    const r = await publish();
    expect(r.status).toBe('published');
    expect(r.fastPointer).toMatchObject({ written: false, reason: 'error', error: expect.stringContaining('InternalServerError') });
    expect(JSON.parse(fake.parameters.get(pointerParameter('dc1'))!)).toEqual(r.pointer);
    expect(fastItem()).toBeUndefined();
  });

  it('never moves backwards: a newer generation in the item stays (ConditionalCheckFailed → "newer")', async () => {
    const r = await publish();
    fake.items.set(`${TABLE}/dc1`, { site: { S: 'dc1' }, generation: { N: '7' }, pointer: { S: '{"generation":7}' } });
    const again = await publish();
    expect(again.fastPointer).toEqual({ written: false, reason: 'newer' });
    expect(fastItem()!.generation).toEqual({ N: '7' });
    const put = fake.ddbMock.commandCalls(PutItemCommand).at(-1)!.args[0].input;
    expect(put).toMatchObject({ TableName: TABLE, ConditionExpression: 'attribute_not_exists(#g) OR #g <= :g', ExpressionAttributeValues: { ':g': { N: String(r.pointer.generation) } } });
  });

  it('a store without a fast pointer: nothing written, no field', async () => {
    const r = await publish(3, new AwsStore(BUCKET, fake.s3, fake.ssm));
    expect(r.fastPointer).toBeUndefined();
    expect(fake.ddbMock.commandCalls(PutItemCommand)).toHaveLength(0);
  });
});

describe('agent: polls the fast pointer, SSM on the slow schedule', () => {
  it('10 minutes of 5 s polls: 121 GetItem, 3 GetParameter; a new generation is seen at the next poll, without SSM', async () => {
    await publish();
    const s = source();
    const seen: number[] = [];
    let last: number | undefined;
    let ssmReads = 0;
    let fastReads = 0;
    for (let t = 0; t <= 600; t += 5) {
      clock = Date.parse('2026-12-02T10:00:00Z') + t * 1000;
      if (t === 125) await publish(5); // after the poll at 120: seen at the next one
      const [ssm0, fast0] = [count('GetParameter'), count('GetItem')];
      const read = await s.readPointer();
      ssmReads += count('GetParameter') - ssm0;
      fastReads += count('GetItem') - fast0;
      if (read.kind !== 'pointer') throw new Error(JSON.stringify(read));
      if (last !== read.pointer.generation) seen.push((last = read.pointer.generation), t);
    }
    expect(seen).toEqual([1, 0, 2, 125]);
    expect(fastReads).toBe(121);
    expect(fake.ddbMock.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({ TableName: TABLE, Key: { site: { S: 'dc1' } }, ConsistentRead: false });
    expect(ssmReads).toBe(3); // t = 0, 300, 600
  });

  it('fast pointer unreachable: SSM at most every 30 s, and a new generation still arrives through it', async () => {
    const first = await publish();
    const s = source();
    expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: first.pointer });
    fake.ddbMock.on(GetItemCommand).rejects(ddbError('InternalServerError', 500));
    fake.ddbMock.on(PutItemCommand).rejects(ddbError('InternalServerError', 500));
    const published = await publish(5); // the publisher's write fails too: only SSM knows generation 2
    expect(published.fastPointer).toMatchObject({ written: false });
    const before = count('GetParameter');
    let arrived: number | undefined;
    for (let t = 5; t <= 60; t += 5) {
      clock += 5000;
      const read = await s.readPointer();
      expect(read.kind).toBe('pointer'); // never "unreachable" while SSM answers: the daemon keeps its pace
      if (read.kind === 'pointer' && read.pointer.generation === 2 && arrived === undefined) arrived = t;
    }
    expect(arrived).toBe(30);
    expect(count('GetParameter') - before).toBe(2); // t = 30, 60
  });

  it('a fast pointer that lags SSM (its write failed) is ignored, not refused as a replay', async () => {
    await publish();
    fake.ddbMock.on(PutItemCommand).rejects(ddbError('InternalServerError', 500));
    const second = await publish(5);
    const s = source();
    const read = await s.readPointer(); // first poll reads both: SSM says 2, the fast pointer 1
    expect(read).toEqual({ kind: 'pointer', pointer: second.pointer });
    clock += 5000;
    expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: second.pointer });
  });
});

describe('agent: a forged fast pointer is refused like an SSM pointer', () => {
  /** Whoever can write the item (not the agents: IAM) points dc1 at something; returns what the agent then does. */
  async function forge(pointer: Pointer, applied: { generation: number; sha256: string }) {
    const s = source();
    const first = await s.readPointer();
    fake.items.set(`${TABLE}/dc1`, { site: { S: 'dc1' }, generation: { N: String(pointer.generation) }, pointer: { S: JSON.stringify(pointer) } });
    clock += 5000;
    const read = await s.readPointer();
    if (read.kind !== 'pointer') throw new Error(JSON.stringify(read));
    const fetched = await s.fetch(read.pointer, applied);
    clock += 5000;
    const after = await s.readPointer(); // refused once, then ignored: SSM's pointer again
    return { first, read, fetched, after };
  }

  it("naming another site's manifest key: refused before any fetch, then ignored", async () => {
    const good = await publish();
    const { bytes } = manifestBytes(policyOf(macs(9), []), 9, 'dc1');
    const put = await store.putObject(manifestKey('dc2'), bytes);
    const forged: Pointer = { site: 'dc1', generation: 9, key: manifestKey('dc2'), versionId: put.versionId, sha256: sha256(bytes) };
    const gets = fake.s3Mock.calls().length;
    const r = await forge(forged, { generation: 1, sha256: good.pointer.sha256 });
    expect(r.read).toEqual({ kind: 'pointer', pointer: forged });
    expect(r.fetched).toMatchObject({ kind: 'refused', reason: expect.stringContaining("pointer.key: is not this site's manifest") });
    expect(fake.s3Mock.calls().length).toBe(gets); // not fetched
    expect(r.after).toEqual({ kind: 'pointer', pointer: good.pointer });
  });

  it('naming an older generation (replay) with its valid signature: not followed; refused when SSM is not there to outrank it', async () => {
    const old = await publish();
    const current = await publish(5);
    // The ordinary case: SSM (read at the first poll) outranks it, so it is never even followed.
    const s = source();
    await s.readPointer();
    fake.items.set(`${TABLE}/dc1`, { site: { S: 'dc1' }, generation: { N: '1' }, pointer: { S: JSON.stringify(old.pointer) } });
    clock += 5000;
    expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: current.pointer });
    // With SSM unreachable from the start, the agent follows it only to the replay check, which refuses it.
    fake.ssmMock.on((await import('@aws-sdk/client-ssm')).GetParameterCommand).rejects(ddbError('InternalServerError', 500));
    const lone = source();
    const read = await lone.readPointer();
    expect(read).toEqual({ kind: 'pointer', pointer: old.pointer });
    expect(await lone.fetch(old.pointer, { generation: 2, sha256: current.pointer.sha256 })).toMatchObject({ kind: 'refused', reason: expect.stringContaining('older than the applied generation 2 (replay refused)') });
  });

  it('naming unsigned bytes under a higher generation: the signature check refuses it, then SSM rules again', async () => {
    const good = await publish();
    const { bytes } = manifestBytes(policyOf(macs(50), []), 2, 'dc1');
    const put = await store.putObject(manifestKey('dc1'), bytes);
    const forged: Pointer = { site: 'dc1', generation: 2, key: manifestKey('dc1'), versionId: put.versionId, sha256: sha256(bytes) };
    const r = await forge(forged, { generation: 1, sha256: good.pointer.sha256 });
    expect(r.fetched).toMatchObject({ kind: 'refused', reason: expect.stringContaining('unsigned manifest refused') });
    expect(r.after).toEqual({ kind: 'pointer', pointer: good.pointer });
  });

  it('refused on a later fetch (the first found S3 unreachable): still recognised as the fast pointer\'s, then ignored', async () => {
    const good = await publish();
    const s = source();
    await s.readPointer();
    const { bytes } = manifestBytes(policyOf(macs(50), []), 2, 'dc1');
    const put = await store.putObject(manifestKey('dc1'), bytes);
    const forged: Pointer = { site: 'dc1', generation: 2, key: manifestKey('dc1'), versionId: put.versionId, sha256: sha256(bytes) };
    fake.items.set(`${TABLE}/dc1`, { site: { S: 'dc1' }, generation: { N: '2' }, pointer: { S: JSON.stringify(forged) } });
    const applied = { generation: 1, sha256: good.pointer.sha256 };
    clock += 5000;
    expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: forged });
    fake.s3Mock.on(GetObjectCommand).rejects(s3Error('InternalError', 500));
    expect(await s.fetch(forged, applied)).toMatchObject({ kind: 'unreachable' });
    fake.install(); // S3 answers again; now the fast pointer is the one that fails
    fake.ddbMock.on(GetItemCommand).rejects(ddbError('InternalServerError', 500));
    clock += 5000;
    expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: forged }); // the previous answer
    expect(await s.fetch(forged, applied)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('unsigned manifest refused') });
    fake.install(); // the fast pointer answers again, still forged: ignored
    for (let i = 0; i < 3; i++) {
      clock += 5000;
      expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: good.pointer });
    }
  });

  it('an item that is not a pointer is ignored (SSM sooner), never applied', async () => {
    const good = await publish();
    const s = source();
    await s.readPointer();
    fake.items.set(`${TABLE}/dc1`, { site: { S: 'dc1' }, generation: { N: '99' }, pointer: { S: '{"site":"dc1","generation":99}' } });
    const before = count('GetParameter');
    for (let i = 0; i < 6; i++) {
      clock += 5000;
      expect(await s.readPointer()).toEqual({ kind: 'pointer', pointer: good.pointer });
    }
    expect(count('GetParameter') - before).toBe(1); // the 30 s retry schedule, not every poll
  });
});

describe('the pure rules', () => {
  const p = (generation: number): Pointer => ({ site: 'dc1', generation, key: manifestKey('dc1'), versionId: `v${generation}`, sha256: 'a'.repeat(64) });
  const ptr = (g: number) => ({ kind: 'pointer' as const, pointer: p(g) });
  const fastPtr = (g: number): FastRead => ({ kind: 'pointer', pointer: p(g) });
  it('ssmReadDue: first poll, then every intervalMs while the fast pointer answers, retryMs while it does not', () => {
    expect(ssmReadDue(undefined, fastPtr(1), 0, FALLBACK)).toBe(true);
    expect(ssmReadDue(0, fastPtr(1), 299_999, FALLBACK)).toBe(false);
    expect(ssmReadDue(0, fastPtr(1), 300_000, FALLBACK)).toBe(true);
    expect(ssmReadDue(0, { kind: 'unreachable', error: 'x' }, 29_999, FALLBACK)).toBe(false);
    expect(ssmReadDue(0, { kind: 'absent' }, 30_000, FALLBACK)).toBe(true);
    expect(ssmReadDue(0, { kind: 'ignored', reason: 'x' }, 30_000, FALLBACK)).toBe(true);
  });
  it('choosePointer: the fast pointer only when newer than SSM; else SSM of this poll; else the previous answer', () => {
    expect(choosePointer(fastPtr(3), ptr(2), ptr(2), ptr(2))).toEqual(ptr(3));
    expect(choosePointer(fastPtr(2), ptr(2), ptr(2), ptr(2))).toEqual(ptr(2));
    expect(choosePointer(fastPtr(1), undefined, ptr(2), ptr(2))).toEqual(ptr(2));
    expect(choosePointer(fastPtr(3), undefined, ptr(2), ptr(2))).toEqual(ptr(3));
    expect(choosePointer({ kind: 'unreachable', error: 'down' }, undefined, ptr(2), ptr(2))).toEqual(ptr(2));
    expect(choosePointer({ kind: 'unreachable', error: 'down' }, { kind: 'unreachable', error: 'ssm down' }, undefined, undefined)).toEqual({ kind: 'unreachable', error: 'ssm down' });
    expect(choosePointer({ kind: 'unreachable', error: 'down' }, undefined, undefined, undefined)).toEqual({ kind: 'unreachable', error: 'down' });
    expect(choosePointer({ kind: 'absent' }, { kind: 'unpublished' }, undefined, undefined)).toEqual({ kind: 'unpublished' });
    expect(choosePointer(fastPtr(1), { kind: 'unpublished' }, undefined, undefined)).toEqual(ptr(1));
    expect(choosePointer(fastPtr(2), { kind: 'unreachable', error: 'ssm down' }, ptr(2), ptr(2))).toEqual(ptr(2));
  });
});
