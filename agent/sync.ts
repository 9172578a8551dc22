/** One sync of the hosts directory to a manifest: read (or take the known state), diff, apply. */
import { type DirectoryState, type Plan, type RecordCounts, applyPlan, applyPlanInPlace, removedRecords } from '../core/hostsdir.ts';
import { type Layout, PER_MAC, planSync } from '../core/hostsdir-layout.ts';
import type { Policy } from '../core/policy.ts';
import type { Manifest } from '../core/manifest.ts';
import { type ApplyProgress, type Pacing, applyPlanToDirectory, purgeDirectory, readDirectory } from './hostsdir-io.ts';

export interface SyncOptions {
  purge: boolean;
  compactRemoved?: boolean;
  /** The directory as the agent last left it; when given, the directory is not scanned, and it is updated in place. */
  knownState?: DirectoryState;
  /** The policy `knownState` is the exact result of: then only what changed since is diffed (O(changes)). */
  previousPolicy?: Policy;
  /** countRecords(knownState), kept up to date in place with the state (no walk of the directory per apply). */
  knownCounts?: RecordCounts;
  /** Default per-MAC (docs/design.md §3). */
  layout?: Layout;
  onProgress?: (p: ApplyProgress) => void;
  /** Batches and pauses while dnsmasq is running (see hostsdir-io.ts), chosen once the plan is known. */
  pacing?: Pacing | ((plan: Plan) => Pacing | undefined);
}

export interface SyncResult {
  plan: Plan;
  state: DirectoryState;
  purged: number;
  durationMs: number;
}

function previousRemoved(previous: Policy, counts: RecordCounts | undefined): { previousRemoved?: number } {
  return counts ? { previousRemoved: removedRecords(previous, counts) } : {};
}

export async function syncDirectory(dir: string, manifest: Manifest, options: SyncOptions): Promise<SyncResult> {
  const started = performance.now();
  let purged = 0;
  let before: DirectoryState;
  if (options.purge) {
    purged = (await purgeDirectory(dir)).removed;
    before = await readDirectory(dir); // whatever the purge had to leave (subdirectories) is reported as foreign
  } else if (options.knownState) {
    before = options.knownState;
  } else {
    before = await readDirectory(dir);
  }
  const plan = planSync(options.layout ?? PER_MAC, manifest.policy, before, {
    compactRemoved: options.compactRemoved ?? false,
    ...(options.knownState && options.previousPolicy && !options.purge ? { previous: options.previousPolicy, ...previousRemoved(options.previousPolicy, options.knownCounts) } : {}),
  });
  const pacing = typeof options.pacing === 'function' ? options.pacing(plan) : options.pacing;
  await applyPlanToDirectory(dir, plan, options.onProgress, pacing);
  // A known state is the caller's record of this directory, which has just changed: updated, not copied.
  if (before === options.knownState) {
    const state = applyPlanInPlace(before, plan, options.knownCounts);
    return { plan, state, purged, durationMs: performance.now() - started };
  }
  // Otherwise a copy of the whole directory, built only when asked for (a one-shot apply never does: 100k entries).
  let state: DirectoryState | undefined;
  const durationMs = performance.now() - started;
  return {
    plan,
    get state() {
      return (state ??= applyPlan(before, plan));
    },
    purged,
    durationMs,
  };
}
