/**
 * Where the agent may write: the hosts directory resolved to its real path, refused when that path could be
 * redirected by someone else — the way sshd's StrictModes judges a path. The agent deletes every entry of the
 * directory at start-up, so a hosts directory reached through a symlink, or through a directory another user can
 * write (and so swap for a symlink), would let that user point the purge at any directory the agent can write.
 *
 * Refused, unless the operator accepts it explicitly (`--allow-unsafe-hostsdir`, config `allowUnsafeHostsdir`):
 * - the directory or any parent is a symbolic link;
 * - the directory or any parent is owned by a user other than root or the agent's;
 * - the directory or any parent is writable by group or others — except a parent with the sticky bit (/tmp,
 *   /dev/shm): there only an entry's owner may rename or remove it, and the next component's owner is checked.
 * Either way every write and delete then goes to the resolved path, never through a link.
 */
import { type Stats } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { InputError } from '../core/errors.ts';

export interface HostsdirPathOptions {
  /** The option or config field the path came from, for the error message. */
  field: string;
  allowUnsafe: boolean;
  /** The agent's user (default: this process's effective uid). */
  uid?: number;
}

/** The real path of an existing hosts directory, or InputError (exit 2, one line) naming what is unsafe. */
export async function resolveHostsdir(path: string, options: HostsdirPathOptions): Promise<string> {
  const absolute = resolve(path);
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const parts = absolute.split(sep).filter(Boolean);
  let problem: string | undefined;
  for (let i = 0; i <= parts.length && problem === undefined; i++) {
    const current = sep + parts.slice(0, i).join(sep);
    const info = await lstat(current).catch(() => undefined);
    if (!info) break; // reported below as not an existing directory
    problem = unsafeBecause(current, info, uid, i < parts.length);
  }
  const real = await realpath(absolute).catch(() => undefined);
  const info = real ? await lstat(real).catch(() => undefined) : undefined;
  if (!real || !info?.isDirectory()) throw new InputError(options.field, path, 'not an existing directory');
  if (problem !== undefined && !options.allowUnsafe) {
    throw new InputError(options.field, path, `refused: ${problem}, so another user could redirect the agent's writes and deletes (--allow-unsafe-hostsdir accepts it)`);
  }
  return real;
}

function unsafeBecause(path: string, info: Stats, uid: number, isParent: boolean): string | undefined {
  if (info.isSymbolicLink()) return `${path} is a symbolic link`;
  if (!info.isDirectory()) return undefined; // not a directory: reported as such by the caller
  if (info.uid !== 0 && info.uid !== uid) return `${path} is owned by uid ${info.uid}, not by root or the agent's user (uid ${uid})`;
  const sticky = (info.mode & 0o1000) !== 0;
  if ((info.mode & 0o022) !== 0 && !(isParent && sticky)) {
    return `${path} is writable by ${info.mode & 0o002 ? 'others' : 'its group'} (mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}
