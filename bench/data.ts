/** Deterministic bench inputs: N MACs, 2 % of them on inspecting nodes (one port per node). */
import type { Mac } from '../core/mac.ts';
import type { Policy } from '../core/policy.ts';

export function macOf(i: number): Mac {
  const b = [(i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff].map((x) => x.toString(16).padStart(2, '0'));
  return `52:54:${b.join(':')}` as Mac;
}

export const isInspecting = (i: number) => i % 50 === 0;

export function basePolicy(n: number): Policy {
  const allow: Mac[] = [];
  const deny: Mac[] = [];
  for (let i = 0; i < n; i++) (isInspecting(i) ? allow : deny).push(macOf(i));
  return { unknownHosts: 'allow', removed: 'allow', allow, deny };
}

/** The 100 MACs the churn case changes: 50 flipped, 25 removed from Ironic, 25 added. */
export function changedMacsOf(n: number): Mac[] {
  const step = Math.floor(n / 50);
  return [
    ...Array.from({ length: 50 }, (_, k) => macOf(k * step + 1)),
    ...Array.from({ length: 25 }, (_, k) => macOf(k * step + 3)),
    ...Array.from({ length: 25 }, (_, k) => macOf(n + k)),
  ];
}

/** The churn case: 50 flips, 25 ports removed from Ironic, 25 added. */
export function churnedPolicy(n: number): Policy {
  const base = basePolicy(n);
  const allow = new Set(base.allow);
  const deny = new Set(base.deny);
  const step = Math.floor(n / 50);
  for (let k = 0; k < 50; k++) {
    const mac = macOf(k * step + 1);
    if (allow.delete(mac)) deny.add(mac);
    else if (deny.delete(mac)) allow.add(mac);
  }
  for (let k = 0; k < 25; k++) {
    const mac = macOf(k * step + 3);
    allow.delete(mac);
    deny.delete(mac);
  }
  for (let k = 0; k < 25; k++) deny.add(macOf(n + k));
  return { ...base, allow: [...allow], deny: [...deny] };
}

/**
 * Ironic API exports for N ports: one node per port, 2 % of the nodes in "inspect wait". Ironic lists ports by id
 * (enrolment order), not by address, so the ports come in a shuffled MAC order (fixed seed): computePolicy's sort
 * sees what it sees in production (sorted input would flatter it: 100k MACs, ~25 ms sorted against ~60 ms shuffled).
 */
export function ironicExports(n: number) {
  const nodeUuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  const order = shuffled(n);
  const ports = { ports: order.map((i) => ({ uuid: nodeUuid(i + n), address: macOf(i), node_uuid: nodeUuid(i), pxe_enabled: true, extra: {} })) };
  const nodes = {
    nodes: Array.from({ length: n }, (_, i) => ({ uuid: nodeUuid(i), provision_state: isInspecting(i) ? 'inspect wait' : 'active', inspect_interface: 'agent' })),
  };
  return { ports, nodes };
}

/** 0…n-1 in a fixed pseudo-random order (Fisher-Yates with a 31-bit LCG). */
function shuffled(n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
