/** fast-check arbitraries shared by the hosts-directory property tests. */
import fc from 'fast-check';
import { type Mac, compareMacs } from '../../core/mac.ts';
import type { Policy, Verdict } from '../../core/policy.ts';

export const verdictArb = fc.constantFrom<Verdict>('allow', 'deny');

/** Canonical policies over MACs drawn from `macArb`: sorted, unique, disjoint lists, any wildcard/removed verdicts. */
export function policyArbitrary(macArb: fc.Arbitrary<Mac>): fc.Arbitrary<Policy> {
  return fc
    .record({ allow: fc.uniqueArray(macArb), deny: fc.uniqueArray(macArb), unknown: verdictArb, removed: verdictArb })
    .map(({ allow, deny, unknown, removed }) => {
      const a = new Set(allow);
      return { allow: [...a].sort(compareMacs), deny: deny.filter((x) => !a.has(x)).sort(compareMacs), unknownHosts: unknown, removed };
    });
}
