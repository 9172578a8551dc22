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
import { type StateExport, checkStateSite, combineWithState, parseStateExport } from '../core/state-export.ts';
import { exportsPrefix, stateExportsPrefix } from '../store/keys.ts';
import type { ObjectSummary, Store } from '../store/store.ts';
import { ExportCache, cachedDigest } from './export-cache.ts';

/** How far ahead of the store's clock (and ours) an export may be dated: clock skew between hosts, no more. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

type Parsed = ParsedExport & { site: string; createdAt: string };

export interface ChosenExport {
  key: string;
  bytes: Uint8Array;
  createdAt: Date;
  parsed: Parsed;
  /** sha256 of `bytes`, computed once per object a warm process has read. */
  digest(): string;
}

export interface ChosenState {
  key: string;
  bytes: Uint8Array;
  createdAt: Date;
  state: StateExport;
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
  /** How many export objects were read to decide (the cost of the choice; a cached full export is not read). */
  read: number;
}

export interface NewestInputs extends NewestExport {
  /** The newest state export recorded after `chosen`, if any: it says who is being inspected now. */
  state?: ChosenState;
  /** The full export's inventory with the state's reading (just `chosen.parsed` without a newer state). */
  effective: Parsed;
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

/** Parsed full exports of this process (a warm Lambda keeps them between invocations). */
export const exportCache = new ExportCache<Parsed>();

/** Why an export's recorded time cannot be trusted, or undefined when it can. */
export function futureDating(createdAt: Date, receivedAt: Date | undefined, now: Date): string | undefined {
  const limit = Math.min(now.getTime(), receivedAt?.getTime() ?? Infinity) + FUTURE_TOLERANCE_MS;
  if (createdAt.getTime() <= limit) return undefined;
  const against = receivedAt && receivedAt.getTime() < now.getTime() ? `its upload at ${receivedAt.toISOString()}` : `now (${now.toISOString()})`;
  return `createdAt ${createdAt.toISOString()} is more than ${FUTURE_TOLERANCE_MS / 60_000} minutes after ${against}: the exporter's clock is wrong; refused`;
}

/** Read, decode and validate one export object of `site` (strict UTF-8, JSON, schema, site). */
export function decodeExport(bytes: Uint8Array, key: string, site: string): Parsed {
  const parsed = parseExportBundle(decodeJsonBytes(bytes, key), key);
  if (parsed.site !== site) throw new InputError(`${key}.site`, parsed.site, `is not the site "${site}" whose prefix it is under`);
  return parsed;
}

/** Read, decode and validate one state export object of `site`. */
export function decodeStateExport(bytes: Uint8Array, key: string, site: string): StateExport {
  return checkStateSite(parseStateExport(decodeJsonBytes(bytes, key), key), key, site);
}

/** The objects directly under `prefix` ending in .json, newest upload first. */
async function listDirect(store: Store, prefix: string): Promise<ObjectSummary[]> {
  const all = await store.listObjects(prefix);
  return all
    .filter((o) => o.key.endsWith('.json') && !o.key.slice(prefix.length).includes('/'))
    .sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
}

/** The export objects of a site (direct children ending in .json), newest upload first. */
export async function listExports(store: Store, site: string): Promise<ObjectSummary[]> {
  return listDirect(store, exportsPrefix(site));
}

interface Candidate<T> {
  key: string;
  bytes: Uint8Array;
  createdAt: Date;
  value: T;
}

/**
 * The walk both kinds share: newest upload first, stop once an upload is too old to beat the best time found
 * (or `after`), refuse future-dated ones, and fail on an unreadable one only while nothing valid was found.
 */
async function newestOf<T>(
  listed: ObjectSummary[],
  read: (entry: ObjectSummary) => Promise<{ bytes: Uint8Array; lastModified: Date; value: T; createdAt: string; fresh: boolean } | undefined>,
  now: Date,
  after: Date | undefined,
  refused: RefusedExport[],
): Promise<{ best?: Candidate<T>; read: number }> {
  let best: Candidate<T> | undefined;
  let reads = 0;
  const floor = () => best?.createdAt.getTime() ?? after?.getTime();
  for (const entry of listed) {
    const bound = floor();
    if (bound !== undefined && entry.lastModified.getTime() + FUTURE_TOLERANCE_MS < bound) break;
    let got: Awaited<ReturnType<typeof read>>;
    try {
      got = await read(entry);
    } catch (err) {
      if (!best) throw err;
      refused.push({ key: entry.key, kind: 'invalid', reason: (err as Error).message });
      continue;
    }
    if (!got) continue; // expired by the lifecycle between the listing and the read
    if (got.fresh) reads++;
    const createdAt = new Date(got.createdAt);
    const future = futureDating(createdAt, got.lastModified, now);
    if (future) {
      refused.push({ key: entry.key, createdAt: got.createdAt, kind: 'future', reason: `${entry.key}: ${future}` });
      continue;
    }
    if (after && createdAt.getTime() <= after.getTime()) continue;
    if (!best || createdAt.getTime() > best.createdAt.getTime() || (createdAt.getTime() === best.createdAt.getTime() && entry.key > best.key)) {
      best = { key: entry.key, bytes: got.bytes, createdAt, value: got.value };
    }
  }
  return { best, read: reads };
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
  const digests = new Map<string, () => string>();
  const { best, read } = await newestOf<Parsed>(
    listed,
    async (entry) => {
      const hit = entry.version !== undefined ? exportCache.get(entry.key, entry.version) : undefined;
      if (hit) {
        digests.set(entry.key, hit.digest);
        return { bytes: hit.bytes, lastModified: entry.lastModified, value: hit.parsed, createdAt: hit.parsed.createdAt, fresh: false };
      }
      const obj = await store.getObject(entry.key);
      if (!obj) return undefined;
      const parsed = decodeExport(obj.bytes, entry.key, site);
      // Only a listing's version is known without a read; without one the entry could never be found again.
      const cached = entry.version !== undefined ? exportCache.put(entry.key, entry.version, obj.bytes, parsed) : undefined;
      digests.set(entry.key, cached?.digest ?? cachedDigest(obj.bytes));
      return { bytes: obj.bytes, lastModified: obj.lastModified, value: parsed, createdAt: parsed.createdAt, fresh: true };
    },
    now,
    undefined,
    refused,
  );
  if (!best) throw new NoUsableExportError(prefix, refused);
  return { chosen: { key: best.key, bytes: best.bytes, createdAt: best.createdAt, parsed: best.value, digest: digests.get(best.key)! }, refused, read };
}

/**
 * The newest usable state export of a site recorded after `after` (the chosen full export's time), or none.
 * Same rules as for full exports: by recorded time, future-dated ones refused and reported, the newest upload
 * unreadable fails the run.
 */
export async function newestState(store: Store, site: string, after: Date, now: Date, refused: RefusedExport[]): Promise<{ state?: ChosenState; read: number }> {
  const listed = await listDirect(store, stateExportsPrefix(site));
  const { best, read } = await newestOf<StateExport>(
    listed,
    async (entry) => {
      const obj = await store.getObject(entry.key);
      if (!obj) return undefined;
      const state = decodeStateExport(obj.bytes, entry.key, site);
      return { bytes: obj.bytes, lastModified: obj.lastModified, value: state, createdAt: state.createdAt, fresh: true };
    },
    now,
    after,
    refused,
  );
  return { ...(best ? { state: { key: best.key, bytes: best.bytes, createdAt: best.createdAt, state: best.value } } : {}), read };
}

/** What a compute works from: the newest full export, combined with the newest state export recorded after it. */
export async function newestInputs(store: Store, site: string, now: Date): Promise<NewestInputs> {
  const full = await newestExport(store, site, now);
  const { state, read } = await newestState(store, site, full.chosen.createdAt, now, full.refused);
  return {
    ...full,
    read: full.read + read,
    ...(state ? { state } : {}),
    effective: state ? combineWithState(full.chosen.parsed, state.state) : full.chosen.parsed,
  };
}
