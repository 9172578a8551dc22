/**
 * Building manifests (docs/design.md §5): canonicalise, digest, serialise, the generation rules and the publish
 * guard. No schema library here on purpose: `compute` builds and writes a manifest on every run, and loading zod
 * (and constructing the schemas) was ~35 ms of a 100k-port compute whose input is good (issue #19). Reading and
 * validating manifests, which needs the schemas, is core/manifest.ts (which re-exports all of this).
 */
import type { z } from 'zod';
import { GuardError, InputError } from './errors.ts';
import { MANIFEST_SCHEMA, areDisjoint, canonicalDigest, canonicalPolicy, freezeCanonical, isCanonicalLists, policyDigest, sha256 } from './canonical-policy.ts';
import type { Mac } from './mac.ts';
import { macListJsonBytes, recordedMacValues } from './mac-list-json.ts';
import type { ManifestSchema } from './manifest.ts';
import type { Policy } from './policy.ts';
import type { GuardSettings } from './settings.ts';

export { MANIFEST_SCHEMA };

/** A manifest as ManifestSchema (core/manifest.ts) reads it, with the policy's lists typed as MACs. */
export type Manifest = Omit<z.output<typeof ManifestSchema>, 'policy'> & { policy: Policy };

// The canonical policy and its digest are shared with the agent's zod-free write path (core/canonical-policy.ts).
export { areDisjoint, canonicalDigest, canonicalPolicy, freezeCanonical, isCanonicalLists, policyDigest, sha256 };

export interface ManifestInput {
  site: string;
  generation: number;
  createdAt: Date;
  inputs: { key: string; sha256: string }[];
  policy: Policy;
}

/**
 * The canonical policy JSON of the manifests built here, as UTF-8, kept for serializeManifest: a publish then writes
 * the policy's JSON once for its digest and its bytes (100k MACs: 2.6 MB).
 */
const POLICY_JSON = new WeakMap<Policy, Uint8Array>();
const encoder = new TextEncoder();

/**
 * The UTF-8 bytes of JSON.stringify({ unknownHosts, removed, allow, deny }); the lists from their MACs' values when
 * computePolicy recorded them (core/mac-list-json.ts). Bytes, not text: hashing and writing text would encode it
 * to UTF-8 twice more.
 */
function canonicalPolicyJson(p: Policy): Uint8Array {
  if (recordedMacValues(p.allow) === undefined && recordedMacValues(p.deny) === undefined) {
    return encoder.encode(JSON.stringify({ unknownHosts: p.unknownHosts, removed: p.removed, allow: p.allow, deny: p.deny }));
  }
  return concatBytes([
    encoder.encode(`{"unknownHosts":${JSON.stringify(p.unknownHosts)},"removed":${JSON.stringify(p.removed)},"allow":`),
    macListJsonBytes(p.allow),
    encoder.encode(',"deny":'),
    macListJsonBytes(p.deny),
    encoder.encode('}'),
  ]);
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function buildManifest(input: ManifestInput): Manifest {
  const policy = freezeCanonical(canonicalPolicy(input.policy));
  const json = canonicalPolicyJson(policy);
  POLICY_JSON.set(policy, json);
  return {
    schema: MANIFEST_SCHEMA,
    site: input.site,
    generation: input.generation,
    createdAt: input.createdAt.toISOString(),
    source: { inputs: [...input.inputs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) },
    policy,
    policyDigest: sha256(json),
  };
}

/** Canonical bytes: fixed key order, no whitespace, trailing newline (JSON.stringify of that object, plus "\n"). */
export function serializeManifest(m: Manifest): Uint8Array {
  const head = JSON.stringify({
    schema: m.schema,
    site: m.site,
    generation: m.generation,
    createdAt: m.createdAt,
    source: { inputs: m.source.inputs.map((i) => ({ key: i.key, sha256: i.sha256 })) },
  });
  const policy = POLICY_JSON.get(m.policy) ?? canonicalPolicyJson(m.policy);
  return concatBytes([encoder.encode(`${head.slice(0, -1)},"policy":`), policy, encoder.encode(`,"policyDigest":${JSON.stringify(m.policyDigest)}}\n`)]);
}

export type NextManifest = { status: 'unchanged'; manifest: Manifest } | { status: 'changed'; manifest: Manifest };

/** Generation rules: unchanged policy publishes nothing; a change is previous generation + 1. */
export function nextManifest(previous: Manifest | undefined, input: Omit<ManifestInput, 'generation'>): NextManifest {
  if (previous && previous.site !== input.site) {
    throw new InputError('previous.site', previous.site, `is not the site being computed ("${input.site}")`);
  }
  if (previous && samePolicyAs(previous, input.policy)) return { status: 'unchanged', manifest: previous };
  return { status: 'changed', manifest: buildManifest({ ...input, generation: (previous?.generation ?? 0) + 1 }) };
}

/**
 * Two canonical policies have the same digest exactly when their lists are equal, and comparing lists stops at the
 * first difference, where the digest hashes 100k MACs (every compute asks, most find the policy unchanged).
 */
function samePolicyAs(previous: Manifest, policy: Policy): boolean {
  if (!isCanonicalLists(previous.policy) || !isCanonicalLists(policy)) return previous.policyDigest === policyDigest(policy);
  const a = previous.policy;
  return a.unknownHosts === policy.unknownHosts && a.removed === policy.removed && sameList(a.allow, policy.allow) && sameList(a.deny, policy.deny);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface GuardReport {
  known: number;
  vanished: number;
  flipped: number;
  share: number;
}

/** Count the previously known MACs that vanished from the export or changed verdict. */
export function measureChange(previous: Policy | undefined, next: Policy): GuardReport {
  if (!previous) return { known: 0, vanished: 0, flipped: 0, share: 0 };
  // Both policies are canonical (sorted lists): one merge walk, no map of every MAC (a compute of a state export
  // at 100k ports would spend most of its time building it).
  let vanished = 0;
  let flipped = 0;
  const count = (macs: readonly Mac[], same: readonly Mac[], other: readonly Mac[]) => {
    let i = 0;
    let j = 0;
    for (const mac of macs) {
      while (i < same.length && same[i]! < mac) i++;
      if (i < same.length && same[i] === mac) continue;
      while (j < other.length && other[j]! < mac) j++;
      if (j < other.length && other[j] === mac) flipped++;
      else vanished++;
    }
  };
  count(previous.allow, next.allow, next.deny);
  count(previous.deny, next.deny, next.allow);
  const known = previous.allow.length + previous.deny.length;
  return { known, vanished, flipped, share: known === 0 ? 0 : (vanished + flipped) / known };
}

/**
 * The publish guard (docs/design.md §5): refuse an export that looks broken — no ports at all, or more than
 * `maxChangeShare` of the known MACs vanished or flipped at once — unless forced.
 */
export function guardPolicy(previous: Policy | undefined, next: Policy, settings: GuardSettings, force: boolean): GuardReport {
  const report = measureChange(previous, next);
  if (force) return report;
  if (next.allow.length + next.deny.length === 0) {
    throw new GuardError('guard: the export has no ports; refusing to publish a policy that forgets every MAC (use --force if this is intended)', {
      ...report,
      ports: 0,
    });
  }
  const changed = report.vanished + report.flipped;
  if (changed >= Math.max(1, settings.minChangesToGuard) && report.share > settings.maxChangeShare) {
    throw new GuardError(
      `guard: ${changed} of ${report.known} known MACs changed at once (${report.vanished} vanished, ${report.flipped} flipped, ` +
        `${(report.share * 100).toFixed(1)}% > ${(settings.maxChangeShare * 100).toFixed(1)}%); refusing to publish (use --force if this is intended)`,
      { ...report },
    );
  }
  return report;
}
