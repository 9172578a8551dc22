/**
 * The manifest read straight from its bytes when they are in the one form the publisher writes (serializeManifest:
 * fixed key order, no whitespace, a trailing newline) — every manifest `compute` and `publish` write is. Loads no
 * zod, reads the MAC lists in one pass over the bytes (each entry's form checked and its 48-bit value taken; the
 * strings are made only when the lists are first read: a sharded first fill never reads them,
 * core/shard-fill.ts), and hashes the policy's own bytes for its digest instead of re-serialising 100k MACs.
 * Anything else — another layout of the same JSON, or a manifest that is invalid in any way — gives undefined,
 * and the caller takes the full path (core/manifest.ts parseManifestBytes: JSON.parse, then the zod schema, which
 * words the error).
 *
 * Why an accepted manifest is exactly what the full path returns: the head (everything before the policy) is
 * JSON.parse'd, checked field by field as ManifestSchema checks it, and must re-serialise to its own text; the
 * rest is checked byte by byte against the serialisation of the policy and digest. The whole text is then
 * serializeManifest of the manifest returned, whose JSON.parse is that manifest. What the schema checks of the
 * policy (verdicts, canonical MACs, sorted, unique, disjoint, digest) is checked on the bytes.
 * test/core/manifest-bytes.property.test.ts holds the two paths to the same answers.
 *
 * Read against the policy of a manifest read before (the daemon's applied one: `previous`), the lists are compared
 * with that policy's bytes, kept for it, instead of being read MAC by MAC: a run of entries byte-for-byte equal to
 * the previous list's is already known canonical and ordered, and its strings and values are the previous ones.
 * Only the entries that differ are read (with the same checks), so a poll that changes 100 MACs of 100k reads about
 * a hundred entries and makes a hundred strings, and records what changed for the daemon's diff
 * (core/canonical-policy.ts recordChanges). The result is the same manifest, and the same undefined, as without it
 * (test/core/manifest-bytes-incremental.property.test.ts).
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { MANIFEST_SCHEMA, freezeCanonical, recordChanges, sha256 } from './canonical-policy.ts';
import { indexOfValue } from './sorted-values.ts';
import { HEX_DIGIT } from './mac-sort.ts';
import type { Mac } from './mac.ts';
import type { Manifest } from './manifest.ts';
import type { Policy, Verdict } from './policy.ts';
import { SITE_NAME_PATTERN } from './site-name.ts';

export { MANIFEST_SCHEMA };
/** A manifest of 1M MACs is ~25 MB; anything past this is junk, refused before parsing. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
/**
 * zod's `z.iso.datetime()` pattern (no offset, any precision, `Z` only), written out because the schema is not
 * loaded here; test/core/manifest-bytes.property.test.ts checks it is the schema's own.
 */
export const ISO_DATETIME =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z))$/;

const UTF8 = new TextDecoder('utf-8');

/**
 * What the reader keeps of a policy it returned, for reading the next manifest against it: the manifest's bytes
 * (the caller's own, not a copy: a 2.6 MB copy costs more than the read it saves, in fresh pages — so bytes given
 * to this reader must not be modified afterwards, as no store or caller here does), and where each list's entries
 * start in them, with their values and strings.
 */
interface KeptPolicy {
  bytes: Buffer;
  allow: KeptList;
  deny: KeptList;
}
interface KeptList {
  /** Offset in `bytes` of the list's first entry (just after its `[`). */
  start: number;
  values: Float64Array;
  /** A getter for a list read afresh: its strings are made when first asked for (see lazyList). */
  readonly macs: readonly Mac[];
  /**
   * Plain arrays whose concatenation is `macs` (the pieces it was joined from; never modified), so the next read
   * takes whole pieces and slices plain arrays only where something changed; undefined once too fragmented (then
   * a plain copy of `macs` is sliced).
   */
  readonly parts: readonly Mac[][] | undefined;
}
const KEPT = new WeakMap<Policy, KeptPolicy>();

/**
 * The manifest whose canonical serialisation is `bytes`, or undefined (also for bytes over the limit or not UTF-8:
 * the full path says why). `previous`: a policy this reader returned before; the bytes are then read against it
 * (see above). The answer is the same with or without it. The bytes are kept with the policy returned (KEPT).
 */
export function readCanonicalManifest(bytes: Uint8Array, previous?: Policy): Manifest | undefined {
  if (bytes.byteLength > MAX_MANIFEST_BYTES || !isUtf8(bytes)) return undefined;
  const kept = previous && KEPT.get(previous);
  return readBytes(bytes, previous && kept ? { policy: previous, kept } : undefined);
}

const POLICY_KEY = ',"policy":';
const HEAD_END = `${POLICY_KEY}{"unknownHosts":"`;
const HEAD_END_BYTES = Buffer.from(HEAD_END);
type Head = Omit<Manifest, 'policy' | 'policyDigest'>;

/**
 * The checks, in order, on the bytes: the head (the only part decoded to text) by canonicalHead, then the policy
 * byte by byte. Past the head every accepted byte is ASCII, so a byte offset there is a character offset of the
 * text shifted by the head's multi-byte characters (and a BOM the decoder drops). The lists are read afresh
 * (readList: values only, strings on demand) or against `against`'s (readListAgainst). Until the last check
 * passes nothing is returned.
 */
function readBytes(bytes: Uint8Array, against: { policy: Policy; kept: KeptPolicy } | undefined): Manifest | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The first occurrence in the bytes is the text's first one: UTF-8 never has an ASCII byte inside a character.
  const cut = buf.indexOf(HEAD_END_BYTES);
  if (cut < 0) return undefined;
  const headText = UTF8.decode(bytes.subarray(0, cut)); // a leading BOM is dropped, as JSON text decoding does
  const head = canonicalHead(headText, headText.length);
  if (!head) return undefined;
  const policyStart = cut + POLICY_KEY.length;
  let at = policyStart;
  const take = (literal: string): boolean => {
    for (let i = 0; i < literal.length; i++) if (buf[at + i] !== literal.charCodeAt(i)) return false;
    at += literal.length;
    return true;
  };
  const verdict = (): Verdict | undefined => (take('allow') ? 'allow' : take('deny') ? 'deny' : undefined);
  if (!take('{"unknownHosts":"')) return undefined;
  const unknownHosts = verdict();
  if (!unknownHosts || !take('","removed":"')) return undefined;
  const removed = verdict();
  if (!removed || !take('","allow":[')) return undefined;
  const allowAt = at;
  const allow = against ? readListAgainst(buf, at, against.kept.bytes, against.kept.allow, against.kept.deny) : readList(buf, at);
  if (!allow) return undefined;
  at = allow.end;
  if (!take(',"deny":[')) return undefined;
  const denyAt = at;
  const deny = against ? readListAgainst(buf, at, against.kept.bytes, against.kept.deny, against.kept.allow) : readList(buf, at);
  if (!deny) return undefined;
  at = deny.end;
  if (!take('}')) return undefined;
  const policyEnd = at;
  if (!take(',"policyDigest":"')) return undefined;
  const policyDigest = buf.toString('latin1', at, Math.min(at + 64, buf.length));
  at += 64;
  if (!SHA256_HEX.test(policyDigest) || !take('"}\n') || at !== buf.length) return undefined;
  if (!against) {
    if (!disjoint(allow.values, deny.values) || sha256(bytes.subarray(policyStart, policyEnd)) !== policyDigest) return undefined;
    const allowList = lazyList(buf, allowAt, allow.values);
    const denyList = lazyList(buf, denyAt, deny.values);
    const policy = freezeCanonical(lazyPolicy(unknownHosts, removed, allowList, denyList));
    KEPT.set(policy, { bytes: buf, allow: allowList, deny: denyList });
    return { ...head, policy, policyDigest };
  }
  const [a, d] = [allow as ListRead, deny as ListRead];
  // The previous lists were disjoint, so only an entry new to its list can be in the other one.
  if (!addedDisjoint(a.added, d.values) || !addedDisjoint(d.added, a.values)) return undefined;
  if (sha256(bytes.subarray(policyStart, policyEnd)) !== policyDigest) return undefined;
  const policy = freezeCanonical({ unknownHosts, removed, allow: a.macs, deny: d.macs });
  KEPT.set(policy, {
    bytes: buf,
    allow: { start: allowAt, values: a.values, macs: policy.allow, parts: a.parts },
    deny: { start: denyAt, values: d.values, macs: policy.deny, parts: d.parts },
  });
  recordChanges(against.policy, policy, { newAllow: a.added.macs, goneAllow: a.gone, newDeny: d.added.macs, goneDeny: d.gone });
  return { ...head, policy, policyDigest };
}

/**
 * A list read afresh, whose strings are made when first asked for: one JSON.parse of its text (a `agent once`
 * in the sharded layout writes its files from the bytes and never asks: core/shard-fill.ts). The array is frozen
 * as freezeCanonical freezes lists; a plain copy taken before is the one piece the next read slices.
 */
function lazyList(buf: Buffer, start: number, values: Float64Array): KeptList {
  let macs: readonly Mac[] | undefined;
  let parts: readonly Mac[][] | undefined;
  const make = () => {
    const list = values.length === 0 ? [] : (JSON.parse(buf.toString('latin1', start - 1, start + values.length * ENTRY)) as Mac[]);
    parts = list.length > 0 ? [list.slice()] : [];
    return (macs = Object.freeze(list));
  };
  return {
    start,
    values,
    get macs() {
      return macs ?? make();
    },
    get parts() {
      if (!macs) make();
      return parts;
    },
  };
}

/** A policy whose lists are `allow`'s and `deny`'s (enumerable getters in the order the schema's object has). */
function lazyPolicy(unknownHosts: Verdict, removed: Verdict, allow: KeptList, deny: KeptList): Policy {
  const policy = { unknownHosts, removed } as Policy;
  Object.defineProperty(policy, 'allow', { enumerable: true, get: () => allow.macs });
  Object.defineProperty(policy, 'deny', { enumerable: true, get: () => deny.macs });
  return policy;
}

/**
 * What the sharded first fill reads instead of the lists' strings: the bytes of a manifest this reader returned
 * the policy of, where each list's entries start in them, and their values (ascending). Undefined for any other
 * policy. The bytes are the caller's (see KeptPolicy): read, never modified.
 */
export function policyListBytes(policy: Policy): { bytes: Uint8Array; allow: { start: number; values: Float64Array }; deny: { start: number; values: Float64Array } } | undefined {
  const kept = KEPT.get(policy);
  return kept && { bytes: kept.bytes, allow: { start: kept.allow.start, values: kept.allow.values }, deny: { start: kept.deny.start, values: kept.deny.values } };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The fields before the policy (`text` up to `cut`), checked as ManifestSchema checks them, when that text is
 * their canonical serialisation: exactly these keys in this order, each once, written as JSON.stringify writes
 * them (a duplicated, extra or reordered key, whitespace or another escape makes the texts differ).
 */
function canonicalHead(text: string, cut: number): Head | undefined {
  const json = `${text.slice(0, cut)}}`;
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  const { schema, site, generation, createdAt, source } = doc;
  if (schema !== MANIFEST_SCHEMA || typeof site !== 'string' || !SITE_NAME_PATTERN.test(site)) return undefined;
  // z.number().int().min(1): a safe integer from 1.
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 1) return undefined;
  if (typeof createdAt !== 'string' || !ISO_DATETIME.test(createdAt)) return undefined;
  if (!isRecord(source) || !Array.isArray(source['inputs'])) return undefined;
  const inputs: Head['source']['inputs'] = [];
  for (const input of source['inputs'] as unknown[]) {
    if (!isRecord(input)) return undefined;
    const { key, sha256: digest } = input;
    // z.string().min(1).max(1024) counts UTF-16 code units, as .length does.
    if (typeof key !== 'string' || key.length < 1 || key.length > 1024 || typeof digest !== 'string' || !SHA256_HEX.test(digest)) return undefined;
    inputs.push({ key, sha256: digest });
  }
  const head: Head = { schema: MANIFEST_SCHEMA, site, generation, createdAt, source: { inputs } };
  return JSON.stringify(head) === json ? head : undefined;
}

/** Each entry of a list is `"` + a canonical MAC (17 characters) + `"` + its separator (`,`, or the closing `]`). */
const ENTRY = 20;

/**
 * The list whose entries start at `at` (just after its `[`): canonical MACs (six lower-case hex octets joined by
 * ":") in strictly ascending order, read entry by entry on the bytes (entryValue checks each entry's form and
 * gives its 48-bit value; for canonical MACs the order of the values is the order of the strings: fixed width,
 * `0-9` before `a-f`). Only the values are kept; the strings are lazyList's. Undefined when it is not such a list.
 */
function readList(buf: Buffer, at: number): { values: Float64Array; end: number } | undefined {
  if (buf[at] === CLOSE) return { values: new Float64Array(0), end: at + 1 };
  const most = new Float64Array(Math.floor((buf.length - at) / ENTRY));
  let count = 0;
  let last = -1;
  for (let p = at; ; p += ENTRY) {
    const value = entryValue(buf, p);
    if (!(value > last)) return undefined; // not an entry (-1), or out of order
    most[count++] = value;
    last = value;
    if (buf[p + ENTRY - 1] === CLOSE) return { values: most.slice(0, count), end: p + ENTRY };
  }
}

/**
 * Entries compared at once with the previous list's bytes (one native compare); entries read one by one before
 * comparing again once two comparisons in a row found the very first entry different.
 */
const BLOCK = 256;
const STEPS = 16;
const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE = 0x5d;

interface ListRead {
  values: Float64Array;
  macs: Mac[];
  parts: readonly Mac[][] | undefined;
  /** Just after the list's `]`. */
  end: number;
  /** The entries not in the previous list, and the previous list's entries not in this one (ascending). */
  added: { values: number[]; macs: Mac[] };
  gone: Mac[];
}

/**
 * The list whose entries start at `at` in `buf`, as readMacList accepts it (canonical MACs, strictly ascending,
 * `]`), read against the same list of the previous policy (`old`, its entries in `oldBuf`): while BLOCK entries
 * are byte-for-byte the previous ones they are taken as they are (they were checked when that list was read, and
 * they follow the entry before them in order, since the walk passed every previous entry up to it); otherwise entries are read one by one (entryValue) and
 * merged with the previous list's values, which tells the entries it kept, gained and lost. A gained MAC's string
 * is `other`'s (the previous policy's other list) when it was there, else a new one.
 */
function readListAgainst(buf: Buffer, at: number, oldBuf: Buffer, old: KeptList, other: KeptList): ListRead | undefined {
  const n = old.values.length;
  const added = { values: [] as number[], macs: [] as Mac[] };
  let gone: Mac[] = [];
  /** Pieces of the result in order: runs of the previous list's entries [from, to), or one gained entry. */
  const pieces: (readonly [number, number] | { value: number; mac: Mac })[] = [];
  let runFrom = -1;
  const endRun = (to: number) => {
    if (runFrom >= 0 && to > runFrom) pieces.push([runFrom, to]);
    runFrom = -1;
  };
  let p = at;
  let i = 0;
  let count = 0;
  let last = -1;
  /** Entries left to read one by one before blocks are compared again (where the lists differ densely). */
  let steps = 0;
  let misses = 0;
  /** Are the next `entries` entries at `p` byte-for-byte the previous list's from entry `i`? */
  const same = (entries: number): boolean => {
    const q = old.start + i * ENTRY;
    const len = entries * ENTRY;
    return p + len <= buf.length && buf.compare(oldBuf, q, q + len, p, p + len) === 0;
  };
  let closed = buf[p] === CLOSE; // an empty list
  if (closed) p++;
  while (!closed) {
    if (steps === 0 && i < n) {
      // The longest run of equal entries within the next block: the block, or a binary search for its first
      // difference. The previous list's last entry ends in `]`, so a run that takes it ends this list too.
      const block = Math.min(BLOCK, n - i);
      let equal = block;
      if (!same(block)) {
        let differs = block;
        equal = 0;
        while (differs - equal > 1) {
          const mid = (equal + differs) >>> 1;
          if (same(mid)) equal = mid;
          else differs = mid;
        }
      }
      if (equal > 0) {
        // In order: every previous entry before `i` is at most `last`, so entry `i` is above it (the merge's invariant).
        if (runFrom < 0) runFrom = i;
        i += equal;
        count += equal;
        p += equal * ENTRY;
        last = old.values[i - 1]!;
        misses = 0;
        if (buf[p - 1] === CLOSE) break;
        if (equal === block) continue;
      } else if (++misses >= 2) steps = STEPS;
    }
    // One entry read: merged with the previous list's values (kept, gained, and the previous ones it passed: lost).
    const value = entryValue(buf, p);
    if (!(value > last)) return undefined; // not an entry (-1), or out of order
    while (i < n && old.values[i]! < value) {
      endRun(i);
      gone.push(old.macs[i]!);
      i++;
    }
    if (i < n && old.values[i] === value) {
      if (runFrom < 0) runFrom = i;
      i++;
    } else {
      endRun(i);
      const k = indexOfValue(other.values, value);
      const mac = k >= 0 ? other.macs[k]! : (buf.toString('latin1', p + 1, p + 18) as Mac);
      pieces.push({ value, mac });
      added.values.push(value);
      added.macs.push(mac);
    }
    count++;
    last = value;
    closed = buf[p + ENTRY - 1] === CLOSE;
    p += ENTRY;
    if (steps > 0) steps--;
  }
  endRun(i);
  if (i < n) gone = gone.concat(old.macs.slice(i));
  // An unchanged list is the previous one: both are frozen, so they may be shared.
  if (pieces.length === 1 && Array.isArray(pieces[0]) && count === n) return { values: old.values, macs: old.macs as Mac[], parts: old.parts, end: p, added, gone };
  const values = new Float64Array(count);
  // The pieces are joined by one native concat. A run of previous entries is the previous list's own pieces where
  // it covers them whole, and slices of them (plain arrays) where not; without pieces, slices of a plain copy of
  // the list: slice() of a frozen array goes element by element (several times slower than that copy).
  const oldParts = old.parts;
  let plain: Mac[] | undefined;
  let part = 0;
  let partStart = 0; // index in the previous list of oldParts[part]'s first entry
  const parts: Mac[][] = [];
  let k = 0;
  for (const piece of pieces) {
    if (Array.isArray(piece)) {
      const [from, to] = piece as readonly [number, number];
      values.set(old.values.subarray(from, to), k);
      k += to - from;
      if (!oldParts) {
        parts.push((plain ??= Array.from(old.macs)).slice(from, to));
        continue;
      }
      while (partStart + oldParts[part]!.length <= from) partStart += oldParts[part++]!.length;
      for (let at = from; at < to; ) {
        const whole = oldParts[part]!;
        const a = at - partStart;
        const b = Math.min(to - partStart, whole.length);
        parts.push(a === 0 && b === whole.length ? whole : whole.slice(a, b));
        at = partStart + b;
        if (b === whole.length) {
          partStart += whole.length;
          part++;
        }
      }
    } else {
      const { value, mac } = piece as { value: number; mac: Mac };
      values[k++] = value;
      parts.push([mac]);
    }
  }
  return { values, macs: concatAll(parts), parts: parts.length <= MAX_PARTS ? parts : undefined, end: p, added, gone };
}

/** Pieces kept per list at most: each poll splits them where MACs changed; past this, the next read starts afresh. */
const MAX_PARTS = 4096;

/**
 * The value of the entry at `p` — `"` + a canonical MAC + `"` + `,` or `]` — or -1 when it is not one (the same
 * form readList and readListAgainst accept; for a canonical MAC its 48-bit value).
 */
function entryValue(buf: Buffer, p: number): number {
  if (p + ENTRY > buf.length || buf[p] !== QUOTE || buf[p + 18] !== QUOTE) return -1;
  const separator = buf[p + 19];
  if (separator !== COMMA && separator !== CLOSE) return -1;
  // Each octet: two hex digits (HEX_DIGIT: their value, or -1), then ':' (none after the last). Three octets per
  // 24-bit half; value = hi * 2^24 + lo (exact: below 2^53).
  let hi = 0;
  let lo = 0;
  for (let q = p + 1, octet = 0; octet < 6; octet++, q += 3) {
    const a = HEX_DIGIT[buf[q]!]!;
    const b = HEX_DIGIT[buf[q + 1]!]!;
    if ((a | b) < 0 || (octet < 5 && buf[q + 2] !== COLON)) return -1;
    if (octet < 3) hi = (hi << 8) | (a << 4) | b;
    else lo = (lo << 8) | (a << 4) | b;
  }
  return hi * 0x1000000 + lo;
}

const COLON = 0x3a;

/** None of `added` is in ascending `values`. */
function addedDisjoint(added: { values: number[] }, values: Float64Array): boolean {
  for (const v of added.values) if (indexOfValue(values, v) >= 0) return false;
  return true;
}

/** The arrays as one: native concatenation, a bounded number of arguments per call. */
function concatAll(parts: readonly Mac[][]): Mac[] {
  const GROUP = 4096;
  if (parts.length <= GROUP) return ([] as Mac[]).concat(...parts);
  const groups: Mac[][] = [];
  for (let g = 0; g < parts.length; g += GROUP) groups.push(([] as Mac[]).concat(...parts.slice(g, g + GROUP)));
  return concatAll(groups);
}

/** Two strictly ascending lists share no value: one merge walk. */
function disjoint(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i] === b[j]) return false;
    if (a[i]! < b[j]!) i++;
    else j++;
  }
  return true;
}
