/**
 * The filter policy (docs/design.md §2), identical to ironic-inspector's `DnsmasqFilter._sync` and ironic's
 * `PXEFilterManager._sync`, expressed as a pure function of the exports.
 */
import { ConfigError } from './errors.ts';
import type { Introspection, Node, Port } from './ironic-exports.ts';
import { type Mac, isUnusableMac, sortMacs } from './mac.ts';
import { freezeCanonical } from './manifest-build.ts';

export type Verdict = 'allow' | 'deny';

export interface Policy {
  /** The wildcard `*:*:*:*:*:*` record: MACs Ironic does not know. */
  unknownHosts: Verdict;
  /** MACs that still have a file but no Ironic port any more. */
  removed: Verdict;
  /** Sorted, unique, disjoint from `deny`. */
  allow: Mac[];
  deny: Mac[];
}

/** Ironic provision states that mean "being inspected" (ironic/common/states.py INSPECTWAIT, INSPECTING). */
export const INSPECTING_STATES: ReadonlySet<string> = new Set(['inspect wait', 'inspecting']);

export type InspectionSource =
  | { kind: 'inspector'; introspections: readonly Introspection[] }
  | { kind: 'ironic'; nodes: readonly Node[]; supportedInspectInterfaces: readonly string[] };

export interface PolicyInput {
  ports: readonly Port[];
  source: InspectionSource;
  discovery: boolean;
  denyUnknownMacs: boolean;
}

export interface PolicyStats {
  ports: number;
  duplicatePorts: number;
  portsWithoutNode: number;
  nodesInspecting: number;
  /** Distinct MACs no NIC can have (multicast, broadcast, all-zero): denied whatever their node does. */
  unusableMacs: number;
  /** The first few of them, sorted, for the report. */
  unusableMacSamples: Mac[];
}

/** How many unusable MACs a report names (the count says the rest). */
export const UNUSABLE_SAMPLES = 5;

export function assertConsistentSettings(s: { discovery: boolean; denyUnknownMacs: boolean }): void {
  if (s.discovery && s.denyUnknownMacs) {
    // Same refusal as ironic-inspector BaseFilter.__init__: discovery needs unknown MACs to boot.
    throw new ConfigError(
      'Configuration error: discovery (node_not_found_hook / auto_discovery) cannot be combined with denyUnknownMacs',
    );
  }
}

/** UUIDs of the nodes whose ports are allowed, and whether any inspection is under way at all. */
export function inspectingNodes(source: InspectionSource): Set<string> {
  if (source.kind === 'inspector') {
    return new Set(source.introspections.filter((i) => !i.finished).map((i) => i.uuid));
  }
  const interfaces = new Set(source.supportedInspectInterfaces);
  return new Set(
    source.nodes
      .filter((n) => INSPECTING_STATES.has(n.provisionState) && n.inspectInterface !== null && interfaces.has(n.inspectInterface))
      .map((n) => n.uuid),
  );
}

/** What the policy takes from the ports alone, whoever is being inspected. */
interface Inventory {
  /** Every MAC once, sorted. */
  sorted: Mac[];
  /** MACs no NIC can have, sorted. */
  unusable: Mac[];
  portsWithoutNode: number;
}

/**
 * The port list changes rarely and is large; who is being inspected changes often and is small (a state export).
 * Sorting every MAC is most of a compute, so it is done once per port list a process holds (a warm Lambda keeps
 * the parsed full export: control/export-cache.ts). Keyed by the array itself: the same array is the same ports.
 */
const inventories = new WeakMap<readonly Port[], Inventory>();

function inventoryOf(ports: readonly Port[]): Inventory {
  const known = inventories.get(ports);
  if (known) return known;
  const macs = new Array<Mac>(ports.length);
  let portsWithoutNode = 0;
  for (let i = 0; i < ports.length; i++) {
    macs[i] = ports[i]!.mac;
    if (ports[i]!.nodeUuid === null) portsWithoutNode++;
  }
  sortMacs(macs);
  const sorted: Mac[] = [];
  const unusable: Mac[] = [];
  for (let i = 0; i < macs.length; i++) {
    const mac = macs[i]!;
    if (i > 0 && mac === macs[i - 1]) continue;
    sorted.push(mac);
    if (isUnusableMac(mac)) unusable.push(mac);
  }
  const inventory = { sorted, unusable, portsWithoutNode };
  inventories.set(ports, inventory);
  return inventory;
}

/** What one port contributes to its MAC's verdict. */
export type PortRule = 'node-inspecting' | 'node-not-inspecting' | 'no-node';
/** Why a MAC Ironic knows got its verdict: a port of a node being inspected (allow), or any other port (deny). */
export type MacRule = 'port-of-inspecting-node' | 'other-port';

/**
 * The decisions behind a policy, per MAC and for the wildcard: a by-product of computePolicy when asked
 * (`{ explain: true }`), so an explanation can never disagree with the policy it explains.
 */
export interface PolicyExplanation {
  macs: Map<Mac, { verdict: Verdict; rule: MacRule; ports: { nodeUuid: string | null; rule: PortRule }[] }>;
  /** Nodes counted as being inspected under the site's source. */
  inspectingNodes: ReadonlySet<string>;
  unknownHosts: { verdict: Verdict; open: boolean; nodesInspecting: number; discovery: boolean; denyUnknownMacs: boolean };
}

export function computePolicy(input: PolicyInput): { policy: Policy; stats: PolicyStats };
export function computePolicy(input: PolicyInput, options: { explain: true }): { policy: Policy; stats: PolicyStats; explanation: PolicyExplanation };
export function computePolicy(input: PolicyInput, options?: { explain?: boolean }): { policy: Policy; stats: PolicyStats; explanation?: PolicyExplanation } {
  assertConsistentSettings(input);
  const inspecting = inspectingNodes(input.source);
  const inventory = inventoryOf(input.ports);
  const allow = new Set<Mac>();
  // Only when asked: the compute path does not pay for a record per port.
  const portRules = options?.explain ? new Map<Mac, { nodeUuid: string | null; rule: PortRule }[]>() : undefined;
  for (let i = 0; i < input.ports.length; i++) {
    const port = input.ports[i]!;
    let rule: PortRule;
    if (port.nodeUuid === null) rule = 'no-node';
    else if (inspecting.has(port.nodeUuid)) {
      allow.add(port.mac);
      rule = 'node-inspecting';
    } else rule = 'node-not-inspecting';
    if (portRules) {
      const list = portRules.get(port.mac);
      if (list) list.push({ nodeUuid: port.nodeUuid, rule });
      else portRules.set(port.mac, [{ nodeUuid: port.nodeUuid, rule }]);
    }
  }
  // Denied rather than dropped: without a record of its own such a MAC would fall to the wildcard, which is
  // "allow" whenever an inspection is under way; an explicit ignore record keeps it out in every state.
  for (const mac of inventory.unusable) allow.delete(mac);
  // Both lists come out sorted (the manifest's canonical form). Deny is every known MAC not allowed: one merge walk
  // of the sorted inventory against the sorted allow list (a subset of it), not a set lookup per MAC.
  const allowSorted = sortMacs([...allow]);
  const deny: Mac[] = [];
  for (let i = 0, j = 0; i < inventory.sorted.length; i++) {
    const mac = inventory.sorted[i]!;
    if (j < allowSorted.length && allowSorted[j] === mac) j++;
    else deny.push(mac);
  }
  const unusable = inventory.unusable;
  const portsWithoutNode = inventory.portsWithoutNode;
  const unique = inventory.sorted.length;
  // ironic-inspector: (introspection_active() or node_not_found_hook) and not deny_unknown_macs.
  // An inspecting node without ports still opens unknown hosts: it can only be found by its DHCP request.
  const open = (inspecting.size > 0 || input.discovery) && !input.denyUnknownMacs;
  const verdict: Verdict = open ? 'allow' : 'deny';
  const result = {
    // Canonical by construction (both lists sorted and unique, deny the sorted rest of allow): frozen and known as
    // such, so building its manifest does not walk 100k MACs again to check (core/manifest-build.ts).
    policy: freezeCanonical<Policy>({ unknownHosts: verdict, removed: verdict, allow: allowSorted, deny }),
    stats: {
      ports: input.ports.length,
      duplicatePorts: input.ports.length - unique,
      portsWithoutNode,
      nodesInspecting: inspecting.size,
      unusableMacs: unusable.length,
      unusableMacSamples: unusable.slice(0, UNUSABLE_SAMPLES),
    },
  };
  if (!portRules) return result;
  const explained: PolicyExplanation['macs'] = new Map();
  for (const [mac, ports] of portRules) {
    const allowed = allow.has(mac);
    explained.set(mac, { verdict: allowed ? 'allow' : 'deny', rule: allowed ? 'port-of-inspecting-node' : 'other-port', ports });
  }
  const unknownHosts = { verdict, open, nodesInspecting: inspecting.size, discovery: input.discovery, denyUnknownMacs: input.denyUnknownMacs };
  return { ...result, explanation: { macs: explained, inspectingNodes: inspecting, unknownHosts } };
}
