/**
 * One compute-and-publish run of a site outside AWS — `pxe-filter publish` and each run of `pxe-filter control run`:
 * computeSite (control/compute-site.ts, the Lambda's code path) under the store's per-site publish lock, again when
 * it lost the manifest's conditional write to another publisher.
 *
 * Why a lock when the manifest write is conditional: the conditional write makes only one of two concurrent
 * publishes of generation N+1 land, but the pointer (an SSM parameter, a file in the local store) has no
 * conditional write. A run repairing a pointer left behind by a crash could then move it back below a generation
 * another run just published. On a local store, runs of one site therefore take turns under a lock the caller
 * gives (cli/commands/control-locks.ts: locks/publish-<site>.lock in the store). An s3:// store has no such lock:
 * one publisher per site there (the Lambda, or one `control run`).
 */
import { type ComputeSiteResult, computeSite, publishFields } from './compute-site.ts';
import type { ManifestSigner } from './signing.ts';
import { PreconditionFailedError, type Store } from '../store/store.ts';

/** Conditional writes lost in a row before a run gives up (each loss means another publisher made progress). */
const MAX_ATTEMPTS = 3;

export interface PublishRunRequest {
  store: Store;
  site: string;
  force?: boolean;
  signer?: ManifestSigner;
  now?: () => Date;
  /** Taken around each attempt, released after it (the local store's per-site publish lock). */
  lock?: () => Promise<{ release(): Promise<void> }>;
}

export interface PublishRunResult extends ComputeSiteResult {
  /** Runs of computeSite: more than 1 when a conditional write was lost to another publisher. */
  attempts: number;
}

export async function publishRun(req: PublishRunRequest): Promise<PublishRunResult> {
  const now = req.now ?? (() => new Date());
  for (let attempt = 1; ; attempt++) {
    const lock = req.lock ? await req.lock() : undefined;
    try {
      const r = await computeSite({ store: req.store, site: req.site, now: now(), force: req.force ?? false, ...(req.signer ? { signer: req.signer } : {}) });
      return { ...r, attempts: attempt };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError) || attempt >= MAX_ATTEMPTS) throw err;
    } finally {
      await lock?.release();
    }
  }
}

/** The fields every publish reports, and how many runs it took. */
export function runFields(r: PublishRunResult) {
  return { ...publishFields(r), attempts: r.attempts };
}
