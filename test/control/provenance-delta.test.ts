/**
 * A provenance delta stands for exactly the full document the publisher would have written (issue 16: a warm
 * publish writes the nodes that changed, not one record per port). Random inventories (shared MACs, ports without
 * a node, unusable MACs, nodes inspecting without ports) and random sequences of state exports, through the
 * writer publishPolicy uses: each generation, resolved against the base it names, equals buildProvenance of the
 * same inputs.
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ParsedExport, parseExportBundle } from '../../core/export-bundle.ts';
import { type Manifest, nextManifest } from '../../core/manifest.ts';
import {
  PROVENANCE_DELTA_SCHEMA,
  type Provenance,
  buildProvenance,
  parseProvenanceBytes,
  provenanceDetails,
  resolveProvenanceDelta,
} from '../../core/provenance.ts';
import { type SiteSettings, SiteSettingsSchema } from '../../core/settings.ts';
import { buildStateExport, combineWithState } from '../../core/state-export.ts';
import { explainedPolicyFromExport } from '../../control/policy-from-export.ts';
import { provenanceWriter } from '../../control/provenance.ts';
import { EXPORT_SCHEMA } from '../../core/export-bundle.ts';
import { nodeUuid } from '../support/exports.ts';

const site = 'dc1';
const t0 = Date.UTC(2026, 11, 2, 10, 0);
const macOf = (n: number) => (n === 999 ? '01:00:5e:00:00:01' : `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`);

interface World {
  bundle: Record<string, unknown>;
  bytes: Uint8Array;
  full: ParsedExport & { createdAt: string };
}

function world(ports: { mac: number; node: number | null }[], nodes: number, inspecting: number[], interfaces: string[]): World {
  const bundle = {
    schema: EXPORT_SCHEMA,
    site,
    createdAt: new Date(t0).toISOString(),
    ports: [{ ports: ports.map((p, i) => ({ uuid: `port-${i}`, address: macOf(p.mac), node_uuid: p.node === null ? null : nodeUuid(p.node), pxe_enabled: true })) }],
    nodes: [
      {
        nodes: Array.from({ length: nodes }, (_, n) => ({
          uuid: nodeUuid(n),
          name: `node-${n}`,
          provision_state: inspecting.includes(n) ? 'inspecting' : n % 3 ? 'active' : 'manageable',
          inspect_interface: interfaces[n % interfaces.length],
        })),
      },
    ],
    introspection: [{ introspection: Array.from({ length: nodes }, (_, n) => ({ uuid: nodeUuid(n), finished: !inspecting.includes(n), state: inspecting.includes(n) ? 'waiting' : 'finished', error: n % 7 ? null : 'timeout' })) }],
  };
  const bytes = new TextEncoder().encode(JSON.stringify(bundle));
  return { bundle, bytes, full: parseExportBundle(bundle, 'export') };
}

/** What the publisher would write as a full document for these inputs. */
function expectedFull(w: World, parsed: ParsedExport, settings: SiteSettings, manifest: Manifest, state: { key: string; sha256: string; createdAt: string } | undefined): Provenance {
  const { explanation } = explainedPolicyFromExport(parsed, settings);
  return buildProvenance({
    manifest,
    export: { key: 'exports/dc1/full.json', sha256: 'f'.repeat(64) },
    ...(state ? { state } : {}),
    settings,
    explanation,
    details: provenanceDetails(w.bundle),
    effective: { ...(parsed.nodes ? { nodes: parsed.nodes } : {}), ...(parsed.introspections ? { introspections: parsed.introspections } : {}) },
  });
}

const roundTrip = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

describe('provenance deltas', () => {
  let scope: object;
  beforeEach(() => {
    scope = {};
  });

  it('resolve to the full document of the same inputs, for any inventory, either source and any sequence of state exports', () => {
    let deltas = 0;
    const nodes = 60;
    const port = fc.record({ mac: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(999)), node: fc.option(fc.integer({ min: 0, max: nodes + 5 }), { freq: 8 }) });
    const inspectingSet = fc.uniqueArray(fc.integer({ min: 0, max: nodes + 8 }), { maxLength: 4 });
    fc.assert(
      fc.property(fc.array(port, { minLength: 150, maxLength: 300 }), inspectingSet, fc.array(inspectingSet, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.constantFrom('ironic' as const, 'inspector' as const), (ports, initial, steps, discovery, source) => {
        scope = {};
        const w = world(ports, nodes, initial.filter((n) => n < nodes), ['agent', 'agent', 'redfish']);
        const settings = SiteSettingsSchema.parse({ source, supportedInspectInterfaces: ['agent'], discovery });
        const stored = new Map<string, Provenance>();
        let previous: Manifest | undefined;
        const exportRef = { key: 'exports/dc1/full.json', sha256: 'f'.repeat(64) };
        for (const [i, step] of [initial, ...steps].entries()) {
          // Step 0 is the full export itself; later steps are state exports combined with it.
          const at = new Date(t0 + (i + 1) * 1000);
          const stateExport = buildStateExport(
            site,
            { nodes: step.map((n) => ({ uuid: nodeUuid(n), provisionState: n % 2 ? 'inspect wait' : 'inspecting', inspectInterface: n % 5 ? 'agent' : 'redfish' })), introspection: step.map(nodeUuid) },
            at,
            exportRef.key,
          );
          const parsed = i === 0 ? w.full : combineWithState(w.full, stateExport);
          const state = i === 0 ? undefined : { key: `exports/dc1/state/${i}.json`, sha256: 'a'.repeat(64), createdAt: at.toISOString() };
          const { policy } = explainedPolicyFromExport(parsed, settings);
          const next = nextManifest(previous, { site, createdAt: at, inputs: [exportRef], policy });
          if (next.status === 'unchanged') continue;
          previous = next.manifest;
          const writer = provenanceWriter({ store: scope, site, bundleBytes: w.bytes, decodeBundle: () => w.bundle, parsed, settings, export: exportRef, ...(state ? { state } : {}) });
          const { bytes, form } = writer.render(next.manifest);
          const doc = parseProvenanceBytes(bytes, 'provenance');
          const versionId = `v${i}`;
          writer.stored(next.manifest, versionId);
          let resolved: Provenance;
          if (doc.schema === PROVENANCE_DELTA_SCHEMA) {
            expect(form).toBe('delta');
            deltas++;
            resolved = resolveProvenanceDelta(doc, stored.get(doc.base.versionId)!, 'provenance');
          } else {
            expect(form).toBe('full');
            resolved = doc;
            stored.set(versionId, doc);
          }
          expect(roundTrip(resolved)).toEqual(roundTrip(expectedFull(w, parsed, settings, next.manifest, state)));
        }
      }),
      { numRuns: 150, seed: 20261202 },
    );
    // The property is about deltas: most generations after the first must have been written as one.
    expect(deltas).toBeGreaterThan(150);
  });

  it('a delta names a base that holds another generation: refused with the object named', () => {
    const w = world(Array.from({ length: 20 }, (_, i) => ({ mac: i, node: i })), 20, [], ['agent']);
    const settings = SiteSettingsSchema.parse({ source: 'ironic', supportedInspectInterfaces: ['agent'] });
    const exportRef = { key: 'exports/dc1/full.json', sha256: 'f'.repeat(64) };
    const docs: Uint8Array[] = [];
    let previous: Manifest | undefined;
    for (const [i, inspecting] of [[], [1], []].entries()) {
      const parsed = i === 0 ? w.full : combineWithState(w.full, buildStateExport(site, { nodes: inspecting.map((n) => ({ uuid: nodeUuid(n), provisionState: 'inspecting' as const, inspectInterface: 'agent' })) }, new Date(t0 + i), null));
      const { policy } = explainedPolicyFromExport(parsed, settings);
      previous = nextManifest(previous, { site, createdAt: new Date(t0 + i * 1000), inputs: [exportRef], policy }).manifest;
      const writer = provenanceWriter({ store: scope, site, bundleBytes: w.bytes, decodeBundle: () => w.bundle, parsed, settings, export: exportRef });
      docs.push(writer.render(previous).bytes);
      writer.stored(previous, `v${i}`);
    }
    const [base, , delta] = docs.map((b) => parseProvenanceBytes(b!, 'p'));
    expect(base!.schema).not.toBe(PROVENANCE_DELTA_SCHEMA);
    expect(delta!.schema).toBe(PROVENANCE_DELTA_SCHEMA);
    const wrong = { ...(base as Provenance), generation: 7 };
    expect(() => resolveProvenanceDelta(delta as never, wrong, 'manifests/dc1/provenance.json@v2')).toThrow(
      /manifests\/dc1\/provenance\.json@v2\.base.*names an object version that holds generation 7/,
    );
  });

  it('a full document instead of a delta: when the base is a day old, when the delta would exceed 10 % of the MACs, and until a document was stored', () => {
    const w = world(Array.from({ length: 20 }, (_, i) => ({ mac: i, node: i })), 20, [], ['agent']);
    const settings = SiteSettingsSchema.parse({ source: 'ironic', supportedInspectInterfaces: ['agent'] });
    const exportRef = { key: 'exports/dc1/full.json', sha256: 'f'.repeat(64) };
    let previous: Manifest | undefined;
    const publish = (inspecting: number[], at: number, store = true) => {
      const parsed = combineWithState(w.full, buildStateExport(site, { nodes: inspecting.map((n) => ({ uuid: nodeUuid(n), provisionState: 'inspecting' as const, inspectInterface: 'agent' })) }, new Date(at), null));
      const { policy } = explainedPolicyFromExport(parsed, settings);
      previous = nextManifest(previous, { site, createdAt: new Date(at), inputs: [exportRef], policy }).manifest;
      const writer = provenanceWriter({ store: scope, site, bundleBytes: w.bytes, decodeBundle: () => w.bundle, parsed, settings, export: exportRef });
      const { form } = writer.render(previous);
      if (store) writer.stored(previous, `v${previous.generation}`);
      return form;
    };
    const hour = 3_600_000;
    expect(publish([], t0, false)).toBe('full');
    // Rendered but never stored (the put failed): not a base.
    expect(publish([1], t0 + 1000)).toBe('full');
    expect(publish([2], t0 + 2000)).toBe('delta');
    // Three nodes of twenty change: 15 % of the MACs.
    expect(publish([2, 3, 4, 5], t0 + 3000)).toBe('full');
    expect(publish([3, 4, 5], t0 + 23 * hour)).toBe('delta');
    expect(publish([4, 5], t0 + 3000 + 24 * hour)).toBe('full');
  });
});
