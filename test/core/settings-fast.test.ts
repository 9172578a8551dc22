import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSiteName, siteSettingsFast } from '../../core/settings-fast.ts';
import { SiteNameSchema, SiteSettingsSchema } from '../../core/settings.ts';

const anything = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.string({ maxLength: 4 }), fc.double(), fc.integer(), fc.constant({}), fc.constant([]));
const share = fc.oneof(fc.double({ min: -0.5, max: 1.5 }), fc.constantFrom(0, -0, 1, 0.5, Number.NaN, Infinity, -Infinity), anything);
const count = fc.oneof(fc.integer({ min: -3, max: 100 }), fc.constantFrom(0.5, 2 ** 53, Number.MAX_SAFE_INTEGER, Infinity, Number.NaN), anything);
const interfaces = fc.oneof(fc.array(fc.oneof(fc.constantFrom('agent', 'redfish', ''), fc.string({ maxLength: 3 })), { maxLength: 3 }), anything);
const guard = fc.oneof(fc.record({ maxChangeShare: share, minChangesToGuard: count, extra: anything }, { requiredKeys: [] }), anything);
/** What compute passes the schema, and objects around it: extra keys, wrong types, values left undefined. */
const settings = fc.oneof(
  fc.record(
    {
      source: fc.oneof(fc.constantFrom('ironic', 'inspector', 'Ironic', ''), anything),
      discovery: fc.oneof(fc.boolean(), anything),
      denyUnknownMacs: fc.oneof(fc.boolean(), anything),
      supportedInspectInterfaces: interfaces,
      guard,
      other: anything,
    },
    { requiredKeys: [] },
  ),
  anything,
);

describe('compute settings without zod agree with SiteSettingsSchema', () => {
  it('property: whatever the fast path accepts, the schema accepts with the same output', () => {
    fc.assert(
      fc.property(settings, (input) => {
        const fast = siteSettingsFast(input);
        const schema = SiteSettingsSchema.safeParse(input);
        if (fast !== undefined) expect(schema).toEqual({ success: true, data: fast });
      }),
      { numRuns: 5000 },
    );
  });

  it('property: every well-formed compute setting takes the fast path (zod is then not loaded)', () => {
    const good = fc.record(
      {
        source: fc.constantFrom('ironic' as const, 'inspector' as const),
        discovery: fc.boolean(),
        denyUnknownMacs: fc.boolean(),
        supportedInspectInterfaces: fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
        guard: fc.record({ maxChangeShare: fc.double({ min: 0, max: 1, noNaN: true }) }),
      },
      { requiredKeys: ['source', 'discovery', 'denyUnknownMacs'] },
    );
    fc.assert(
      fc.property(good, (input) => {
        expect(siteSettingsFast(input)).toEqual(SiteSettingsSchema.parse(input));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: site names, as SiteNameSchema', () => {
    const name = fc.oneof(fc.stringMatching(/^[a-z0-9-]{0,65}$/), fc.string({ maxLength: 8 }), fc.constantFrom('dc1', '-dc', 'DC1', 'a'.repeat(63), 'a'.repeat(64), 'dc1\n'), anything);
    fc.assert(
      fc.property(name, (site) => {
        expect(isSiteName(site)).toBe(SiteNameSchema.safeParse(site).success);
      }),
      { numRuns: 3000 },
    );
  });
});
