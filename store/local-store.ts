/**
 * The embedded local default: a directory that plays S3 (versioned objects, conditional writes) and SSM
 * (parameters). Layout, readable by a person:
 *   <root>/objects/<key>/versions/<versionId>   every version ever written
 *   <root>/objects/<key>/current                versionId of the current version
 *   <root>/parameters/<name>                    parameter value
 * Every file is written to a temp name and renamed, so a crash never leaves a torn object or pointer.
 * Reads and writes are synchronous calls inside the async interface (only the lock waits): one call each instead
 * of a thread-pool round trip per open/read/write/close/rename (a 2.6 MB manifest read as nine), which on a busy
 * 2-vCPU VM cost an agent's 100k-MAC poll 6-24 ms for its ack alone.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { readTextIfExistsSync, writeFileAtomicSync } from './files.ts';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { InputError } from '../core/errors.ts';
import { sha256 } from '../core/manifest.ts';
import { type ObjectSummary, PreconditionFailedError, type PutCondition, type PutResult, type Store, type StoredObject } from './store.ts';

const SAFE_SEGMENT = /^[A-Za-z0-9._@=+-]+$/;

export class LocalStore implements Store {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = `local store at ${root}`;
  }

  async getObject(key: string, versionId?: string): Promise<StoredObject | undefined> {
    const dir = this.objectDir(key);
    const id = versionId ?? readTextIfExistsSync(join(dir, 'current'));
    if (id === undefined) return undefined;
    checkSegments(id, 'versionId');
    const path = join(dir, 'versions', id);
    try {
      const bytes = readFileSync(path);
      const info = statSync(path);
      let etag: string | undefined;
      // Only a conditional write needs the etag: an agent reading a 100k-MAC manifest does not hash it twice.
      return {
        key,
        versionId: id,
        get etag() {
          return (etag ??= sha256(bytes));
        },
        // A view of a large file's own buffer (no 2.6 MB copy per manifest read); a copy of a small one, which
        // node reads into a slice of its shared buffer pool.
        bytes: bytes.byteLength === bytes.buffer.byteLength ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes),
        lastModified: info.mtime,
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async putObject(key: string, bytes: Uint8Array, options: { condition?: PutCondition } = {}): Promise<PutResult> {
    const dir = this.objectDir(key);
    mkdirSync(join(dir, 'versions'), { recursive: true });
    // One writer at a time per key, so the condition check and the switch of `current` are one step.
    const release = await lockObject(dir);
    try {
      const cond = options.condition;
      if (cond) {
        const current = await this.getObject(key);
        const ok = 'ifNoneMatch' in cond ? current === undefined : current?.etag === cond.ifMatch;
        if (!ok) throw new PreconditionFailedError(key);
      }
      const versionId = `${Date.now().toString().padStart(15, '0')}-${randomBytes(6).toString('hex')}`;
      writeFileAtomicSync(join(dir, 'versions', versionId), bytes);
      writeFileAtomicSync(join(dir, 'current'), versionId);
      return { versionId, etag: sha256(bytes) };
    } finally {
      await release();
    }
  }

  async listVersions(key: string): Promise<{ versionId: string; lastModified: Date }[]> {
    const dir = join(this.objectDir(key), 'versions');
    const names = await readdir(dir).catch((err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)));
    const ids = names.filter((n) => !n.startsWith('.')).sort().reverse();
    return Promise.all(ids.map(async (versionId) => ({ versionId, lastModified: (await stat(join(dir, versionId))).mtime })));
  }

  async listObjects(prefix: string): Promise<ObjectSummary[]> {
    const out: ObjectSummary[] = [];
    const walk = async (rel: string): Promise<void> => {
      const abs = join(this.root, 'objects', rel);
      const names: string[] = await readdir(abs).catch((err: unknown) =>
        isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? [] : Promise.reject(err),
      );
      if (names.includes('current')) {
        const obj = await this.getObject(rel);
        if (obj) out.push({ key: rel, size: obj.bytes.byteLength, lastModified: obj.lastModified, version: obj.versionId });
      }
      for (const name of names) {
        if (name === 'current' || name === 'versions' || name.startsWith('.')) continue;
        const child = rel ? `${rel}/${name}` : name;
        if (child.startsWith(prefix) || prefix.startsWith(`${child}/`)) await walk(child);
      }
    };
    await walk('');
    return out.filter((o) => o.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async getParameter(name: string): Promise<string | undefined> {
    const text = readTextIfExistsSync(this.parameterPath(name));
    if (text === undefined) this.assertRootExists();
    return text;
  }

  /**
   * A parameter read (an agent's pointer, a compute's settings) that finds nothing in a store whose directory does
   * not exist is a wrong path, not "nothing published yet": say so (an agent would otherwise wait for a first
   * manifest forever). Object reads stay quiet: a first publisher reads the current manifest before creating it.
   */
  private assertRootExists(): void {
    if (!existsSync(this.root)) {
      throw new InputError('store', `local:${this.root}`, 'no such directory (a local store is created by its first publish: check the store path given)');
    }
  }

  async putParameter(name: string, value: string): Promise<void> {
    const path = this.parameterPath(name);
    writeFileAtomicSync(path, value, { mkdir: true });
  }

  private objectDir(key: string): string {
    checkSegments(key, 'key');
    return join(this.root, 'objects', key);
  }

  private parameterPath(name: string): string {
    if (!name.startsWith('/')) throw new InputError('parameter', name, 'parameter names start with "/"');
    checkSegments(name.slice(1), 'parameter');
    return join(this.root, 'parameters', name.slice(1));
  }
}

const LOCK = { stale: 10_000, realpath: false } as const;

/**
 * One writer at a time per key. The uncontended case (every agent's ack) takes the lock with synchronous calls;
 * only a lock another writer holds is waited for, with retries.
 */
async function lockObject(dir: string): Promise<() => Promise<void>> {
  const lockfilePath = join(dir, '.lock');
  try {
    const release = lockfile.lockSync(dir, { ...LOCK, lockfilePath });
    return async () => release();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
  }
  return lockfile.lock(dir, { ...LOCK, lockfilePath, retries: { retries: 50, minTimeout: 5, maxTimeout: 100 } });
}

/** Keys and names map to paths: refuse anything that could leave the store's directory. */
function checkSegments(path: string, field: string, reserved = field !== 'parameter'): void {
  const parts = path.split('/');
  for (const part of parts) {
    if (!SAFE_SEGMENT.test(part) || part === '.' || part === '..' || (reserved && (part === 'current' || part === 'versions'))) {
      throw new InputError(field, path, 'not a safe store path (segments of A-Z a-z 0-9 . _ @ = + -, no "..")');
    }
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
