/**
 * Provenance: why each MAC of one generation got its verdict (the rule, its ports and nodes, their states) and
 * why the wildcard is open or closed. Written by the publisher beside each manifest; read by `explain`, `diff`
 * and `rollback`. The rules come from computePolicy's explanation (core/policy.ts), so provenance cannot disagree
 * with the policy; this module only adds the identifiers and states from the same export (port UUIDs, node names,
 * provision and introspection states) that the policy does not need.
 *
 * Two stored forms. A full document holds every MAC. A delta holds only the entries that differ from an earlier
 * full document of the same full export (a state export changed who is being inspected: a few nodes' ports), and
 * names that document's object version; resolveProvenanceDelta gives back exactly the full document the publisher
 * would have written. A publish that changes a few nodes then writes a few hundred bytes, not one record per port.
 */
import { z } from 'zod';
import { InputError } from './errors.ts';
import { type Mac, tryParseMac } from './mac.ts';
import type { Node } from './ironic-exports.ts';
import type { Manifest } from './manifest.ts';
import { INSPECTING_STATES, type PolicyExplanation } from './policy.ts';
import { SiteNameSchema, type SiteSettings } from './settings.ts';
import { parseWith } from './zod-errors.ts';

export const PROVENANCE_SCHEMA = 'pxe-filter/provenance@1';
export const PROVENANCE_DELTA_SCHEMA = 'pxe-filter/provenance-delta@1';

const verdict = z.enum(['allow', 'deny']);

export const ProvenanceNodeSchema = z.strictObject({
  name: z.string().nullable(),
  /** Ironic provision state (ironic source, or whenever the export has the node list). */
  provisionState: z.string().nullable(),
  inspectInterface: z.string().nullable(),
  /** ironic-inspector's introspection status, when the export has it. */
  introspection: z.strictObject({ finished: z.boolean(), state: z.string().nullable(), error: z.string().nullable() }).nullable(),
  /** Counted as being inspected under the site's source. */
  inspecting: z.boolean(),
});
export type ProvenanceNode = z.output<typeof ProvenanceNodeSchema>;

export const ProvenanceMacSchema = z.strictObject({
  verdict,
  rule: z.enum(['port-of-inspecting-node', 'other-port']),
  ports: z.array(
    z.strictObject({
      port: z.string().nullable(),
      node: z.string().nullable(),
      rule: z.enum(['node-inspecting', 'node-not-inspecting', 'no-node']),
    }),
  ),
});
export type ProvenanceMac = z.output<typeof ProvenanceMacSchema>;

const digest = z.string().regex(/^[0-9a-f]{64}$/);

/** What both stored forms say of their own generation. */
const envelope = {
  site: SiteNameSchema,
  generation: z.number().int().min(1),
  /** The manifest's createdAt (its publish time) and policy digest: which manifest this explains. */
  publishedAt: z.iso.datetime(),
  policyDigest: digest,
  export: z.strictObject({ key: z.string().min(1), sha256: z.string(), createdAt: z.iso.datetime().nullable() }),
  /** The state export combined with the full export (who was being inspected), when there was one. */
  state: z.strictObject({ key: z.string().min(1), sha256: z.string(), createdAt: z.iso.datetime() }).optional(),
  settings: z.strictObject({
    source: z.enum(['inspector', 'ironic']),
    discovery: z.boolean(),
    denyUnknownMacs: z.boolean(),
    supportedInspectInterfaces: z.array(z.string()),
  }),
  unknownHosts: z.strictObject({ verdict, open: z.boolean(), nodesInspecting: z.number().int().min(0), discovery: z.boolean(), denyUnknownMacs: z.boolean() }),
};

/**
 * The envelope is checked whole; `nodes` and `macs` entry by entry when one is read (a 100k-MAC document holds
 * 100k entries and a query reads a handful).
 */
export const ProvenanceSchema = z.strictObject({
  schema: z.literal(PROVENANCE_SCHEMA),
  ...envelope,
  /** Nodes that have a port, or are being inspected (they open the wildcard even without a port). */
  nodes: z.record(z.string(), z.unknown()),
  macs: z.record(z.string(), z.unknown()),
});
export type Provenance = z.output<typeof ProvenanceSchema>;

export const ProvenanceDeltaSchema = z.strictObject({
  schema: z.literal(PROVENANCE_DELTA_SCHEMA),
  ...envelope,
  /** The full document this one differs from: its generation, policy and object version (always a full one). */
  base: z.strictObject({ generation: z.number().int().min(1), policyDigest: digest, versionId: z.string().min(1) }),
  /** Entries that replace or join the base's. */
  nodes: z.record(z.string(), z.unknown()),
  macs: z.record(z.string(), z.unknown()),
  /** Nodes the base listed that this generation does not (inspected then, without a port). */
  droppedNodes: z.array(z.string()),
});
export type ProvenanceDelta = z.output<typeof ProvenanceDeltaSchema>;

export type StoredProvenance = Provenance | ProvenanceDelta;

export interface ProvenanceInput {
  manifest: Pick<Manifest, 'site' | 'generation' | 'createdAt' | 'policyDigest'>;
  export: { key: string; sha256: string };
  state?: { key: string; sha256: string; createdAt: string };
  settings: SiteSettings;
  explanation: PolicyExplanation;
  /** From the export bundle as Ironic gave it (provenanceDetails): identifiers the policy does not use. */
  details: ProvenanceDetails;
  /** The nodes and introspections the policy was computed from (the full export's, or combined with a state export). */
  effective: { nodes?: readonly Node[]; introspections?: readonly { uuid: string; finished: boolean }[] };
}

export function buildProvenance(input: ProvenanceInput): Provenance {
  const { explanation } = input;
  const macs: Record<string, ProvenanceMac> = {};
  const wanted = new Set<string>(explanation.inspectingNodes);
  for (const [mac, e] of explanation.macs) {
    for (const p of e.ports) if (p.nodeUuid !== null) wanted.add(p.nodeUuid);
    macs[mac] = macEntry(mac, e, input.details);
  }
  const nodes: Record<string, ProvenanceNode> = {};
  const states = effectiveStates(input.effective);
  for (const uuid of [...wanted].sort()) nodes[uuid] = nodeEntry(uuid, input.details, states, explanation.inspectingNodes);
  return { schema: PROVENANCE_SCHEMA, ...envelopeOf(input), nodes, macs };
}

export interface ProvenanceDeltaInput extends Omit<ProvenanceInput, 'explanation'> {
  /** A full document of the same full export and settings, and the object version it is stored as. */
  base: { doc: Provenance; versionId: string; volatile: ReadonlySet<string> };
  /**
   * computePolicy's explanation of at least every MAC whose entry may differ from the base's: the MACs of the
   * nodes whose inspection started or ended since (core/policy.ts explainMacs).
   */
  explanation: Omit<PolicyExplanation, 'macs'> & { macs: PolicyExplanation['macs'] };
  /** Whether a node has a port in the export (a node without one is listed only while inspected). */
  hasPorts: (uuid: string) => boolean;
}

/**
 * The entries of a generation that differ from its base, and the nodes the base listed that it does not. A node
 * volatile in neither (volatileNodes) keeps its base entry: same full export, so the same names and states; so do
 * the MACs not explained here (the caller explains every MAC of a node whose inspection started or ended).
 */
export function buildProvenanceDelta(input: ProvenanceDeltaInput): ProvenanceDelta {
  const { explanation, base } = input;
  const macs: Record<string, ProvenanceMac> = {};
  for (const [mac, e] of explanation.macs) {
    const entry = macEntry(mac, e, input.details);
    if (!sameJson(base.doc.macs[mac], entry)) macs[mac] = entry;
  }
  const candidates = volatileNodes(input.details, input.effective, explanation.inspectingNodes);
  for (const uuid of base.volatile) candidates.add(uuid);
  const states = effectiveStates(input.effective, candidates);
  const nodes: Record<string, ProvenanceNode> = {};
  const droppedNodes: string[] = [];
  for (const uuid of [...candidates].sort()) {
    const listed = explanation.inspectingNodes.has(uuid) || input.hasPorts(uuid);
    if (!listed) {
      if (Object.hasOwn(base.doc.nodes, uuid)) droppedNodes.push(uuid);
      continue;
    }
    const entry = nodeEntry(uuid, input.details, states, explanation.inspectingNodes);
    if (!sameJson(Object.hasOwn(base.doc.nodes, uuid) ? base.doc.nodes[uuid] : undefined, entry)) nodes[uuid] = entry;
  }
  return {
    schema: PROVENANCE_DELTA_SCHEMA,
    ...envelopeOf(input),
    base: { generation: base.doc.generation, policyDigest: base.doc.policyDigest, versionId: base.versionId },
    nodes,
    macs,
    droppedNodes,
  };
}

/** The full document a delta stands for, from the base it names. */
export function resolveProvenanceDelta(delta: ProvenanceDelta, base: Provenance, label: string): Provenance {
  if (base.generation !== delta.base.generation || base.policyDigest !== delta.base.policyDigest) {
    throw new InputError(`${label}.base`, `generation ${delta.base.generation}`, `names an object version that holds generation ${base.generation} (policy ${base.policyDigest.slice(0, 12)})`);
  }
  const nodes: Record<string, unknown> = { ...base.nodes, ...delta.nodes };
  for (const uuid of delta.droppedNodes) delete nodes[uuid];
  const sorted: Record<string, unknown> = {};
  for (const uuid of Object.keys(nodes).sort()) sorted[uuid] = nodes[uuid];
  const { schema: _s, base: _b, nodes: _n, macs, droppedNodes: _d, ...rest } = delta;
  const merged: Record<string, unknown> = { ...base.macs };
  for (const mac of Object.keys(macs)) merged[mac] = macs[mac];
  return { schema: PROVENANCE_SCHEMA, ...rest, nodes: sorted, macs: merged };
}

export function serializeProvenance(p: StoredProvenance): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(p)}\n`);
}

/** A stored provenance object, either form. */
export function parseProvenanceBytes(bytes: Uint8Array, label: string): StoredProvenance {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new InputError(label, `${bytes.byteLength} bytes`, `not UTF-8 JSON (${(err as Error).message})`);
  }
  const delta = isRecord(doc) && doc.schema === PROVENANCE_DELTA_SCHEMA;
  return delta ? parseWith(ProvenanceDeltaSchema, doc, label) : parseWith(ProvenanceSchema, doc, label);
}

/**
 * The nodes whose entry can differ between two generations of one full export: those being inspected, and those
 * whose states a state export may change (nodeEntry): listed in an inspection state, or with an unfinished
 * introspection, by the bundle or by the combined lists. Every other node's entry is the bundle's, every time.
 */
export function volatileNodes(details: ProvenanceDetails, effective: ProvenanceInput['effective'], inspecting: ReadonlySet<string>): Set<string> {
  const out = new Set<string>(inspecting);
  for (const uuid of details.volatile) out.add(uuid);
  for (const n of effective.nodes ?? []) if (INSPECTING_STATES.has(n.provisionState)) out.add(n.uuid);
  for (const i of effective.introspections ?? []) if (!i.finished) out.add(i.uuid);
  return out;
}

function envelopeOf(input: Omit<ProvenanceInput, 'explanation'> & { explanation: Pick<PolicyExplanation, 'unknownHosts'> }) {
  const { settings } = input;
  return {
    site: input.manifest.site,
    generation: input.manifest.generation,
    publishedAt: input.manifest.createdAt,
    policyDigest: input.manifest.policyDigest,
    export: { key: input.export.key, sha256: input.export.sha256, createdAt: input.details.createdAt },
    ...(input.state ? { state: { ...input.state } } : {}),
    settings: {
      source: settings.source,
      discovery: settings.discovery,
      denyUnknownMacs: settings.denyUnknownMacs,
      supportedInspectInterfaces: [...settings.supportedInspectInterfaces],
    },
    unknownHosts: { ...input.explanation.unknownHosts },
  };
}

type Explained = PolicyExplanation['macs'] extends Map<Mac, infer E> ? E : never;

function macEntry(mac: Mac, e: Explained, details: ProvenanceDetails): ProvenanceMac {
  return {
    verdict: e.verdict,
    rule: e.rule,
    ports: e.ports.map((p) => ({ port: details.portUuids.get(portKey(mac, p.nodeUuid)) ?? null, node: p.nodeUuid, rule: p.rule })),
  };
}

interface EffectiveStates {
  nodes?: Map<string, Node>;
  introspections?: Map<string, boolean>;
}

/** `only`: the nodes that will be asked for (a delta asks for a few of a list that may hold 100k). */
function effectiveStates(e: ProvenanceInput['effective'], only?: ReadonlySet<string>): EffectiveStates {
  const out: EffectiveStates = {};
  if (e.nodes) {
    out.nodes = new Map();
    for (const n of e.nodes) if (!only || only.has(n.uuid)) out.nodes.set(n.uuid, n);
  }
  if (e.introspections) {
    out.introspections = new Map();
    for (const i of e.introspections) if (!only || only.has(i.uuid)) out.introspections.set(i.uuid, i.finished);
  }
  return out;
}

/**
 * A node's names from the bundle and its states from what the policy used: a state export combined with the full
 * export is newer than the bundle. A node the bundle lists as inspecting that the combined list dropped has left
 * inspection for a state not read yet: null, not the bundle's stale one.
 */
function nodeEntry(uuid: string, details: ProvenanceDetails, eff: EffectiveStates, inspecting: ReadonlySet<string>): ProvenanceNode {
  const raw = details.nodes.get(uuid);
  const node = eff.nodes?.get(uuid);
  const stale = eff.nodes !== undefined && raw?.provisionState != null && INSPECTING_STATES.has(raw.provisionState);
  const rawIntro = details.introspections.get(uuid);
  const finished = eff.introspections?.get(uuid);
  const introspection = finished === undefined || (rawIntro && rawIntro.finished === finished) ? (rawIntro ?? null) : { finished, state: null, error: null };
  return {
    name: raw?.name ?? null,
    provisionState: node ? node.provisionState : stale ? null : (raw?.provisionState ?? null),
    inspectInterface: node ? node.inspectInterface : (raw?.inspectInterface ?? null),
    introspection,
    inspecting: inspecting.has(uuid),
  };
}

const sameJson = (a: unknown, b: unknown) => a !== undefined && JSON.stringify(a) === JSON.stringify(b);

/** One MAC's entry, validated; undefined when this generation's policy does not name the MAC. */
export function provenanceOfMac(p: Provenance, mac: Mac, label = 'provenance'): ProvenanceMac | undefined {
  const entry = Object.hasOwn(p.macs, mac) ? p.macs[mac] : undefined;
  return entry === undefined ? undefined : parseWith(ProvenanceMacSchema, entry, `${label}.macs["${mac}"]`);
}

export function provenanceOfNode(p: Provenance, uuid: string, label = 'provenance'): ProvenanceNode | undefined {
  const entry = Object.hasOwn(p.nodes, uuid) ? p.nodes[uuid] : undefined;
  return entry === undefined ? undefined : parseWith(ProvenanceNodeSchema, entry, `${label}.nodes["${uuid}"]`);
}

const portKey = (mac: Mac, node: string | null) => `${mac} ${node ?? ''}`;

export interface ProvenanceDetails {
  createdAt: string | null;
  portUuids: Map<string, string>;
  nodes: Map<string, { name: string | null; provisionState: string | null; inspectInterface: string | null }>;
  introspections: Map<string, { finished: boolean; state: string | null; error: string | null }>;
  /** Nodes the bundle lists in an inspection state or with an unfinished introspection (volatileNodes). */
  volatile: Set<string>;
}

/**
 * Identifiers and states the policy does not use, read from the same documents it was computed from. Both forms
 * Ironic gives (REST pages, `openstack … -f json` arrays) are read; a field that is absent or odd is left null
 * (the policy already validated everything it relies on).
 */
export function provenanceDetails(bundle: unknown): ProvenanceDetails {
  const out: ProvenanceDetails = { createdAt: null, portUuids: new Map(), nodes: new Map(), introspections: new Map(), volatile: new Set() };
  if (!isRecord(bundle)) return out;
  if (typeof bundle.createdAt === 'string') out.createdAt = bundle.createdAt;
  for (const row of rowsOf(bundle.ports, 'ports')) {
    const address = str(row.address ?? row.Address);
    const mac = address === null ? undefined : tryParseMac(address);
    const uuid = str(row.uuid ?? row.UUID);
    if (mac && uuid !== null) out.portUuids.set(portKey(mac, str(row.node_uuid ?? row['Node UUID'])), uuid);
  }
  for (const row of rowsOf(bundle.nodes, 'nodes')) {
    const uuid = str(row.uuid ?? row.UUID);
    if (uuid === null) continue;
    out.nodes.set(uuid, {
      name: str(row.name ?? row.Name),
      provisionState: str(row.provision_state ?? row['Provisioning State']),
      inspectInterface: str(row.inspect_interface ?? row['Inspect Interface']),
    });
  }
  for (const row of rowsOf(bundle.introspection, 'introspection')) {
    const uuid = str(row.uuid);
    if (uuid !== null && typeof row.finished === 'boolean') out.introspections.set(uuid, { finished: row.finished, state: str(row.state), error: str(row.error) });
  }
  for (const [uuid, n] of out.nodes) if (n.provisionState !== null && INSPECTING_STATES.has(n.provisionState)) out.volatile.add(uuid);
  for (const [uuid, i] of out.introspections) if (!i.finished) out.volatile.add(uuid);
  return out;
}

function* rowsOf(docs: unknown, key: string): Generator<Record<string, unknown>> {
  if (!Array.isArray(docs)) return;
  for (const doc of docs) {
    const rows = Array.isArray(doc) ? doc : isRecord(doc) && Array.isArray(doc[key]) ? (doc[key] as unknown[]) : [];
    for (const row of rows) if (isRecord(row)) yield row;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
