/** Build export bundles (pxe-filter/export@1) for tests: ports with their nodes, some nodes inspecting. */
import { EXPORT_SCHEMA } from '../../core/export-bundle.ts';

export const mac = (i: number) => `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
export const nodeUuid = (i: number) => `00000001-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

/** `macs` MACs, one node each; nodes listed in `inspecting` are in `inspect wait` (ironic source). */
export function exportBundle(site: string, o: { macs: number; inspecting?: number[]; createdAt?: string; firstMac?: number }): Record<string, unknown> {
  const first = o.firstMac ?? 0;
  const ids = Array.from({ length: o.macs }, (_, i) => first + i);
  return {
    schema: EXPORT_SCHEMA,
    site,
    createdAt: o.createdAt ?? '2026-11-25T20:00:00.000Z',
    ports: [{ ports: ids.map((i) => ({ address: mac(i), node_uuid: nodeUuid(i), pxe_enabled: true })) }],
    nodes: [
      {
        nodes: ids.map((i) => ({ uuid: nodeUuid(i), provision_state: o.inspecting?.includes(i) ? 'inspect wait' : 'active', inspect_interface: 'agent' })),
      },
    ],
  };
}
