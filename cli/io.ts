import { readFile } from 'node:fs/promises';
import { InputError } from '../core/errors.ts';
import { parseJsonText } from '../core/export-bundle.ts';
import type { ExportDocument } from '../core/ironic-exports.ts';
import { writeFileAtomic } from '../store/files.ts';

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
  try {
    await writeFileAtomic(path, data);
  } catch (err) {
    // A bad --out (missing directory, a directory in its place) is bad input: name it.
    throw new InputError(field, path, `cannot write file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
