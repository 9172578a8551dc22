/** computePolicy's explanation (behind `{ explain: true }`) is a by-product of the same decisions, never a second opinion. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Mac } from '../../core/mac.ts';
import { computePolicy } from '../../core/policy.ts';

const macArb = fc.integer({ min: 0, max: 40 }).map((n) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}` as Mac);
const nodeArb = fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null });

describe('computePolicy with { explain: true }', () => {
  it('the same policy and stats, and per MAC: its verdict, its rule and every port (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ mac: macArb, nodeUuid: nodeArb }), { maxLength: 60 }),
        fc.subarray(['a', 'b', 'c', 'd', 'e']),
        fc.boolean(),
        fc.boolean(),
        (ports, inspecting, discovery, deny) => {
          const input = { ports, source: { kind: 'inspector' as const, introspections: inspecting.map((uuid) => ({ uuid, finished: false })) }, discovery, denyUnknownMacs: deny && !discovery };
          const plain = computePolicy(input);
          const explained = computePolicy(input, { explain: true });
          expect(explained.policy).toEqual(plain.policy);
          expect(explained.stats).toEqual(plain.stats);
          const { macs, unknownHosts } = explained.explanation;
          expect([...macs.keys()].sort()).toEqual([...plain.policy.allow, ...plain.policy.deny].sort());
          for (const mac of plain.policy.allow) expect(macs.get(mac)).toMatchObject({ verdict: 'allow', rule: 'port-of-inspecting-node' });
          for (const mac of plain.policy.deny) expect(macs.get(mac)).toMatchObject({ verdict: 'deny', rule: 'other-port' });
          for (const [mac, e] of macs) {
            expect(e.ports).toEqual(ports.filter((p) => p.mac === mac).map((p) => ({ nodeUuid: p.nodeUuid, rule: p.nodeUuid === null ? 'no-node' : inspecting.includes(p.nodeUuid) ? 'node-inspecting' : 'node-not-inspecting' })));
          }
          expect(unknownHosts.verdict).toBe(plain.policy.unknownHosts);
          expect(unknownHosts.open).toBe(plain.policy.unknownHosts === 'allow');
          expect(unknownHosts.nodesInspecting).toBe(plain.stats.nodesInspecting);
        },
      ),
    );
  });

  it('without the option nothing per port is built', () => {
    expect('explanation' in computePolicy({ ports: [{ mac: '52:54:00:00:00:01' as Mac, nodeUuid: 'a' }], source: { kind: 'inspector', introspections: [] }, discovery: false, denyUnknownMacs: false })).toBe(false);
  });
});
