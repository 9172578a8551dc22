/**
 * The canonical policy of a manifest and its digest, apart from the manifest's zod schema (core/manifest.ts): the
 * agent's write path (the diffs, the hosts-directory writer, `agent once` on a manifest file) needs these and not
 * the schema, and zod is a sizeable share of what a short `agent once` process parses at start-up.
 */
import { type Hash, createHash } from 'node:crypto';
import { type Mac, sortMacs } from './mac.ts';
import type { Policy } from './policy.ts';

/**
 * The manifest format's name. Here, with the canonical policy that the manifest's writer (core/manifest-build.ts)
 * and its byte reader (core/manifest-bytes.ts) share, so that `compute`, which only writes, does not load the reader.
 */
export const MANIFEST_SCHEMA = 'pxe-filter/manifest@1';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Policies this module checked canonical and then froze (validateManifest, buildManifest, the canonical-bytes
 * reader): the walk below is not repeated for them. Frozen, so nothing can make them non-canonical afterwards.
 */
const KNOWN_CANONICAL = new WeakSet<Pick<Policy, 'allow' | 'deny'>>();

export function freezeCanonical<P extends Policy>(policy: P): P {
  // A list behind a getter is made (and frozen) when first read (core/manifest-bytes.ts lazyList): not read here.
  for (const key of ['allow', 'deny'] as const) {
    const own = Object.getOwnPropertyDescriptor(policy, key);
    if (own && 'value' in own) Object.freeze(own.value);
  }
  Object.freeze(policy);
  KNOWN_CANONICAL.add(policy);
  return policy;
}

/** The MACs that entered and left each list of a canonical policy since an earlier one (each in ascending order). */
export interface ListChanges {
  newAllow: readonly Mac[];
  goneAllow: readonly Mac[];
  newDeny: readonly Mac[];
  goneDeny: readonly Mac[];
}

/**
 * Changes between two frozen canonical policies, recorded by whoever made the later one knowing the earlier (the
 * canonical-bytes reader reads a manifest against the one applied before, core/manifest-bytes.ts), so the
 * daemon's diff does not walk 100k MACs to find them again (core/hostsdir.ts changedMacs). The earlier policy is
 * named by a number, not held: a chain of applied manifests must not keep each other alive.
 */
const POLICY_IDS = new WeakMap<Policy, number>();
let nextPolicyId = 1;
const CHANGES = new WeakMap<Policy, { fromId: number; changes: ListChanges }>();

export function recordChanges(previous: Policy, next: Policy, changes: ListChanges): void {
  if (!KNOWN_CANONICAL.has(previous) || !KNOWN_CANONICAL.has(next)) return;
  let fromId = POLICY_IDS.get(previous);
  if (fromId === undefined) POLICY_IDS.set(previous, (fromId = nextPolicyId++));
  CHANGES.set(next, { fromId, changes });
}

/** The changes recorded from `previous` to `next`, if any were. */
export function recordedChanges(previous: Policy, next: Policy): ListChanges | undefined {
  const known = CHANGES.get(next);
  return known !== undefined && POLICY_IDS.get(previous) === known.fromId ? known.changes : undefined;
}

/**
 * Are both lists already canonical: strictly sorted (so unique) and disjoint? One merge walk, no allocation —
 * every manifest's policy is, so the sorts and sets below are skipped for it (a measurable share of an agent's poll at 100k MACs).
 */
export function isCanonicalLists(policy: Pick<Policy, 'allow' | 'deny'>): boolean {
  if (KNOWN_CANONICAL.has(policy)) return true;
  const { allow, deny } = policy;
  for (let i = 1; i < allow.length; i++) if (!(allow[i - 1]! < allow[i]!)) return false;
  for (let i = 1; i < deny.length; i++) if (!(deny[i - 1]! < deny[i]!)) return false;
  return areDisjoint(allow, deny);
}

/** Two strictly sorted lists share no element: one merge walk. */
export function areDisjoint(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i] === b[j]) return false;
    if (a[i]! < b[j]!) i++;
    else j++;
  }
  return true;
}

/** Sorted, unique, a MAC in one list only (allow wins, as in the policy). */
export function canonicalPolicy(policy: Policy): Policy {
  // Frozen lists known canonical are shared, not copied: nothing can change them (and what is recorded about them,
  // such as their MACs' values for the manifest's JSON, stays with them).
  if (KNOWN_CANONICAL.has(policy)) return { unknownHosts: policy.unknownHosts, removed: policy.removed, allow: policy.allow, deny: policy.deny };
  if (isCanonicalLists(policy)) return { unknownHosts: policy.unknownHosts, removed: policy.removed, allow: policy.allow.slice(), deny: policy.deny.slice() };
  const allow = sortMacs([...new Set(policy.allow)]);
  const allowSet = new Set(allow);
  const deny = sortMacs([...new Set(policy.deny)].filter((m) => !allowSet.has(m)));
  return { unknownHosts: policy.unknownHosts, removed: policy.removed, allow, deny };
}

/**
 * sha256 of the canonical policy's JSON: `{"unknownHosts":…,"removed":…,"allow":[…],"deny":[…]}`, no whitespace.
 * Hashed in slices of the lists instead of one JSON.stringify of the whole policy (a 2.6 MB string at 100k MACs,
 * copied through the agent's small young generation); the bytes hashed are the same.
 */
export function policyDigest(policy: Policy): string {
  return canonicalDigest(isCanonicalLists(policy) ? policy : canonicalPolicy(policy));
}

/** policyDigest of a policy already known to be canonical. */
export function canonicalDigest(p: Policy): string {
  const hash = createHash('sha256');
  hash.update(`{"unknownHosts":${JSON.stringify(p.unknownHosts)},"removed":${JSON.stringify(p.removed)},"allow":`);
  hashMacList(hash, p.allow);
  hash.update(',"deny":');
  hashMacList(hash, p.deny);
  hash.update('}');
  return hash.digest('hex');
}

const DIGEST_SLICE = 2048;
/** What JSON.stringify would escape in a string (control characters included, on purpose); a MAC never has any. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON of the list, hashed slice by slice. A slice is `"` + join('","') + `"`, which is its JSON text when no
 * element needs escaping (one scan of the joined text says so; otherwise JSON.stringify) — cheaper than
 * JSON.stringify, which checks and copies element by element.
 */
function hashMacList(hash: Hash, list: readonly Mac[]): void {
  hash.update('[');
  for (let i = 0; i < list.length; i += DIGEST_SLICE) {
    const slice = list.slice(i, i + DIGEST_SLICE);
    // Tested without the separators, whose quotes would always match.
    const json = NEEDS_ESCAPE.test(slice.join('')) ? JSON.stringify(slice).slice(1, -1) : `"${slice.join('","')}"`;
    hash.update(i === 0 ? json : `,${json}`);
  }
  hash.update(']');
}
