/**
 * The local store's locks for publishers outside AWS (agent/lock.ts: the owner's pid and start time in the file,
 * a dead owner's lock taken over at once):
 *   <store>/locks/control.lock         one `control run` per store, for its lifetime: a second one is refused
 *   <store>/locks/publish-<site>.lock  one run of a site at a time (`publish`, `control run`): control/publish-run.ts
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Lock, LockBusyError, acquireLock, currentOwner } from '../../agent/lock.ts';

/** How long a run waits for another run of the same site to finish (a run takes well under a second). */
const PUBLISH_LOCK_WAIT_MS = 60_000;

export const controlLockPath = (storeRoot: string) => join(storeRoot, 'locks', 'control.lock');
export const publishLockPath = (storeRoot: string, site: string) => join(storeRoot, 'locks', `publish-${site}.lock`);

/** The store's service lock, or LockBusyError naming the `control run` that holds it. */
export function acquireControlLock(storeRoot: string): Promise<Lock> {
  return acquireLock(controlLockPath(storeRoot), currentOwner('control run', new Date()), `local store ${storeRoot}`);
}

/** The site's publish lock, waiting while another live run holds it. */
export function publishLock(storeRoot: string, site: string, command: string): () => Promise<Lock> {
  return async () => {
    const path = publishLockPath(storeRoot, site);
    const deadline = Date.now() + PUBLISH_LOCK_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
      try {
        return await acquireLock(path, currentOwner(command, new Date()), `the publish lock of site ${site} in local store ${storeRoot}`);
      } catch (err) {
        if (!(err instanceof LockBusyError) || Date.now() > deadline) throw err;
      }
      await sleep(pause);
    }
  };
}
