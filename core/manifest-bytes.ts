/**
 * The manifest read straight from its bytes when they are in the one form the publisher writes (serializeManifest:
 * fixed key order, no whitespace, a trailing newline) — every manifest `compute` and `publish` write is. Loads no
 * zod, parses the MAC lists in one pass over the text (no JSON value per MAC before the MAC itself), and hashes
 * the policy's own bytes for its digest instead of re-serialising 100k MACs. Anything else — another layout of
 * the same JSON, or a manifest that is invalid in any way — gives undefined, and the caller takes the full path
 * (core/manifest.ts parseManifestBytes: JSON.parse, then the zod schema, which words the error).
 *
 * Why an accepted manifest is exactly what the full path returns: the head (everything before the policy) is
 * JSON.parse'd, checked field by field as ManifestSchema checks it, and must re-serialise to its own text; the
 * rest is checked character by character against the serialisation of the policy and digest. The whole text is
 * then serializeManifest of the manifest returned, whose JSON.parse is that manifest. What the schema checks of
 * the policy (verdicts, canonical MACs, sorted, unique, disjoint, digest) is checked on the text.
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
  macs: readonly Mac[];
  /**
   * Plain arrays whose concatenation is `macs` (the pieces it was joined from; never modified), so the next read
   * takes whole pieces and slices plain arrays only where something changed; undefined once too fragmented (then
   * a plain copy of `macs` is sliced).
   */
  parts: readonly Mac[][] | undefined;
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
  if (previous && kept) return readAgainst(bytes, previous, kept);
  return readCanonicalManifestText(UTF8.decode(bytes), bytes);
}

const POLICY_KEY = ',"policy":';
const HEAD_END = `${POLICY_KEY}{"unknownHosts":"`;
type Head = Omit<Manifest, 'policy' | 'policyDigest'>;

/** The manifest whose canonical serialisation is `text` (decoded from `bytes`), or undefined. */
function readCanonicalManifestText(text: string, bytes: Uint8Array): Manifest | undefined {
  const cut = text.indexOf(HEAD_END);
  if (cut < 0) return undefined;
  const head = canonicalHead(text, cut);
  if (!head) return undefined;
  const policyStart = cut + POLICY_KEY.length;
  let at = policyStart;
  const take = (literal: string): boolean => {
    if (!text.startsWith(literal, at)) return false;
    at += literal.length;
    return true;
  };
  const verdict = (): Verdict | undefined => (take('allow') ? 'allow' : take('deny') ? 'deny' : undefined);
  // From the policy on, every character is checked below to be one of the serialisation's, all ASCII (one byte
  // each), so their bytes are counted from the end (the head may hold multi-byte characters, or the BOM the decoder
  // dropped). Until the last check passes, a list may have been read at a wrong offset: then nothing is returned.
  const offset = bytes.byteLength - text.length;
  if (!take('{"unknownHosts":"')) return undefined;
  const unknownHosts = verdict();
  if (!unknownHosts || !take('","removed":"')) return undefined;
  const removed = verdict();
  if (!removed || !take('","allow":[')) return undefined;
  const allow = readMacList(text, at, bytes, offset);
  if (!allow) return undefined;
  at = allow.end;
  if (!take(',"deny":[')) return undefined;
  const deny = readMacList(text, at, bytes, offset);
  if (!deny) return undefined;
  at = deny.end;
  if (!take('}')) return undefined;
  const policyEnd = at;
  if (!take(',"policyDigest":"')) return undefined;
  const policyDigest = text.slice(at, at + 64);
  at += 64;
  if (!SHA256_HEX.test(policyDigest) || !take('"}\n') || at !== text.length) return undefined;
  if (!disjoint(allow.values, deny.values)) return undefined;
  if (sha256(bytes.subarray(offset + policyStart, offset + policyEnd)) !== policyDigest) return undefined;
  const allowMacs = JSON.parse(text.slice(allow.at - 1, allow.end)) as Mac[];
  const denyMacs = JSON.parse(text.slice(deny.at - 1, deny.end)) as Mac[];
  // Plain copies (taken before the freeze, while slice() is a block copy) are the pieces the next read slices.
  const parts = (macs: Mac[]) => (macs.length > 0 ? [macs.slice()] : []);
  const kept = { allow: parts(allowMacs), deny: parts(denyMacs) };
  const policy = freezeCanonical({ unknownHosts, removed, allow: allowMacs, deny: denyMacs });
  keep(policy, bytes, { start: offset + allow.at, values: allow.values, macs: allowMacs, parts: kept.allow }, { start: offset + deny.at, values: deny.values, macs: denyMacs, parts: kept.deny });
  return { ...head, policy, policyDigest };
}

function keep(policy: Policy, bytes: Uint8Array, allow: KeptList, deny: KeptList): void {
  KEPT.set(policy, { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), allow, deny });
}

const HEAD_END_BYTES = Buffer.from(HEAD_END);

/**
 * readCanonicalManifestText's checks, in the same order, on the bytes (no decoded text but the head's), with the
 * lists read against `previous`'s (readListAgainst). Past the head every accepted byte is ASCII, so byte offsets
 * here are the text path's indices shifted by the head's multi-byte characters, and each check sees the same thing.
 */
function readAgainst(bytes: Uint8Array, previous: Policy, kept: KeptPolicy): Manifest | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The first occurrence in the bytes is the text's first one: UTF-8 never has an ASCII byte inside a character.
  const cut = buf.indexOf(HEAD_END_BYTES);
  if (cut < 0) return undefined;
  const headText = UTF8.decode(bytes.subarray(0, cut)); // a leading BOM is dropped, as the text path's decode does
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
  const allow = readListAgainst(buf, at, kept.bytes, kept.allow, kept.deny);
  if (!allow) return undefined;
  at = allow.end;
  if (!take(',"deny":[')) return undefined;
  const denyAt = at;
  const deny = readListAgainst(buf, at, kept.bytes, kept.deny, kept.allow);
  if (!deny) return undefined;
  at = deny.end;
  if (!take('}')) return undefined;
  const policyEnd = at;
  if (!take(',"policyDigest":"')) return undefined;
  const policyDigest = buf.toString('latin1', at, Math.min(at + 64, buf.length));
  at += 64;
  if (!SHA256_HEX.test(policyDigest) || !take('"}\n') || at !== buf.length) return undefined;
  // The previous lists were disjoint, so only an entry new to its list can be in the other one.
  if (!addedDisjoint(allow.added, deny.values) || !addedDisjoint(deny.added, allow.values)) return undefined;
  if (sha256(bytes.subarray(policyStart, policyEnd)) !== policyDigest) return undefined;
  const policy = freezeCanonical({ unknownHosts, removed, allow: allow.macs, deny: deny.macs });
  keep(policy, bytes, { start: allowAt, values: allow.values, macs: policy.allow, parts: allow.parts }, { start: denyAt, values: deny.values, macs: policy.deny, parts: deny.parts });
  recordChanges(previous, policy, { newAllow: allow.added.macs, goneAllow: allow.gone, newDeny: deny.added.macs, goneDeny: deny.gone });
  return { ...head, policy, policyDigest };
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

const MAC = '[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}';
/** A list's elements after its `[`, up to its `]`: canonical MACs (six lower-case hex octets joined by ":"), or none. */
const MAC_LIST = new RegExp(`(?:"${MAC}",)*"${MAC}"\\]|\\]`, 'y');
/** Each element of such a list is `"` + 17 characters + `"` + its separator (`,` or the closing `]`). */
const ENTRY = 20;

/**
 * The list whose elements start at `at` (just after its `[`): canonical MACs in strictly ascending order. The form
 * is one regular-expression match over the text (no per-MAC call), the order is checked on the MACs' 48-bit values
 * read from the bytes (`byteAt` = the byte offset of text index 0 for this ASCII part), and the strings are
 * JSON.parse's. Undefined when it is not such a list. For canonical MACs the order of the values is the order of
 * the strings (fixed width, `0-9` before `a-f`).
 */
function readMacList(text: string, at: number, bytes: Uint8Array, byteAt: number): { at: number; values: Float64Array; end: number } | undefined {
  MAC_LIST.lastIndex = at;
  let matched: boolean;
  try {
    matched = MAC_LIST.test(text);
  } catch {
    return undefined; // a list too long for the engine's backtracking stack: the full path reads it
  }
  if (!matched) return undefined;
  const end = MAC_LIST.lastIndex;
  const count = (end - at) / ENTRY; // 0.05 for an empty list: no iteration below
  const values = new Float64Array(Math.floor(count));
  let previous = -1;
  for (let k = 0, b = byteAt + at + 1; k < values.length; k++, b += ENTRY) {
    let value = 0;
    for (let c = 0; c < 17; c++) {
      if (c % 3 === 2) continue;
      const code = bytes[b + c]!;
      value = value * 16 + (code <= 0x39 ? code - 0x30 : code - 0x57);
    }
    if (!(value > previous)) return undefined;
    values[k] = value;
    previous = value;
  }
  return { at, values, end };
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
 * form as MAC_LIST's elements; the value as readMacList computes it).
 */
function entryValue(buf: Buffer, p: number): number {
  if (p + ENTRY > buf.length || buf[p] !== QUOTE || buf[p + 18] !== QUOTE) return -1;
  const separator = buf[p + 19];
  if (separator !== COMMA && separator !== CLOSE) return -1;
  let value = 0;
  for (let c = 1; c < 18; c++) {
    const code = buf[p + c]!;
    if (c % 3 === 0) {
      if (code !== 0x3a) return -1;
    } else if (code >= 0x30 && code <= 0x39) value = value * 16 + (code - 0x30);
    else if (code >= 0x61 && code <= 0x66) value = value * 16 + (code - 0x57);
    else return -1;
  }
  return value;
}


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
