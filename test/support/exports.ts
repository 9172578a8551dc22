/** Builders for Ironic / ironic-inspector documents (REST API form) and export bundles, for tests. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_SCHEMA } from '../../core/export-bundle.ts';

export const mac = (n: number) => `52:54:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
export const nodeUuid = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;

/** `count` ports, port i on node i; nodes in `inspecting` have an unfinished introspection. */
export function writeSite(dir: string, count: number, inspecting: readonly number[] = [], name = 'site') {
  const ports = join(dir, `${name}-ports.json`);
  const intro = join(dir, `${name}-introspection.json`);
  writeFileSync(ports, JSON.stringify({ ports: Array.from({ length: count }, (_, i) => ({ address: mac(i), node_uuid: nodeUuid(i), extra: {} })) }));
  writeFileSync(
    intro,
    JSON.stringify({ introspection: Array.from({ length: count }, (_, i) => ({ uuid: nodeUuid(i), finished: !inspecting.includes(i), state: 'waiting', error: null })) }),
  );
  return { ports, intro };
}

/** An export bundle of `macs` MACs, one node each; nodes listed in `inspecting` are in `inspect wait` (ironic source). */
export function exportBundle(site: string, o: { macs: number; inspecting?: number[]; createdAt?: string; firstMac?: number }): Record<string, unknown> {
  const first = o.firstMac ?? 0;
  const ids = Array.from({ length: o.macs }, (_, i) => first + i);
  return {
    schema: EXPORT_SCHEMA,
    site,
    createdAt: o.createdAt ?? '2026-11-25T20:00:00.000Z',
    ports: [{ ports: ids.map((i) => ({ address: mac(i), node_uuid: nodeUuid(i), pxe_enabled: true })) }],
    nodes: [{ nodes: ids.map((i) => ({ uuid: nodeUuid(i), provision_state: o.inspecting?.includes(i) ? 'inspect wait' : 'active', inspect_interface: 'agent' })) }],
  };
}
