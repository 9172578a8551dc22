import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalDigest, sha256 } from '../../core/canonical-policy.ts';
import type { Mac } from '../../core/mac.ts';
import type { Policy } from '../../core/policy.ts';

describe('canonicalDigest (the policy JSON hashed slice by slice)', () => {
  it('property: the sha256 of JSON.stringify of the policy, whatever the strings hold (quotes, backslashes, control characters, lone surrogates)', () => {
    const element = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '","', '\u0000', '\ud800', '52:54:00:00:00:01'));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 5000 }), fc.array(element, { maxLength: 50 }), (allow, deny) => {
        const policy = { unknownHosts: 'deny', removed: 'allow', allow: allow as Mac[], deny: deny as Mac[] } as Policy;
        expect(canonicalDigest(policy)).toBe(sha256(JSON.stringify({ unknownHosts: 'deny', removed: 'allow', allow, deny })));
      }),
      { numRuns: 60 },
    );
  });
});
