/** Detached manifest signatures: real Ed25519 and ECDSA P-256 keys made here, every refusal, the pointer's size. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { PointerSchema, sha256 } from '../../core/manifest.ts';
import {
  type Signature,
  SignatureError,
  keyIdOf,
  parseSignature,
  signedPayload,
  trustStoreFromPems,
  trustedKeyFromPem,
  verifyManifestSignature,
} from '../../core/signature.ts';
import { keySigner, signManifestDigest } from '../../control/signing.ts';

const ed = () => generateKeyPairSync('ed25519');
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pemOf = (k: ReturnType<typeof ed>) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const trustOf = (...keys: ReturnType<typeof ed>[]) => trustStoreFromPems(keys.map((k, i) => ({ pem: pemOf(k), label: `key${i}.pub` })));
const sign = (k: ReturnType<typeof ed>, digest: string) => signManifestDigest(keySigner(k.privateKey, 'test key'), digest);
const digestA = sha256('manifest A bytes\n');
const digestB = sha256('manifest B bytes\n');

function refusal(fn: () => unknown): SignatureError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SignatureError);
    expect(err).toBeInstanceOf(InputError); // refused like any tampered manifest
    return err as SignatureError;
  }
  throw new Error('expected a refusal');
}

describe('signatures that verify', () => {
  it.each([
    ['ed25519', ed],
    ['ecdsa-p256-sha256', p256],
  ] as const)('%s: a signature by a trusted key over these bytes is accepted; the key id is the sha256 of its DER SPKI', async (algorithm, make) => {
    const k = make();
    const sig = await sign(k, digestA);
    expect(sig).toMatchObject({ schema: 'pxe-filter/signature@1', algorithm, sha256: digestA });
    const der = k.publicKey.export({ type: 'spki', format: 'der' });
    expect(sig.keyId).toBe(createHash('sha256').update(der).digest('hex'));
    expect(verifyManifestSignature(digestA, parseSignature(JSON.parse(JSON.stringify(sig))), trustOf(k))?.label).toBe('key0.pub');
  });

  it('rotation: with the old and the new key trusted both verify; with only the new one the old is refused', async () => {
    const old = ed();
    const next = p256();
    const both = trustOf(old, next);
    const byOld = await sign(old, digestA);
    const byNew = await sign(next, digestA);
    expect(verifyManifestSignature(digestA, byOld, both)?.keyId).toBe(keyIdOf(old.publicKey));
    expect(verifyManifestSignature(digestA, byNew, both)?.keyId).toBe(keyIdOf(next.publicKey));
    expect(verifyManifestSignature(digestA, byNew, trustOf(next))).toBeDefined();
    expect(refusal(() => verifyManifestSignature(digestA, byOld, trustOf(next))).message).toMatch(/does not trust/);
  });

  it('no trusted key: nothing is required, nothing is checked', () => {
    expect(verifyManifestSignature(digestA, undefined, new Map())).toBeUndefined();
  });
});

describe('signatures refused', () => {
  it.each([
    ['ed25519', ed],
    ['ecdsa-p256-sha256', p256],
  ] as const)('%s: unsigned, over other bytes, forged for these bytes, untrusted, re-labelled, truncated', async (_alg, make) => {
    const k = make();
    const trust = trustOf(k);
    const good = await sign(k, digestA);
    expect(refusal(() => verifyManifestSignature(digestA, undefined, trust)).message).toMatch(/unsigned manifest refused/);
    // A genuine signature of other bytes.
    const other = await sign(k, digestB);
    expect(refusal(() => verifyManifestSignature(digestA, other, trust)).message).toMatch(/over other bytes/);
    // The same, claiming these bytes: the signature itself does not verify.
    expect(refusal(() => verifyManifestSignature(digestA, { ...other, sha256: digestA }, trust)).message).toMatch(/does not verify/);
    // Signed by a key nobody trusts.
    const stranger = await sign(make(), digestA);
    expect(refusal(() => verifyManifestSignature(digestA, stranger, trust)).message).toMatch(/does not trust/);
    // A stranger's signature re-labelled with the trusted key's id.
    expect(refusal(() => verifyManifestSignature(digestA, { ...stranger, keyId: good.keyId }, trust)).message).toMatch(/does not verify/);
    // Truncated: a few bytes short, and cut to half.
    const raw = Buffer.from(good.signature, 'base64');
    for (const cut of [raw.length - 4, raw.length >> 1]) {
      const truncated: Signature = { ...good, signature: raw.subarray(0, cut).toString('base64') };
      expect(refusal(() => verifyManifestSignature(digestA, truncated, trust)).message).toMatch(/truncated/);
    }
    // One bit flipped.
    const flipped = Buffer.from(raw);
    flipped[flipped.length - 1]! ^= 1;
    expect(refusal(() => verifyManifestSignature(digestA, { ...good, signature: flipped.toString('base64') }, trust)).message).toMatch(/does not verify/);
    // The genuine one still verifies (nothing above was accepted by accident of a shared state).
    expect(verifyManifestSignature(digestA, good, trust)).toBeDefined();
  });

  it('an algorithm that does not match the trusted key is refused before any arithmetic', async () => {
    const k = ed();
    const good = await sign(k, digestA);
    expect(refusal(() => verifyManifestSignature(digestA, { ...good, algorithm: 'ecdsa-p256-sha256' }, trustOf(k))).message).toMatch(/algorithm/);
  });

  it('the signed payload names the key and the digest under a fixed context', () => {
    expect(new TextDecoder().decode(signedPayload('a'.repeat(64), 'b'.repeat(64)))).toBe(`pxe-filter/signature@1\nkey ${'a'.repeat(64)}\nsha256 ${'b'.repeat(64)}\n`);
  });
});

describe('trusted keys and signature documents: bad input names its source', () => {
  it('a private key, an RSA key, a P-384 key and junk are refused with the label', () => {
    const priv = ed().privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => trustedKeyFromPem(priv, '/etc/pxe/a.pem')).toThrow(/^\/etc\/pxe\/a\.pem: expected a PUBLIC key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => trustedKeyFromPem(rsa, 'rsa.pub')).toThrow(/^rsa\.pub: is a rsa key/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => trustedKeyFromPem(p384, 'p384.pub')).toThrow(/only P-256/);
    expect(() => trustedKeyFromPem('hello', 'junk.pub')).toThrow(/^junk\.pub: not a PEM public key/);
  });

  it('a signature document with an unknown field, a bad key id or non-base64 is refused naming the field', async () => {
    const good = await sign(ed(), digestA);
    expect(() => parseSignature({ ...good, extra: 1 }, 'x.sig')).toThrow(/^x\.sig/);
    expect(() => parseSignature({ ...good, keyId: 'K' }, 'x.sig')).toThrow(/^x\.sig\.keyId/);
    expect(() => parseSignature({ ...good, signature: 'not base64!' }, 'x.sig')).toThrow(/^x\.sig\.signature/);
  });

  it('a signed pointer with the longest key and version id fits SSM\'s 4 KB standard tier', async () => {
    const sig = await sign(p256(), digestA);
    const pointer = PointerSchema.parse({ site: 'a'.repeat(63), generation: Number.MAX_SAFE_INTEGER, key: 'k'.repeat(1024), versionId: 'v'.repeat(1024), sha256: digestA, signature: sig });
    expect(Buffer.byteLength(JSON.stringify(pointer))).toBeLessThan(4096);
  });
});
