/** The policy table (docs/design.md §2) — the same decisions as ironic-inspector §1.2 and ironic §2.1. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.ts';
import { type Mac, isUnusableMac } from '../../core/mac.ts';
import { isCanonicalLists } from '../../core/manifest-build.ts';
import { assertConsistentSettings, computePolicy, inspectingNodes } from '../../core/policy.ts';

const m = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}` as Mac;
const inspector = (unfinished: string[], finished: string[] = []) => ({
  kind: 'inspector' as const,
  introspections: [...unfinished.map((uuid) => ({ uuid, finished: false })), ...finished.map((uuid) => ({ uuid, finished: true }))],
});

describe('computePolicy', () => {
  it('the full table: open/closed × inspected/other/unknown/removed, for every combination of the three switches', () => {
    for (const inspecting of [true, false])
      for (const discovery of [true, false])
        for (const denyUnknownMacs of [true, false]) {
          if (discovery && denyUnknownMacs) continue;
          const { policy } = computePolicy({
            ports: [{ mac: m(1), nodeUuid: 'a' }, { mac: m(2), nodeUuid: 'b' }],
            source: inspector(inspecting ? ['a'] : [], inspecting ? ['b'] : ['a', 'b']),
            discovery,
            denyUnknownMacs,
          });
          const open = (inspecting || discovery) && !denyUnknownMacs;
          expect(policy).toEqual({ unknownHosts: open ? 'allow' : 'deny', removed: open ? 'allow' : 'deny', allow: inspecting ? [m(1)] : [], deny: inspecting ? [m(2)] : [m(1), m(2)] });
        }
  });

  it('MACs no NIC can have (multicast incl. broadcast, all-zero) are denied while their node is inspected, and counted', () => {
    const odd = ['ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '01:00:5e:7f:ff:fa', '33:33:ff:00:00:01'] as Mac[];
    const { policy, stats } = computePolicy({
      ports: [...odd, m(1), m(1)].map((mac) => ({ mac, nodeUuid: 'a' })),
      source: inspector(['a']),
      discovery: false,
      denyUnknownMacs: false,
    });
    expect(policy.allow).toEqual([m(1)]);
    expect(policy.deny).toEqual([...odd].sort());
    expect(stats).toMatchObject({ unusableMacs: 4, unusableMacSamples: [...odd].sort() });
    // Locally administered unicast (02:…) is a real NIC's (VMs use it): allowed.
    expect(computePolicy({ ports: [{ mac: '02:00:00:00:00:01' as Mac, nodeUuid: 'a' }], source: inspector(['a']), discovery: false, denyUnknownMacs: false }).policy.allow).toEqual([
      '02:00:00:00:00:01',
    ]);
  });

  it('an inspecting node without ports still opens unknown hosts (it can only be found by its DHCP request)', () => {
    expect(computePolicy({ ports: [{ mac: m(1), nodeUuid: 'a' }], source: inspector(['portless']), discovery: false, denyUnknownMacs: false }).policy.unknownHosts).toBe('allow');
  });

  it('ironic source: only "inspect wait"/"inspecting" with a supported inspect interface count; a null interface never does', () => {
    const nodes = [
      { uuid: 'a', provisionState: 'inspect wait', inspectInterface: 'agent' },
      { uuid: 'b', provisionState: 'inspecting', inspectInterface: 'redfish' },
      { uuid: 'c', provisionState: 'inspecting', inspectInterface: null },
      { uuid: 'd', provisionState: 'inspect failed', inspectInterface: 'agent' },
    ];
    expect(inspectingNodes({ kind: 'ironic', nodes, supportedInspectInterfaces: ['agent'] })).toEqual(new Set(['a']));
    expect(inspectingNodes({ kind: 'ironic', nodes, supportedInspectInterfaces: ['agent', 'redfish'] })).toEqual(new Set(['a', 'b']));
  });

  it('discovery + denyUnknownMacs is a ConfigError', () => {
    expect(() => assertConsistentSettings({ discovery: true, denyUnknownMacs: true })).toThrow(ConfigError);
    expect(() => assertConsistentSettings({ discovery: true, denyUnknownMacs: false })).not.toThrow();
  });

  it('property: allow and deny are sorted, unique, disjoint, and cover exactly the port MACs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ mac: fc.integer({ min: 0, max: 40 }), node: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }) }), { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 5 }),
        (rows, active) => {
          const ports = rows.map((r) => ({ mac: m(r.mac), nodeUuid: r.node === null ? null : `n${r.node}` }));
          const { policy } = computePolicy({ ports, source: inspector(active.map((a) => `n${a}`)), discovery: false, denyUnknownMacs: false });
          const all = [...policy.allow, ...policy.deny];
          expect(new Set(all).size).toBe(all.length);
          expect(new Set(all)).toEqual(new Set(ports.map((p) => p.mac)));
          expect([...policy.allow].sort()).toEqual(policy.allow);
          expect([...policy.deny].sort()).toEqual(policy.deny);
          for (const mac of policy.allow) expect(ports.some((p) => p.mac === mac && p.nodeUuid !== null && active.map((a) => `n${a}`).includes(p.nodeUuid))).toBe(true);
        },
      ),
    );
  });

  it('property: at scale the same as a plain Set-and-sort computation (by MAC values, or by strings when one is not canonical), frozen as known canonical', () => {
    // Up to 3001 distinct MACs, duplicated at random; every 97th multicast (first octet 01: denied whatever its node).
    // With `oneUpper`, one of them is in upper case: not canonical, so the inventory sorts and compares strings.
    const hex2 = (n: number) => n.toString(16).padStart(2, '0');
    const macOf = (v: number) => [v % 97 === 0 ? 0x01 : 0x02, 0x54, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff, 0xab].map(hex2).join(':') as Mac;
    fc.assert(
      fc.property(
        fc.array(fc.record({ mac: fc.integer({ min: 0, max: 3000 }), node: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null }) }), { minLength: 1, maxLength: 2000 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 40 }),
        fc.boolean(),
        (rows, active, oneUpper) => {
          const ports = rows.map((r, i) => ({ mac: (oneUpper && i === 0 ? macOf(r.mac).toUpperCase() : macOf(r.mac)) as Mac, nodeUuid: r.node === null ? null : `n${r.node}` }));
          const on = new Set(active.map((a) => `n${a}`));
          const { policy, stats } = computePolicy({ ports, source: inspector([...on]), discovery: false, denyUnknownMacs: false });
          const allow = new Set(ports.filter((p) => p.nodeUuid !== null && on.has(p.nodeUuid) && !isUnusableMac(p.mac)).map((p) => p.mac));
          const all = new Set(ports.map((p) => p.mac));
          expect(policy.allow).toEqual([...allow].sort());
          expect(policy.deny).toEqual([...all].filter((m) => !allow.has(m)).sort());
          expect(stats.duplicatePorts).toBe(ports.length - all.size);
          expect(stats.unusableMacs).toBe([...all].filter(isUnusableMac).length);
          expect(Object.isFrozen(policy) && Object.isFrozen(policy.allow) && Object.isFrozen(policy.deny)).toBe(true);
          // The walk buildManifest now skips for it would pass (on copies: the policy itself is known, not walked).
          expect(isCanonicalLists({ allow: [...policy.allow], deny: [...policy.deny] })).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: a port is inspected exactly when its node is in the set, whatever the node strings (the tail filter only rules out non-members)', () => {
    // Node names from a tiny alphabet, short and long, so that non-members often share a member's last four characters.
    const nodeArb = fc.oneof(fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\u{1f600}'), maxLength: 7 }), fc.constantFrom('', 'x', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-100000000001'));
    fc.assert(
      fc.property(fc.array(fc.record({ mac: fc.integer({ min: 1, max: 60 }), node: fc.option(nodeArb, { nil: null }) }), { maxLength: 40 }), fc.array(nodeArb, { maxLength: 6 }), (rows, active) => {
        const ports = rows.map((r) => ({ mac: m(r.mac * 2), nodeUuid: r.node }));
        const on = new Set(active);
        const { policy } = computePolicy({ ports, source: inspector([...on]), discovery: false, denyUnknownMacs: false });
        expect(policy.allow).toEqual([...new Set(ports.filter((p) => p.nodeUuid !== null && on.has(p.nodeUuid)).map((p) => p.mac))].sort());
      }),
      { numRuns: 1000 },
    );
  });
});
