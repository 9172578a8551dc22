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
 */
import { isUtf8 } from 'node:buffer';
import { freezeCanonical, sha256 } from './canonical-policy.ts';
import type { Mac } from './mac.ts';
import type { Manifest } from './manifest.ts';
import type { Verdict } from './policy.ts';
import { SITE_NAME_PATTERN } from './site-name.ts';

export const MANIFEST_SCHEMA = 'pxe-filter/manifest@1';
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

/** readCanonicalManifestText of bytes: undefined also for bytes over the limit or not UTF-8 (the full path says why). */
export function readCanonicalManifest(bytes: Uint8Array): Manifest | undefined {
  if (bytes.byteLength > MAX_MANIFEST_BYTES || !isUtf8(bytes)) return undefined;
  return readCanonicalManifestText(UTF8.decode(bytes), bytes);
}

const POLICY_KEY = ',"policy":';
const HEAD_END = `${POLICY_KEY}{"unknownHosts":"`;
type Head = Omit<Manifest, 'policy' | 'policyDigest'>;

/** The manifest whose canonical serialisation is `text` (decoded from `bytes`), or undefined. */
export function readCanonicalManifestText(text: string, bytes: Uint8Array): Manifest | undefined {
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
  return { ...head, policy: freezeCanonical({ unknownHosts, removed, allow: allow.macs, deny: deny.macs }), policyDigest };
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
function readMacList(text: string, at: number, bytes: Uint8Array, byteAt: number): { macs: Mac[]; values: Float64Array; end: number } | undefined {
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
  return { macs: JSON.parse(text.slice(at - 1, end)) as Mac[], values, end };
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
