/**
 * Notices a new export of a site in a local store as soon as it is complete, with inotify (fs.watch), so that
 * `control run` computes within a fraction of a second instead of at its next scheduled run.
 *
 * The local store (store/local-store.ts) writes an object as `objects/<key>/versions/<id>` and then renames its
 * `current` file into place: the object exists exactly when `current` appears. So the watch follows the
 * directories of the site's export prefix `objects/exports/<site>/` (and the ones above it, until they exist),
 * adds a watch on every directory created below it, and reports the rename of a `current` file. A key directory
 * stops being watched once its `current` exists (the exporter never rewrites a key), so the watches stay a handful
 * whatever the number of exports kept; prefix directories (none today; nested prefixes for other kinds of export)
 * are followed the same way, since they never get a `current`.
 *
 * Missed events (inotify's queue overflowed, a watch could not be added) are not fatal: the schedule runs the
 * site anyway. Failures are reported through `onError`, never thrown from a callback.
 */
import { type FSWatcher, existsSync, readdirSync, statSync, watch } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { exportsPrefix } from '../store/keys.ts';

export interface ExportWatch {
  close(): void;
  /** Directories currently watched (for logs and tests). */
  readonly watched: number;
}

export function watchLocalExports(storeRoot: string, site: string, onExport: () => void, onError: (err: Error) => void): ExportWatch {
  const objects = join(storeRoot, 'objects');
  const target = join(objects, ...exportsPrefix(site).split('/').filter(Boolean));
  const watchers = new Map<string, FSWatcher>();
  let closed = false;

  /** Directories from the store root down to the site's prefix: watched only until the next one exists. */
  const onTheWay = (dir: string) => dir !== target && target.startsWith(`${dir}${sep}`);
  const insideTarget = (dir: string) => dir === target || dir.startsWith(`${target}${sep}`);

  const unwatch = (dir: string) => {
    watchers.get(dir)?.close();
    watchers.delete(dir);
  };

  /**
   * Watch `dir` and what is below it. `fresh`: it appeared after the watch started, so an object already complete
   * in it is news (it was completed between its creation event and this watch); at start-up it is not (the
   * start-up run covers what is already there).
   */
  const follow = (dir: string, fresh: boolean): void => {
    if (closed || watchers.has(dir)) return;
    if (dir !== target && insideTarget(dir) && existsSync(join(dir, 'current'))) {
      if (fresh) onExport();
      return;
    }
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false }, (_event, name) => {
        if (name !== null) onEntry(dir, name.toString());
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') onError(err as Error);
      return;
    }
    w.on('error', (err) => {
      unwatch(dir);
      // A deleted directory (an expired export) ends its watch; anything else is worth saying.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onError(err);
    });
    watchers.set(dir, w);
    // Whatever appeared before the watch was in place.
    scan(dir, fresh);
  };

  const nextOnTheWay = (dir: string) => join(dir, relative(dir, target).split(sep)[0]!);

  const scan = (dir: string, fresh: boolean) => {
    if (onTheWay(dir)) {
      followIfDirectory(nextOnTheWay(dir), fresh);
      return;
    }
    if (dir !== target && existsSync(join(dir, 'current'))) {
      // Completed between the check in follow() and the watch.
      unwatch(dir);
      onExport();
      return;
    }
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) if (isFollowable(name)) followIfDirectory(join(dir, name), fresh);
  };

  const followIfDirectory = (path: string, fresh: boolean) => {
    try {
      if (statSync(path).isDirectory()) follow(path, fresh);
    } catch {
      // not there (yet, or any more)
    }
  };

  const onEntry = (dir: string, name: string) => {
    if (closed) return;
    if (onTheWay(dir)) {
      // The prefix did not exist at start: everything in it once it does is new.
      if (join(dir, name) === nextOnTheWay(dir)) followIfDirectory(join(dir, name), true);
      return;
    }
    if (name === 'current' && dir !== target) {
      if (!existsSync(join(dir, 'current'))) return; // removed, not created
      unwatch(dir);
      onExport();
      return;
    }
    if (isFollowable(name)) followIfDirectory(join(dir, name), true);
  };

  // Start from the deepest directory that exists on the way to the prefix.
  let start = target;
  while (!existsSync(start) && start !== storeRoot && start.startsWith(`${storeRoot}${sep}`)) start = join(start, '..');
  follow(start, false);

  return {
    close() {
      closed = true;
      for (const dir of [...watchers.keys()]) unwatch(dir);
    },
    get watched() {
      return watchers.size;
    },
  };
}

/** Hidden names are temp files and locks; `versions` holds an object's bytes, whose `current` says when it is whole. */
function isFollowable(name: string): boolean {
  return !name.startsWith('.') && name !== 'versions' && name !== 'current';
}
