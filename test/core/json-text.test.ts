/**
 * The strict JSON reader shared by the CLI and the compute function: UTF-8 refusals give the byte offset, syntax
 * refusals the line and column; its syntax scanner agrees with JSON.parse on what is valid (property test).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJsonBytes, decodeUtf8Strict, findJsonSyntaxError, firstInvalidUtf8Offset, parseJsonText } from '../../core/json-text.ts';

const SEED = 20261202;

describe('strict JSON reader', () => {
  it('names the label, line and column of a syntax error, and shows the text there', () => {
    expect(() => parseJsonText('{\n  "ports": [\n    {"address": "x"},\n  ]\n}\n', 'ports.json')).toThrow(
      /^ports\.json: not valid JSON at line 4 column 3 \(unexpected "\]"\): /,
    );
    expect(() => parseJsonText('', 'empty.json')).toThrow(/^empty\.json: not valid JSON at line 1 column 1 \(unexpected end of input\)/);
    expect(() => parseJsonText('{"a": 1} {}', 'two.json')).toThrow(/line 1 column 10 \(unexpected "\{" after the end of the document\)/);
  });

  it('names the byte offset of the first byte that is not UTF-8', () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0xa9, 0xc3, 0x28, 0x22, 0x7d]); // {"a":"é\xc3("}
    expect(() => decodeJsonBytes(bytes, 'x.json')).toThrow('x.json: not valid UTF-8 at byte offset 8: "c3 28 22 7d"');
    // Overlong, surrogate and out-of-range forms are refused like TextDecoder's fatal mode does.
    for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0x80], [0xff]]) {
      expect(firstInvalidUtf8Offset(new Uint8Array([0x41, ...bad]))).toBe(1);
    }
  });

  it('property: decodeUtf8Strict gives exactly what a fatal TextDecoder gives (ASCII, UTF-8 with or without a BOM), and refuses what it refuses', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const ascii = fc.uint8Array({ max: 0x7f, maxLength: 64 });
    const utf8 = fc.string({ unit: 'binary', maxLength: 32 }).map((s) => new TextEncoder().encode(s));
    const withBom = utf8.map((b) => new Uint8Array([0xef, 0xbb, 0xbf, ...b]));
    fc.assert(
      fc.property(fc.oneof(ascii, utf8, withBom, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        let expected: string | undefined;
        try {
          expected = fatal.decode(bytes);
        } catch {
          expected = undefined;
        }
        if (expected === undefined) expect(() => decodeUtf8Strict(bytes, 'x')).toThrow('x: not valid UTF-8');
        else expect(decodeUtf8Strict(bytes, 'x')).toBe(expected);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    // A long ASCII document (an external string in Node) and a view into a larger buffer read the same.
    const doc = JSON.stringify({ ports: Array.from({ length: 40_000 }, (_, i) => ({ address: `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, i })) });
    const inside = new Uint8Array(doc.length + 8);
    inside.set(new TextEncoder().encode(doc), 4);
    expect(decodeUtf8Strict(inside.subarray(4, 4 + doc.length), 'x')).toBe(doc);
    expect(decodeJsonBytes(inside.subarray(4, 4 + doc.length), 'x')).toEqual(JSON.parse(doc));
  });

  it('property: the offset is where a fatal TextDecoder first fails (the prefix decodes, the prefix plus the rest does not)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const offset = firstInvalidUtf8Offset(bytes);
        const decodes = (b: Uint8Array) => {
          try {
            new TextDecoder('utf-8', { fatal: true }).decode(b);
            return true;
          } catch {
            return false;
          }
        };
        expect(decodes(bytes.subarray(0, offset))).toBe(true);
        expect(offset === bytes.length).toBe(decodes(bytes));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('property: the syntax scanner finds an error exactly when JSON.parse refuses (mutated JSON texts)', () => {
    const text = fc.oneof(
      fc.json(),
      fc.tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', ']', '}', '"', ':', '\\', '\n', 'x', '{', '[')).map(([j, at, ins]) => {
        const i = at % (j.length + 1);
        return j.slice(0, i) + ins + j.slice(i + (at % 2));
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        let ok = true;
        try {
          JSON.parse(t);
        } catch {
          ok = false;
        }
        expect(findJsonSyntaxError(t) === undefined).toBe(ok);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });

  it('nesting of any depth is read without recursion', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(findJsonSyntaxError(deep)).toBeUndefined();
    expect(findJsonSyntaxError(deep.slice(0, -1))).toEqual({ index: 199_999, reason: 'unexpected end of input' });
  });
});
