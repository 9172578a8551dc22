/** Enrolls nodes and ports in a real Ironic through its REST API and drives them into given states. */
import type { Rig } from './ironic-rig.ts';

export type Wanted =
  | 'enroll'
  | 'manageable'
  | 'available'
  /** Through the real ironic-inspector: inspect_interface=inspector, then "inspect". */
  | 'inspect wait via inspector'
  /** Written into Ironic's SQLite row (no inspector needed); inspect_interface stays as given. */
  | 'inspect wait via sql'
  | 'inspecting via sql';

export interface NodeSpec {
  name: string;
  macs: string[];
  state: Wanted;
  /** inspect_interface to set (for the sql states); default: the rig default `fake`. */
  inspectInterface?: string;
}

export interface Enrolled {
  name: string;
  uuid: string;
  macs: string[];
  state: string;
}

interface NodeBody {
  uuid: string;
  provision_state: string;
  last_error?: string | null;
}

export async function enrollNode(rig: Rig, spec: NodeSpec): Promise<Enrolled> {
  const node = (await rig.api('POST', '/v1/nodes', {
    name: spec.name,
    driver: 'fake-hardware',
    properties: { cpus: 4, memory_mb: 8192, local_gb: 100, cpu_arch: 'x86_64' },
  })) as NodeBody;
  for (const [i, mac] of spec.macs.entries()) {
    await rig.api('POST', '/v1/ports', { node_uuid: node.uuid, address: mac, pxe_enabled: i === 0 });
  }
  const uuid = node.uuid;
  const prov = (target: string) => rig.api('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
  if (spec.inspectInterface) {
    await rig.api('PATCH', `/v1/nodes/${uuid}`, [{ op: 'replace', path: '/inspect_interface', value: spec.inspectInterface }]);
  }
  if (spec.state !== 'enroll') {
    await prov('manage');
    await waitState(rig, uuid, 'manageable');
  }
  if (spec.state === 'available') {
    await prov('provide');
    await waitState(rig, uuid, 'available');
  } else if (spec.state === 'inspect wait via inspector') {
    await rig.api('PATCH', `/v1/nodes/${uuid}`, [{ op: 'replace', path: '/inspect_interface', value: 'inspector' }]);
    await prov('inspect');
    await waitState(rig, uuid, 'inspect wait');
    // Ironic reaches `inspect wait` a moment before ironic-inspector leaves `starting`.
    await waitIntrospection(rig, uuid, 'waiting');
  } else if (spec.state === 'inspect wait via sql' || spec.state === 'inspecting via sql') {
    const state = spec.state === 'inspect wait via sql' ? 'inspect wait' : 'inspecting';
    await rig.sql(
      `UPDATE nodes SET provision_state='${state}', target_provision_state='manageable', provision_updated_at=CURRENT_TIMESTAMP, ` +
        `inspection_started_at=CURRENT_TIMESTAMP WHERE uuid='${uuid}'`,
    );
    await waitState(rig, uuid, state);
  }
  const final = (await rig.api('GET', `/v1/nodes/${uuid}`)) as NodeBody;
  return { name: spec.name, uuid, macs: spec.macs, state: final.provision_state };
}

export async function waitState(rig: Rig, uuid: string, wanted: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const node = (await rig.api('GET', `/v1/nodes/${uuid}`)) as NodeBody;
    last = node.provision_state;
    if (last === wanted) return;
    if (last.endsWith('failed')) throw new Error(`node ${uuid} went to ${last}: ${node.last_error ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node ${uuid} stuck in ${last} (wanted ${wanted})`);
}

export async function waitIntrospection(rig: Rig, uuid: string, wanted: string, timeoutMs = 120_000): Promise<void> {
  if (!rig.inspectorUrl) throw new Error('the rig runs no ironic-inspector');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await fetch(`${rig.inspectorUrl}/v1/introspection/${uuid}`, { headers: { 'X-OpenStack-Ironic-Inspector-API-Version': '1.8', ...(await rig.authHeaders()) } });
    last = ((await res.json()) as { state?: string }).state ?? `HTTP ${res.status}`;
    if (last === wanted) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`introspection of ${uuid} stuck in ${last} (wanted ${wanted})`);
}

/** 52:54:00:NN:NN:PP, distinct per (node, port). */
export function macFor(node: number, port: number): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `52:54:00:${h((node >> 8) & 255)}:${h(node & 255)}:${h(port)}`;
}
