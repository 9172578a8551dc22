/**
 * Signing published manifests (docs/signing.md). Every publisher — `compute --sign-key`, publishPolicy (the Lambda,
 * `npm start`, rollback, `publish` and `control run`) — signs through signManifestDigest with a
 * ManifestSigner: a local Ed25519 key file here, AWS KMS in kms-signer.ts.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { type Signature, type SignatureAlgorithm, algorithmOf, keyIdOf, signWithKey, signatureDocument, signedPayload } from '../core/signature.ts';

export interface ManifestSigner {
  readonly keyId: string;
  readonly algorithm: SignatureAlgorithm;
  /** For logs and summaries ("ed25519 key /etc/…/sign.key", "KMS key arn:…"); never key material. */
  readonly description: string;
  sign(payload: Uint8Array): Promise<Uint8Array>;
}

/** The detached signature of manifest bytes whose sha256 is `manifestSha256`. */
export async function signManifestDigest(signer: ManifestSigner, manifestSha256: string): Promise<Signature> {
  const raw = await signer.sign(signedPayload(signer.keyId, manifestSha256));
  return signatureDocument(signer.algorithm, signer.keyId, manifestSha256, raw);
}

/** A signer made once per process (the KMS one costs a GetPublicKey); a failed attempt is forgotten, so the next run retries. */
export function lazySigner(make: () => Promise<ManifestSigner>): () => Promise<ManifestSigner> {
  let pending: Promise<ManifestSigner> | undefined;
  return () => {
    pending ??= make().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/** A signer over a private key held in this process (Ed25519 from keygen, or a P-256 key an operator made). */
export function keySigner(privateKey: KeyObject, description: string): ManifestSigner {
  const algorithm = algorithmOf(privateKey);
  if (algorithm !== 'ed25519' && algorithm !== 'ecdsa-p256-sha256') throw new InputError(description, 'private key', `is ${algorithm}`);
  const keyId = keyIdOf(createPublicKey(privateKey));
  return { keyId, algorithm, description, sign: async (payload) => signWithKey(privateKey, payload) };
}

/**
 * `--sign-key FILE`: a PEM private key. Refused when group or others may read it (as ssh does with its keys): a
 * signing key anyone on the host can read signs for anyone.
 */
export async function loadSigningKeyFile(path: string, option = '--sign-key'): Promise<ManifestSigner> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(option, path, `cannot read the signing key (${err.code ?? 'error'})`);
  });
  if ((info.mode & 0o077) !== 0) {
    throw new InputError(option, path, `the signing key is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const pem = await readFile(path, 'utf8');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new InputError(option, path, `not a PEM private key (${(err as Error).message.split('\n')[0]})`);
  }
  return keySigner(key, `${algorithmOf(key)} key ${path}`);
}

export const PRIVATE_KEY_FILE = 'pxe-filter-sign.key';
export const PUBLIC_KEY_FILE = 'pxe-filter-sign.pub';

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  keyId: string;
}

/**
 * `pxe-filter keygen --out DIR`: a new Ed25519 key pair, the private key mode 0600. Never overwrites: an existing
 * key is what agents trust, and losing it means re-pinning every agent.
 */
export async function generateSigningKey(dir: string): Promise<KeygenResult> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new InputError('--out', dir, 'not an existing directory');
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  for (const p of [privatePath, publicPath]) {
    if (await stat(p).then(() => true, () => false)) throw new InputError('--out', dir, `${p} already exists; refusing to overwrite a signing key (move it away first)`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // 'wx': fail rather than replace a file that appeared since the check; mode given at creation, never widened.
  await writeNew(privatePath, priv, 0o600);
  await writeNew(publicPath, pub, 0o644);
  return { privateKey: privatePath, publicKey: publicPath, keyId: keyIdOf(publicKey) };
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode).catch((err: NodeJS.ErrnoException) => {
    throw new InputError('--out', path, `cannot create (${err.code ?? 'error'})`);
  });
  try {
    await fh.chmod(mode); // the umask may have narrowed (or, for 0600, cannot widen) the creation mode
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
