/**
 * Writes one export bundle (core/export-bundle.ts) whole or not at all: a single conditional put of
 * `exports/<site>/<timestamp>.json` into a store, or temp file + rename into a directory. When Ironic
 * said exactly what the latest export already says, nothing is written, so no compute is triggered.
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { EXPORT_SCHEMA, type ExportBundle, parseExportBundle } from '../core/export-bundle.ts';
import { sha256 } from '../core/manifest.ts';
import { exportKey } from '../store/keys.ts';
import { ConfigError } from '../core/errors.ts';
import { NoUsableExportError, newestExport } from '../control/newest-export.ts';
import type { Store } from '../store/store.ts';
import { writeFileAtomically } from '../store/files.ts';
import type { LogFn } from './api-client.ts';

export type ExportTarget = { kind: 'store'; store: Store } | { kind: 'dir'; dir: string };

export interface ExportContent {
  ports: unknown[];
  nodes?: unknown[];
  introspection?: unknown[];
}

export interface WriteOutcome {
  status: 'written' | 'unchanged';
  /** Store key or file path of the new export, or of the latest one when unchanged. */
  location: string;
  bytes: number;
  sha256: string;
}

/** Export files in a directory are named like store keys: `2026-11-25T201500-000Z.json`, sorting by time. */
const EXPORT_FILE = /^\d{4}-\d{2}-\d{2}T\d{6}-\d{3}Z\.json$/;

export function buildBundle(site: string, content: ExportContent, now: Date): ExportBundle {
  return {
    schema: EXPORT_SCHEMA,
    site,
    createdAt: now.toISOString(),
    ports: content.ports,
    ...(content.nodes ? { nodes: content.nodes } : {}),
    ...(content.introspection ? { introspection: content.introspection } : {}),
  };
}

export async function writeExport(target: ExportTarget, site: string, content: ExportContent, now: Date, log: LogFn): Promise<WriteOutcome> {
  const bundle = buildBundle(site, content, now);
  const text = JSON.stringify(bundle);
  // The compute function will parse exactly these bytes: refuse here what it would refuse there.
  parseExportBundle(JSON.parse(text), 'export');
  const bytes = new TextEncoder().encode(text);
  const digest = sha256(bytes);

  const latest = await readLatest(target, site, now, log);
  if (latest && sameContent(latest.body, bundle)) {
    log('export.unchanged', { site, latest: latest.location });
    return { status: 'unchanged', location: latest.location, bytes: bytes.byteLength, sha256: digest };
  }

  let location: string;
  if (target.kind === 'store') {
    location = exportKey(site, now);
    // One put: the object exists whole or not at all; ifNoneMatch never overwrites another run's export.
    await target.store.putObject(location, bytes, { condition: { ifNoneMatch: '*' }, contentType: 'application/json' });
  } else {
    await mkdir(target.dir, { recursive: true });
    location = resolve(target.dir, basename(exportKey(site, now)));
    await writeFileAtomically(location, bytes);
  }
  log('export.written', { site, location, bytes: bytes.byteLength, sha256: digest });
  return { status: 'written', location, bytes: bytes.byteLength, sha256: digest };
}

interface Latest {
  location: string;
  body: unknown;
}

/**
 * The latest export, only to skip writing an identical one. Not being able to read it (an exporter role
 * that may write but not list, a corrupt file) is no reason to withhold a new export: log it and write.
 */
async function readLatest(target: ExportTarget, site: string, now: Date, log: LogFn): Promise<Latest | undefined> {
  try {
    return target.kind === 'store' ? await latestInStore(target.store, site, now) : await latestInDir(target.dir);
  } catch (err) {
    log('export.latest-unreadable', { site, error: (err as Error).message });
    return undefined;
  }
}

/** The export the compute would use (control/newest-export.ts: by recorded time, future-dated ones refused). */
async function latestInStore(store: Store, site: string, now: Date): Promise<Latest | undefined> {
  try {
    const { chosen } = await newestExport(store, site, now);
    return { location: chosen.key, body: parseOrUndefined(new TextDecoder().decode(chosen.bytes)) };
  } catch (err) {
    // No export yet, or none usable (all future-dated): the new one is the latest.
    if (err instanceof ConfigError || err instanceof NoUsableExportError) return undefined;
    throw err;
  }
}

async function latestInDir(dir: string): Promise<Latest | undefined> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const last = names.filter((n) => EXPORT_FILE.test(n)).sort().at(-1);
  if (!last) return undefined;
  const path = resolve(join(dir, last));
  return { location: path, body: parseOrUndefined(await readFile(path, 'utf8')) };
}

/** An unreadable latest export simply counts as different: the new one replaces it as the latest. */
function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Same raw Ironic documents (ports, nodes, introspection); schema, site and time are not content. */
export function sameContent(previous: unknown, bundle: ExportBundle): boolean {
  if (typeof previous !== 'object' || previous === null) return false;
  const p = previous as Record<string, unknown>;
  if (p['schema'] !== bundle.schema || p['site'] !== bundle.site) return false;
  const key = (ports: unknown, nodes: unknown, intro: unknown) => JSON.stringify([ports, nodes ?? null, intro ?? null]);
  return key(p['ports'], p['nodes'], p['introspection']) === key(bundle.ports, bundle.nodes, bundle.introspection);
}
