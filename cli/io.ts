import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.ts';
import { decodeJsonBytes } from '../core/json-text.ts';
import type { ExportDocument } from '../core/ironic-exports.ts';
import { sha256 } from '../core/manifest.ts';

export async function readJsonFile(path: string): Promise<unknown> {
  return (await readJsonFileWithDigest(path)).body;
}

/**
 * One synchronous read: a 16 MB export read through promises is 32 reads of 512 KiB, each a round trip through
 * libuv's thread pool, and a one-shot command has nothing to do meanwhile.
 */
async function readJsonFileWithDigest(path: string): Promise<{ body: unknown; sha256: string }> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new InputError(path, (err as NodeJS.ErrnoException).code ?? 'error', 'cannot read file');
  }
  return { body: decodeJsonBytes(bytes, path), sha256: sha256(bytes) };
}

export async function readDocuments(paths: readonly string[] | undefined): Promise<(ExportDocument & { sha256: string })[] | undefined> {
  if (!paths || paths.length === 0) return undefined;
  return Promise.all(paths.map(async (p) => ({ label: p, ...(await readJsonFileWithDigest(p)) })));
}
