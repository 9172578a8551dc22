/**
 * The CloudFormation custom resource behind the stack's SigningPublicKeyPem output (infra/stack.ts): reads the
 * manifest-signing KMS key's public half and hands it back as PEM, so operators pin it from the stack's outputs.
 *
 * A provider-framework onEvent handler: the framework does the CloudFormation response; this returns the data.
 * Not AwsCustomResource: it decodes GetPublicKey's binary DER as UTF-8 text, which corrupts it.
 */
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { algorithmOf, keyIdOf } from '../core/signature.ts';
import { parseWith } from '../core/zod-errors.ts';

export const PublicKeyPropertiesSchema = z.looseObject({ KeyArn: z.string().min(1) });

export interface PublicKeyResponse {
  PhysicalResourceId: string;
  Data?: { Pem: string; KeyId: string };
}

/** DER SubjectPublicKeyInfo (what KMS returns) → PEM, refusing anything but the P-256 key agents verify with. */
export function publicKeyPem(der: Uint8Array, label: string): { pem: string; keyId: string } {
  const key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  const algorithm = algorithmOf(key);
  if (algorithm !== 'ecdsa-p256-sha256') throw new Error(`${label} is ${algorithm}; manifests are signed with an ECC_NIST_P256 key`);
  return { pem: key.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(key) };
}

export function makePublicKeyHandler(client: KMSClient) {
  return async (event: CloudFormationCustomResourceEvent): Promise<PublicKeyResponse> => {
    // Nothing to undo on Delete: the resource only reads. Its physical id is the key ARN, so a new key replaces it.
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const { KeyArn } = parseWith(PublicKeyPropertiesSchema, event.ResourceProperties, 'ResourceProperties');
    const out = await client.send(new GetPublicKeyCommand({ KeyId: KeyArn }));
    if (!out.PublicKey) throw new Error(`KMS GetPublicKey of ${KeyArn} returned no public key`);
    const { pem, keyId } = publicKeyPem(out.PublicKey, `KMS key ${KeyArn}`);
    return { PhysicalResourceId: KeyArn, Data: { Pem: pem, KeyId: keyId } };
  };
}
