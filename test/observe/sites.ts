/**
 * Real generated sites for the observe commands: stores filled by computeSite (the Lambda's path) from export
 * bundles — examples/dc1 as shipped and edited, and a generated 10k-MAC site — with agents' acks written as the
 * daemon writes them.
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ACK_SCHEMA, type AgentReport, encodeReport } from '../../agent/report.ts';
import { computeSite } from '../../control/compute-site.ts';
import { EXPORT_SCHEMA } from '../../core/export-bundle.ts';
import { ackKey, exportKey, manifestKey, provenanceKey, settingsParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { exportBundle } from '../support/exports.ts';

const enc = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
export const T0 = Date.parse('2026-11-25T20:00:00.000Z');
export const at = (minutes: number) => new Date(T0 + minutes * 60_000);

/** Put an export bundle taken at `minute` and run the compute on it, as the S3 event would. */
export async function publishExport(store: LocalStore, site: string, bundle: Record<string, unknown>, minute: number) {
  await store.putObject(exportKey(site, at(minute)), enc({ ...bundle, createdAt: at(minute).toISOString() }));
  return computeSite({ store, site, now: at(minute + 1), force: true });
}

interface Dc1Ports {
  ports: { uuid: string; address: string; node_uuid: string | null }[];
}
interface Dc1Nodes {
  nodes: { uuid: string; name: string; provision_state: string; inspect_interface: string }[];
}

export const dc1Ports = () => JSON.parse(readFileSync(join(REPO_ROOT, 'examples/dc1/ports.json'), 'utf8')) as Dc1Ports;
export const dc1Nodes = () => JSON.parse(readFileSync(join(REPO_ROOT, 'examples/dc1/nodes.json'), 'utf8')) as Dc1Nodes;
export const dc1Settings = () => JSON.parse(readFileSync(join(REPO_ROOT, 'examples/dc1/settings.json'), 'utf8')) as Record<string, unknown>;

/** examples/dc1 node n's UUID and port p's MAC (scripts/make-example.ts). */
export const dc1Node = (n: number) => `00000001-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const dc1Mac = (n: number, p: number) => `52:54:00:00:${n.toString(16).padStart(2, '0')}:${p.toString(16).padStart(2, '0')}`;

/**
 * dc1, three generations:
 *  1. the example as shipped, plus a second ports page (taken while ports moved) that lists node 1's first MAC
 *     again on node 8 (being inspected) and node 2's first MAC again on node 3 (not inspected): MACs on two nodes;
 *  2. node 0 set to "inspect wait" (its MACs flip to allow), node 149 deleted from Ironic (its MACs are removed);
 *  3. every inspection finished: unknown hosts close.
 */
export async function dc1Site(root: string) {
  const store = new LocalStore(root);
  await store.putParameter(settingsParameter('dc1'), JSON.stringify(dc1Settings()));
  const ports = dc1Ports();
  const nodes = dc1Nodes();
  const extra = { ports: [{ uuid: 'moved-port-1', address: dc1Mac(1, 0), node_uuid: dc1Node(8) }, { uuid: 'moved-port-2', address: dc1Mac(2, 0), node_uuid: dc1Node(3) }] };
  const bundle = (p: Dc1Ports, n: Dc1Nodes, pages: unknown[] = []) => ({ schema: EXPORT_SCHEMA, site: 'dc1', ports: [p, ...pages], nodes: [n] });
  const g1 = await publishExport(store, 'dc1', bundle(ports, nodes, [extra]), 0);
  nodes.nodes[0]!.provision_state = 'inspect wait';
  const gone = dc1Node(149);
  const g2 = await publishExport(store, 'dc1', bundle({ ports: ports.ports.filter((p) => p.node_uuid !== gone) }, { nodes: nodes.nodes.filter((n) => n.uuid !== gone) }, [extra]), 10);
  for (const n of nodes.nodes) if (n.provision_state === 'inspect wait' || n.provision_state === 'inspecting') n.provision_state = 'manageable';
  const g3 = await publishExport(store, 'dc1', bundle({ ports: ports.ports.filter((p) => p.node_uuid !== gone) }, { nodes: nodes.nodes.filter((n) => n.uuid !== gone) }, [extra]), 20);
  return { store, generations: [g1, g2, g3] };
}

/** 10,000 MACs, one node each, every 50th inspecting; generation 2 drops the last 50 ports and starts inspecting node 1. */
export async function bigSite(root: string) {
  const store = new LocalStore(root);
  await store.putParameter(settingsParameter('big'), JSON.stringify({ source: 'ironic' }));
  const inspecting = Array.from({ length: 200 }, (_, i) => i * 50);
  const g1 = await publishExport(store, 'big', exportBundle('big', { macs: 10_000, inspecting }), 0);
  const g2 = await publishExport(store, 'big', exportBundle('big', { macs: 9_950, inspecting: [...inspecting, 1] }), 10);
  return { store, generations: [g1, g2] };
}

/** What the lifecycle rule does to an old generation: its manifest and provenance versions are gone. */
export function expireGeneration(root: string, site: string, generation: number) {
  for (const key of [manifestKey(site), provenanceKey(site)]) {
    const dir = join(root, 'objects', key, 'versions');
    for (const v of readdirSync(dir)) {
      const doc = JSON.parse(readFileSync(join(dir, v), 'utf8')) as { generation: number };
      if (doc.generation === generation) rmSync(join(dir, v));
    }
  }
}

export function ack(site: string, host: string, o: Partial<AgentReport> & { generation: number | null; reportedAt: string }): AgentReport {
  return {
    schema: ACK_SCHEMA,
    site,
    host,
    sha256: null,
    appliedAt: o.reportedAt,
    lastContactAt: o.reportedAt,
    counts: { allow: 1, deny: 2, removed: 0, files: 4, foreign: 0, writes: 3, deletes: 0 },
    durationMs: 12,
    reloads: 0,
    serviceRunning: true,
    stale: false,
    lastError: null,
    version: '0.1.0',
    layout: 'per-mac',
    ...o,
  };
}

export async function putAck(store: LocalStore, report: AgentReport) {
  await store.putObject(ackKey(report.site, report.host), encodeReport(report));
}
