/**
 * The custom resource behind the stack's SigningPublicKeyPem output: KMS (aws-sdk-client-mock) answers GetPublicKey
 * with the real DER of a P-256 key made here; the PEM it returns must be node's own export of that key, and the
 * agent's trust store must accept it and find signatures by the same key id.
 */
import { GetPublicKeyCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { keyIdOf, signWithKey, signatureDocument, signedPayload, trustStoreFromPems, verifyManifestSignature } from '../../core/signature.ts';
import { makePublicKeyHandler } from '../../functions/public-key-pem.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const kms = mockClient(client);
afterEach(() => kms.reset());

const base = { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:f', ResponseURL: 'https://example.invalid/', StackId: 's', RequestId: 'r', LogicalResourceId: 'SigningPublicKey', ResourceType: 'Custom::PxeFilterSigningPublicKey' };
const event = (RequestType: 'Create' | 'Update' | 'Delete', props: Record<string, unknown> = { KeyArn: KEY_ARN }) =>
  ({ ...base, RequestType, ResourceProperties: { ServiceToken: base.ServiceToken, ...props }, ...(RequestType === 'Create' ? {} : { PhysicalResourceId: KEY_ARN }), ...(RequestType === 'Update' ? { OldResourceProperties: {} } : {}) }) as CloudFormationCustomResourceEvent;

describe('SigningPublicKey custom resource handler', () => {
  it('Create and Update: the PEM of the DER KMS returns, exactly node\'s export of the key, and the trust store accepts it', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    kms.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({ KeyId: KEY_ARN, PublicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const handler = makePublicKeyHandler(client);
    for (const type of ['Create', 'Update'] as const) {
      const out = await handler(event(type));
      expect(out.PhysicalResourceId).toBe(KEY_ARN);
      expect(out.Data!.Pem).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
      expect(out.Data!.Pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
      expect(out.Data!.KeyId).toBe(keyIdOf(publicKey));
      // What an operator pins: the agent's trust store accepts it, and a signature by the KMS key verifies under it.
      const trust = trustStoreFromPems([{ pem: out.Data!.Pem, label: 'SigningPublicKeyPem' }]);
      expect([...trust.keys()]).toEqual([keyIdOf(publicKey)]);
      expect(trust.get(out.Data!.KeyId)!.algorithm).toBe('ecdsa-p256-sha256');
      const digest = 'ab'.repeat(32);
      const sig = signatureDocument('ecdsa-p256-sha256', out.Data!.KeyId, digest, signWithKey(privateKey, signedPayload(out.Data!.KeyId, digest)));
      expect(verifyManifestSignature(digest, sig, trust)?.keyId).toBe(out.Data!.KeyId);
    }
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(2);
  });

  it('Delete reads nothing and keeps the physical id', async () => {
    const out = await makePublicKeyHandler(client)(event('Delete'));
    expect(out).toEqual({ PhysicalResourceId: KEY_ARN });
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(0);
  });

  it('refuses a key agents cannot verify with (not P-256), a missing KeyArn, and passes KMS errors on (the deploy fails)', async () => {
    const handler = makePublicKeyHandler(client);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: new Uint8Array(rsa.export({ type: 'spki', format: 'der' })) });
    await expect(handler(event('Create'))).rejects.toThrow(/KMS key arn:aws:kms:.* is a rsa key .*ECC_NIST_P256/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: new Uint8Array(p384.export({ type: 'spki', format: 'der' })) });
    await expect(handler(event('Update'))).rejects.toThrow(/an EC key on secp384r1/);
    kms.on(GetPublicKeyCommand).resolves({});
    await expect(handler(event('Create'))).rejects.toThrow(/returned no public key/);
    await expect(handler(event('Create', {}))).rejects.toThrow(/ResourceProperties\.KeyArn/);
    kms.on(GetPublicKeyCommand).rejects(new KMSServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'denied' }));
    await expect(handler(event('Create'))).rejects.toThrow(/denied/);
  });
});
