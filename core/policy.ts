/**
 * The filter policy (docs/design.md §2), identical to ironic-inspector's `DnsmasqFilter._sync` and ironic's
 * `PXEFilterManager._sync`, expressed as a pure function of the exports.
 */
import { ConfigError } from './errors.ts';
import type { Introspection, Node, Port } from './ironic-exports.ts';
import type { Mac } from './mac.ts';
import { freezeCanonical } from './manifest-build.ts';
import { recordMacValues } from './mac-list-json.ts';
import { inventoryOf } from './port-inventory.ts';

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
  // Which of the inventory's MACs have a port of an inspecting node, by their index in it (no set of strings).
  const inspected = new Uint8Array(inventory.sorted.length);
  // Only when asked: the compute path does not pay for a record per port.
  const portRules = options?.explain ? new Map<Mac, { nodeUuid: string | null; rule: PortRule }[]>() : undefined;
  const tails = tailFilter(inspecting);
  for (let i = 0; i < input.ports.length; i++) {
    const port = input.ports[i]!;
    // portRule's 'node-inspecting', with a filter first that rules out most nodes without hashing their UUIDs.
    const node = port.nodeUuid;
    if (node !== null && tails[tailKey(node)] === 1 && inspecting.has(node)) inspected[inventory.rankOfPort[i]!] = 1;
    if (portRules) {
      const rule = portRule(port, inspecting);
      const list = portRules.get(port.mac);
      if (list) list.push({ nodeUuid: port.nodeUuid, rule });
      else portRules.set(port.mac, [{ nodeUuid: port.nodeUuid, rule }]);
    }
  }
  // One walk of the sorted inventory splits it: both lists come out sorted (the manifest's canonical form).
  // An unusable MAC is denied rather than dropped: without a record of its own it would fall to the wildcard, which
  // is "allow" whenever an inspection is under way; an explicit ignore record keeps it out in every state.
  const allow: Mac[] = [];
  const deny: Mac[] = [];
  for (let r = 0; r < inventory.sorted.length; r++) (inspected[r] === 1 && inventory.unusableAt[r] === 0 ? allow : deny).push(inventory.sorted[r]!);
  // The lists' values, split the same way, when the inventory has them: the manifest's JSON is written from them
  // (core/mac-list-json.ts) instead of from 100k strings scattered over the heap.
  const values = inventory.values ? splitValues(inventory.values, inspected, inventory.unusableAt, allow.length) : undefined;
  const unusable = inventory.unusable;
  const portsWithoutNode = inventory.portsWithoutNode;
  const unique = inventory.sorted.length;
  const unknownHosts = unknownHostsDecision(inspecting.size, input);
  const verdict = unknownHosts.verdict;
  // Canonical by construction (both lists sorted and unique, deny the sorted rest of allow): frozen and known as
  // such, so building its manifest does not walk 100k MACs again to check (core/manifest-build.ts).
  const policy = freezeCanonical<Policy>({ unknownHosts: verdict, removed: verdict, allow, deny });
  if (values) {
    recordMacValues(policy.allow, values.allow);
    recordMacValues(policy.deny, values.deny);
  }
  const result = {
    policy,
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
  const allowSet = new Set(allow);
  for (const [mac, ports] of portRules) {
    const allowed = allowSet.has(mac);
    explained.set(mac, { verdict: allowed ? 'allow' : 'deny', rule: allowed ? 'port-of-inspecting-node' : 'other-port', ports });
  }
  return { ...result, explanation: { macs: explained, inspectingNodes: inspecting, unknownHosts } };
}

/** The values of the sorted inventory, split as computePolicy splits its MACs into allow and deny. */
function splitValues(values: Float64Array, inspected: Uint8Array, unusableAt: Uint8Array, allowed: number): { allow: Float64Array; deny: Float64Array } {
  const allow = new Float64Array(allowed);
  const deny = new Float64Array(values.length - allowed);
  for (let r = 0, a = 0, d = 0; r < values.length; r++) {
    if (inspected[r] === 1 && unusableAt[r] === 0) allow[a++] = values[r]!;
    else deny[d++] = values[r]!;
  }
  return { allow, deny };
}

/**
 * A string's last four code units folded to 16 bits (its length when shorter). A node whose key is not among the
 * inspecting nodes' keys is not one of them: four characters read instead of Set#has hashing the whole UUID, which
 * it does on first sight of each of a parsed export's 100k node UUIDs (V8 has not hashed them yet), when most ports'
 * nodes are not being inspected.
 */
function tailKey(s: string): number {
  const n = s.length;
  if (n < 4) return n;
  return (((s.charCodeAt(n - 1) * 31 + s.charCodeAt(n - 2)) * 31 + s.charCodeAt(n - 3)) * 31 + s.charCodeAt(n - 4)) & 0xffff;
}

/** 1 at the tailKey of every member of the set. */
function tailFilter(set: ReadonlySet<string>): Uint8Array {
  const keys = new Uint8Array(0x10000);
  for (const s of set) keys[tailKey(s)] = 1;
  return keys;
}

/** What one port says about its MAC: the one rule computePolicy and explainMacs share. */
export function portRule(port: Port, inspecting: ReadonlySet<string>): PortRule {
  if (port.nodeUuid === null) return 'no-node';
  return inspecting.has(port.nodeUuid) ? 'node-inspecting' : 'node-not-inspecting';
}

/** The wildcard's decision and why. */
export function unknownHostsDecision(nodesInspecting: number, s: { discovery: boolean; denyUnknownMacs: boolean }): PolicyExplanation['unknownHosts'] {
  // ironic-inspector: (introspection_active() or node_not_found_hook) and not deny_unknown_macs.
  // An inspecting node without ports still opens unknown hosts: it can only be found by its DHCP request.
  const open = (nodesInspecting > 0 || s.discovery) && !s.denyUnknownMacs;
  return { verdict: open ? 'allow' : 'deny', open, nodesInspecting, discovery: s.discovery, denyUnknownMacs: s.denyUnknownMacs };
}

/** Each MAC's ports, and each node's MACs, in port order: derived once per port list (see inventories). */
interface PortIndex {
  portsOfMac: Map<Mac, Port[]>;
  macsOfNode: Map<string, Mac[]>;
}
const portIndexes = new WeakMap<readonly Port[], PortIndex>();

function portIndexOf(ports: readonly Port[]): PortIndex {
  let index = portIndexes.get(ports);
  if (index) return index;
  index = { portsOfMac: new Map(), macsOfNode: new Map() };
  for (const port of ports) {
    const list = index.portsOfMac.get(port.mac);
    if (list) list.push(port);
    else index.portsOfMac.set(port.mac, [port]);
    if (port.nodeUuid === null) continue;
    const macs = index.macsOfNode.get(port.nodeUuid);
    if (!macs) index.macsOfNode.set(port.nodeUuid, [port.mac]);
    else if (!macs.includes(port.mac)) macs.push(port.mac);
  }
  portIndexes.set(ports, index);
  return index;
}

export function nodeHasPorts(ports: readonly Port[], node: string): boolean {
  return portIndexOf(ports).macsOfNode.has(node);
}

/** The MACs of the ports of these nodes (each once). */
export function macsOfNodes(ports: readonly Port[], nodes: Iterable<string>): Set<Mac> {
  const index = portIndexOf(ports);
  const out = new Set<Mac>();
  for (const node of nodes) for (const mac of index.macsOfNode.get(node) ?? []) out.add(mac);
  return out;
}

/**
 * computePolicy's explanation of only some MACs, for a policy already computed from the same ports (a generation
 * that differs from an explained one in a few nodes' inspections). The verdict is the policy's; the rules are
 * portRule's, as computePolicy applies them. A MAC the ports do not have is left out.
 */
export function explainMacs(
  ports: readonly Port[],
  inspecting: ReadonlySet<string>,
  allow: ReadonlySet<Mac>,
  macs: Iterable<Mac>,
): PolicyExplanation['macs'] {
  const index = portIndexOf(ports);
  const out: PolicyExplanation['macs'] = new Map();
  for (const mac of macs) {
    const list = index.portsOfMac.get(mac);
    if (!list) continue;
    const allowed = allow.has(mac);
    out.set(mac, {
      verdict: allowed ? 'allow' : 'deny',
      rule: allowed ? 'port-of-inspecting-node' : 'other-port',
      ports: list.map((p) => ({ nodeUuid: p.nodeUuid, rule: portRule(p, inspecting) })),
    });
  }
  return out;
}
