/**
 * Which hosts-directory layout an agent keeps, and the one entry point that picks the right diff for it:
 * a full diff when the directory's content is not known exactly, the incremental one in the daemon's steady state.
 */
import { z } from 'zod';
import { type DirectoryState, type Plan, UNKNOWN_HOSTS_FILE, changedMacs, diffDirectory, diffPolicyChange, parseRecords } from './hostsdir.ts';
import type { Policy } from './policy.ts';
import { DEFAULT_SHARDS, MAX_SHARDS, diffSharded, shardName, shardsTouched } from './sharded.ts';

export const LayoutSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('per-mac') }),
  z.strictObject({ kind: z.literal('sharded'), shards: z.number().int().min(1).max(MAX_SHARDS).default(DEFAULT_SHARDS) }),
]);
export type Layout = z.output<typeof LayoutSchema>;
export const PER_MAC: Layout = { kind: 'per-mac' };

export interface PlanOptions {
  compactRemoved?: boolean;
  /**
   * The policy that `dir` is known to be the exact result of (the daemon's in-memory state after its last apply).
   * Given, only what changed since is looked at.
   */
  previous?: Policy;
}

export function planSync(layout: Layout, policy: Policy, dir: DirectoryState, options: PlanOptions = {}): Plan {
  const compactRemoved = options.compactRemoved ?? false;
  if (layout.kind === 'per-mac') {
    return options.previous && !compactRemoved ? diffPolicyChange(options.previous, policy, dir) : diffDirectory(policy, dir, { compactRemoved });
  }
  if (options.previous && !compactRemoved) {
    const incremental = diffShardedChange(options.previous, policy, dir, layout.shards);
    if (incremental) return incremental;
  }
  return diffSharded(policy, dir, { shards: layout.shards, compactRemoved });
}

/**
 * The daemon's steady-state diff in the sharded layout: `dir` is what applying `previous` left, so only the shards
 * of MACs whose verdict changed can need a write, and their new content is their current records with the
 * changes applied. Runs diffSharded on just those shards (a policy of their MACs), so the cost is the size of the
 * touched shards, not of the policy. Undefined when the removed-MAC verdict flips (every shard may change).
 */
function diffShardedChange(previous: Policy, next: Policy, dir: DirectoryState, shards: number): Plan | undefined {
  const changed = changedMacs(previous, next);
  const touched = shardsTouched(previous, next, changed.keys(), shards);
  if (!touched) return undefined;
  const subDir: DirectoryState = new Map();
  const wildcard = dir.get(UNKNOWN_HOSTS_FILE);
  if (wildcard !== undefined) subDir.set(UNKNOWN_HOSTS_FILE, wildcard);
  // Unchanged MACs keep their record (a removed MAC's record already holds the removed verdict, which is equal).
  const sub: Policy = { unknownHosts: next.unknownHosts, removed: next.removed, allow: [], deny: [] };
  for (const i of touched) {
    const name = shardName(i);
    const content = dir.get(name);
    if (content === undefined) continue;
    subDir.set(name, content);
    if (content !== null) for (const [mac, v] of parseRecords(content)) if (!changed.has(mac)) sub[v].push(mac);
  }
  let removed = 0;
  for (const [mac, v] of changed) {
    if (!v) removed++;
    sub[v ?? next.removed].push(mac);
  }
  const plan = diffSharded(sub, subDir, { shards, onlyShards: touched });
  plan.counts = { ...plan.counts, allow: next.allow.length, deny: next.deny.length, removed };
  return plan;
}
