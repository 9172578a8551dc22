/**
 * The only code that touches dnsmasq's hosts directory. A write that replaces a file is a hidden temp file renamed
 * over the target (dnsmasq skips dot-files, and sees one IN_MOVED_TO with the whole content); a one-record file
 * that does not exist yet is created in place (createSmallFileSync: dnsmasq sees no record or the whole record,
 * as with the rename). The directory itself is never replaced or renamed (dnsmasq's inotify watch would be lost
 * for good).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, constants as fsConstants, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { type DirectoryState, type Plan, TEMP_PREFIX, TEMP_SUFFIX, writePhases } from '../core/hostsdir.ts';
import { umaskMasks0644, writeFileAtomicSync } from '../store/files.ts';
import { isLockEntry } from './lock.ts';

/** Our records are < 32 bytes; a bigger file is not ours and is not read whole. */
const MAX_RECORD_BYTES = 4096;
const OVERSIZE = '\u0000(oversize)';

/**
 * Scan the directory. Synchronous reads in slices of 1,000 entries (then a turn of the event loop, so signals
 * are handled): several times faster than one promise per file (bench/run.ts measures it).
 */
export async function readDirectory(dir: string): Promise<DirectoryState> {
  const state: DirectoryState = new Map();
  const entries = await readdir(dir, { withFileTypes: true });
  const buf = Buffer.alloc(MAX_RECORD_BYTES + 1);
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % 1000 === 0) await new Promise((r) => setImmediate(r));
    const e = entries[i]!;
    if (isLockEntry(e.name)) continue; // the writer's lock, not a record
    if (!e.isFile()) {
      state.set(e.name, null);
      continue;
    }
    let fd: number;
    try {
      // O_NOFOLLOW | O_NONBLOCK: an entry swapped for a symlink or a FIFO since readdir is not followed or waited on.
      fd = openSync(join(dir, e.name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // gone since readdir
      if (code === 'ELOOP' || code === 'ENXIO') {
        state.set(e.name, null);
        continue;
      }
      throw err;
    }
    try {
      if (!fstatSync(fd).isFile()) {
        state.set(e.name, null);
        continue;
      }
      const n = readSync(fd, buf, 0, buf.length, 0);
      state.set(e.name, n > MAX_RECORD_BYTES ? OVERSIZE : buf.toString('utf8', 0, n));
    } finally {
      closeSync(fd);
    }
  }
  return state;
}

/** A name we may create in the directory: one path segment, no NUL, not "." or "..". */
export function checkName(name: string): void {
  if (name.length === 0 || name.length > 255 || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new InputError('file name', name, 'not a plain file name inside the hosts directory');
  }
}

let tempCounter = 0;
/** Drawn once per process: with the pid and a counter it keeps temp names unique even across a pid reuse. */
const TEMP_TOKEN = randomBytes(6).toString('hex');

/**
 * `dir` with a trailing slash: prefix + a name checkName accepts is the path join(dir, name) names, without
 * join's normalisation per file (a tenth of a 100-file apply went to it).
 */
function pathPrefix(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

function tempPath(prefix: string, name: string): string {
  return `${prefix}${TEMP_PREFIX}${name}.${process.pid}.${(tempCounter++).toString(36)}${TEMP_TOKEN}${TEMP_SUFFIX}`;
}

/** A rewrite: the shared atomic write (store/files.ts), through a temp name the diff and the purge recognise. */
function replaceFileSync(prefix: string, name: string, content: string | Uint8Array): void {
  checkName(name);
  writeFileAtomicSync(prefix + name, content, { tempPath: tempPath(prefix, name) });
}

/**
 * Create a file that does not exist yet, in place: open O_CREAT|O_EXCL|O_NOFOLLOW on its own name, (fchmod,) one
 * write, close — three system calls instead of the temp file's four or five (a first fill of 100k files spent
 * about a quarter of its time in rename). As safe as the rename, for one short record: before the write the MAC
 * had no file, hence no record; a reader that comes between open and write (dnsmasq's start-up or SIGHUP scan)
 * finds an empty or not yet readable file, which is no record either — the same state as before; the write of
 * fewer than 512 bytes at offset 0 lands in one page, and the file's size is set once its bytes are in, so a
 * reader never sees part of a record; dnsmasq's IN_CLOSE_WRITE comes after the content. A crash in between leaves
 * an empty file, which means what no file meant and which the next diff rewrites. Multi-record (shard) content
 * could be seen cut at a page boundary, and an existing file must be replaced whole: both take the rename.
 * Returns false, having done nothing, when the name exists.
 */
const MAX_IN_PLACE_BYTES = 512;
function createSmallFileSync(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    if (umaskMasks0644()) fchmodSync(fd, 0o644);
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * A write of the bulk apply: in place when the file is new and holds one short record, else temp + rename. After
 * 16 names that already existed, an apply stops trying in place (a plan of rewrites would pay a failed open per
 * file). `known`: the directory as the caller knows it (the daemon's record of it); a name it holds a file of is
 * rewritten without the attempt. Only a hint: a file there after all is found by the open, one gone by the rename.
 */
class BulkWriter {
  private existing = 0;
  private readonly prefix: string;
  constructor(
    dir: string,
    private readonly known: ReadonlyMap<string, string | null> | undefined,
  ) {
    this.prefix = pathPrefix(dir);
  }
  write(name: string, content: string | Uint8Array): void {
    checkName(name);
    if (typeof content === 'string' && this.existing < 16 && typeof this.known?.get(name) !== 'string' && content.length < MAX_IN_PLACE_BYTES && !content.includes('\n', content.indexOf('\n') + 1)) {
      if (createSmallFileSync(this.prefix + name, content)) return;
      this.existing++;
    }
    replaceFileSync(this.prefix, name, content);
  }
}

function removeFileSync(dir: string, name: string): void {
  checkName(name);
  try {
    unlinkSync(join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export interface ApplyProgress {
  done: number;
  total: number;
}

/**
 * Pacing while dnsmasq runs: after every `batchSize` operations, wait `pauseMs` so dnsmasq can drain its
 * inotify queue (16,384 events) and answer DHCP in between. `signal` stops the apply between two batches.
 */
export interface Pacing {
  batchSize: number;
  pauseMs: number;
  signal?: AbortSignal;
}

/**
 * Apply a plan: writes in the plan's order, then deletes, one at a time. `known`: the directory the plan was made
 * from, when the caller holds it (the daemon): it tells which writes replace a file (BulkWriter).
 */
export async function applyPlanToDirectory(dir: string, plan: Plan, onProgress?: (p: ApplyProgress) => void, pacing?: Pacing, known?: ReadonlyMap<string, string | null>): Promise<void> {
  const total = plan.writes.length + plan.deletes.length;
  let done = 0;
  const step = Math.max(1, Math.floor(total / 20));
  const tick = () => {
    done++;
    if (onProgress && (done % step === 0 || done === total)) onProgress({ done, total });
  };
  // Each phase (adoptions, then revoking writes, then the rest) is finished before the next starts: that is what
  // keeps two files from disagreeing and an interrupted apply from opening more than it closed.
  const groups = writePhases(plan.writes);
  const chunk = pacing && pacing.batchSize > 0 ? pacing.batchSize : Number.POSITIVE_INFINITY;
  let sincePause = 0;
  const paced = async <T>(items: readonly T[], fn: (item: T) => void) => {
    for (let i = 0; i < items.length; ) {
      if (sincePause >= chunk) {
        pacing!.signal?.throwIfAborted();
        await new Promise((r) => setTimeout(r, pacing!.pauseMs));
        sincePause = 0;
      }
      const n = Math.min(items.length - i, chunk - sincePause);
      await inSlices(items, i, i + n, fn);
      i += n;
      sincePause += n;
    }
  };
  const writer = new BulkWriter(dir, known);
  for (const group of groups) {
    await paced(group, (w) => {
      writer.write(w.name, w.bytes ?? w.content);
      tick();
    });
  }
  await paced(plan.deletes, (d) => {
    removeFileSync(dir, d.name);
    tick();
  });
}

/** Synchronous operations per turn of the event loop: signals and timers are still handled every few ms. */
const SLICE = 500;

/** Run `fn` over items[from, to) in order; the first failure stops it (nothing is in flight behind the caller). */
async function inSlices<T>(items: readonly T[], from: number, to: number, fn: (item: T) => void): Promise<void> {
  for (let i = from; i < to; i++) {
    if (i > from && (i - from) % SLICE === 0) await new Promise((r) => setImmediate(r));
    fn(items[i]!);
  }
}

/** Start-up purge (docs/design.md §3): remove every file; a subdirectory is reported and left alone. */
export async function purgeDirectory(dir: string): Promise<{ removed: number; skipped: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true });
  const skipped: string[] = [];
  let removed = 0;
  await inSlices(entries, 0, entries.length, (e) => {
    if (isLockEntry(e.name)) return; // held by the very command that purges
    if (e.isDirectory()) {
      skipped.push(e.name);
      return;
    }
    removeFileSync(dir, e.name);
    removed++;
  });
  return { removed, skipped };
}
