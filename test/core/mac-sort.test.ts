import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortMacStrings } from '../../core/mac-sort.ts';

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
/** Canonical MACs drawn from few values per octet, so lists have duplicates and shared prefixes. */
const octet = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0x0f, 0x10, 0x9f, 0xa0, 0xff));
const canonical = fc.array(octet, { minLength: 6, maxLength: 6 }).map((o) => o.map(hex2).join(':'));
/** Strings the radix path must refuse (the list then takes the default sort). */
const notCanonical = fc.oneof(
  fc.constantFrom('52:54:00:AB:cd:ef', '52-54-00-ab-cd-ef', '52:54:00:ab:cd', '52:54:00:ab:cd:ef0', '52:54:00:ab:cd:eg', '52:54:00:ab:cd:é0', ' 2:54:00:ab:cd:ef', '52;54:00:ab:cd:ef', ''),
  fc.string({ minLength: 17, maxLength: 17 }),
);
/** Long enough for the radix path (it starts at 512). */
const longList = (item: fc.Arbitrary<string>) => fc.array(item, { minLength: 512, maxLength: 3000 });

describe('sortMacStrings: same answer as the default sort', () => {
  it('property: lists of canonical MACs (radix path)', () => {
    fc.assert(
      fc.property(longList(canonical), (list) => {
        expect(sortMacStrings(list.slice())).toEqual(list.slice().sort());
      }),
      { numRuns: 200 },
    );
  });

  it('property: a non-canonical string anywhere in the list (default-sort fallback)', () => {
    fc.assert(
      fc.property(longList(canonical), notCanonical, fc.nat(), (list, odd, at) => {
        const mixed = [...list];
        mixed.splice(at % (mixed.length + 1), 0, odd);
        expect(sortMacStrings(mixed.slice())).toEqual(mixed.slice().sort());
      }),
      { numRuns: 200 },
    );
  });

  it('property: short lists of anything', () => {
    fc.assert(fc.property(fc.array(fc.oneof(canonical, notCanonical), { maxLength: 600 }), (list) => {
      expect(sortMacStrings(list.slice())).toEqual(list.slice().sort());
    }));
  });

  it('sorts in place and returns the list, over all six octets and one shared vendor prefix', () => {
    const n = 5000;
    const spread = Array.from({ length: n }, (_, i) => {
      const v = (i * 2654435761) % 2 ** 32; // a fixed scramble of i
      return ['52', hex2(i & 0xff), hex2(v >>> 24), hex2((v >>> 16) & 0xff), hex2((v >>> 8) & 0xff), hex2(v & 0xff)].join(':');
    });
    const expected = spread.slice().sort();
    const out = sortMacStrings(spread);
    expect(out).toBe(spread);
    expect(spread).toEqual(expected);
  });
});
