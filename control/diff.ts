/**
 * `pxe-filter diff --from N --to M`: the MACs whose verdict or rule changed between two stored generations,
 * with the reason on each side (core/explain.ts), and the wildcard's change.
 */
import { InputError } from '../core/errors.ts';
import { type MacExplanation, type WildcardReason, explainMac, listedVerdict, wildcardReason } from '../core/explain.ts';
import { changedMacs } from '../core/hostsdir.ts';
import type { Mac } from '../core/mac.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Store } from '../store/store.ts';
import { findGeneration, readProvenance } from './history.ts';

export interface MacChange {
  mac: Mac;
  /** flipped: both generations name it, with different verdicts; added / removed: only the newer / older does. */
  change: 'flipped' | 'added' | 'removed';
  from: MacExplanation;
  to: MacExplanation;
}

export interface DiffResult {
  site: string;
  from: { generation: number; publishedAt: string; exportKey: string | null };
  to: { generation: number; publishedAt: string; exportKey: string | null };
  wildcard: { from: WildcardReason; to: WildcardReason };
  changes: MacChange[];
  /** Of the changes, those whose effective verdict (listed, or the wildcard's) differs. */
  verdictChanges: number;
}

export async function diffGenerations(req: { store: Store; site: string; from: number; to: number }): Promise<DiffResult> {
  const { store, site } = req;
  if (req.from === req.to) throw new InputError('--to', req.to, 'is the same generation as --from');
  const [a, b] = [await findGeneration(store, site, req.from, '--from'), await findGeneration(store, site, req.to, '--to')];
  const [pa, pb] = [await readProvenance(store, site, req.from), await readProvenance(store, site, req.to)];
  const changes: MacChange[] = [];
  let verdictChanges = 0;
  for (const mac of changedMacsBetween(a.manifest, b.manifest)) {
    const va = listedVerdict(a.manifest, mac);
    const vb = listedVerdict(b.manifest, mac);
    const older = req.from < req.to ? { generation: req.from, verdict: va } : { generation: req.to, verdict: vb };
    // The newer side of a MAC only the older one names is a removed MAC; the older side of an added one is "not in it".
    const lastSeen = (own: typeof va, gen: number) => (own === undefined && older.verdict !== undefined && gen !== older.generation ? { generation: older.generation, verdict: older.verdict } : undefined);
    const from = explainMac({ input: mac, mac, manifest: a.manifest, provenance: pa, lastSeen: lastSeen(va, req.from), historySearched: false });
    const to = explainMac({ input: mac, mac, manifest: b.manifest, provenance: pb, lastSeen: lastSeen(vb, req.to), historySearched: false });
    if (from.verdict !== to.verdict) verdictChanges++;
    changes.push({ mac, change: va && vb ? 'flipped' : vb ? 'added' : 'removed', from, to });
  }
  const side = (m: Manifest) => ({ generation: m.generation, publishedAt: m.createdAt, exportKey: m.source.inputs[0]?.key ?? null });
  return { site, from: side(a.manifest), to: side(b.manifest), wildcard: { from: wildcardReason(a.manifest, pa), to: wildcardReason(b.manifest, pb) }, changes, verdictChanges };
}

/** MACs listed with a different verdict, or listed on one side only (the agent's own change set), sorted. */
function changedMacsBetween(a: Manifest, b: Manifest): Mac[] {
  return [...changedMacs(a.policy, b.policy).keys()].sort();
}
