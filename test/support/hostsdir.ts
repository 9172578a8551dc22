/** Helpers for reference-case tests: policies from Ironic-like inputs, and one real sync pass on a temp directory. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DiffOptions, type Plan, diffDirectory } from '../../core/hostsdir.ts';
import type { Introspection, Node, Port } from '../../core/ironic-exports.ts';
import { type Mac, parseMac } from '../../core/mac.ts';
import { buildManifest, type Manifest } from '../../core/manifest.ts';
import { type Policy, computePolicy } from '../../core/policy.ts';
import { applyPlanToDirectory, readDirectory } from '../../agent/hostsdir-io.ts';

export const M = (n: number) => parseMac(`52:54:00:00:00:${n.toString(16).padStart(2, '0')}`);
export const dashed = (mac: Mac) => mac.replaceAll(':', '-');
export const allowText = (mac: Mac) => `${mac}\n`;
export const denyText = (mac: Mac) => `${mac},ignore\n`;

/** ironic-inspector inputs: ports (mac → node), which nodes have an unfinished introspection, the two options. */
export function inspectorPolicy(o: { ports: [Mac, string | null][]; inspecting?: string[]; finished?: string[]; discovery?: boolean; denyUnknownMacs?: boolean }): Policy {
  const ports: Port[] = o.ports.map(([mac, nodeUuid]) => ({ mac, nodeUuid }));
  const introspections: Introspection[] = [
    ...(o.inspecting ?? []).map((uuid) => ({ uuid, finished: false })),
    ...(o.finished ?? []).map((uuid) => ({ uuid, finished: true })),
  ];
  return computePolicy({ ports, source: { kind: 'inspector', introspections }, discovery: o.discovery ?? false, denyUnknownMacs: o.denyUnknownMacs ?? false }).policy;
}

/** ironic inputs: ports and nodes (provision state, inspect interface), `[auto_discovery]enabled`. */
export function ironicPolicy(o: { ports: [Mac, string | null][]; nodes: Node[]; discovery?: boolean; interfaces?: string[] }): Policy {
  return computePolicy({
    ports: o.ports.map(([mac, nodeUuid]) => ({ mac, nodeUuid })),
    source: { kind: 'ironic', nodes: o.nodes, supportedInspectInterfaces: o.interfaces ?? ['agent'] },
    discovery: o.discovery ?? false,
    denyUnknownMacs: false,
  }).policy;
}

export function seed(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o644 });
}

/** One real pass: scan the directory, diff against the policy, write through the atomic writer. */
export async function syncOnce(dir: string, policy: Policy, options: DiffOptions = {}): Promise<Plan> {
  const plan = diffDirectory(policy, await readDirectory(dir), options);
  await applyPlanToDirectory(dir, plan);
  return plan;
}

export const written = (plan: Plan) => plan.writes.map((w) => w.name).sort();

export function manifestOf(policy: Policy, generation = 1): Manifest {
  return buildManifest({ site: 'ref', generation, createdAt: new Date('2026-01-01T00:00:00Z'), inputs: [], policy });
}

/** One record written through the agent's real writer (a one-write plan): the atomic write the tests judge. */
export function writeRecord(dir: string, name: string, content: string): Promise<void> {
  const plan: Plan = { writes: [{ name, content, reason: 'deny' }], deletes: [], foreign: [], reloadNeeded: false, counts: { allow: 0, deny: 1, removed: 0 } };
  return applyPlanToDirectory(dir, plan);
}
