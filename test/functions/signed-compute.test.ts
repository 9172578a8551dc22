/**
 * The AWS signing path: the compute Lambda signs through KMS (aws-sdk-client-mock, whose Sign is a real ECDSA P-256
 * signature by a key made here, GetPublicKey its real DER), and the agent's ECDSA verification runs for real on what
 * was published — through the same AwsStore the agents use. Rollback signs too; a failing KMS publishes nothing.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetPublicKeyCommand, KMSClient, KMSServiceException, SignCommand } from '@aws-sdk/client-kms';
import type { Context } from 'aws-lambda';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { type KeyObject, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PointerSchema } from '../../core/manifest.ts';
import { trustStoreFromPems } from '../../core/signature.ts';
import { kmsSigner } from '../../control/kms-signer.ts';
import { lazySigner } from '../../control/signing.ts';
import { rollbackSite } from '../../control/rollback.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import type { TrustStore } from '../../core/signature.ts';
import type { Store } from '../../store/store.ts';

/** The agent's path to a manifest (what the daemon and `agent once --config` use), given the applied generation. */
const pullManifest = (s: Store, site: string, appliedGeneration: number | undefined, trust: TrustStore) =>
  new ManifestSource(s, site, trust).current(appliedGeneration === undefined ? undefined : { generation: appliedGeneration, sha256: '' });
import { makeComputeHandler } from '../../functions/compute.ts';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, SCHEDULE_SOURCE } from '../../functions/names.ts';
import { AwsStore } from '../../store/aws-store.ts';
import { exportKey, pointerParameter, settingsParameter } from '../../store/keys.ts';
import { FakeAws } from '../support/fake-aws.ts';
import { exportBundle } from '../support/exports.ts';

const BUCKET = 'pxe-filter-test';
const SITE = 'dc1';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const context = { functionName: 'compute-dc1', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

let fake: FakeAws;
let kms: KMSClient;
let kmsMock: AwsClientStub<KMSClient>;
let kmsKey: { privateKey: KeyObject; publicKey: KeyObject };
let clock: number;

/** KMS as it behaves for an ECC_NIST_P256 SIGN_VERIFY key: RAW messages hashed with SHA-256, DER signatures. */
function installKms(key: { privateKey: KeyObject; publicKey: KeyObject }) {
  kmsMock.reset();
  kmsMock.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({ KeyId: KEY_ARN, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', PublicKey: new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' })) });
  kmsMock.on(SignCommand).callsFake((input: { KeyId: string; Message: Uint8Array; MessageType: string; SigningAlgorithm: string }) => {
    if (input.KeyId !== KEY_ARN || input.MessageType !== 'RAW' || input.SigningAlgorithm !== 'ECDSA_SHA_256') throw new Error(`unexpected Sign input ${JSON.stringify(input)}`);
    return { KeyId: KEY_ARN, SigningAlgorithm: 'ECDSA_SHA_256', Signature: new Uint8Array(cryptoSign('sha256', input.Message, { key: key.privateKey, dsaEncoding: 'der' })) };
  });
}

beforeEach(() => {
  fake = new FakeAws();
  kms = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  kmsMock = mockClient(kms);
  kmsKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  installKms(kmsKey);
  clock = Date.parse('2026-11-25T20:00:00Z');
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  fake.parameters.set(settingsParameter(SITE), JSON.stringify({ source: 'ironic', guard: { maxChangeShare: 1, minChangesToGuard: 5 } }));
});
afterEach(() => {
  vi.restoreAllMocks();
  fake.restore();
  kmsMock.restore();
});

const store = () => new AwsStore(BUCKET, fake.s3, fake.ssm);
const handler = () =>
  makeComputeHandler({
    store: store(),
    site: SITE,
    bucket: BUCKET,
    logger: new Logger({ serviceName: COMPUTE_SERVICE }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: COMPUTE_SERVICE }),
    ackGraceMs: 600_000,
    now: () => new Date((clock += 60_000)),
    signer: lazySigner(() => kmsSigner(KEY_ARN, kms)),
  });
const schedule = { source: SCHEDULE_SOURCE, site: SITE };
const upload = (inspecting: number[]) => fake.put(exportKey(SITE, new Date((clock += 1000))), JSON.stringify(exportBundle(SITE, { macs: 20, inspecting })));
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
const trustOf = (...keys: KeyObject[]) => trustStoreFromPems(keys.map((k, i) => ({ pem: pem(k), label: `k${i}` })));
const pointer = () => PointerSchema.parse(JSON.parse(fake.parameters.get(pointerParameter(SITE))!));

describe('compute Lambda signs with KMS; the agent verifies ECDSA P-256 for real', () => {
  it('published manifests carry a KMS signature the agent accepts; an agent trusting another key refuses', async () => {
    upload([3]);
    const h = handler();
    expect(await h(schedule, context)).toMatchObject({ status: 'published', generation: 1 });
    const p = pointer();
    expect(p.signature).toMatchObject({ algorithm: 'ecdsa-p256-sha256', sha256: p.sha256 });
    const signs = kmsMock.commandCalls(SignCommand);
    expect(signs).toHaveLength(1);
    expect(kmsMock.commandCalls(GetPublicKeyCommand)).toHaveLength(1);

    const pulled = await pullManifest(store(), SITE, undefined, trustOf(kmsKey.publicKey));
    expect(pulled?.manifest.generation).toBe(1);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    await expect(pullManifest(store(), SITE, undefined, trustOf(other))).rejects.toThrow(/signed by a key this agent does not trust/);

    // Unchanged: nothing published, nothing signed; one GetPublicKey per container.
    expect(await h(schedule, context)).toMatchObject({ status: 'unchanged', generation: 1 });
    expect(kmsMock.commandCalls(SignCommand)).toHaveLength(1);
    upload([4]);
    expect(await h(schedule, context)).toMatchObject({ status: 'published', generation: 2 });
    expect(kmsMock.commandCalls(SignCommand)).toHaveLength(2);
    expect(kmsMock.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    expect((await pullManifest(store(), SITE, 1, trustOf(kmsKey.publicKey)))?.manifest.generation).toBe(2);
  });

  it('a bit flipped in the stored KMS signature, or the bytes of another generation, is refused by the agent', async () => {
    upload([3]);
    await handler()(schedule, context);
    const p = pointer();
    const raw = Buffer.from(p.signature!.signature, 'base64');
    raw[raw.length - 1]! ^= 1;
    fake.parameters.set(pointerParameter(SITE), JSON.stringify({ ...p, signature: { ...p.signature, signature: raw.toString('base64') } }));
    await expect(pullManifest(store(), SITE, undefined, trustOf(kmsKey.publicKey))).rejects.toThrow(/does not verify/);
    fake.parameters.set(pointerParameter(SITE), JSON.stringify({ ...p, signature: { ...p.signature, sha256: 'f'.repeat(64) } }));
    await expect(pullManifest(store(), SITE, undefined, trustOf(kmsKey.publicKey))).rejects.toThrow(/over other bytes/);
  });

  it('rollback signs the new generation with the KMS key', async () => {
    const h = handler();
    upload([3]);
    await h(schedule, context);
    upload([5]);
    await h(schedule, context);
    const r = await rollbackSite({ store: store(), site: SITE, toGeneration: 1, now: new Date(clock), signer: await kmsSigner(KEY_ARN, kms) });
    expect(r.published).toMatchObject({ status: 'published', manifest: { generation: 3 } });
    const pulled = await pullManifest(store(), SITE, 2, trustOf(kmsKey.publicKey));
    expect(pulled?.manifest.policy.allow).toEqual(['52:54:00:00:00:03']);
  });

  it('KMS refusing to sign fails the invocation and publishes nothing; the next run signs and publishes', async () => {
    upload([3]);
    await handler()(schedule, context);
    const before = pointer();
    const versions = fake.objects.get(before.key)!.length;
    kmsMock.on(SignCommand).rejects(new KMSServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'not allowed' }));
    upload([4]);
    await expect(handler()(schedule, context)).rejects.toThrow(/not allowed/);
    expect(pointer()).toEqual(before);
    expect(fake.objects.get(before.key)).toHaveLength(versions);
    installKms(kmsKey);
    expect(await handler()(schedule, context)).toMatchObject({ status: 'published', generation: 2 });
  });

  it('a KMS key that is not P-256 is refused at the first run (cold start), and retried at the next', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    kmsMock.on(GetPublicKeyCommand).resolves({ PublicKey: new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' })) });
    upload([3]);
    const h = handler();
    await expect(h(schedule, context)).rejects.toThrow(/ECC_NIST_P256/);
    installKms(kmsKey);
    expect(await h(schedule, context)).toMatchObject({ status: 'published' });
  });
});
