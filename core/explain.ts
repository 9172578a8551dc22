/**
 * Why a MAC gets its verdict in one generation: pure, from that generation's manifest, its provenance (when
 * stored) and the MAC's last appearance in an earlier generation. The rule itself is the one computePolicy
 * recorded (core/provenance.ts); this module only puts it into words and fills in the nodes' states.
 */
import type { Mac } from './mac.ts';
import type { Manifest } from './manifest.ts';
import { INSPECTING_STATES, type Verdict } from './policy.ts';
import { type Provenance, type ProvenanceNode, provenanceOfMac, provenanceOfNode } from './provenance.ts';

export type ExplainRule =
  /** A port of a node being inspected: allowed. */
  | 'port-of-inspecting-node'
  /** Any other Ironic port (node not inspected, or no node): denied. */
  | 'other-port'
  /** Ironic no longer has a port with this MAC: its file is rewritten with the removed verdict. */
  | 'removed'
  /** Ironic never had it (in any stored generation): the wildcard decides. */
  | 'unknown';

export interface ExplainedPort {
  port: string | null;
  node: string | null;
  nodeName: string | null;
  provisionState: string | null;
  inspectInterface: string | null;
  introspection: ProvenanceNode['introspection'];
  inspecting: boolean;
  rule: 'node-inspecting' | 'node-not-inspecting' | 'no-node';
}

export interface WildcardReason {
  verdict: Verdict;
  open: boolean;
  /** Why, in words: which of inspection, discovery and deny-unknown-macs decided. */
  because: string;
}

export interface MacExplanation {
  /** What the user typed, and its canonical form. */
  input: string;
  mac: Mac;
  generation: number;
  publishedAt: string;
  verdict: Verdict;
  rule: ExplainRule;
  /** One sentence for people. */
  reason: string;
  ports: ExplainedPort[];
  /** For removed MACs: the newest stored generation that still named it. */
  lastSeen: { generation: number; verdict: Verdict } | null;
  wildcard: WildcardReason | null;
  /** The export behind the generation: its key and, when provenance is stored, when it was taken. */
  export: { key: string; createdAt: string | null } | null;
  /** false: no provenance is stored for this generation (published before it was kept, or a rollback). */
  provenance: boolean;
}

export interface ExplainInput {
  input: string;
  mac: Mac;
  manifest: Manifest;
  provenance: Provenance | undefined;
  /** The newest earlier generation naming the MAC, when this one does not. */
  lastSeen: { generation: number; verdict: Verdict } | undefined;
  /** false: earlier generations were not searched (a diff's older side), so "never known" cannot be said. */
  historySearched?: boolean;
}

export function explainMac(x: ExplainInput): MacExplanation {
  const { manifest: m, provenance: p, mac } = x;
  const inAllow = binaryHas(m.policy.allow, mac);
  const inDeny = !inAllow && binaryHas(m.policy.deny, mac);
  const exportRef = p ? { key: p.export.key, createdAt: p.export.createdAt } : m.source.inputs[0] ? { key: m.source.inputs[0].key, createdAt: null } : null;
  const base = { input: x.input, mac, generation: m.generation, publishedAt: m.createdAt, export: exportRef, provenance: p !== undefined };
  if (inAllow || inDeny) {
    const verdict: Verdict = inAllow ? 'allow' : 'deny';
    const entry = p ? provenanceOfMac(p, mac) : undefined;
    const ports = (entry?.ports ?? []).map((port) => describePort(p!, port));
    const rule: ExplainRule = entry?.rule ?? (inAllow ? 'port-of-inspecting-node' : 'other-port');
    return { ...base, verdict, rule, reason: portReason(rule, ports, entry !== undefined), ports, lastSeen: null, wildcard: null };
  }
  const wildcard = wildcardReason(m, p);
  if (x.lastSeen) {
    return {
      ...base,
      verdict: m.policy.removed,
      rule: 'removed',
      reason:
        `no Ironic port has this MAC any more (last in generation ${x.lastSeen.generation}, ${x.lastSeen.verdict}); a file left for it is rewritten ` +
        `with the removed verdict, ${m.policy.removed}, the wildcard's (${wildcard.because})`,
      ports: [],
      lastSeen: x.lastSeen,
      wildcard,
    };
  }
  return {
    ...base,
    verdict: m.policy.unknownHosts,
    rule: 'unknown',
    reason:
      x.historySearched === false
        ? `no Ironic port has this MAC in this generation: the wildcard applies, ${wildcard.verdict} (${wildcard.because})`
        : `Ironic has never had a port with this MAC (in any stored generation): the wildcard applies, ${wildcard.verdict} (${wildcard.because})`,
    ports: [],
    lastSeen: null,
    wildcard,
  };
}

function describePort(p: Provenance, port: { port: string | null; node: string | null; rule: ExplainedPort['rule'] }): ExplainedPort {
  const node = port.node === null ? undefined : provenanceOfNode(p, port.node);
  return {
    port: port.port,
    node: port.node,
    nodeName: node?.name ?? null,
    provisionState: node?.provisionState ?? null,
    inspectInterface: node?.inspectInterface ?? null,
    introspection: node?.introspection ?? null,
    inspecting: port.rule === 'node-inspecting',
    rule: port.rule,
  };
}

function nodeWords(p: ExplainedPort): string {
  const who = p.nodeName ? `${p.nodeName} (${p.node})` : `${p.node}`;
  const states = [
    p.provisionState !== null ? `provision state "${p.provisionState}"` : undefined,
    // In an inspecting state yet not inspecting: the ironic source also wants a supported inspect interface.
    p.provisionState !== null && INSPECTING_STATES.has(p.provisionState) && !p.inspecting
      ? `inspect interface "${p.inspectInterface ?? 'none'}" (not one the site counts)`
      : undefined,
    p.introspection ? `introspection ${p.introspection.finished ? 'finished' : 'running'}${p.introspection.state ? ` ("${p.introspection.state}")` : ''}` : undefined,
  ].filter(Boolean);
  return `node ${who}${states.length ? `, ${states.join(', ')}` : ''}`;
}

function portReason(rule: ExplainRule, ports: ExplainedPort[], stored: boolean): string {
  if (!stored) {
    return rule === 'port-of-inspecting-node'
      ? 'allowed: a port of a node being inspected (no provenance stored for this generation: ports and nodes unknown)'
      : 'denied: an Ironic port of a node not being inspected, or of no node (no provenance stored for this generation: ports and nodes unknown)';
  }
  const portWords = (p: ExplainedPort) => `port ${p.port ?? '(uuid not exported)'}`;
  if (rule === 'port-of-inspecting-node') {
    const p = ports.find((x) => x.rule === 'node-inspecting')!;
    const more = ports.length > 1 ? `; the MAC is on ${ports.length} ports, and one inspecting node is enough` : '';
    return `allowed: ${portWords(p)} of ${nodeWords(p)}, which is being inspected${more}`;
  }
  const parts = ports.map((p) => (p.rule === 'no-node' ? `${portWords(p)} has no node` : `${portWords(p)} of ${nodeWords(p)}, not being inspected`));
  return `denied: an Ironic port whose node is not being inspected: ${parts.join('; ')}`;
}

export function wildcardReason(m: Manifest, p: Provenance | undefined): WildcardReason {
  const verdict = m.policy.unknownHosts;
  if (!p) return { verdict, open: verdict === 'allow', because: `unknown hosts ${verdict === 'allow' ? 'open' : 'closed'}; no provenance stored to say why` };
  const u = p.unknownHosts;
  let because: string;
  if (u.open) {
    const why = [u.nodesInspecting > 0 ? `${u.nodesInspecting} node(s) being inspected` : undefined, u.discovery ? 'discovery is on' : undefined].filter(Boolean);
    because = `unknown hosts open: ${why.join(' and ')}`;
  } else if (u.denyUnknownMacs) {
    because = 'unknown hosts closed: the site denies unknown MACs (denyUnknownMacs)';
  } else {
    because = 'unknown hosts closed: no node is being inspected and discovery is off';
  }
  return { verdict, open: u.open, because };
}

/** The lists are sorted (canonical manifest): a binary search, no Set of 100k MACs per query. */
export function binaryHas(list: readonly string[], mac: string): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = list[mid]!;
    if (v === mac) return true;
    if (v < mac) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** The verdict a manifest gives a MAC Ironic knows, or undefined when its policy does not name it. */
export function listedVerdict(m: Manifest, mac: Mac): Verdict | undefined {
  return binaryHas(m.policy.allow, mac) ? 'allow' : binaryHas(m.policy.deny, mac) ? 'deny' : undefined;
}
