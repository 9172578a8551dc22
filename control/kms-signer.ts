/**
 * A ManifestSigner over an asymmetric AWS KMS key (ECC_NIST_P256, SIGN_VERIFY): the private key never leaves KMS.
 * The key id agents look up (sha256 of the public key's DER) needs the public key, fetched once per process.
 */
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { createPublicKey } from 'node:crypto';
import { algorithmOf, keyIdOf } from '../core/signature.ts';
import { DEFAULT_MAX_ATTEMPTS } from '../store/aws-store.ts';
import type { ManifestSigner } from './signing.ts';

export function makeKmsClient(): KMSClient {
  return new KMSClient({ retryMode: 'standard', maxAttempts: DEFAULT_MAX_ATTEMPTS });
}

/** `keyArn`: the key's ARN (or id/alias). Throws when KMS's public key is not a P-256 key. */
export async function kmsSigner(keyArn: string, client: KMSClient = makeKmsClient()): Promise<ManifestSigner> {
  const pub = await client.send(new GetPublicKeyCommand({ KeyId: keyArn }));
  if (!pub.PublicKey) throw new Error(`KMS GetPublicKey of ${keyArn} returned no public key`);
  const key = createPublicKey({ key: Buffer.from(pub.PublicKey), format: 'der', type: 'spki' });
  const algorithm = algorithmOf(key);
  if (algorithm !== 'ecdsa-p256-sha256') throw new Error(`KMS key ${keyArn} is ${algorithm}; the stack creates an ECC_NIST_P256 signing key`);
  return {
    keyId: keyIdOf(key),
    algorithm,
    description: `KMS key ${keyArn}`,
    async sign(payload) {
      // RAW: KMS hashes the payload with SHA-256 itself; the agent verifies with sha256 over the same payload.
      const r = await client.send(new SignCommand({ KeyId: keyArn, Message: payload, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }));
      if (!r.Signature) throw new Error(`KMS Sign with ${keyArn} returned no signature`);
      return r.Signature;
    },
  };
}
