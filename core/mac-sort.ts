/**
 * Sorting canonical MACs without comparing strings. `Array.prototype.sort()` compares strings code unit by code unit
 * through V8's generic comparator: ~40 ms for 100k shuffled MACs, a third of a `compute`'s own work. A canonical
 * MAC is fixed-width lower-case hex with ':' in fixed places, so its string order is the order of its 48-bit value
 * ('0'-'9' sort below 'a'-'f' in ASCII as they do in value): an LSD radix sort on that value gives the same order,
 * in a few linear passes over typed arrays. Equal values are equal strings, so stability does not even matter.
 * Anything that is not a canonical MAC sends the whole list to the default sort (test/core/mac-sort.test.ts checks
 * both give the same answer).
 */

/** Below this many the default sort is as fast, and allocates nothing. */
const RADIX_MIN = 512;
/** 12-bit digits: four passes over the 48 bits, counting tables that stay in L1. */
const DIGIT_BITS = 12;
const DIGITS = 1 << DIGIT_BITS;
const DIGIT_MASK = DIGITS - 1;

/**
 * Hex digit value of a lower-case hex character code or byte, -1 for anything else (upper case included: not
 * canonical). A code unit past 255 reads undefined: callers reading strings take `?? -1`.
 */
export const HEX_DIGIT: Readonly<Int8Array> = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) (HEX_DIGIT as Int8Array)[0x30 + c] = c;
for (let c = 0; c < 6; c++) (HEX_DIGIT as Int8Array)[0x61 + c] = 10 + c;

const COLON = 0x3a;

/**
 * Read a canonical MAC (`aa:bb:cc:dd:ee:ff`, lower case: the same test as isCanonicalMac, done while reading the
 * digits) into `hi[i]` and `lo[i]`, its 48-bit value as two 24-bit halves. False, writing nothing, for anything else.
 */
export function readMacKey(s: string, hi: Uint32Array, lo: Uint32Array, i: number): boolean {
  if (s.length !== 17) return false;
  let h = 0;
  let l = 0;
  for (let at = 0; at < 17; at += 3) {
    const a = HEX_DIGIT[s.charCodeAt(at)] ?? -1;
    const b = HEX_DIGIT[s.charCodeAt(at + 1)] ?? -1;
    if (a < 0 || b < 0 || (at < 15 && s.charCodeAt(at + 2) !== COLON)) return false;
    if (at < 9) h = (h << 8) | (a << 4) | b;
    else l = (l << 8) | (a << 4) | b;
  }
  hi[i] = h;
  lo[i] = l;
  return true;
}

/** The 48-bit value of each MAC as two 24-bit halves, or undefined when one of them is not canonical. */
function macKeys(list: readonly string[]): MacKeys | undefined {
  const n = list.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const s = list[i]!;
    if (typeof s !== 'string' || !readMacKey(s, hi, lo, i)) return undefined;
  }
  return { hi, lo };
}

/** MACs' 48-bit values as two 24-bit halves, by index. */
export interface MacKeys {
  hi: Uint32Array;
  lo: Uint32Array;
}


/**
 * One stable counting pass: `from` reordered by the 12-bit digit of `key` at `shift`, into `to`, given that digit's
 * counts (turned into start positions here).
 */
function radixPass(from: Uint32Array, to: Uint32Array, key: Uint32Array, shift: number, counts: Uint32Array): void {
  let sum = 0;
  for (let d = 0; d < DIGITS; d++) {
    const c = counts[d]!;
    counts[d] = sum;
    sum += c;
  }
  for (let i = 0; i < from.length; i++) {
    const index = from[i]!;
    to[counts[(key[index]! >>> shift) & DIGIT_MASK]!++] = index;
  }
}

/**
 * The counts of all four digits in one pass over the keys (the order does not change them): a pass whose digit all
 * keys share (e.g. one vendor prefix) would move nothing and is skipped, and the others need no counting pass of
 * their own.
 */
function digitCounts(keys: MacKeys): Uint32Array[] {
  const counts = [new Uint32Array(DIGITS), new Uint32Array(DIGITS), new Uint32Array(DIGITS), new Uint32Array(DIGITS)] as const;
  const [lo0, lo1, hi0, hi1] = counts;
  const { hi, lo } = keys;
  for (let i = 0; i < hi.length; i++) {
    const l = lo[i]!;
    const h = hi[i]!;
    lo0[l & DIGIT_MASK]!++;
    lo1[l >>> DIGIT_BITS]!++;
    hi0[h & DIGIT_MASK]!++;
    hi1[h >>> DIGIT_BITS]!++;
  }
  return [...counts];
}

/** Canonical MACs' 48-bit values (two 24-bit halves, by index) and the indices in ascending order of value. */
export interface MacOrder {
  hi: Uint32Array;
  lo: Uint32Array;
  order: Uint32Array;
}

/**
 * The ascending order of `list` as a permutation of its indices, with each MAC's value: what a sort of the strings
 * gives, without moving or comparing them (core/port-inventory.ts dedupes and classifies on the values, which sit in
 * two typed arrays, instead of reading 100k strings scattered over the heap again). Undefined when one of them is
 * not a canonical MAC.
 */
export function macOrder(list: readonly string[], known?: MacKeys): MacOrder | undefined {
  // Keys a caller read while checking the MACs (the ports' fast path) are theirs to get right (test/core/exports-fast-path.test.ts).
  const keys = known ?? macKeys(list);
  if (!keys) return undefined;
  const n = list.length;
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 2) return { ...keys, order };
  let spare = new Uint32Array(n);
  const counts = digitCounts(keys);
  // Least significant digit first: lo's two digits, then hi's.
  const passes = [[keys.lo, 0], [keys.lo, DIGIT_BITS], [keys.hi, 0], [keys.hi, DIGIT_BITS]] as const;
  for (let p = 0; p < passes.length; p++) {
    const [key, shift] = passes[p]!;
    if (counts[p]![(key[0]! >>> shift) & DIGIT_MASK] === n) continue; // all keys share this digit
    radixPass(order, spare, key, shift, counts[p]!);
    [order, spare] = [spare, order];
  }
  return { ...keys, order };
}

/**
 * Sort in place, in the order of `Array.prototype.sort()` (UTF-16 code units). Canonical MACs take the radix path;
 * a list with anything else in it takes the default sort whole.
 */
export function sortMacStrings<T extends string>(list: T[]): T[] {
  if (list.length < RADIX_MIN) return list.sort();
  const sorted = macOrder(list);
  if (!sorted) return list.sort();
  const original = list.slice();
  for (let i = 0; i < list.length; i++) list[i] = original[sorted.order[i]!]!;
  return list;
}
