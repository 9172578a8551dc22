/**
 * Fast paths for the Ironic documents of core/ironic-exports.ts, in a module of their own without zod: a `compute`
 * whose input is good never loads the schema library (~35 ms of module loading and schema construction, issue #19).
 *
 * zod's object copies are also the main cost of the schemas themselves at 100k rows, so the same checks as the
 * schemas on the few fields we use are done here by hand. A document they are not sure of gives undefined and goes
 * through the schema whole, so the result and the error messages are the schema's
 * (test/core/exports-fast-path.test.ts checks they agree).
 */
import type { ExportDocument, Node, Port } from './ironic-exports.ts';
import { type Mac, tryParseMac } from './mac.ts';
import { readMacKey } from './mac-sort.ts';
import { recordPortMacKeys } from './port-inventory.ts';

const okNullableId = (v: unknown) => v === null || (typeof v === 'string' && v.length >= 1 && v.length <= 255);
const nextOk = (body: Record<string, unknown>) => body.next === undefined || typeof body.next === 'string';

export function isObjectWith(body: unknown, key: string): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && key in body;
}

/** The ports of one document (API page or CLI array), or undefined when the schema must decide. */
export function portsFast(doc: ExportDocument): Port[] | undefined {
  const cli = Array.isArray(doc.body);
  const rows = cli ? doc.body : isObjectWith(doc.body, 'ports') && nextOk(doc.body) ? doc.body.ports : undefined;
  return Array.isArray(rows) ? fastPorts(rows, cli ? 'Address' : 'address', cli ? 'Node UUID' : 'node_uuid') : undefined;
}

/**
 * The nodes of one document (API page or CLI array), or undefined when the schema must decide. With `keep`, only
 * the nodes whose provision state it accepts are returned, every row being checked all the same (so undefined for
 * the same documents): `compute` reads only the nodes being inspected, and an object for every node, alive across
 * the minor GCs that follow, would be copied by each of them.
 */
export function nodesFast(doc: ExportDocument, keep?: (provisionState: string) => boolean): Node[] | undefined {
  const cli = Array.isArray(doc.body);
  const rows = cli ? doc.body : isObjectWith(doc.body, 'nodes') && nextOk(doc.body) ? doc.body.nodes : undefined;
  const keys = cli
    ? { uuid: 'UUID', name: 'Name', state: 'Provisioning State', iface: 'Inspect Interface' }
    : { uuid: 'uuid', name: 'name', state: 'provision_state', iface: 'inspect_interface' };
  return Array.isArray(rows) ? fastNodes(rows, keys, keep) : undefined;
}

/** Every document's rows in order when the fast path takes all of them, else undefined (the schema path decides). */
export function allFast<T>(docs: readonly ExportDocument[], one: (doc: ExportDocument) => T[] | undefined): T[] | undefined {
  // One document (the usual case): its rows are already a fresh array; copying 100k of them costs ~10 ms.
  if (docs.length === 1) return one(docs[0]!);
  const out: T[] = [];
  for (const doc of docs) {
    const rows = one(doc);
    if (!rows) return undefined;
    for (const row of rows) out.push(row);
  }
  return out;
}

function fastPorts(rows: readonly unknown[], macKey: string, nodeKey: string): Port[] | undefined {
  const out = new Array<Port>(rows.length);
  // Each MAC's value, read while checking it (the policy's inventory sorts on them: core/port-inventory.ts).
  const hi = new Uint32Array(rows.length);
  const lo = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
    const address = (row as Record<string, unknown>)[macKey];
    const node = (row as Record<string, unknown>)[nodeKey];
    if (typeof address !== 'string' || !okNullableId(node)) return undefined;
    // Canonical as Ironic gives it: the string itself; else tryParseMac's. Either way its value is read here.
    let mac = address;
    if (!readMacKey(mac, hi, lo, i)) {
      const parsed = tryParseMac(address);
      if (!parsed) return undefined;
      mac = parsed;
      readMacKey(mac, hi, lo, i);
    }
    out[i] = { mac: mac as Mac, nodeUuid: node as string | null };
  }
  recordPortMacKeys(out, { hi, lo });
  return out;
}

function fastNodes(rows: readonly unknown[], keys: { uuid: string; name: string; state: string; iface: string }, keep: ((provisionState: string) => boolean) | undefined): Node[] | undefined {
  const out: Node[] = keep ? [] : new Array<Node>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
    const r = row as Record<string, unknown>;
    const uuid = r[keys.uuid];
    const state = r[keys.state];
    const iface = r[keys.iface];
    const name = r[keys.name];
    if (typeof uuid !== 'string' || uuid.length < 1 || uuid.length > 255 || typeof state !== 'string' || !okNullableId(iface)) return undefined;
    if (name !== undefined && name !== null && typeof name !== 'string') return undefined;
    if (!keep) out[i] = { uuid, provisionState: state, inspectInterface: iface as string | null };
    else if (keep(state)) out.push({ uuid, provisionState: state, inspectInterface: iface as string | null });
  }
  return out;
}
