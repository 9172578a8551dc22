/**
 * Detached manifest signatures (docs/signing.md). Pure: no I/O; node:crypto does the arithmetic.
 *
 * What is signed is not the manifest itself but a short payload naming the sha256 of its exact bytes and the
 * signing key's id. The bytes carry the site and the generation, so a signature pins both; the agent's replay check
 * (a generation below the applied one is refused) then also holds for signed manifests. The payload is a few dozen
 * bytes whatever the manifest's size: verifying costs one signature check, not a pass over 100k MACs.
 */
import { type KeyObject, createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { z } from 'zod';
import { InputError } from './errors.ts';
import { parseWith } from './zod-errors.ts';

export const SIGNATURE_SCHEMA = 'pxe-filter/signature@1';

/** ed25519: local and on-premises keys (`pxe-filter keygen`). ecdsa-p256-sha256: AWS KMS ECC_NIST_P256 (ECDSA_SHA_256). */
export const SignatureAlgorithmSchema = z.enum(['ed25519', 'ecdsa-p256-sha256']);
export type SignatureAlgorithm = z.output<typeof SignatureAlgorithmSchema>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lower-case hex sha256');
/** An Ed25519 signature is 64 bytes, an ECDSA P-256 DER signature at most 72: base64 of either fits in 96 chars. */
const base64 = z.string().max(128).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected base64');

/** The detached signature document (the SSM pointer's `signature`, or `MANIFEST.sig` beside a manifest file). */
export const SignatureSchema = z.strictObject({
  schema: z.literal(SIGNATURE_SCHEMA),
  algorithm: SignatureAlgorithmSchema,
  /** sha256 (hex) of the signing public key's DER SubjectPublicKeyInfo: what an agent looks its trusted keys up by. */
  keyId: sha256Hex,
  /** sha256 (hex) of the manifest's exact bytes. */
  sha256: sha256Hex,
  /** base64 of the signature over signedPayload(keyId, sha256). */
  signature: base64,
});
export type Signature = z.output<typeof SignatureSchema>;

/**
 * The bytes a signer signs: a fixed context line (a signature made for anything else never verifies here), the key id
 * (a signature cannot be re-labelled as another key's) and the manifest digest.
 */
export function signedPayload(keyId: string, manifestSha256: string): Uint8Array {
  return new TextEncoder().encode(`${SIGNATURE_SCHEMA}\nkey ${keyId}\nsha256 ${manifestSha256}\n`);
}

/** A refused signature: an InputError (the agent refuses it like a tampered manifest), marked so it can be told apart. */
export class SignatureError extends InputError {
  readonly signatureRefused = true;
}

export interface TrustedKey {
  keyId: string;
  algorithm: SignatureAlgorithm;
  key: KeyObject;
  /** Where the key came from (a file, a config field), for messages. */
  label: string;
}

/** Trusted keys by key id. Empty = signatures are not required (and not checked). */
export type TrustStore = ReadonlyMap<string, TrustedKey>;

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The algorithm a key signs with, or why it cannot be used. */
export function algorithmOf(key: KeyObject): SignatureAlgorithm | string {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' ? 'ecdsa-p256-sha256' : `an EC key on ${curve ?? 'an unknown curve'} (only P-256 is accepted)`;
  }
  return `a ${key.asymmetricKeyType ?? 'symmetric'} key (expected Ed25519 or ECDSA P-256)`;
}

const SIGNATURE_ALGORITHMS = new Set<string>(SignatureAlgorithmSchema.options);

/** A PEM public key (SPKI) → a trusted key. A private key given by mistake is refused, not silently reduced to its public half. */
export function trustedKeyFromPem(pem: string, label: string): TrustedKey {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new InputError(label, 'a private key', 'expected a PUBLIC key (the .pub file); a private key does not belong on an agent');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new InputError(label, `${pem.length} chars`, `not a PEM public key (${(err as Error).message})`);
  }
  const algorithm = algorithmOf(key);
  if (!SIGNATURE_ALGORITHMS.has(algorithm)) throw new InputError(label, 'public key', `is ${algorithm}`);
  return { keyId: keyIdOf(key), algorithm: algorithm as SignatureAlgorithm, key, label };
}

/** Several trusted keys (rotation: the old and the new one at once). The same key twice is harmless. */
export function trustStoreFromPems(entries: readonly { pem: string; label: string }[]): TrustStore {
  const store = new Map<string, TrustedKey>();
  for (const e of entries) {
    const k = trustedKeyFromPem(e.pem, e.label);
    if (!store.has(k.keyId)) store.set(k.keyId, k);
  }
  return store;
}

const TRUST_OF_LIST = new WeakMap<readonly string[], TrustStore>();

/**
 * trustStoreFromPems of a config's list of PEM texts, parsed once per list (the agent asks at every fetch).
 * `labels[i]` names where `pems[i]` came from (a file) in messages; default `trust.publicKeys[i]`.
 */
export function trustStoreOf(pems: readonly string[], labels: readonly string[] = []): TrustStore {
  let store = TRUST_OF_LIST.get(pems);
  if (!store) {
    store = trustStoreFromPems(pems.map((pem, i) => ({ pem, label: labels[i] ?? `trust.publicKeys[${i}]` })));
    TRUST_OF_LIST.set(pems, store);
  }
  return store;
}

/** Parse a signature document (from a pointer or a `.sig` file); InputError naming `label` otherwise. */
export function parseSignature(doc: unknown, label = 'signature'): Signature {
  return parseWith(SignatureSchema, doc, label);
}

/** Sign with a private key held in this process (Ed25519 or ECDSA P-256, DER-encoded as KMS returns it). */
export function signWithKey(privateKey: KeyObject, payload: Uint8Array): Uint8Array {
  return cryptoSign(privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, { key: privateKey, dsaEncoding: 'der' });
}

export function signatureDocument(algorithm: SignatureAlgorithm, keyId: string, manifestSha256: string, signature: Uint8Array): Signature {
  return { schema: SIGNATURE_SCHEMA, algorithm, keyId, sha256: manifestSha256, signature: Buffer.from(signature).toString('base64') };
}

/**
 * The agent's signature check of manifest bytes whose sha256 is `manifestSha256` (computed from the bytes by the
 * caller). With no trusted key it checks nothing and returns undefined; with any, an unsigned manifest, a signature
 * over other bytes, by an untrusted key, or that does not verify is refused with a SignatureError.
 */
export function verifyManifestSignature(manifestSha256: string, signature: Signature | undefined, trust: TrustStore, label = 'manifest.signature'): TrustedKey | undefined {
  if (trust.size === 0) return undefined;
  if (signature === undefined) {
    throw new SignatureError(label, null, `unsigned manifest refused (this agent trusts ${trust.size} signing key${trust.size === 1 ? '' : 's'})`);
  }
  const key = trust.get(signature.keyId);
  if (!key) throw new SignatureError(`${label}.keyId`, signature.keyId, 'signed by a key this agent does not trust');
  if (signature.algorithm !== key.algorithm) {
    throw new SignatureError(`${label}.algorithm`, signature.algorithm, `does not match the trusted key ${key.label} (${key.algorithm})`);
  }
  if (signature.sha256 !== manifestSha256) {
    throw new SignatureError(`${label}.sha256`, signature.sha256, `the signature is over other bytes (the manifest's sha256 is ${manifestSha256})`);
  }
  const raw = Buffer.from(signature.signature, 'base64');
  let ok: boolean;
  if (key.algorithm === 'ed25519' && raw.length !== 64) {
    throw new SignatureError(`${label}.signature`, `${raw.length} bytes`, 'an Ed25519 signature is 64 bytes (truncated or corrupt)');
  }
  try {
    ok = cryptoVerify(key.algorithm === 'ed25519' ? null : 'sha256', signedPayload(signature.keyId, manifestSha256), { key: key.key, dsaEncoding: 'der' }, raw);
  } catch {
    ok = false; // malformed DER (e.g. a truncated ECDSA signature): OpenSSL throws instead of answering false
  }
  if (!ok) throw new SignatureError(`${label}.signature`, `${raw.length} bytes`, `does not verify with the trusted key ${key.label} (forged, truncated or corrupt)`);
  return key;
}
