import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ExportDocument, parseNodes, parseNodesWithSchema, parsePorts, parsePortsWithSchema } from '../../core/ironic-exports.ts';
import { nodesFast, portsFast } from '../../core/ironic-fast.ts';
import { INSPECTING_STATES, computePolicy } from '../../core/policy.ts';
import { inventoryOf, recordPortMacKeys } from '../../core/port-inventory.ts';

/** Either both paths give the same rows, or both throw the same message. */
function agree<T>(fast: () => T, schema: () => T) {
  let a: { ok: T } | { err: string };
  let b: { ok: T } | { err: string };
  try {
    a = { ok: fast() };
  } catch (e) {
    a = { err: (e as Error).message };
  }
  try {
    b = { ok: schema() };
  } catch (e) {
    b = { err: (e as Error).message };
  }
  expect(a).toEqual(b);
}

const value = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom('52:54:00:00:00:01', '52-54-00-AA-BB-CC', '5254.00aa.bbcc', 'zz:00:00:00:00:00', '', 'x'.repeat(256), 'node-1', 'inspect wait', 'agent'),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
);
const row = (keys: string[]) => fc.oneof(fc.dictionary(fc.constantFrom(...keys, 'extra'), value), value);

describe('export parsing fast path agrees with the zod schemas', () => {
  it('property: ports, API and CLI forms', () => {
    fc.assert(
      fc.property(fc.array(row(['address', 'node_uuid']), { maxLength: 6 }), fc.array(row(['Address', 'Node UUID']), { maxLength: 6 }), value, (api, cli, next) => {
        const docs: ExportDocument[] = [
          { label: 'api', body: next === undefined ? { ports: api } : { ports: api, next } },
          { label: 'cli', body: cli },
        ];
        for (const doc of docs) agree(() => parsePorts([doc]), () => parsePortsWithSchema(doc));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: nodes, API and CLI forms', () => {
    fc.assert(
      fc.property(
        fc.array(row(['uuid', 'name', 'provision_state', 'inspect_interface']), { maxLength: 6 }),
        fc.array(row(['UUID', 'Name', 'Provisioning State', 'Inspect Interface']), { maxLength: 6 }),
        (api, cli) => {
          for (const doc of [{ label: 'api', body: { nodes: api } }, { label: 'cli', body: cli }]) agree(() => parseNodes([doc]), () => parseNodesWithSchema(doc));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: nodesFast with a filter on the provision state gives the same nodes filtered, and refuses the same documents', () => {
    const keep = (state: string) => INSPECTING_STATES.has(state);
    const states = fc.constantFrom('inspect wait', 'inspecting', 'active', 'manageable');
    const goodRow = fc.record({ uuid: fc.constantFrom('n1', 'n2', 'n3'), provision_state: states, inspect_interface: fc.constantFrom('agent', null) });
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 8, arbitrary: goodRow }, { weight: 1, arbitrary: row(['uuid', 'name', 'provision_state', 'inspect_interface']) }), { maxLength: 8 }), (rows) => {
        for (const doc of [{ label: 'api', body: { nodes: rows } }, { label: 'cli', body: rows.map((r) => (typeof r === 'object' && r !== null ? Object.fromEntries(Object.entries(r).map(([k, v]) => [{ uuid: 'UUID', name: 'Name', provision_state: 'Provisioning State', inspect_interface: 'Inspect Interface' }[k] ?? k, v])) : r)) }]) {
          const all = nodesFast(doc);
          expect(nodesFast(doc, keep)).toEqual(all?.filter((n) => keep(n.provisionState)));
        }
      }),
      { numRuns: 1000 },
    );
    // Not vacuous: some of them are kept, some left out.
    const doc = { label: 'api', body: { nodes: [{ uuid: 'a', provision_state: 'inspect wait', inspect_interface: 'agent' }, { uuid: 'b', provision_state: 'active', inspect_interface: 'agent' }] } };
    expect(nodesFast(doc, keep)).toEqual([{ uuid: 'a', provisionState: 'inspect wait', inspectInterface: 'agent' }]);
  });

  it('property: the MAC values the ports\' fast path reads while checking them give the inventory and policy that reading the MACs afresh gives', () => {
    const hex2 = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
    const octets = fc.tuple(fc.constantFrom('00', '52', 'ff', '01'), hex2, hex2, hex2, hex2, fc.constantFrom('00', '0a', 'ff'));
    // Canonical as Ironic gives them, and the other spellings tryParseMac converts (upper case, dashes, Cisco dots).
    const address = fc.tuple(octets, fc.constantFrom('canonical', 'upper', 'dashed', 'dotted')).map(([o, style]) =>
      style === 'canonical' ? o.join(':') : style === 'upper' ? o.join(':').toUpperCase() : style === 'dashed' ? o.join('-') : `${o[0]}${o[1]}.${o[2]}${o[3]}.${o[4]}${o[5]}`,
    );
    const rows = fc.array(fc.record({ address, node_uuid: fc.constantFrom('n1', 'n2', null) }), { maxLength: 60 });
    fc.assert(
      fc.property(rows, fc.subarray(['n1', 'n2']), (api, inspecting) => {
        const ports = portsFast({ label: 'p', body: { ports: api } })!;
        const afresh = ports.map((p) => ({ ...p })); // another array: nothing recorded for it
        const { values, sorted, rankOfPort } = inventoryOf(ports);
        expect({ values, sorted, rankOfPort }).toEqual((({ values: v, sorted: s, rankOfPort: r }) => ({ values: v, sorted: s, rankOfPort: r }))(inventoryOf(afresh)));
        const source = { kind: 'inspector' as const, introspections: inspecting.map((uuid) => ({ uuid, finished: false })) };
        expect(computePolicy({ ports, source, discovery: false, denyUnknownMacs: false })).toEqual(computePolicy({ ports: afresh, source, discovery: false, denyUnknownMacs: false }));
      }),
      { numRuns: 500 },
    );
    expect(() => recordPortMacKeys([], { hi: new Uint32Array(1), lo: new Uint32Array(1) })).toThrow(/one key per port/);
  });

  it('valid rows take the fast path and give canonical MACs', () => {
    const doc = { label: 'p', body: { ports: [{ address: '52-54-00-AA-BB-CC', node_uuid: 'n1', pxe_enabled: true }] } };
    expect(parsePorts([doc])).toEqual([{ mac: '52:54:00:aa:bb:cc', nodeUuid: 'n1' }]);
  });
});
