/**
 * The provenance the publisher writes beside a new manifest (core/provenance.ts). Built only when a generation is
 * published, so the every-run compute path (most runs publish nothing) never pays for a record per port.
 *
 * A warm process (a Lambda container, `control run`) keeps the last full document it stored. The next generation
 * computed from the same full export and settings (a state export changed who is being inspected) is written as a
 * delta against it: only the MACs of the nodes whose inspection started or ended are explained again. The first
 * publish of a process, a new full export or new settings write a full document; so does a delta that would not be
 * small, or a base a day old (a delta must not outlive its base under the bucket's lifecycle by much).
 */
import type { ParsedExport } from '../core/export-bundle.ts';
import { type Manifest, policyDigest } from '../core/manifest.ts';
import type { Mac } from '../core/mac.ts';
import { explainMacs, inspectingNodes, macsOfNodes, nodeHasPorts, unknownHostsDecision } from '../core/policy.ts';
import {
  type Provenance,
  type ProvenanceDetails,
  buildProvenance,
  buildProvenanceDelta,
  provenanceDetails,
  serializeProvenance,
  volatileNodes,
} from '../core/provenance.ts';
import type { SiteSettings } from '../core/settings.ts';
import { explainedPolicyFromExport, policyInput } from './policy-from-export.ts';

export interface ProvenanceSource {
  /**
   * Where the provenance is stored: a base is only ever used with the store object (one per Lambda container or
   * `control run` process) and site it was written to.
   */
  store: object;
  site: string;
  /** The full export's bytes (parsed again only for a full document, once per bytes) and the export the policy used. */
  bundleBytes: Uint8Array;
  decodeBundle: () => unknown;
  parsed: ParsedExport;
  settings: SiteSettings;
  export: { key: string; sha256: string };
  state?: { key: string; sha256: string; createdAt: string };
}

/** What publishPolicy calls: the bytes to store, then (after they are stored) the object version they got. */
export interface ProvenanceWriter {
  render(manifest: Manifest): { bytes: Uint8Array; form: 'full' | 'delta' };
  stored(manifest: Manifest, versionId: string): void;
}

/** A delta larger than this share of the MACs saves little and is written as a full document instead. */
const MAX_DELTA_SHARE = 0.1;
/** A base older than this is replaced by a new full document (non-current versions expire by age). */
const MAX_BASE_AGE_MS = 24 * 3600 * 1000;

interface Base {
  exportKey: string;
  exportSha256: string;
  settings: string;
  doc: Provenance;
  versionId: string;
  inspecting: ReadonlySet<string>;
  /** The base's volatileNodes: with the new generation's, the only nodes whose entries may differ. */
  volatile: ReadonlySet<string>;
  allow: ReadonlySet<Mac>;
  macCount: number;
}

const bases = new WeakMap<object, Map<string, Base>>();
const detailsByBytes = new WeakMap<Uint8Array, ProvenanceDetails>();

/** How the process's last publishes were written (for tests and the bench). */
export const provenanceForms = { full: 0, delta: 0 };

export function provenanceWriter(src: ProvenanceSource): ProvenanceWriter {
  let written: Omit<Base, 'versionId'> | undefined;
  const settings = JSON.stringify(src.settings);
  return {
    render(manifest) {
      const base = bases.get(src.store)?.get(src.site);
      if (base && base.exportKey === src.export.key && base.exportSha256 === src.export.sha256 && base.settings === settings && fresh(base, manifest)) {
        const delta = deltaOf(src, base, manifest);
        if (delta) {
          written = undefined;
          provenanceForms.delta++;
          return { bytes: delta, form: 'delta' };
        }
      }
      const { policy, explanation } = explainedPolicyFromExport(src.parsed, src.settings);
      // Cannot differ (same pure function, same input); checked so a provenance can never explain another policy.
      if (policyDigest(policy) !== manifest.policyDigest) throw new Error(`provenance of generation ${manifest.generation}: the recomputed policy differs from the manifest`);
      const shared = common(src);
      const doc = buildProvenance({ manifest, ...shared, explanation });
      const volatile = volatileNodes(shared.details, shared.effective, explanation.inspectingNodes);
      written = { exportKey: src.export.key, exportSha256: src.export.sha256, settings, doc, inspecting: explanation.inspectingNodes, volatile, allow: new Set(policy.allow), macCount: explanation.macs.size };
      provenanceForms.full++;
      return { bytes: serializeProvenance(doc), form: 'full' };
    },
    stored(_manifest, versionId) {
      // Only a document known to be stored may be a base: a delta naming a version that was never written explains nothing.
      if (!written) return;
      let sites = bases.get(src.store);
      if (!sites) bases.set(src.store, (sites = new Map()));
      sites.set(src.site, { ...written, versionId });
    },
  };
}

function common(src: ProvenanceSource) {
  return {
    export: src.export,
    ...(src.state ? { state: src.state } : {}),
    settings: src.settings,
    details: detailsOf(src),
    effective: { ...(src.parsed.nodes ? { nodes: src.parsed.nodes } : {}), ...(src.parsed.introspections ? { introspections: src.parsed.introspections } : {}) },
  };
}

function detailsOf(src: ProvenanceSource): ProvenanceDetails {
  let details = detailsByBytes.get(src.bundleBytes);
  if (!details) {
    details = provenanceDetails(src.decodeBundle());
    detailsByBytes.set(src.bundleBytes, details);
  }
  return details;
}

const fresh = (base: Base, manifest: Manifest) => Date.parse(manifest.createdAt) - Date.parse(base.doc.publishedAt) < MAX_BASE_AGE_MS;

/**
 * The delta's bytes, or undefined when a full document is due. Its consistency with the manifest is checked as
 * the full path checks its own: every MAC whose verdict differs from the base's must be among those explained
 * again (else the delta would keep a stale verdict), and those take their verdict from the manifest's policy.
 */
function deltaOf(src: ProvenanceSource, base: Base, manifest: Manifest): Uint8Array | undefined {
  const input = policyInput(src.parsed, src.settings);
  const inspecting = inspectingNodes(input.source);
  const changed = new Set<string>();
  for (const uuid of inspecting) if (!base.inspecting.has(uuid)) changed.add(uuid);
  for (const uuid of base.inspecting) if (!inspecting.has(uuid)) changed.add(uuid);
  const macs = macsOfNodes(input.ports, changed);
  if (macs.size > MAX_DELTA_SHARE * Math.max(base.macCount, 1)) return undefined;
  const allow = new Set(manifest.policy.allow);
  for (const mac of allow) if (!base.allow.has(mac) && !macs.has(mac)) return undefined;
  for (const mac of base.allow) if (!allow.has(mac) && !macs.has(mac)) return undefined;
  const unknownHosts = unknownHostsDecision(inspecting.size, input);
  if (unknownHosts.verdict !== manifest.policy.unknownHosts) return undefined;
  const delta = buildProvenanceDelta({
    manifest,
    ...common(src),
    explanation: { macs: explainMacs(input.ports, inspecting, allow, macs), inspectingNodes: inspecting, unknownHosts },
    hasPorts: (uuid) => nodeHasPorts(input.ports, uuid),
    base: { doc: base.doc, versionId: base.versionId, volatile: base.volatile },
  });
  return serializeProvenance(delta);
}
