/** The export documents named on the command line (`--ports`, `--nodes`, …), read with their digests. */
import type { ExportDocument } from '../core/ironic-exports.ts';
import { readJsonFileWithDigest } from '../store/files.ts';

export function readDocuments(paths: readonly string[] | undefined): (ExportDocument & { sha256: string })[] | undefined {
  if (!paths || paths.length === 0) return undefined;
  return paths.map((p) => ({ label: p, ...readJsonFileWithDigest(p) }));
}
