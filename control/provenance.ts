/**
 * The provenance the publisher writes beside a new manifest (core/provenance.ts). Built only when a generation is
 * published: the policy is computed again with its explanation (the same function, core/policy.ts), so the
 * every-run compute path (most runs publish nothing) never pays for a record per port.
 */
import type { ParsedExport } from '../core/export-bundle.ts';
import { type Manifest, policyDigest } from '../core/manifest.ts';
import { buildProvenance, serializeProvenance } from '../core/provenance.ts';
import type { SiteSettings } from '../core/settings.ts';
import { explainedPolicyFromExport } from './policy-from-export.ts';

export interface ProvenanceSource {
  /** The export bundle as parsed JSON (asked for only when a generation is published), and the parsed export the policy was computed from. */
  bundle: () => unknown;
  parsed: ParsedExport;
  settings: SiteSettings;
  export: { key: string; sha256: string };
}

export function provenanceWriter(src: ProvenanceSource): (manifest: Manifest) => Uint8Array {
  return (manifest) => {
    const { policy, explanation } = explainedPolicyFromExport(src.parsed, src.settings);
    // Cannot differ (same pure function, same input); checked so a provenance can never explain another policy.
    if (policyDigest(policy) !== manifest.policyDigest) throw new Error(`provenance of generation ${manifest.generation}: the recomputed policy differs from the manifest`);
    return serializeProvenance(buildProvenance({ manifest, export: src.export, settings: src.settings, explanation, bundle: src.bundle() }));
  };
}
