/**
 * The versioned manifest (docs/design.md §5): its schema, and reading it back validated and verified. Building,
 * digesting and serialising are core/manifest-build.ts (no zod: a compute loads no schema library unless its input is
 * bad), re-exported here so that one import serves both. The bytes are the contract: the SSM pointer carries the
 * sha256 of the exact bytes the agent must receive.
 */
import { z } from 'zod';
import { InputError } from './errors.ts';
import { type Mac, compareMacs, isCanonicalMac } from './mac.ts';
import type { Manifest } from './manifest-build.ts';
import type { Policy } from './policy.ts';
import { SiteNameSchema } from './settings.ts';
import { parseWith } from './zod-errors.ts';
import { SignatureSchema } from './signature.ts';
import { decodeUtf8Strict, parseJsonText } from './json-text.ts';
import { MANIFEST_SCHEMA, MAX_MANIFEST_BYTES, SHA256_HEX, readCanonicalManifest } from './manifest-bytes.ts';
import { areDisjoint, canonicalDigest, freezeCanonical, policyDigest, sha256 } from './canonical-policy.ts';

// Building, digesting and serialising (zod-free: core/manifest-build.ts, core/canonical-policy.ts), for one import.
export * from './manifest-build.ts';

export { MAX_MANIFEST_BYTES } from './manifest-bytes.ts';

const sha256Hex = z.string().regex(SHA256_HEX, 'expected a lower-case hex sha256');
const canonicalMac = z.string().refine(isCanonicalMac, 'not a canonical MAC (lower-case hex octets joined by ":")');
const verdict = z.enum(['allow', 'deny']);

export const PolicySchema = z.strictObject({
  unknownHosts: verdict,
  removed: verdict,
  allow: z.array(canonicalMac),
  deny: z.array(canonicalMac),
});

export const ManifestSchema = z.strictObject({
  schema: z.literal(MANIFEST_SCHEMA),
  site: SiteNameSchema,
  generation: z.number().int().min(1),
  createdAt: z.iso.datetime(),
  source: z.strictObject({
    inputs: z.array(z.strictObject({ key: z.string().min(1).max(1024), sha256: sha256Hex })),
  }),
  policy: PolicySchema,
  policyDigest: sha256Hex,
});

/**
 * What SSM `/pxe-filter/<site>/current` holds. The detached signature lives here (docs/signing.md): the pointer is
 * what moves atomically, so an agent never sees new bytes with an old signature or the reverse, and it costs no
 * extra request. A pointer with the longest key and version id plus a signature stays under SSM's 4 KB standard tier.
 */
export const PointerSchema = z.strictObject({
  site: SiteNameSchema,
  generation: z.number().int().min(1),
  key: z.string().min(1).max(1024),
  versionId: z.string().min(1).max(1024),
  sha256: sha256Hex,
  signature: SignatureSchema.optional(),
});
export type Pointer = z.output<typeof PointerSchema>;

/**
 * Validate a manifest document: schema, canonical lists, digest. Throws InputError naming the field.
 * ManifestSchema is the definition. Its per-MAC refinement copies and checks 100k MACs one closure at a time
 * (a measurable share of an agent's 100k-MAC poll), so well-formed lists are checked by one hand loop (canonicalListsOf) and
 * zod checks the rest of the document; anything the loop does not accept goes through the schema whole, which
 * names the field and the value. test/core/manifest-fast-path.test.ts checks both paths give the same answers.
 * What the fast path accepts comes back with its policy frozen (it is then known canonical: see KNOWN_CANONICAL in core/manifest-build.ts).
 */
export function validateManifest(doc: unknown, label = 'manifest'): Manifest {
  const lists = canonicalListsOf(doc);
  if (!lists) return validateManifestWithSchema(doc, label);
  const policy = (doc as { policy: Record<string, unknown> }).policy;
  const envelope = ManifestSchema.safeParse({ ...(doc as object), policy: { ...policy, allow: [], deny: [] } });
  // A refusal is worded by the whole schema on the whole document: the same message as without the fast path.
  if (!envelope.success) return validateManifestWithSchema(doc, label);
  const m = envelope.data as Manifest;
  m.policy.allow = lists.allow;
  m.policy.deny = lists.deny;
  // Digest first: a refused document's lists (the caller's own arrays) are not frozen.
  const digest = canonicalDigest(m.policy);
  if (digest !== m.policyDigest) return validateManifestWithSchema(doc, label);
  freezeCanonical(m.policy);
  return m;
}

/** validateManifest by the schema alone (the definition the fast path is tested against). */
export function validateManifestWithSchema(doc: unknown, label = 'manifest'): Manifest {
  const m = parseWith(ManifestSchema, doc, label) as Manifest;
  checkSortedUnique(m.policy.allow, `${label}.policy.allow`);
  checkSortedUnique(m.policy.deny, `${label}.policy.deny`);
  const allow = new Set(m.policy.allow);
  const both = m.policy.deny.find((mac) => allow.has(mac));
  if (both) throw new InputError(`${label}.policy.deny`, both, 'MAC is in both allow and deny');
  checkDigest(m.policy, m.policyDigest, label);
  return m;
}

function checkDigest(policy: Policy, claimed: string, label: string): void {
  const digest = policyDigest(policy);
  if (digest !== claimed) throw new InputError(`${label}.policyDigest`, claimed, `does not match the policy (computed ${digest})`);
}

/**
 * `doc.policy.allow` and `doc.policy.deny` when both are arrays of canonical MACs, strictly sorted and disjoint —
 * what PolicySchema plus the sort and overlap checks accept; undefined for anything else (the slow path decides).
 */
export function canonicalListsOf(doc: unknown): { allow: Mac[]; deny: Mac[] } | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const policy = (doc as Record<string, unknown>).policy;
  if (typeof policy !== 'object' || policy === null) return undefined;
  const { allow, deny } = policy as Record<string, unknown>;
  if (!isSortedCanonicalMacs(allow) || !isSortedCanonicalMacs(deny) || !areDisjoint(allow, deny)) return undefined;
  return { allow, deny };
}

function isSortedCanonicalMacs(list: unknown): list is Mac[] {
  if (!Array.isArray(list)) return false;
  let previous = '';
  for (let i = 0; i < list.length; i++) {
    const mac: unknown = list[i];
    if (typeof mac !== 'string' || !(previous < mac) || !isCanonicalMac(mac)) return false;
    previous = mac;
  }
  return true;
}

function checkSortedUnique(list: readonly Mac[], field: string): void {
  for (let i = 1; i < list.length; i++) {
    if (compareMacs(list[i - 1]!, list[i]!) >= 0) throw new InputError(`${field}[${i}]`, list[i], 'not sorted or duplicated');
  }
}

/**
 * Parse manifest bytes (no pointer check). `previous`: a policy parsed before (the one an agent applied), against
 * which the bytes are read (core/manifest-bytes.ts); the result is equal with or without it.
 */
export function parseManifestBytes(bytes: Uint8Array, label = 'manifest', previous?: Policy): Manifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new InputError(label, `${bytes.byteLength} bytes`, `larger than the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  // The bytes as the publisher writes them are read without JSON.parse of the lists (core/manifest-bytes.ts);
  // anything else, and every refusal, takes the full path and its messages.
  const canonical = readCanonicalManifest(bytes, previous);
  if (canonical) return canonical;
  // The one strict reader (core/json-text.ts): byte offset of bad UTF-8, line and column of bad JSON, one line.
  const text = decodeUtf8Strict(bytes, label);
  return validateManifest(parseJsonText(text, label), label);
}

export interface VerifyExpectations {
  site: string;
  /** The policy applied before (an agent's previous manifest): the bytes are read against it, with the same result. */
  previous?: Policy;
}

/**
 * What the agent checks of a manifest's bytes before it writes a byte: they match the pointer's sha256, and the
 * document is a valid canonical manifest of our site at the pointer's generation. (Replays are refused on the
 * pointer, before the fetch: agent/manifest-source.ts.)
 */
export function verifyManifest(bytes: Uint8Array, pointer: Pointer, expect: VerifyExpectations): Manifest {
  const actual = sha256(bytes);
  if (actual !== pointer.sha256) {
    throw new InputError('manifest.sha256', actual, `does not match the pointer (expected ${pointer.sha256}); bytes were altered or truncated`);
  }
  const m = parseManifestBytes(bytes, 'manifest', expect.previous);
  if (m.site !== expect.site) throw new InputError('manifest.site', m.site, `is not this agent's site "${expect.site}"`);
  if (m.generation !== pointer.generation) {
    throw new InputError('manifest.generation', m.generation, `does not match the pointer generation ${pointer.generation}`);
  }
  return m;
}

