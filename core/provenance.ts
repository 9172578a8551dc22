/**
 * Provenance: why each MAC of one generation got its verdict (the rule, its ports and nodes, their states) and
 * why the wildcard is open or closed. Written by the publisher beside each manifest, never read by agents.
 * The rules come from computePolicy's explanation (core/policy.ts), so provenance cannot disagree with the
 * policy; this module only adds the identifiers and states from the same export (port UUIDs, node names,
 * provision and introspection states) that the policy does not need.
 */
import { z } from 'zod';
import { InputError } from './errors.ts';
import { type Mac, tryParseMac } from './mac.ts';
import type { Manifest } from './manifest.ts';
import type { PolicyExplanation } from './policy.ts';
import { SiteNameSchema, type SiteSettings } from './settings.ts';
import { parseWith } from './zod-errors.ts';

export const PROVENANCE_SCHEMA = 'pxe-filter/provenance@1';

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

/**
 * The envelope is checked whole; `nodes` and `macs` entry by entry when one is read (a 100k-MAC document holds
 * 100k entries and a query reads a handful).
 */
export const ProvenanceSchema = z.strictObject({
  schema: z.literal(PROVENANCE_SCHEMA),
  site: SiteNameSchema,
  generation: z.number().int().min(1),
  /** The manifest's createdAt (its publish time) and policy digest: which manifest this explains. */
  publishedAt: z.iso.datetime(),
  policyDigest: z.string().regex(/^[0-9a-f]{64}$/),
  export: z.strictObject({ key: z.string().min(1), sha256: z.string(), createdAt: z.iso.datetime().nullable() }),
  settings: z.strictObject({
    source: z.enum(['inspector', 'ironic']),
    discovery: z.boolean(),
    denyUnknownMacs: z.boolean(),
    supportedInspectInterfaces: z.array(z.string()),
  }),
  unknownHosts: z.strictObject({ verdict, open: z.boolean(), nodesInspecting: z.number().int().min(0), discovery: z.boolean(), denyUnknownMacs: z.boolean() }),
  /** Nodes that have a port, or are being inspected (they open the wildcard even without a port). */
  nodes: z.record(z.string(), z.unknown()),
  macs: z.record(z.string(), z.unknown()),
});
export type Provenance = z.output<typeof ProvenanceSchema>;

export interface ProvenanceInput {
  manifest: Pick<Manifest, 'site' | 'generation' | 'createdAt' | 'policyDigest'>;
  export: { key: string; sha256: string };
  settings: SiteSettings;
  explanation: PolicyExplanation;
  /** The export bundle as parsed JSON (core/export-bundle.ts): API pages or CLI arrays, as Ironic gave them. */
  bundle: unknown;
}

export function buildProvenance(input: ProvenanceInput): Provenance {
  const { explanation, settings } = input;
  const raw = rawDetails(input.bundle);
  const macs: Record<string, ProvenanceMac> = {};
  const wanted = new Set<string>(explanation.inspectingNodes);
  for (const [mac, e] of explanation.macs) {
    macs[mac] = {
      verdict: e.verdict,
      rule: e.rule,
      ports: e.ports.map((p) => {
        if (p.nodeUuid !== null) wanted.add(p.nodeUuid);
        return { port: raw.portUuids.get(portKey(mac, p.nodeUuid)) ?? null, node: p.nodeUuid, rule: p.rule };
      }),
    };
  }
  const nodes: Record<string, ProvenanceNode> = {};
  for (const uuid of [...wanted].sort()) {
    const n = raw.nodes.get(uuid);
    const i = raw.introspections.get(uuid);
    nodes[uuid] = {
      name: n?.name ?? null,
      provisionState: n?.provisionState ?? null,
      inspectInterface: n?.inspectInterface ?? null,
      introspection: i ?? null,
      inspecting: explanation.inspectingNodes.has(uuid),
    };
  }
  return {
    schema: PROVENANCE_SCHEMA,
    site: input.manifest.site,
    generation: input.manifest.generation,
    publishedAt: input.manifest.createdAt,
    policyDigest: input.manifest.policyDigest,
    export: { key: input.export.key, sha256: input.export.sha256, createdAt: raw.createdAt },
    settings: {
      source: settings.source,
      discovery: settings.discovery,
      denyUnknownMacs: settings.denyUnknownMacs,
      supportedInspectInterfaces: [...settings.supportedInspectInterfaces],
    },
    unknownHosts: { ...explanation.unknownHosts },
    nodes,
    macs,
  };
}

export function serializeProvenance(p: Provenance): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(p)}\n`);
}

export function parseProvenanceBytes(bytes: Uint8Array, label: string): Provenance {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new InputError(label, `${bytes.byteLength} bytes`, `not UTF-8 JSON (${(err as Error).message})`);
  }
  return parseWith(ProvenanceSchema, doc, label);
}

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

interface RawDetails {
  createdAt: string | null;
  portUuids: Map<string, string>;
  nodes: Map<string, { name: string | null; provisionState: string | null; inspectInterface: string | null }>;
  introspections: Map<string, { finished: boolean; state: string | null; error: string | null }>;
}

/**
 * Identifiers and states the policy does not use, read from the same documents it was computed from. Both forms
 * Ironic gives (REST pages, `openstack … -f json` arrays) are read; a field that is absent or odd is left null
 * (the policy already validated everything it relies on).
 */
function rawDetails(bundle: unknown): RawDetails {
  const out: RawDetails = { createdAt: null, portUuids: new Map(), nodes: new Map(), introspections: new Map() };
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
