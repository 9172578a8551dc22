/**
 * A state export: which nodes are being inspected at one moment, and nothing else. `pxe-filter export --watch`
 * writes one whenever that set changes (every few seconds at most); the full export (core/export-bundle.ts), with
 * the large port list, is written on a slow cadence. A compute combines the newest full export with a newer state
 * export (combineWithState): the ports come from the inventory, "who is being inspected" from the newer reading.
 *
 * Both readings the sites may choose from are carried (docs/design.md §2): Ironic nodes in `inspect wait` /
 * `inspecting` (with their inspect interface, which the ironic source also checks), and ironic-inspector's
 * unfinished introspections. A reading that was not taken (no inspector configured) is absent, never empty:
 * absent means "not known", and the full export's reading stands.
 */
import { z } from 'zod';
import { InputError } from './errors.ts';
import type { ParsedExport } from './export-bundle.ts';
import type { Introspection, Node } from './ironic-exports.ts';
import { INSPECTING_STATES } from './policy.ts';
import { SiteNameSchema } from './settings.ts';
import { parseWith } from './zod-errors.ts';

export const STATE_EXPORT_SCHEMA = 'pxe-filter/state-export@1';

const uuid = z.string().min(1).max(255);

export const InspectingNodeSchema = z.strictObject({
  uuid,
  provisionState: z.enum(['inspect wait', 'inspecting']),
  inspectInterface: z.string().min(1).max(255).nullable(),
});
export type InspectingNode = z.output<typeof InspectingNodeSchema>;

export const StateExportSchema = z.strictObject({
  schema: z.literal(STATE_EXPORT_SCHEMA),
  site: SiteNameSchema,
  /** When the watcher read Ironic (its clock; refused when ahead of the store's, like a full export's). */
  createdAt: z.iso.datetime(),
  /** The full export the watcher last wrote or found unchanged: for the reader; a compute chooses by time. */
  fullExport: z.string().min(1).nullable(),
  /** Ironic nodes whose provision_state is `inspect wait` or `inspecting`, sorted by uuid. */
  nodes: z.array(InspectingNodeSchema),
  /** UUIDs of ironic-inspector's unfinished introspections, sorted; absent when inspector was not read. */
  introspection: z.array(uuid).optional(),
});
export type StateExport = z.output<typeof StateExportSchema>;

/** What the watcher observed: the content of a state export, without its envelope. */
export interface InspectionState {
  nodes: InspectingNode[];
  introspection?: string[];
}

export function parseStateExport(body: unknown, label: string): StateExport {
  return parseWith(StateExportSchema, body, label);
}

/** Canonical form: sorted, one entry per node; so that two readings of the same set compare equal. */
export function canonicalState(s: InspectionState): InspectionState {
  const nodes = [...new Map(s.nodes.map((n) => [n.uuid, n])).values()].sort((a, b) => cmp(a.uuid, b.uuid));
  return { nodes, ...(s.introspection ? { introspection: [...new Set(s.introspection)].sort(cmp) } : {}) };
}

export function sameState(a: InspectionState | undefined, b: InspectionState): boolean {
  if (!a) return false;
  return JSON.stringify(canonicalState(a)) === JSON.stringify(canonicalState(b));
}

/** The inspection state a full listing shows (what a state export taken at the same moment would say). */
export function stateOfExport(parsed: Pick<ParsedExport, 'nodes' | 'introspections'>): InspectionState {
  const nodes: InspectingNode[] = (parsed.nodes ?? [])
    .filter((n) => INSPECTING_STATES.has(n.provisionState))
    .map((n) => ({ uuid: n.uuid, provisionState: n.provisionState as InspectingNode['provisionState'], inspectInterface: n.inspectInterface }));
  const introspection = parsed.introspections?.filter((i) => !i.finished).map((i) => i.uuid);
  return canonicalState({ nodes, ...(introspection ? { introspection } : {}) });
}

export function buildStateExport(site: string, state: InspectionState, now: Date, fullExport: string | null): StateExport {
  const c = canonicalState(state);
  return { schema: STATE_EXPORT_SCHEMA, site, createdAt: now.toISOString(), fullExport, nodes: c.nodes, ...(c.introspection ? { introspection: c.introspection } : {}) };
}

/**
 * The full export's inventory with the state export's reading of who is being inspected. The nodes the state
 * names are listed with the state's provision state and interface; the other nodes the full export listed as not
 * inspecting keep theirs; a node it listed as inspecting that the state no longer names has left inspection: its
 * provision state is unknown here, so it is dropped from the node list (which only opens the filter for nodes listed
 * as inspecting). A node the state names that the full export lacks opens the wildcard at once; its ports come with
 * the next full export, which the watcher takes at once when it sees such a node. Introspections the state does not
 * name as unfinished count as finished.
 */
export function combineWithState<T extends ParsedExport>(full: T, state: StateExport): T {
  let nodes: Node[] | undefined;
  if (full.nodes || state.nodes.length > 0) {
    const base = nodeIndex(full.nodes ?? []);
    nodes = withoutNamed(base, state.nodes);
    for (const n of state.nodes) nodes.push({ uuid: n.uuid, provisionState: n.provisionState, inspectInterface: n.inspectInterface });
  }
  let introspections: Introspection[] | undefined = full.introspections;
  if (state.introspection) {
    const unfinished = new Set(state.introspection);
    // Not unfinished any more: finished, or its status deleted; either way not being inspected.
    introspections = finishedIndex(full.introspections ?? []).filter((i) => !unfinished.has(i.uuid));
    for (const u of state.introspection) introspections.push({ uuid: u, finished: false });
  }
  const { nodes: _n, introspections: _i, ...rest } = full;
  return { ...rest, ...(nodes ? { nodes } : {}), ...(introspections ? { introspections } : {}) } as T;
}

/*
 * A state export is combined with the same full export many times (every few seconds, in a warm process that keeps
 * the parsed full export): what only depends on the full export's lists is derived once per list.
 */
interface NodeIndex {
  notInspecting: readonly Node[];
  /** Each node's place in notInspecting; undefined when a UUID is listed twice (then the list is filtered). */
  position: ReadonlyMap<string, number> | undefined;
}
const nodeIndexes = new WeakMap<readonly Node[], NodeIndex>();

/** The full export's nodes not in inspection, less those the state names (they are listed with the state's reading). */
function withoutNamed(base: NodeIndex, named: readonly { uuid: string }[]): Node[] {
  if (!base.position) {
    const set = new Set(named.map((n) => n.uuid));
    return base.notInspecting.filter((n) => !set.has(n.uuid));
  }
  // The few named nodes are cut out of the long list by position: copying slices, not testing every node.
  const cuts = [...new Set(named.map((n) => base.position!.get(n.uuid)).filter((i) => i !== undefined))].sort((a, b) => a - b);
  const parts: (readonly Node[])[] = [];
  let from = 0;
  for (const i of cuts) {
    parts.push(base.notInspecting.slice(from, i));
    from = i + 1;
  }
  parts.push(base.notInspecting.slice(from));
  return ([] as Node[]).concat(...parts);
}
const finishedIndexes = new WeakMap<readonly Introspection[], readonly Introspection[]>();

function nodeIndex(nodes: readonly Node[]) {
  let index: NodeIndex | undefined = nodeIndexes.get(nodes);
  if (!index) {
    const notInspecting = nodes.filter((n) => !INSPECTING_STATES.has(n.provisionState));
    const position = new Map(notInspecting.map((n, i) => [n.uuid, i]));
    index = { notInspecting, position: position.size === notInspecting.length ? position : undefined };
    nodeIndexes.set(nodes, index);
  }
  return index;
}

function finishedIndex(list: readonly Introspection[]): readonly Introspection[] {
  let all = finishedIndexes.get(list);
  if (!all) {
    all = list.map((i) => ({ uuid: i.uuid, finished: true }));
    finishedIndexes.set(list, all);
  }
  return all;
}

/** A state export must be of the site whose prefix it is under. */
export function checkStateSite(s: StateExport, key: string, site: string): StateExport {
  if (s.site !== site) throw new InputError(`${key}.site`, s.site, `is not the site "${site}" whose prefix it is under`);
  return s;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
