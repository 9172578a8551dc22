/**
 * The agents of a site as their acks (`acks/<site>/<host>.json`) describe them: which generation each has
 * applied, how far behind the pointer it is, its last apply and error. The store reads are here; the judgement
 * (fleetRows) is a pure function of the acks, the pointer, the publish time and the clock.
 */
import { type AgentReport, AgentReportSchema } from '../core/ack.ts';
import { InputError } from '../core/errors.ts';
import { parseManifestBytes } from '../core/manifest.ts';
import { acksPrefix } from '../store/keys.ts';
import type { Store } from '../store/store.ts';
import { readPointer } from '../store/pointer.ts';

export type AckRead = { host: string; key: string; report: AgentReport } | { host: string; key: string; error: string };

/** Every ack of the site; one that is not a valid agent report is kept as an error (never a crash). */
export async function readAcks(store: Store, site: string): Promise<AckRead[]> {
  const prefix = acksPrefix(site);
  const out: AckRead[] = [];
  for (const o of await store.listObjects(prefix)) {
    if (!o.key.endsWith('.json')) continue;
    const host = o.key.slice(prefix.length, -'.json'.length);
    const obj = await store.getObject(o.key);
    if (!obj) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder().decode(obj.bytes));
    } catch {
      out.push({ host, key: o.key, error: 'not JSON' });
      continue;
    }
    const r = AgentReportSchema.safeParse(doc);
    out.push(r.success ? { host, key: o.key, report: r.data } : { host, key: o.key, error: `not an agent report (${r.error.issues[0]?.path.join('.') || 'document'}: ${r.error.issues[0]?.message})` });
  }
  return out;
}

export interface FleetOptions {
  /** The current generation (the pointer) and when it was published. */
  generation: number;
  publishedAt: Date;
  now: Date;
  /** How long after a publish a host may still be on an older generation. */
  graceMs: number;
  /** An ack older than this means the host stopped reporting (agents re-send theirs every ackHeartbeatSeconds). */
  silentAfterMs: number;
}

export interface FleetRow {
  host: string;
  generation: number | null;
  /** Generations behind the pointer (null: nothing applied, or the ack is unreadable). */
  lag: number | null;
  appliedAt: string | null;
  durationMs: number | null;
  reportedAt: string | null;
  lastError: string | null;
  version: string | null;
  layout: string | null;
  counts: { allow: number; deny: number; removed: number; files: number } | null;
  serviceRunning: boolean | null;
  stale: boolean;
  /** Behind the pointer once the grace period after its publish has passed. */
  behind: boolean;
  /** Why this host needs attention; empty when it is fine. */
  problems: string[];
}

export function fleetRows(acks: readonly AckRead[], o: FleetOptions): FleetRow[] {
  const late = o.now.getTime() - o.publishedAt.getTime() > o.graceMs;
  return acks.map((a): FleetRow => {
    if ('error' in a) {
      return { host: a.host, generation: null, lag: null, appliedAt: null, durationMs: null, reportedAt: null, lastError: null, version: null, layout: null, counts: null, serviceRunning: null, stale: true, behind: true, problems: [`ack ${a.key} is unreadable: ${a.error}`] };
    }
    const r = a.report;
    const lag = r.generation === null ? null : Math.max(0, o.generation - r.generation);
    const silentMs = o.now.getTime() - Date.parse(r.reportedAt);
    const silent = silentMs > o.silentAfterMs;
    const stale = r.stale || silent;
    const behind = late && (r.generation === null || r.generation < o.generation);
    const problems: string[] = [];
    if (behind) problems.push(r.generation === null ? 'has applied nothing yet' : `${lag} generation(s) behind, past the ${Math.round(o.graceMs / 1000)} s grace period`);
    if (r.lastError) problems.push(`last error (${r.lastError.at}): ${r.lastError.message}`);
    if (r.stale) problems.push('reports its policy stale (no contact with the store)');
    if (silent) problems.push(`no report for ${Math.round(silentMs / 1000)} s`);
    if (!r.serviceRunning && r.generation !== null) problems.push('dnsmasq not running');
    return {
      host: a.host,
      generation: r.generation,
      lag,
      appliedAt: r.appliedAt,
      durationMs: r.durationMs,
      reportedAt: r.reportedAt,
      lastError: r.lastError?.message ?? null,
      version: r.version ?? null,
      layout: r.layout ?? null,
      counts: { allow: r.counts.allow, deny: r.counts.deny, removed: r.counts.removed, files: r.counts.files },
      serviceRunning: r.serviceRunning,
      stale,
      behind,
      problems,
    };
  });
}

export interface FleetStatus {
  site: string;
  generation: number;
  publishedAt: string;
  graceSeconds: number;
  rows: FleetRow[];
  /** No row has a problem (an empty fleet is healthy: there is nothing behind). */
  healthy: boolean;
}

export async function fleetStatus(req: { store: Store; site: string; now: Date; graceMs: number; silentAfterMs: number }): Promise<FleetStatus> {
  const { store, site } = req;
  const pointer = await readPointer(store, site);
  if (!pointer) throw new InputError('--site', site, `has no published manifest in ${store.description}`);
  const obj = await store.getObject(pointer.key, pointer.versionId);
  if (!obj) throw new Error(`${pointer.key}@${pointer.versionId}: the version the pointer names is missing`);
  const manifest = parseManifestBytes(obj.bytes, `${pointer.key}@${pointer.versionId}`);
  const rows = fleetRows(await readAcks(store, site), {
    generation: pointer.generation,
    publishedAt: new Date(manifest.createdAt),
    now: req.now,
    graceMs: req.graceMs,
    silentAfterMs: req.silentAfterMs,
  });
  return { site, generation: pointer.generation, publishedAt: manifest.createdAt, graceSeconds: req.graceMs / 1000, rows, healthy: rows.every((r) => r.problems.length === 0) };
}
