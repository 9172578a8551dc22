/**
 * One compute run for one site, on any Store: newest export, combined with a newer state export when there is one
 * (control/newest-export.ts) + site settings → policy → guard → publish.
 * The Lambda handler and any CLI wrap this; it holds no AWS or Lambda specifics.
 */
import { sha256 } from '../core/manifest.ts';
import { decodeJsonBytes } from '../core/json-text.ts';
import type { PolicyStats } from '../core/policy.ts';
import type { SiteSettings } from '../core/settings.ts';
import type { Store } from '../store/store.ts';
import { policyFromExport } from './policy-from-export.ts';
import { provenanceWriter } from './provenance.ts';
import { type PublishResult, publishPolicy } from './publish.ts';
import { loadSiteSettings } from './site-settings.ts';
import { type RefusedExport, newestInputs } from './newest-export.ts';
import type { ManifestSigner } from './signing.ts';

export interface ComputeSiteRequest {
  store: Store;
  site: string;
  now: Date;
  force?: boolean;
  signer?: ManifestSigner;
}

export interface ComputeSiteResult {
  exportKey: string;
  /** The time recorded inside the export used (when the exporter read Ironic). */
  exportCreatedAt: string;
  /** The state export combined with it (who is being inspected, read after the full export), if any. */
  stateExportKey?: string;
  stateCreatedAt?: string;
  /** Exports skipped on the way: future-dated, or unreadable but superseded. Each must be reported. */
  refusedExports: RefusedExport[];
  settings: SiteSettings;
  stats: PolicyStats;
  published: PublishResult;
}

export async function computeSite(req: ComputeSiteRequest): Promise<ComputeSiteResult> {
  const { store, site } = req;
  const settings = await loadSiteSettings(store, site);
  const newest = await newestInputs(store, site, req.now);
  const { key: exportKey, bytes } = newest.chosen;
  const parsed = newest.effective;
  const { policy, stats } = policyFromExport(parsed, settings);
  const input = { key: exportKey, sha256: newest.chosen.digest() };
  const state = newest.state;
  const stateDigest = state ? sha256(state.bytes) : undefined;
  const published = await publishPolicy({
    store,
    site,
    policy,
    inputs: state ? [input, { key: state.key, sha256: stateDigest! }] : [input],
    // Parsed again only when a generation is published (most runs publish nothing).
    provenance: provenanceWriter({
      store,
      site,
      bundleBytes: bytes,
      decodeBundle: () => decodeJsonBytes(bytes, exportKey),
      parsed,
      settings,
      export: input,
      ...(state ? { state: { key: state.key, sha256: stateDigest!, createdAt: state.state.createdAt } } : {}),
    }),
    guard: settings.guard,
    force: req.force ?? false,
    now: req.now,
    ...(req.signer ? { signer: req.signer } : {}),
  });
  return {
    exportKey,
    exportCreatedAt: parsed.createdAt,
    ...(state ? { stateExportKey: state.key, stateCreatedAt: state.state.createdAt } : {}),
    refusedExports: newest.refused, settings, stats, published };
}

/** The fields every publish reports, whoever ran it: the Lambda's "published" line and the CLI's (publish, control run). */
export function publishFields(r: ComputeSiteResult) {
  const m = r.published.manifest;
  return {
    generation: m.generation,
    versionId: r.published.pointer.versionId,
    sha256: r.published.pointer.sha256,
    exportKey: r.exportKey,
    exportCreatedAt: r.exportCreatedAt,
    stateExportKey: r.stateExportKey ?? null,
    stateCreatedAt: r.stateCreatedAt ?? null,
    refusedExports: r.refusedExports.length,
    unusableMacs: r.stats.unusableMacs,
    ports: r.stats.ports,
    nodesInspecting: r.stats.nodesInspecting,
    allow: m.policy.allow.length,
    deny: m.policy.deny.length,
    unknownHosts: m.policy.unknownHosts,
    pointerRepaired: r.published.pointerRepaired,
    signedBy: r.published.pointer.signature?.keyId ?? null,
    provenance: r.published.provenance ?? null,
  };
}
