/**
 * Which hosts-directory layout an agent keeps, and the one entry point that picks the right diff for it:
 * a full diff when the directory's content is not known exactly, the incremental one in the daemon's steady state.
 */
import { type DirectoryState, type Plan, UNKNOWN_HOSTS_FILE, changedMacs, countRemovedMacs, diffDirectory, diffPolicyChange, parseRecords, removedAfter } from './hostsdir.ts';
import type { Policy } from './policy.ts';
import { diffSharded, shardName, shardsTouched } from './sharded.ts';

/**
 * A layout as the agent keeps it (config `layout`, `--layout`/`--shards`). Its schema is core/layout-schema.ts,
 * apart from this module so that the write path loads no zod; that module proves the two types equal.
 */
export type Layout = { kind: 'per-mac' } | { kind: 'sharded'; shards: number };
export const PER_MAC: Layout = { kind: 'per-mac' };

export interface PlanOptions {
  compactRemoved?: boolean;
  /**
   * The policy that `dir` is known to be the exact result of (the daemon's in-memory state after its last apply).
   * Given, only what changed since is looked at.
   */
  previous?: Policy;
  /**
   * With `previous`: the records `dir` holds of MACs `previous` no longer names (its plan's counts.removed, or
   * records − allow − deny in such a directory). Without it, an incremental diff counts them (a walk of `dir`).
   */
  previousRemoved?: number;
}

export function planSync(layout: Layout, policy: Policy, dir: DirectoryState, options: PlanOptions = {}): Plan {
  const compactRemoved = options.compactRemoved ?? false;
  if (layout.kind === 'per-mac') {
    if (!options.previous || compactRemoved) return diffDirectory(policy, dir, { compactRemoved });
    return diffPolicyChange(options.previous, policy, dir, options.previousRemoved === undefined ? {} : { previousRemoved: options.previousRemoved });
  }
  if (options.previous && !compactRemoved) {
    const incremental = diffShardedChange(options.previous, policy, dir, layout.shards, options.previousRemoved);
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
function diffShardedChange(previous: Policy, next: Policy, dir: DirectoryState, shards: number, previousRemoved: number | undefined): Plan | undefined {
  const changed = changedMacs(previous, next);
  const touched = shardsTouched(previous, next, changed.keys(), shards);
  if (!touched) return undefined;
  const subDir: DirectoryState = new Map();
  const wildcard = dir.get(UNKNOWN_HOSTS_FILE);
  if (wildcard !== undefined) subDir.set(UNKNOWN_HOSTS_FILE, wildcard);
  // Unchanged MACs keep their record (a removed MAC's record already holds the removed verdict, which is equal).
  const sub: Policy = { unknownHosts: next.unknownHosts, removed: next.removed, allow: [], deny: [] };
  let recorded = 0; // changed MACs the policy names now that already had a record
  for (const i of touched) {
    const name = shardName(i);
    const content = dir.get(name);
    if (content === undefined) continue;
    subDir.set(name, content);
    if (content === null) continue;
    for (const [mac, v] of parseRecords(content)) {
      if (!changed.has(mac)) sub[v].push(mac);
      else if (changed.get(mac)) recorded++;
    }
  }
  let named = 0;
  for (const [mac, v] of changed) {
    if (v) named++;
    sub[v ?? next.removed].push(mac);
  }
  const plan = diffSharded(sub, subDir, { shards, onlyShards: touched });
  const removed = previousRemoved === undefined ? countRemovedMacs(next, dir) : removedAfter(previous, next, previousRemoved, named - recorded);
  plan.counts = { allow: next.allow.length, deny: next.deny.length, removed };
  return plan;
}
