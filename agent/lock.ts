/**
 * One agent per hosts directory. Node has no flock(), and a lock that waits for a staleness timeout would keep
 * a restarted agent (after SIGKILL or a crash) from starting for seconds, so the lock file names its owner:
 * pid and kernel start time (from /proc, which survives pid reuse). A lock whose owner is gone is taken over.
 * The lock file lives outside the hosts directory (dnsmasq would read it).
 */
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export class LockBusyError extends Error {
  override readonly name = 'LockBusyError';
  constructor(
    readonly path: string,
    readonly owner: number,
  ) {
    super(`${path}: another agent (pid ${owner}) owns this hosts directory`);
  }
}

interface Owner {
  pid: number;
  start: string;
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

function isAlive(owner: Owner): boolean {
  return processStartTime(owner.pid) === owner.start;
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as Partial<Owner>;
    return typeof doc.pid === 'number' && typeof doc.start === 'string' ? { pid: doc.pid, start: doc.start } : undefined;
  } catch {
    return undefined;
  }
}

export interface Lock {
  path: string;
  release(): Promise<void>;
}

export async function acquireLock(path: string): Promise<Lock> {
  await mkdir(dirname(path), { recursive: true });
  const me: Owner = { pid: process.pid, start: processStartTime(process.pid) ?? '0' };
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, path); // atomic create-if-absent, with the content already in place
        return { path, release: () => releaseLock(path, me) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await readOwner(path);
      if (owner && isAlive(owner)) throw new LockBusyError(path, owner.pid);
      // Dead owner (or unreadable lock): move it aside under a unique name, so two agents taking over at once
      // cannot both delete a fresh lock — only one rename of this inode succeeds.
      await rename(path, `${tmp}.stale`).catch(() => undefined);
      await unlink(`${tmp}.stale`).catch(() => undefined);
    }
    throw new Error(`${path}: could not take the agent lock`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function releaseLock(path: string, me: Owner): Promise<void> {
  const owner = await readOwner(path);
  if (owner?.pid === me.pid && owner.start === me.start) await unlink(path).catch(() => undefined);
}
