/**
 * Which hosts-directory layout an agent keeps, and the one entry point that picks the right diff for it:
 * a full diff when the directory's content is not known exactly, the incremental one in the daemon's steady state.
 */
import { z } from 'zod';
import { type DirectoryState, type Plan, changedMacs, diffDirectory, diffPolicyChange } from './hostsdir.ts';
import type { Policy } from './policy.ts';
import { DEFAULT_SHARDS, MAX_SHARDS, diffSharded, shardsTouched } from './sharded.ts';

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
  const touched = options.previous && !compactRemoved ? shardsTouched(options.previous, policy, changedMacs(options.previous, policy).keys(), layout.shards) : undefined;
  return diffSharded(policy, dir, { shards: layout.shards, compactRemoved, ...(touched ? { onlyShards: touched } : {}) });
}
