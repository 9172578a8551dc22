/**
 * `pxe-filter explain`: for each MAC, the verdict of one generation (the current one by default), the rule and
 * the Ironic objects behind it, and which agents have applied that generation. Store reads here; the words in
 * core/explain.ts; the rule was recorded at publish by core/policy.ts.
 */
import { InputError } from '../core/errors.ts';
import { type MacExplanation, explainMac, listedVerdict } from '../core/explain.ts';
import { parseMac } from '../core/mac.ts';
import { type Manifest, parseManifestBytes } from '../core/manifest.ts';
import type { Verdict } from '../core/policy.ts';
import type { Store } from '../store/store.ts';
import { type AckRead, readAcks } from './fleet.ts';
import { findGeneration, readGenerations, readProvenance } from './history.ts';
import { readPointer } from '../store/pointer.ts';

export interface ExplainRequest {
  store: Store;
  site: string;
  macs: readonly string[];
  /** Default: the generation the pointer names. */
  generation?: number;
  /**
   * Credentials that may read the pointer and manifests but not list versions or acks (an agent's role): what
   * cannot be read is reported instead of failing the command.
   */
  limited?: boolean;
}

export interface AgentsOfGeneration {
  /** Hosts whose applied generation is this one or a later one. */
  applied: { host: string; generation: number }[];
  /** Hosts still on an earlier generation, or with nothing applied. */
  notApplied: { host: string; generation: number | null }[];
  /** Acks that are not agent reports. */
  unreadable: { host: string; error: string }[];
  /** Set when the acks could not be listed at all (limited credentials). */
  error?: string;
}

export interface ExplainResult {
  site: string;
  generation: number;
  currentGeneration: number;
  publishedAt: string;
  macs: MacExplanation[];
  agents: AgentsOfGeneration;
}

export async function explainMacs(req: ExplainRequest): Promise<ExplainResult> {
  const { store, site } = req;
  // Every MAC is checked before anything is read: one bad argument is one clear refusal.
  const macs = req.macs.map((input) => ({ input, mac: parseMac(input, 'MAC') }));
  const pointer = await readPointer(store, site);
  if (!pointer) throw new InputError('--site', site, `has no published manifest in ${store.description}`);
  const target = req.generation ?? pointer.generation;
  if (target > pointer.generation) throw new InputError('--generation', target, `is newer than the current generation ${pointer.generation}`);
  const manifest = await manifestAt(store, site, target, pointer);
  const provenance = await readProvenance(store, site, target);
  let older: Manifest[] | null | undefined;
  const lastSeenOf = async (mac: (typeof macs)[number]['mac']): Promise<{ generation: number; verdict: Verdict } | undefined> => {
    if (listedVerdict(manifest, mac)) return undefined;
    older ??= await readGenerations(store, site).then(
      (all) => all.map((g) => g.manifest).filter((m) => m.generation < target),
      (err: unknown) => {
        if (!req.limited) throw err;
        return null; // history not readable: "removed" cannot be told from "unknown"
      },
    );
    if (older === null) return undefined;
    for (const m of older) {
      const verdict = listedVerdict(m, mac);
      if (verdict) return { generation: m.generation, verdict };
    }
    return undefined;
  };
  const explained: MacExplanation[] = [];
  for (const m of macs) {
    const lastSeen = await lastSeenOf(m.mac);
    explained.push(explainMac({ ...m, manifest, provenance, lastSeen, historySearched: older !== null }));
  }
  const agents = await readAcks(store, site).then(
    (acks) => agentsOf(acks, target),
    (err: unknown) => {
      if (!req.limited) throw err;
      return { applied: [], notApplied: [], unreadable: [], error: `acks not readable with these credentials (${(err as Error).message})` };
    },
  );
  return { site, generation: target, currentGeneration: pointer.generation, publishedAt: manifest.createdAt, macs: explained, agents };
}

/** The manifest of a generation: through the pointer when it is the current one (no version listing needed). */
export async function manifestAt(store: Store, site: string, generation: number, pointer: { generation: number; key: string; versionId: string }): Promise<Manifest> {
  if (generation === pointer.generation) {
    const obj = await store.getObject(pointer.key, pointer.versionId);
    if (obj) return parseManifestBytes(obj.bytes, `${pointer.key}@${pointer.versionId}`);
  }
  return (await findGeneration(store, site, generation, '--generation')).manifest;
}

export function agentsOf(acks: readonly AckRead[], generation: number): AgentsOfGeneration {
  const out: AgentsOfGeneration = { applied: [], notApplied: [], unreadable: [] };
  for (const a of acks) {
    if ('error' in a) out.unreadable.push({ host: a.host, error: a.error });
    else if (a.report.generation !== null && a.report.generation >= generation) out.applied.push({ host: a.host, generation: a.report.generation });
    else out.notApplied.push({ host: a.host, generation: a.report.generation });
  }
  return out;
}
