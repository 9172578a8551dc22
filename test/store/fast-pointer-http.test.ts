/**
 * The fast pointer's read path with the real AWS SDK over loopback HTTP (test/support/aws-http.ts): DynamoDB's JSON
 * wire format, the SDK's retries of throttling and 5xx, and the agent's fallback to the SSM pointer when the fast
 * pointer keeps failing — the whole client stack that aws-sdk-client-mock skips.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { trustStoreFromPems } from '../../core/signature.ts';
import { publishPolicy } from '../../control/publish.ts';
import { keySigner } from '../../control/signing.ts';
import { AwsStore, makeS3Client, makeSsmClient } from '../../store/aws-store.ts';
import { DynamoFastPointer, FAST_POINTER_MAX_ATTEMPTS, makeDynamoClient } from '../../store/fast-pointer.ts';
import { AwsHttp } from '../support/aws-http.ts';
import { FakeAws } from '../support/fake-aws.ts';
import { macs, policyOf } from '../agent/support.ts';

const BUCKET = 'pxe-filter-test';
const TABLE = 'PxeFilter-pointers';
const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
let fake: FakeAws;
let http: AwsHttp;
let clock: number;
const keys = generateKeyPairSync('ed25519');
const signer = keySigner(keys.privateKey, 'test key');
const trust = trustStoreFromPems([{ pem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), label: 'test.pub' }]);

beforeEach(async () => {
  fake = new FakeAws();
  http = new AwsHttp(fake, BUCKET);
  await http.start();
  clock = Date.parse('2026-12-02T10:00:00Z');
});
afterEach(async () => {
  await http.stop();
  fake.restore();
});

/** A store as openStore makes it (the agent's: few fast-pointer attempts), talking to the loopback endpoint. */
const storeOver = (ddbAttempts: number) => {
  const o = { endpoint: http.endpoint, region: 'eu-west-1', credentials: creds };
  return new AwsStore(BUCKET, makeS3Client(o), makeSsmClient(o), new DynamoFastPointer(TABLE, makeDynamoClient({ ...o, maxAttempts: ddbAttempts }), { intervalMs: 300_000, retryMs: 30_000 }));
};
const publish = (allow: number) =>
  publishPolicy({ store: storeOver(2), site: 'dc1', policy: policyOf(macs(allow), []), inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date(clock), signer });

describe('fast pointer over HTTP (real SDK)', () => {
  it('the publisher writes it through DynamoDB\'s wire format; a failed write (5xx past the retries) leaves the publish standing', async () => {
    const r = await publish(3);
    expect(r.fastPointer).toEqual({ written: true });
    expect(JSON.parse(fake.items.get(`${TABLE}/dc1`)!.pointer!.S!)).toEqual(r.pointer);
    http.faults.set('PutItem', ['InternalError', 'InternalError']);
    const second = await publish(4);
    expect(second.status).toBe('published');
    expect(second.fastPointer).toMatchObject({ written: false, reason: 'error' });
    expect(JSON.parse(fake.parameters.get('/pxe-filter/dc1/current')!)).toEqual(second.pointer);
  });

  it('agent: throttling and a 5xx on GetItem are retried by the SDK; the new generation arrives without an SSM read', async () => {
    await publish(3);
    const source = new ManifestSource(storeOver(FAST_POINTER_MAX_ATTEMPTS), 'dc1', trust, () => clock);
    expect(await source.readPointer()).toMatchObject({ kind: 'pointer', pointer: { generation: 1 } });
    const second = await publish(5);
    http.faults.set('GetItem', ['ThrottlingException', 'InternalError']);
    const [items, params] = [http.count('GetItem'), http.count('GetParameter')];
    clock += 5000;
    const read = await source.readPointer();
    expect(read).toEqual({ kind: 'pointer', pointer: second.pointer });
    expect(http.count('GetItem') - items).toBe(3);
    expect(http.count('GetParameter') - params).toBe(0);
    expect(await source.fetch(second.pointer, { generation: 1, sha256: 'x' })).toMatchObject({ kind: 'verified', manifest: { generation: 2 } });
  });

  it('agent: a fast pointer that keeps failing falls back to SSM (after ssmRetrySeconds), which still brings the new generation', async () => {
    await publish(3);
    const source = new ManifestSource(storeOver(FAST_POINTER_MAX_ATTEMPTS), 'dc1', trust, () => clock);
    await source.readPointer();
    http.faults.set('PutItem', ['InternalError', 'InternalError']); // only SSM learns generation 2
    const second = await publish(6);
    const params = http.count('GetParameter');
    const generations: number[] = [];
    for (let t = 5; t <= 30; t += 5) {
      clock += 5000;
      http.faults.set('GetItem', Array(FAST_POINTER_MAX_ATTEMPTS).fill('InternalError'));
      const read = await source.readPointer();
      if (read.kind !== 'pointer') throw new Error(JSON.stringify(read));
      generations.push(read.pointer.generation);
    }
    expect(generations).toEqual([1, 1, 1, 1, 1, 2]); // t = 30: SSM's turn
    expect(http.count('GetParameter') - params).toBe(1);
    expect(await source.fetch(second.pointer, { generation: 1, sha256: 'x' })).toMatchObject({ kind: 'verified', manifest: { generation: 2 } });
  });
});
