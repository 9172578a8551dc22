/**
 * Issue 16 item 1: a compute from the newest full export plus a newer state export gives what a compute from one
 * full export taken at the moment of the state export would give (property), on the store path the Lambda,
 * `local run` and `publish` share; and state exports are chosen by recorded time with future-dated ones refused.
 */
import { utimesSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeSite } from '../../control/compute-site.ts';
import { newestInputs } from '../../control/newest-export.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { EXPORT_SCHEMA, parseExportBundle } from '../../core/export-bundle.ts';
import { SiteSettingsSchema } from '../../core/settings.ts';
import { type InspectionState, buildStateExport, combineWithState, parseStateExport, stateOfExport } from '../../core/state-export.ts';
import { exportKey, settingsParameter, stateExportKey } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { exportBundle, mac, nodeUuid } from '../support/exports.ts';

const STATES = ['inspect wait', 'inspecting', 'active', 'manageable', 'available', 'inspect failed', 'enroll'] as const;
const INTERFACES = ['agent', 'fake', 'inspector', null] as const;

interface NodeAt {
  state: (typeof STATES)[number];
  iface: (typeof INTERFACES)[number];
  /** ironic-inspector's status of this node: none, finished, unfinished. */
  intro: 'none' | 'finished' | 'unfinished';
}
interface World {
  ports: { mac: number; node: number | null }[];
  nodes: NodeAt[];
}

const nodeAt = fc.record({ state: fc.constantFrom(...STATES), iface: fc.constantFrom(...INTERFACES), intro: fc.constantFrom('none', 'finished', 'unfinished') as fc.Arbitrary<NodeAt['intro']> });

/**
 * Two readings of one Ironic: the inventory (ports, which nodes exist) is the same, as the watcher makes sure by
 * listing again whenever the fast reading names a node the inventory lacks; every node's state may differ, and
 * nodes without ports may have appeared (no relisting can add ports they do not have).
 */
const worlds = fc
  .record({ n: fc.integer({ min: 0, max: 10 }), extra: fc.integer({ min: 0, max: 3 }) })
  .chain(({ n, extra }) =>
    fc.record({
      ports: fc.array(fc.record({ mac: fc.integer({ min: 0, max: 24 }), node: fc.option(fc.integer({ min: 0, max: Math.max(n - 1, 0) }), { nil: null }) }), { minLength: 1, maxLength: 30 }),
      before: fc.array(nodeAt, { minLength: n, maxLength: n }),
      now: fc.array(nodeAt, { minLength: n + extra, maxLength: n + extra }),
    }),
  )
  .map(({ ports, before, now }) => ({
    before: { ports: before.length ? ports : ports.map((p) => ({ ...p, node: null })), nodes: before } as World,
    now: { ports: before.length ? ports : ports.map((p) => ({ ...p, node: null })), nodes: now } as World,
  }));

const settingsArb = fc
  .record({ source: fc.constantFrom('ironic', 'inspector'), discovery: fc.boolean(), denyUnknownMacs: fc.boolean(), supportedInspectInterfaces: fc.subarray(['agent', 'fake', 'inspector'], { minLength: 1 }) })
  .filter((s) => !(s.discovery && s.denyUnknownMacs))
  .map((s) => SiteSettingsSchema.parse(s));

/** A full export of a world, as `pxe-filter export` writes it (API pages). */
function bundleOf(w: World, createdAt: string) {
  return {
    schema: EXPORT_SCHEMA,
    site: 'dc1',
    createdAt,
    ports: [{ ports: w.ports.map((p) => ({ address: mac(p.mac), node_uuid: p.node === null ? null : nodeUuid(p.node) })) }],
    nodes: [{ nodes: w.nodes.map((n, i) => ({ uuid: nodeUuid(i), name: `n${i}`, provision_state: n.state, inspect_interface: n.iface })) }],
    introspection: [{ introspection: w.nodes.flatMap((n, i) => (n.intro === 'none' ? [] : [{ uuid: nodeUuid(i), finished: n.intro === 'finished', state: n.intro === 'finished' ? 'finished' : 'waiting', error: null }])) }],
  };
}

/** What the watcher's fast readings return for a world: Ironic's provision_state filter, inspector's unfinished ones. */
function fastReading(w: World): InspectionState {
  return {
    nodes: w.nodes.flatMap((n, i) => (n.state === 'inspect wait' || n.state === 'inspecting' ? [{ uuid: nodeUuid(i), provisionState: n.state, inspectInterface: n.iface }] : [])),
    introspection: w.nodes.flatMap((n, i) => (n.intro === 'unfinished' ? [nodeUuid(i)] : [])),
  };
}

describe('full export + newer state export = one full export taken at the state export\'s moment', () => {
  it('property: same policy and statistics, for both sources and every setting', () => {
    fc.assert(
      fc.property(worlds, settingsArb, ({ before, now }, settings) => {
        const full = parseExportBundle(bundleOf(before, '2026-11-25T20:00:00.000Z'), 'full');
        const state = parseStateExport(buildStateExport('dc1', fastReading(now), new Date('2026-11-25T20:05:00.000Z'), 'k'), 'state');
        const combined = policyFromExport(combineWithState(full, state), settings);
        const fresh = parseExportBundle(bundleOf(now, '2026-11-25T20:05:00.000Z'), 'fresh');
        const truth = policyFromExport(fresh, settings);
        expect(combined.policy).toEqual(truth.policy);
        expect(combined.stats.nodesInspecting).toBe(truth.stats.nodesInspecting);
        // The watcher's own derivation from a full listing agrees with the fast readings of the same moment.
        expect(stateOfExport(fresh)).toEqual(stateOfExport({ ...combineWithState(fresh, state) }));
        expect(buildStateExport('dc1', stateOfExport(fresh), new Date(0), null)).toEqual(buildStateExport('dc1', fastReading(now), new Date(0), null));
      }),
      { numRuns: 400 },
    );
  });
});

describe('which state export a compute combines (local store)', () => {
  let dir: string;
  let store: LocalStore;
  const enc = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
  const at = (iso: string) => new Date(iso);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pxe-state-'));
    store = new LocalStore(dir);
    await store.putParameter(settingsParameter('dc1'), JSON.stringify({ source: 'ironic' }));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function upload(key: string, doc: unknown, uploadedAt: Date): Promise<void> {
    const { versionId } = await store.putObject(key, enc(doc), { condition: { ifNoneMatch: '*' } });
    utimesSync(join(dir, 'objects', key, 'versions', versionId), uploadedAt, uploadedAt);
  }
  const state = (inspecting: number[], createdAt: string) =>
    buildStateExport('dc1', { nodes: inspecting.map((i) => ({ uuid: nodeUuid(i), provisionState: 'inspect wait' as const, inspectInterface: 'agent' })) }, at(createdAt), null);

  it('a newer state export decides who is inspected; an older one is ignored; a later full export wins again', async () => {
    await upload(exportKey('dc1', at('2026-11-25T20:00:00Z')), exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T20:00:00.000Z' }), at('2026-11-25T20:00:01Z'));
    // Recorded before the full export: says nothing newer than it.
    await upload(stateExportKey('dc1', at('2026-11-25T19:59:00Z')), state([4], '2026-11-25T19:59:00.000Z'), at('2026-11-25T19:59:01Z'));
    const r0 = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:00:30Z') });
    expect(r0.stateExportKey).toBeUndefined();
    expect(r0.published.manifest.policy.allow).toEqual([mac(1)]);

    const k = stateExportKey('dc1', at('2026-11-25T20:01:00Z'));
    await upload(k, state([2, 3], '2026-11-25T20:01:00.000Z'), at('2026-11-25T20:01:01Z'));
    const r1 = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:01:30Z') });
    expect(r1).toMatchObject({ stateExportKey: k, stateCreatedAt: '2026-11-25T20:01:00.000Z', published: { status: 'published', manifest: { generation: 2 } } });
    expect(r1.published.manifest.policy.allow).toEqual([mac(2), mac(3)]);
    expect(r1.published.manifest.source.inputs.map((i) => i.key)).toContain(k);

    // A state export saying the same thing: nothing to publish.
    await upload(stateExportKey('dc1', at('2026-11-25T20:02:00Z')), state([3, 2], '2026-11-25T20:02:00.000Z'), at('2026-11-25T20:02:01Z'));
    expect((await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:02:30Z') })).published.status).toBe('unchanged');

    // A full export read after them is the newest reading of everything.
    await upload(exportKey('dc1', at('2026-11-25T20:03:00Z')), exportBundle('dc1', { macs: 5, inspecting: [0], createdAt: '2026-11-25T20:03:00.000Z' }), at('2026-11-25T20:03:01Z'));
    const r3 = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:03:30Z') });
    expect(r3.stateExportKey).toBeUndefined();
    expect(r3.published.manifest.policy.allow).toEqual([mac(0)]);
  });

  it('a future-dated state export (bad watcher clock) is refused and reported, never combined', async () => {
    await upload(exportKey('dc1', at('2026-11-25T20:00:00Z')), exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T20:00:00.000Z' }), at('2026-11-25T20:00:01Z'));
    const good = stateExportKey('dc1', at('2026-11-25T20:01:00Z'));
    await upload(good, state([2], '2026-11-25T20:01:00.000Z'), at('2026-11-25T20:01:01Z'));
    const bad = stateExportKey('dc1', at('2099-01-01T00:00:00Z'));
    await upload(bad, state([4], '2099-01-01T00:00:00.000Z'), at('2026-11-25T20:01:30Z'));
    const r = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:02:00Z') });
    expect(r.stateExportKey).toBe(good);
    expect(r.published.manifest.policy.allow).toEqual([mac(2)]);
    expect(r.refusedExports).toEqual([expect.objectContaining({ key: bad, kind: 'future', createdAt: '2099-01-01T00:00:00.000Z' })]);
  });

  it('the newest state export unreadable: the compute fails naming it, nothing is published', async () => {
    await upload(exportKey('dc1', at('2026-11-25T20:00:00Z')), exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T20:00:00.000Z' }), at('2026-11-25T20:00:01Z'));
    const broken = stateExportKey('dc1', at('2026-11-25T20:01:00Z'));
    await upload(broken, { ...state([2], '2026-11-25T20:01:00.000Z'), nodes: [{ uuid: nodeUuid(2), provisionState: 'active', inspectInterface: 'agent' }] }, at('2026-11-25T20:01:01Z'));
    await expect(computeSite({ store, site: 'dc1', now: at('2026-11-25T20:02:00Z') })).rejects.toThrow(new RegExp(`${broken}.nodes\\[0\\]\\.provisionState`));
    expect(await store.getObject('manifests/dc1/manifest.json')).toBeUndefined();
  });

  it('a state export of another site under this prefix is refused', async () => {
    await upload(exportKey('dc1', at('2026-11-25T20:00:00Z')), exportBundle('dc1', { macs: 5, createdAt: '2026-11-25T20:00:00.000Z' }), at('2026-11-25T20:00:01Z'));
    await upload(stateExportKey('dc1', at('2026-11-25T20:01:00Z')), { ...state([2], '2026-11-25T20:01:00.000Z'), site: 'dc2' }, at('2026-11-25T20:01:01Z'));
    await expect(newestInputs(store, 'dc1', at('2026-11-25T20:02:00Z'))).rejects.toThrow(/\.site.*is not the site "dc1"/);
  });
});
