/** Builders for Ironic / ironic-inspector documents in their REST API form, written to a directory. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
