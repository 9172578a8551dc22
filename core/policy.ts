/**
 * The filter policy (docs/design.md §2), identical to ironic-inspector's `DnsmasqFilter._sync` and ironic's
 * `PXEFilterManager._sync`, expressed as a pure function of the exports.
 */
import { ConfigError } from './errors.ts';
import type { Introspection, Node, Port } from './ironic-exports.ts';
import { type Mac, sortMacs } from './mac.ts';

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
}

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

export function computePolicy(input: PolicyInput): { policy: Policy; stats: PolicyStats } {
  assertConsistentSettings(input);
  const inspecting = inspectingNodes(input.source);
  const allow = new Set<Mac>();
  const all = new Set<Mac>();
  let portsWithoutNode = 0;
  for (const port of input.ports) {
    all.add(port.mac);
    if (port.nodeUuid === null) portsWithoutNode++;
    else if (inspecting.has(port.nodeUuid)) allow.add(port.mac);
  }
  const deny = [...all].filter((mac) => !allow.has(mac));
  // ironic-inspector: (introspection_active() or node_not_found_hook) and not deny_unknown_macs.
  // An inspecting node without ports still opens unknown hosts: it can only be found by its DHCP request.
  const open = (inspecting.size > 0 || input.discovery) && !input.denyUnknownMacs;
  const verdict: Verdict = open ? 'allow' : 'deny';
  return {
    policy: { unknownHosts: verdict, removed: verdict, allow: sortMacs([...allow]), deny: sortMacs(deny) },
    stats: {
      ports: input.ports.length,
      duplicatePorts: input.ports.length - all.size,
      portsWithoutNode,
      nodesInspecting: inspecting.size,
    },
  };
}
