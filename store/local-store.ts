/**
 * The embedded local default: a directory that plays S3 (versioned objects, conditional writes) and SSM
 * (parameters). Layout, readable by a person:
 *   <root>/objects/<key>/versions/<versionId>   every version ever written
 *   <root>/objects/<key>/current                versionId of the current version
 *   <root>/parameters/<name>                    parameter value
 * Every file is written to a temp name and renamed, so a crash never leaves a torn object or pointer.
 */
import { randomBytes } from 'node:crypto';
import { readTextIfExists, writeFileAtomic } from './files.ts';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
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
    const id = versionId ?? (await readTextIfExists(join(dir, 'current')));
    if (id === undefined) return undefined;
    checkSegments(id, 'versionId');
    const path = join(dir, 'versions', id);
    try {
      const [bytes, info] = await Promise.all([readFile(path), stat(path)]);
      return { key, versionId: id, etag: sha256(bytes), bytes: new Uint8Array(bytes), lastModified: info.mtime };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async putObject(key: string, bytes: Uint8Array, options: { condition?: PutCondition } = {}): Promise<PutResult> {
    const dir = this.objectDir(key);
    await mkdir(join(dir, 'versions'), { recursive: true });
    // One writer at a time per key, so the condition check and the switch of `current` are one step.
    const release = await lockfile.lock(dir, { stale: 10_000, retries: { retries: 50, minTimeout: 5, maxTimeout: 100 }, realpath: false, lockfilePath: join(dir, '.lock') });
    try {
      const cond = options.condition;
      if (cond) {
        const current = await this.getObject(key);
        const ok = 'ifNoneMatch' in cond ? current === undefined : current?.etag === cond.ifMatch;
        if (!ok) throw new PreconditionFailedError(key);
      }
      const versionId = `${Date.now().toString().padStart(15, '0')}-${randomBytes(6).toString('hex')}`;
      await writeFileAtomic(join(dir, 'versions', versionId), bytes);
      await writeFileAtomic(join(dir, 'current'), versionId);
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
        if (obj) out.push({ key: rel, size: obj.bytes.byteLength, lastModified: obj.lastModified });
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
    return readTextIfExists(this.parameterPath(name));
  }

  async putParameter(name: string, value: string): Promise<void> {
    const path = this.parameterPath(name);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFileAtomic(path, value);
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
