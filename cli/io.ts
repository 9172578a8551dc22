import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { parseJsonText } from '../core/export-bundle.ts';
import type { ExportDocument } from '../core/ironic-exports.ts';

export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(path, (err as NodeJS.ErrnoException).code ?? 'error', 'cannot read file');
  }
  return parseJsonText(text, path);
}

export async function readDocuments(paths: readonly string[] | undefined): Promise<ExportDocument[] | undefined> {
  if (!paths || paths.length === 0) return undefined;
  return Promise.all(paths.map(async (p) => ({ label: p, body: await readJsonFile(p) })));
}

/** Write next to the target and rename, so a reader never sees half a file. */
export async function writeFileAtomically(path: string, data: Uint8Array | string, field = '--out'): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    // A bad --out (missing directory, a directory in its place) is bad input: name it, leave no temp behind.
    await unlink(tmp).catch(() => undefined);
    throw new InputError(field, path, `cannot write file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
