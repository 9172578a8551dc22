/**
 * One writer per hosts directory, and one agent per state file.
 *
 * Node has no flock(), and a lock that waits for a staleness timeout would keep a restarted agent (after SIGKILL
 * or a crash) from starting for seconds, so the lock file names its owner: pid and kernel start time (from /proc,
 * which survives pid reuse), plus the command and since when, for the message a second writer gets. A lock whose
 * owner is gone is taken over.
 *
 * The hosts-directory lock is a dot-file inside the directory (`.pxe-filter.lock`): it is keyed on the directory
 * itself, not on one spelling of its path (a symlink, a bind mount or another mount namespace reach the same
 * file), it is writable wherever the directory is (the systemd unit's ReadWritePaths= already covers it), and
 * dnsmasq skips names that start with '.'. The scan and the purge skip it (isLockEntry).
 */
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The hosts-directory lock's name, and the prefix of its temporary files. */
export const HOSTSDIR_LOCK_NAME = '.pxe-filter.lock';

/** Entries of the hosts directory that belong to the lock: never scanned, purged or reported. */
export function isLockEntry(name: string): boolean {
  return name.startsWith(HOSTSDIR_LOCK_NAME);
}

export interface Owner {
  pid: number;
  start: string;
  /** What holds it ("agent run", "agent once"), for the message another writer gets. */
  command?: string;
  /** ISO time the lock was taken. */
  since?: string;
}

export class LockBusyError extends Error {
  override readonly name = 'LockBusyError';
  constructor(
    readonly path: string,
    readonly owner: Owner,
    what: string,
  ) {
    super(`${what} is in use by pid ${owner.pid} (${owner.command ?? 'unknown command'}, since ${owner.since ?? 'unknown time'}); lock ${path}`);
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; undefined when the process is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19]; // a zombie holds nothing any more
  } catch {
    return undefined;
  }
}

/** Is this process (pid and start time, so a reused pid does not count) still running? */
export function isAlive(owner: Pick<Owner, 'pid' | 'start'>): boolean {
  return processStartTime(owner.pid) === owner.start;
}

/** This process as a lock owner. */
export function currentOwner(command: string, now: Date): Owner {
  return { pid: process.pid, start: processStartTime(process.pid) ?? '0', command, since: now.toISOString() };
}

export async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as Partial<Owner>;
    if (typeof doc.pid !== 'number' || typeof doc.start !== 'string') return undefined;
    return {
      pid: doc.pid,
      start: doc.start,
      ...(typeof doc.command === 'string' ? { command: doc.command } : {}),
      ...(typeof doc.since === 'string' ? { since: doc.since } : {}),
    };
  } catch {
    return undefined;
  }
}

export interface Lock {
  path: string;
  release(): Promise<void>;
}

/**
 * Take the lock at `path` for `me`, or throw LockBusyError at once naming the live owner. `what` names the
 * protected thing in that message ("hosts directory /x").
 */
export async function acquireLock(path: string, me: Owner, what = path): Promise<Lock> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(me)}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, path); // atomic create-if-absent, with the content already in place
        return { path, release: () => releaseLock(path, me) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await readOwner(path);
      if (owner && isAlive(owner)) throw new LockBusyError(path, owner, what);
      // Dead owner (or unreadable lock): move it aside under a unique name, so two agents taking over at once
      // cannot both delete a fresh lock — only one rename of this inode succeeds.
      await rename(path, `${tmp}.stale`).catch(() => undefined);
      await unlink(`${tmp}.stale`).catch(() => undefined);
    }
    throw new Error(`${path}: could not take the lock`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** The lock of one hosts directory (its real path: see resolveHostsdir), for every command that writes it. */
export function acquireHostsdirLock(realDir: string, command: string, now: Date): Promise<Lock> {
  return acquireLock(join(realDir, HOSTSDIR_LOCK_NAME), currentOwner(command, now), `hosts directory ${realDir}`);
}

async function releaseLock(path: string, me: Owner): Promise<void> {
  const owner = await readOwner(path);
  if (owner?.pid === me.pid && owner.start === me.start) await unlink(path).catch(() => undefined);
}
