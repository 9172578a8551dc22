/**
 * Which export a compute uses: the newest by the time recorded inside it (`createdAt`, when the exporter read
 * Ironic), never by key. The exporter role may write any key under its prefix, so a key that sorts last (a bad
 * clock, "2099…", "zzz.json") must not pin the policy; and a slow exporter's older export, uploaded late, must not
 * replace a newer one. An export dated more than FUTURE_TOLERANCE_MS after the store received it (or after now) is
 * refused: reported, never used.
 *
 * Reading every export to learn its time would cost a full read per export kept (two weeks of them). The store's
 * own upload time (S3 LastModified, not the exporter's clock) bounds it instead: an accepted export's createdAt is at
 * most its upload time + tolerance, so once the exports are walked newest upload first, the walk stops at the first
 * one uploaded more than the tolerance before the best time found. Usually one read; one per export uploaded within
 * the tolerance window otherwise.
 */
import { ConfigError, InputError } from '../core/errors.ts';
import { type ParsedExport, parseExportBundle } from '../core/export-bundle.ts';
import { decodeJsonBytes } from '../core/json-text.ts';
import { exportsPrefix } from '../store/keys.ts';
import type { ObjectSummary, Store } from '../store/store.ts';

/** How far ahead of the store's clock (and ours) an export may be dated: clock skew between hosts, no more. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

export interface ChosenExport {
  key: string;
  bytes: Uint8Array;
  createdAt: Date;
  parsed: ParsedExport & { site: string; createdAt: string };
}

export interface RefusedExport {
  key: string;
  createdAt?: string;
  /** `future`: dated ahead of its upload or of now; `invalid`: unreadable, superseded by a valid newer upload. */
  kind: 'future' | 'invalid';
  reason: string;
}

export interface NewestExport {
  chosen: ChosenExport;
  refused: RefusedExport[];
  /** How many export objects were read to decide (the cost of the choice). */
  read: number;
}

/** Every export was refused (all future-dated, say): nothing may be computed; carries the refusals. */
export class NoUsableExportError extends InputError {
  constructor(
    prefix: string,
    readonly refused: RefusedExport[],
  ) {
    super(prefix, refused[0]?.key, `no usable export: ${refused.length} refused (${refused[0]?.reason ?? 'none listed'})`);
  }
}

/** Why an export's recorded time cannot be trusted, or undefined when it can. */
export function futureDating(createdAt: Date, receivedAt: Date | undefined, now: Date): string | undefined {
  const limit = Math.min(now.getTime(), receivedAt?.getTime() ?? Infinity) + FUTURE_TOLERANCE_MS;
  if (createdAt.getTime() <= limit) return undefined;
  const against = receivedAt && receivedAt.getTime() < now.getTime() ? `its upload at ${receivedAt.toISOString()}` : `now (${now.toISOString()})`;
  return `createdAt ${createdAt.toISOString()} is more than ${FUTURE_TOLERANCE_MS / 60_000} minutes after ${against}: the exporter's clock is wrong; refused`;
}

/** Read, decode and validate one export object of `site` (strict UTF-8, JSON, schema, site). */
export function decodeExport(bytes: Uint8Array, key: string, site: string): ChosenExport['parsed'] {
  const parsed = parseExportBundle(decodeJsonBytes(bytes, key), key);
  if (parsed.site !== site) throw new InputError(`${key}.site`, parsed.site, `is not the site "${site}" whose prefix it is under`);
  return parsed;
}

/** The export objects of a site (direct children ending in .json), newest upload first. */
export async function listExports(store: Store, site: string): Promise<ObjectSummary[]> {
  const prefix = exportsPrefix(site);
  const all = await store.listObjects(prefix);
  return all
    .filter((o) => o.key.endsWith('.json') && !o.key.slice(prefix.length).includes('/'))
    .sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
}

/**
 * The newest usable export of a site. The newest upload being unreadable fails the run (bad input is loud, the
 * current manifest stays); an older unreadable one met on the way is only reported, since a valid newer upload
 * exists. Future-dated exports are always skipped and reported.
 */
export async function newestExport(store: Store, site: string, now: Date): Promise<NewestExport> {
  const prefix = exportsPrefix(site);
  const listed = await listExports(store, site);
  if (listed.length === 0) throw new ConfigError(`${prefix}: no export for site "${site}" yet (run pxe-filter export)`);
  const refused: RefusedExport[] = [];
  let best: ChosenExport | undefined;
  let read = 0;
  for (const entry of listed) {
    if (best && entry.lastModified.getTime() + FUTURE_TOLERANCE_MS < best.createdAt.getTime()) break;
    const obj = await store.getObject(entry.key);
    if (!obj) continue; // expired by the lifecycle between the listing and the read
    read++;
    let parsed: ChosenExport['parsed'];
    try {
      parsed = decodeExport(obj.bytes, entry.key, site);
    } catch (err) {
      if (!best) throw err;
      refused.push({ key: entry.key, kind: 'invalid', reason: (err as Error).message });
      continue;
    }
    const createdAt = new Date(parsed.createdAt);
    const future = futureDating(createdAt, obj.lastModified, now);
    if (future) {
      refused.push({ key: entry.key, createdAt: parsed.createdAt, kind: 'future', reason: `${entry.key}: ${future}` });
      continue;
    }
    if (!best || createdAt.getTime() > best.createdAt.getTime() || (createdAt.getTime() === best.createdAt.getTime() && entry.key > best.key)) {
      best = { key: entry.key, bytes: obj.bytes, createdAt, parsed };
    }
  }
  if (!best) throw new NoUsableExportError(prefix, refused);
  return { chosen: best, refused, read };
}
