/**
 * Writes one state export (core/state-export.ts): a single conditional put of `exports/<site>/state/<time>.json`
 * into a store, or temp file + rename into `<dir>/state/` beside the full exports of a directory target.
 */
import { basename, join, resolve } from 'node:path';
import { type InspectionState, buildStateExport, parseStateExport } from '../core/state-export.ts';
import { stateExportKey } from '../store/keys.ts';
import { writeFileAtomicSync } from '../store/files.ts';
import type { LogFn } from './api-client.ts';
import type { ExportTarget } from './write-export.ts';

export async function writeStateExport(target: ExportTarget, site: string, state: InspectionState, fullExport: string | null, now: Date, log: LogFn): Promise<string> {
  const doc = buildStateExport(site, state, now, fullExport);
  // The compute parses exactly these bytes: refuse here what it would refuse there.
  parseStateExport(doc, 'state export');
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  const key = stateExportKey(site, now);
  let location: string;
  if (target.kind === 'store') {
    await target.store.putObject(key, bytes, { condition: { ifNoneMatch: '*' }, contentType: 'application/json' });
    location = key;
  } else {
    location = resolve(join(target.dir, 'state', basename(key)));
    writeFileAtomicSync(location, bytes, { mkdir: true });
  }
  log('export.state-written', {
    site,
    location,
    bytes: bytes.byteLength,
    nodesInspecting: doc.nodes.length,
    ...(doc.introspection ? { introspectionsUnfinished: doc.introspection.length } : {}),
  });
  return location;
}
