/**
 * The JSON text of a list of canonical MACs, written from the MACs' 48-bit values when the list's maker recorded
 * them (computePolicy does, for the lists it splits off the sorted inventory): no string of the list is read. The
 * MAC strings of a parsed export are scattered over the heap in port order, and JSON.stringify of the sorted list
 * visits them in another order, missing the cache on nearly every one; the values sit in one typed array, in order.
 * A list without recorded values is JSON.stringify'd. Either way the text is JSON.stringify(list)
 * (test/core/mac-list-json.test.ts).
 */
import type { Mac } from './mac.ts';

/** Frozen lists of canonical MACs and their values (`aa:bb:…` is 0xaabb…), in list order. */
const LIST_VALUES = new WeakMap<readonly Mac[], Float64Array>();

/**
 * Record the values of a list's MACs, which the list's maker computed from them. Only a frozen list: it can then
 * never come to hold other MACs than the values say.
 */
export function recordMacValues(list: readonly Mac[], values: Float64Array): void {
  if (!Object.isFrozen(list) || values.length !== list.length) throw new Error('recordMacValues: a frozen list and one value per MAC');
  LIST_VALUES.set(list, values);
}

/** The values recorded for this list, if any. */
export function recordedMacValues(list: readonly Mac[]): Float64Array | undefined {
  return LIST_VALUES.get(list);
}

const HALF = 0x1000000;
/** `"aa:bb:cc:dd:ee:ff",`: one entry, five 32-bit words. */
const ENTRY_WORDS = 5;
/** The tables below are little-endian words; a big-endian machine (s390x) JSON.stringifies. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The words of an entry, by the octets they hold: `"aa:` (A), `bb:c` (B and C's high digit), `c:dd` (C's low
 * digit and D), `:ee:` (E), `ff",` (F). Five stores per MAC, which matters more than it seems: this runs once per
 * process, mostly before the JIT has optimised it.
 */
let tables: { a: Uint32Array; bc: Uint32Array; cd: Uint32Array; e: Uint32Array; f: Uint32Array } | undefined;

function entryTables(): NonNullable<typeof tables> {
  const hex = (d: number) => (d < 10 ? 0x30 + d : 0x57 + d);
  const word = (b0: number, b1: number, b2: number, b3: number) => (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
  const t = { a: new Uint32Array(256), bc: new Uint32Array(4096), cd: new Uint32Array(4096), e: new Uint32Array(256), f: new Uint32Array(256) };
  for (let o = 0; o < 256; o++) {
    t.a[o] = word(0x22, hex(o >> 4), hex(o & 15), 0x3a);
    t.e[o] = word(0x3a, hex(o >> 4), hex(o & 15), 0x3a);
    t.f[o] = word(hex(o >> 4), hex(o & 15), 0x22, 0x2c);
    for (let d = 0; d < 16; d++) {
      t.bc[(o << 4) | d] = word(hex(o >> 4), hex(o & 15), 0x3a, hex(d));
      t.cd[(d << 8) | o] = word(hex(d), 0x3a, hex(o >> 4), hex(o & 15));
    }
  }
  return t;
}

const encoder = new TextEncoder();

/** The UTF-8 bytes of JSON.stringify(list): from the recorded values when there are some. */
export function macListJsonBytes(list: readonly Mac[]): Uint8Array {
  const values = LIST_VALUES.get(list);
  if (values === undefined || !LITTLE_ENDIAN || values.length === 0) return encoder.encode(JSON.stringify(list));
  const t = (tables ??= entryTables());
  // The entries from the second word on, so that the '[' fits in the first word's last byte.
  const words = new Uint32Array((values.length + 1) * ENTRY_WORDS);
  for (let k = 0, w = ENTRY_WORDS; k < values.length; k++, w += ENTRY_WORDS) {
    const value = values[k]!;
    const hi = (value / HALF) >>> 0;
    const lo = value - hi * HALF;
    words[w] = t.a[hi >>> 16]!;
    words[w + 1] = t.bc[(hi >>> 4) & 0xfff]!;
    words[w + 2] = t.cd[((hi & 0xf) << 8) | (lo >>> 16)]!;
    words[w + 3] = t.e[(lo >>> 8) & 0xff]!;
    words[w + 4] = t.f[lo & 0xff]!;
  }
  const bytes = new Uint8Array(words.buffer, ENTRY_WORDS * 4 - 1, values.length * ENTRY_WORDS * 4 + 1);
  bytes[0] = 0x5b; // [
  bytes[bytes.length - 1] = 0x5d; // ] over the last entry's comma
  return bytes;
}
