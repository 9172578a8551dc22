/**
 * Ironic export parsing, on REAL samples captured from a running Ironic + ironic-inspector (test/fixtures/ironic,
 * copied from the rig): API and CLI forms give the same ports and nodes; and each edge case has a defined outcome:
 * duplicate MACs across pages, ports without a node, unknown extra fields, empty lists, short listings.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { EXPORT_SCHEMA, parseExportBundle } from '../../core/export-bundle.ts';
import { type ExportDocument, parseIntrospections, parseNodes, parsePorts } from '../../core/ironic-exports.ts';
import { computePolicy } from '../../core/policy.ts';
import { FIXTURES, runCli, stderrLines, tempDir } from '../support/cli.ts';

const sample = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, 'ironic', name), 'utf8'));
const doc = (name: string): ExportDocument => ({ label: name, body: sample(name) });
const INSPECTING_NODE = '41cdd69c-368c-4c3c-9abd-f924e91d5ba9';
const tmp = tempDir('exports');
afterAll(() => tmp.cleanup());

describe('real Ironic samples: API and CLI forms', () => {
  it('GET /v1/ports?detail=True and `port list --long -f json` give the same 10 ports', () => {
    const api = parsePorts([doc('rest-ports-detail.json')]);
    const cli = parsePorts([doc('cli-port-list-long.json')]);
    expect(api).toHaveLength(10);
    expect(cli).toEqual(api);
    expect(api[8]).toEqual({ mac: '52:54:00:00:04:00', nodeUuid: INSPECTING_NODE });
  });

  it('GET /v1/nodes?detail=True and `node list --long -f json` give the same 5 nodes', () => {
    const api = parseNodes([doc('rest-nodes-detail.json')]);
    const cli = parseNodes([doc('cli-node-list-long.json')]);
    expect(api).toHaveLength(5);
    expect(cli).toEqual(api);
    expect(api.find((n) => n.uuid === INSPECTING_NODE)).toEqual({ uuid: INSPECTING_NODE, provisionState: 'inspect wait', inspectInterface: 'inspector' });
  });

  it('ironic-inspector GET /v1/introspection: waiting → unfinished (node ports allowed), finished → all denied', () => {
    const ports = parsePorts([doc('rest-ports-detail.json')]);
    const policyWith = (f: string) =>
      computePolicy({ ports, source: { kind: 'inspector', introspections: parseIntrospections([doc(f)]) }, discovery: false, denyUnknownMacs: false }).policy;
    expect(policyWith('inspector-introspection-list-waiting.json')).toMatchObject({ allow: ['52:54:00:00:04:00', '52:54:00:00:04:01'], unknownHosts: 'allow' });
    expect(policyWith('inspector-introspection-list-finished.json')).toMatchObject({ allow: [], unknownHosts: 'deny' });
  });

  it('the CLI reads the real samples: compute --ports (API) --nodes (CLI) --inspect-interfaces inspector', async () => {
    const out = join(tmp.path, 'm.json');
    const r = await runCli(['compute', '--site', 'rig', '--ports', join(FIXTURES, 'ironic', 'rest-ports-detail.json'), '--nodes', join(FIXTURES, 'ironic', 'cli-node-list-long.json'), '--inspect-interfaces', 'inspector', '--out', out]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('allow 2, deny 8, unknown hosts allow');
  });
});

describe('defined outcomes for export edge cases', () => {
  it('duplicate MAC across pages (a port moved between page reads): kept once; allowed if any of its nodes is inspecting, counted as duplicate', () => {
    const page1 = { ports: [{ address: '52:54:00:00:04:00', node_uuid: 'old-node', extra: {} }], next: 'http://x/v1/ports?marker=1' };
    const page2 = sample('rest-ports-detail.json');
    const ports = parsePorts([{ label: 'p1', body: page1 }, { label: 'p2', body: page2 }]);
    expect(ports.filter((p) => p.mac === '52:54:00:00:04:00')).toHaveLength(2);
    const inspecting = (uuids: string[]) =>
      computePolicy({ ports, source: { kind: 'inspector', introspections: uuids.map((uuid) => ({ uuid, finished: false })) }, discovery: false, denyUnknownMacs: false });
    const a = inspecting([INSPECTING_NODE]);
    expect(a.policy.allow).toContain('52:54:00:00:04:00');
    expect(a.policy.deny).not.toContain('52:54:00:00:04:00');
    expect(a.stats.duplicatePorts).toBe(1);
    expect(inspecting(['old-node']).policy.allow).toEqual(['52:54:00:00:04:00']);
    expect(inspecting([]).policy.deny.filter((m) => m === '52:54:00:00:04:00')).toHaveLength(1);
  });

  it('duplicate MAC in the CLI form, differently spelled (upper case / dashes): the same MAC', () => {
    const ports = parsePorts([{ label: 'c', body: [{ Address: '52:54:00:AB:CD:EF', 'Node UUID': 'a' }, { Address: '52-54-00-ab-cd-ef', 'Node UUID': 'b' }] }]);
    expect(new Set(ports.map((p) => p.mac))).toEqual(new Set(['52:54:00:ab:cd:ef']));
  });

  it('port without a node (node_uuid null): denied, counted, never allowed even while something is inspecting', () => {
    const ports = parsePorts([{ label: 'p', body: { ports: [{ address: '52:54:00:00:00:01', node_uuid: null }, { address: '52:54:00:00:00:02', node_uuid: 'n' }] } }]);
    const r = computePolicy({ ports, source: { kind: 'inspector', introspections: [{ uuid: 'n', finished: false }] }, discovery: false, denyUnknownMacs: false });
    expect(r.policy).toMatchObject({ allow: ['52:54:00:00:00:02'], deny: ['52:54:00:00:00:01'] });
    expect(r.stats.portsWithoutNode).toBe(1);
  });

  it('unknown extra fields (every Ironic release adds some) are accepted and dropped, in both forms', () => {
    const ports = parsePorts([{ label: 'p', body: { ports: [{ address: '52:54:00:00:00:01', node_uuid: 'n', brand_new_field: { x: 1 } }], next: 'u', extra_top: true } }]);
    expect(ports).toEqual([{ mac: '52:54:00:00:00:01', nodeUuid: 'n' }]);
    expect(parseNodes([{ label: 'n', body: [{ UUID: 'n', 'Provisioning State': 'active', 'Inspect Interface': 'agent', 'Shiny New Column': 7 }] }])).toEqual([
      { uuid: 'n', provisionState: 'active', inspectInterface: 'agent' },
    ]);
  });

  it('empty lists: zero ports/nodes/introspections parse; the policy denies unknown hosts; compute refuses to publish no ports (exit 3) unless --force', async () => {
    expect(parsePorts([{ label: 'p', body: { ports: [] } }, { label: 'c', body: [] }])).toEqual([]);
    expect(parseNodes([{ label: 'n', body: { nodes: [] } }])).toEqual([]);
    expect(parseIntrospections([{ label: 'i', body: { introspection: [] } }])).toEqual([]);
    const ports = join(tmp.path, 'empty-ports.json');
    const nodes = join(tmp.path, 'empty-nodes.json');
    writeFileSync(ports, '{"ports": []}');
    writeFileSync(nodes, '[]');
    const out = join(tmp.path, 'empty.json');
    const r = await runCli(['compute', '--site', 'dc1', '--ports', ports, '--nodes', nodes, '--out', out]);
    expect(r.code).toBe(3);
    expect(stderrLines(r)).toEqual([expect.stringContaining('no ports')]);
    const f = await runCli(['compute', '--site', 'dc1', '--ports', ports, '--nodes', nodes, '--force', '--out', out]);
    expect(f.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ policy: { unknownHosts: 'deny', removed: 'deny', allow: [], deny: [] } });
  });

  it('short listings (no node_uuid / Inspect Interface column) are refused with a hint, not read as "no node"', () => {
    expect(() => parsePorts([doc('rest-ports-limit2.json')])).toThrow(/rest-ports-limit2\.json\.ports\[0\]\.node_uuid: missing: give the detailed listing/);
    expect(() => parseNodes([doc('cli-node-list-inspect-wait.json')])).toThrow(/\[0\]\.Inspect Interface: missing/);
  });

  it('wrong document kinds are refused naming the document', () => {
    expect(() => parsePorts([{ label: 'p.json', body: { nodes: [] } }])).toThrow(new InputError('p.json', 'object with keys nodes', 'not an Ironic port list (expected {"ports":[…]} or a CLI JSON array)'));
    expect(() => parseNodes([{ label: 'n.json', body: 'text' }])).toThrow(/n\.json: not an Ironic node list/);
    expect(() => parseIntrospections([{ label: 'i.json', body: [] }])).toThrow(/i\.json: not an ironic-inspector introspection list/);
  });

  it('an export bundle holds pages as received and is refused whole when one page is bad', () => {
    const bundle = { schema: EXPORT_SCHEMA, site: 'dc1', createdAt: '2026-11-25T00:00:00.000Z', ports: [sample('rest-ports-detail-limit2.json'), sample('rest-ports-detail.json')], nodes: [sample('rest-nodes-detail.json')] };
    const parsed = parseExportBundle(bundle, 'exports/dc1/x.json');
    expect(parsed.ports).toHaveLength(12);
    expect(parsed.nodes).toHaveLength(5);
    const bad = { ...bundle, ports: [sample('rest-ports-detail.json'), { ports: [{ address: 'nope', node_uuid: 'n' }] }] };
    expect(() => parseExportBundle(bad, 'exports/dc1/x.json')).toThrow('exports/dc1/x.json.ports[1].ports[0].address: not a MAC address');
    expect(() => parseExportBundle({ ...bundle, ports: [] }, 'b')).toThrow(/b\.ports/);
  });
});
