import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { isCanonicalMac, macFileName, macFromFileName, parseMac, tryParseMac } from '../../core/mac.ts';

const octets = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 });
const hex2 = (n: number) => n.toString(16).padStart(2, '0');

describe('MAC parsing', () => {
  it('accepts colon, dash and Cisco dotted forms in any case and emits lower-case colons', () => {
    expect(parseMac('52:54:00:AB:cd:EF')).toBe('52:54:00:ab:cd:ef');
    expect(parseMac('52-54-00-AB-CD-EF')).toBe('52:54:00:ab:cd:ef');
    expect(parseMac('5254.00AB.CDEF')).toBe('52:54:00:ab:cd:ef');
  });

  it.each([
    '', '52:54:00:ab:cd', '52:54:00:ab:cd:ef:01', '52:54:00-ab:cd:ef', '525400abcdef', '52:54:00:ab:cd:eg',
    '2:54:00:ab:cd:ef', ' 52:54:00:ab:cd:ef', '52:54:00:ab:cd:ef\n', '../../etc/passwd', '52:54:00:ab:cd:ef\0',
    '*:*:*:*:*:*', '5254.00ab.cdef.0000',
  ])('rejects %j with a message naming the value', (input) => {
    expect(() => parseMac(input, 'ports[0].address')).toThrow(InputError);
    expect(() => parseMac(input, 'ports[0].address')).toThrow(/^ports\[0\]\.address: not a MAC address/);
  });

  it('rejects non-strings', () => {
    expect(() => parseMac(42)).toThrow(/mac: not a MAC address \(expected a string\): 42/);
  });

  it('property: every formatting of six octets parses to the same canonical MAC', () => {
    fc.assert(
      fc.property(octets, fc.boolean(), (o, upper) => {
        const canon = o.map(hex2).join(':');
        const cased = (s: string) => (upper ? s.toUpperCase() : s);
        const forms = [o.map(hex2).join(':'), o.map(hex2).join('-'), [0, 2, 4].map((i) => hex2(o[i]!) + hex2(o[i + 1]!)).join('.')];
        for (const f of forms) expect(tryParseMac(cased(f))).toBe(canon);
        expect(isCanonicalMac(canon)).toBe(true);
      }),
    );
  });

  it('property: file names round-trip, and only canonical names are MACs', () => {
    fc.assert(
      fc.property(octets, (o) => {
        const mac = parseMac(o.map(hex2).join(':'));
        expect(macFileName(mac)).toBe(o.map(hex2).join('-'));
        expect(macFromFileName(macFileName(mac))).toEqual({ mac, style: 'dashed' });
        expect(macFromFileName(mac)).toEqual({ mac, style: 'colon' });
        expect(macFromFileName(macFileName(mac).toUpperCase().replace(/^(..)/, 'Z$1'))).toBeUndefined();
      }),
    );
  });

  it('property: arbitrary strings never parse unless they are six hex octets', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const mac = tryParseMac(s);
        if (mac !== undefined) expect(isCanonicalMac(mac)).toBe(true);
        if (!/^[0-9a-fA-F:.-]+$/.test(s)) expect(mac).toBeUndefined();
      }),
    );
  });
});
