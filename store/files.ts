/**
 * Small local files written whole or not at all, and read back validated: the one module for it, shared by the
 * local store, the agent (its state, status and metrics files, and the hosts directory's rewrites), the exporter
 * and the CLI (its outputs, the documents it reads).
 *
 * Synchronous calls: each call through promises is a round trip through libuv's thread pool, and these are
 * metadata operations on the page cache (no fsync), so there is no device latency to overlap.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fstatSync, constants as fsConstants, mkdirSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { decodeJsonBytes, parseJsonText } from '../core/json-text.ts';
import { sha256 } from '../core/canonical-policy.ts';
import { parseWith } from '../core/zod-errors.ts';

export interface AtomicWriteOptions {
  /** Create the parent directories first. */
  mkdir?: boolean;
  /** The temp file's path (same directory as `path`); default a hidden name beside it. */
  tempPath?: string;
}

/**
 * Write `data` to `path` atomically, mode 0644 whatever the umask (readers such as dnsmasq's unprivileged user must
 * be able to read it): a new temp file (O_EXCL: never someone else's), written, renamed over `path`. The temp file
 * never outlives a failed write.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  if (options.mkdir) mkdirSync(dirname(path), { recursive: true });
  const tmp = options.tempPath ?? join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
  try {
    try {
      // Under a umask that leaves 0644 alone (022, 002…) open() already gave it: one system call saved per file.
      if (umaskMasks0644()) fchmodSync(fd, 0o644);
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the write's or the rename's error is the one to report
    }
    throw err;
  }
}

/** writeFileAtomicSync for a file the user named (`--out`): a failure is bad input naming that option and path. */
export async function writeFileAtomically(path: string, data: Uint8Array | string, field = '--out'): Promise<void> {
  try {
    writeFileAtomicSync(path, data);
  } catch (err) {
    // A bad --out (missing directory, a directory in its place) is bad input: name it.
    throw new InputError(field, path, `cannot write file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

let umaskCache: boolean | undefined;
/** Does this process's umask clear any bit of 0644? Read once from /proc (process.umask() without an argument is deprecated); unknown → yes. */
export function umaskMasks0644(): boolean {
  if (umaskCache === undefined) {
    let umask: number | undefined;
    try {
      const m = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) umask = parseInt(m[1]!, 8);
    } catch {
      // not Linux, or /proc not mounted
    }
    umaskCache = umask === undefined || (umask & 0o644) !== 0;
  }
  return umaskCache;
}

/** The file's text, or undefined when it does not exist. */
async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function readTextIfExistsSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A JSON file validated by `schema` (an InputError naming the file and field otherwise), or undefined if absent. */
export async function readJsonFileIfExists<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S> | undefined> {
  const text = await readTextIfExists(path);
  return text === undefined ? undefined : parseWith(schema, parseJsonText(text, path), path);
}

/**
 * A JSON document the user named, and the digest of its bytes; an unreadable file or bad JSON is an InputError
 * naming the path. Synchronous reads: a 16 MB export read through promises is 32 reads of 512 KiB.
 */
export function readJsonFileWithDigest(path: string): { body: unknown; sha256: string } {
  let read: { bytes: Uint8Array; sha256: string };
  try {
    read = readFileHashed(path);
  } catch (err) {
    throw new InputError(path, (err as NodeJS.ErrnoException).code ?? 'error', 'cannot read file');
  }
  return { body: decodeJsonBytes(read.bytes, path), sha256: read.sha256 };
}

/** Read and hash a quarter MiB at a time: each piece is hashed while it is still in the CPU's cache. */
const HASH_CHUNK = 256 * 1024;

/**
 * A file's bytes and their sha256, hashed as they are read: hashing 26 MB of exports after reading them whole
 * pulls them from memory a second time (~9 ms of a 100k-port compute, issue #19). The same bytes as readFileSync:
 * a regular file up to the size it had when opened; anything else (a pipe, /proc) through readFileSync itself.
 */
export function readFileHashed(path: string): { bytes: Uint8Array; sha256: string } {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size === 0) {
      const bytes = readFileSync(fd);
      return { bytes, sha256: sha256(bytes) };
    }
    const bytes = Buffer.allocUnsafeSlow(stat.size);
    const hash = createHash('sha256');
    let length = 0;
    while (length < bytes.length) {
      const n = readSync(fd, bytes, length, Math.min(HASH_CHUNK, bytes.length - length), null);
      if (n === 0) break; // the file shrank since it was opened: what is there, as readFileSync gives it
      hash.update(bytes.subarray(length, length + n));
      length += n;
    }
    return { bytes: bytes.subarray(0, length), sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}
