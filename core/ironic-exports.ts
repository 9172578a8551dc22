/**
 * Schemas for the Ironic / ironic-inspector documents we accept (docs/design.md §7), in both the REST API form
 * and the `openstack baremetal … --long -f json` form. Unknown extra fields are accepted and dropped,
 * because every Ironic release adds some; the fields we rely on are checked strictly.
 */
import { z } from 'zod';
import { InputError } from './errors.ts';
import { isObjectWith, nodesFast, portsFast } from './ironic-fast.ts';
import { type Mac, tryParseMac } from './mac.ts';
import { parseWith } from './zod-errors.ts';

const macField = z.string().transform((value, ctx): Mac => {
  const mac = tryParseMac(value);
  if (!mac) {
    ctx.addIssue({ code: 'custom', message: 'not a MAC address (expected six hex octets like 52:54:00:12:34:56)' });
    return z.NEVER;
  }
  return mac;
});
const uuidish = z.string().min(1).max(255);
/**
 * A field that must be present but may be null. The short listings (`GET /v1/ports` without `detail=True`,
 * `port list` without `--long`) leave it out; reading that as "no node" would silently deny the ports of every
 * node being inspected, so an absent field is refused with a hint instead.
 */
const presentNullable = (hint: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? `missing: ${hint}` : 'expected a string or null') }).min(1).max(255).nullable();
const PORT_HINT = 'give the detailed listing (GET /v1/ports?detail=True, or `openstack baremetal port list --long -f json`)';
const NODE_HINT = 'give the detailed listing (GET /v1/nodes?detail=True, or `openstack baremetal node list --long -f json`)';

export const ApiPortsPageSchema = z.object({
  ports: z.array(z.object({ address: macField, node_uuid: presentNullable(PORT_HINT) })),
  next: z.string().optional(),
});
export const CliPortListSchema = z.array(z.object({ Address: macField, 'Node UUID': presentNullable(PORT_HINT) }));

export const ApiNodesPageSchema = z.object({
  nodes: z.array(
    z.object({
      uuid: uuidish,
      name: z.string().nullish(),
      provision_state: z.string(),
      inspect_interface: presentNullable(NODE_HINT),
    }),
  ),
  next: z.string().optional(),
});
export const CliNodeListSchema = z.array(
  z.object({
    UUID: uuidish,
    Name: z.string().nullish(),
    'Provisioning State': z.string(),
    'Inspect Interface': presentNullable(NODE_HINT),
  }),
);

export const IntrospectionListSchema = z.object({
  introspection: z.array(
    z.object({ uuid: uuidish, finished: z.boolean(), state: z.string().nullish(), error: z.string().nullish() }),
  ),
  next: z.string().optional(),
});

export interface Port {
  mac: Mac;
  nodeUuid: string | null;
}
export interface Node {
  uuid: string;
  provisionState: string;
  inspectInterface: string | null;
}
export interface Introspection {
  uuid: string;
  finished: boolean;
}

/** One export document as read from a file or object, with a label used in error messages. */
export interface ExportDocument {
  label: string;
  body: unknown;
  /** sha256 of the bytes the document was parsed from, when they are at hand (recorded in the manifest). */
  sha256?: string;
}

/**
 * Ports from one or more documents (several API pages may be given). A MAC listed twice keeps every
 * (mac, node) pair: Ironic forbids duplicates, so two entries only happen when pages were taken while a
 * port moved; the policy allows such a MAC if any of its nodes is inspecting, like the reference does.
 */
export function parsePorts(docs: readonly ExportDocument[]): Port[] {
  const out: Port[] = [];
  for (const doc of docs) {
    for (const port of portsFast(doc) ?? parsePortsWithSchema(doc)) out.push(port);
  }
  return out;
}

/** The zod path: the one definition of the documents, and the one that names the field and value on error. */
export function parsePortsWithSchema(doc: ExportDocument): Port[] {
  if (Array.isArray(doc.body)) {
    return parseWith(CliPortListSchema, doc.body, doc.label).map((row) => ({ mac: row.Address, nodeUuid: row['Node UUID'] ?? null }));
  }
  if (isObjectWith(doc.body, 'ports')) {
    return parseWith(ApiPortsPageSchema, doc.body, doc.label).ports.map((row) => ({ mac: row.address, nodeUuid: row.node_uuid ?? null }));
  }
  throw new InputError(doc.label, kindOf(doc.body), 'not an Ironic port list (expected {"ports":[…]} or a CLI JSON array)');
}

export function parseNodes(docs: readonly ExportDocument[]): Node[] {
  const out: Node[] = [];
  for (const doc of docs) {
    for (const node of nodesFast(doc) ?? parseNodesWithSchema(doc)) out.push(node);
  }
  return out;
}

export function parseNodesWithSchema(doc: ExportDocument): Node[] {
  if (Array.isArray(doc.body)) {
    return parseWith(CliNodeListSchema, doc.body, doc.label).map((row) => ({
      uuid: row.UUID,
      provisionState: row['Provisioning State'],
      inspectInterface: row['Inspect Interface'] ?? null,
    }));
  }
  if (isObjectWith(doc.body, 'nodes')) {
    return parseWith(ApiNodesPageSchema, doc.body, doc.label).nodes.map((row) => ({
      uuid: row.uuid,
      provisionState: row.provision_state,
      inspectInterface: row.inspect_interface ?? null,
    }));
  }
  throw new InputError(doc.label, kindOf(doc.body), 'not an Ironic node list (expected {"nodes":[…]} or a CLI JSON array)');
}

export function parseIntrospections(docs: readonly ExportDocument[]): Introspection[] {
  const out: Introspection[] = [];
  for (const doc of docs) {
    if (!isObjectWith(doc.body, 'introspection')) {
      throw new InputError(doc.label, kindOf(doc.body), 'not an ironic-inspector introspection list (expected {"introspection":[…]})');
    }
    for (const row of parseWith(IntrospectionListSchema, doc.body, doc.label).introspection) {
      out.push({ uuid: row.uuid, finished: row.finished });
    }
  }
  return out;
}

function kindOf(body: unknown): string {
  if (body === null) return 'null';
  if (Array.isArray(body)) return 'array';
  if (typeof body === 'object') return `object with keys ${Object.keys(body).slice(0, 5).join(',') || '(none)'}`;
  return typeof body;
}
