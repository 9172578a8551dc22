import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import { readFileHashed, readJsonFileIfExists, readJsonFileWithDigest, writeFileAtomicSync, writeFileAtomically } from '../../store/files.ts';
import { readAgentState } from '../../agent/state-file.ts';

describe('small atomic files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-files-'));

  it('writes whole files with mode 0644 and leaves no temp file behind', async () => {
    const path = join(dir, 'sub', 'a.json');
    writeFileAtomicSync(path, '{"x":1}\n', { mkdir: true });
    expect(readFileSync(path, 'utf8')).toBe('{"x":1}\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['a.json']);
  });

  it('a failed write (target is a directory) leaves the old state and no temp file', async () => {
    expect(() => writeFileAtomicSync(join(dir, 'sub'), 'x')).toThrow();
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    // With the caller's temp name (the hosts directory's): an existing temp is never written through (O_EXCL).
    const target = join(dir, 'b');
    writeFileSync(join(dir, '.b.tmp'), 'someone else');
    expect(() => writeFileAtomicSync(target, 'x', { tempPath: join(dir, '.b.tmp') })).toThrow(/EEXIST/);
    expect(readFileSync(join(dir, '.b.tmp'), 'utf8')).toBe('someone else');
  });

  it('a file the user named: one InputError naming the option and the path', async () => {
    await expect(writeFileAtomically(join(dir, 'no', 'such', 'dir.json'), 'x', '--settings-out')).rejects.toThrow(`--settings-out: cannot write file (ENOENT): "${join(dir, 'no', 'such', 'dir.json')}"`);
    expect(() => readJsonFileWithDigest(join(dir, 'nope.json'))).toThrow(InputError);
    writeFileSync(join(dir, 'doc.json'), '{"a":[1]}');
    expect(readJsonFileWithDigest(join(dir, 'doc.json'))).toEqual({ body: { a: [1] }, sha256: createHash('sha256').update('{"a":[1]}').digest('hex') });
  });

  it('readFileHashed: the bytes readFileSync gives and their sha256, across its read-and-hash pieces; a directory is refused like readFileSync', () => {
    const piece = 256 * 1024;
    for (const size of [0, 1, piece - 1, piece, piece + 1, 4 * piece + 3]) {
      const path = join(dir, `hashed-${size}`);
      writeFileSync(path, Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff)));
      const r = readFileHashed(path);
      expect(Buffer.from(r.bytes).equals(readFileSync(path)), `size ${size}`).toBe(true);
      expect(r.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
    expect(readFileHashed('/dev/null').bytes.byteLength).toBe(0); // not a regular file: through readFileSync
    expect(() => readFileHashed(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => readJsonFileWithDigest(dir)).toThrow(`${dir}: cannot read file: "EISDIR"`);
  });

  it('reads back validated JSON, undefined when absent, and one InputError naming the file when corrupt', async () => {
    const schema = z.strictObject({ x: z.number() });
    expect(await readJsonFileIfExists(join(dir, 'missing.json'), schema)).toBeUndefined();
    expect(await readJsonFileIfExists(join(dir, 'sub', 'a.json'), schema)).toEqual({ x: 1 });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"x":');
    await expect(readJsonFileIfExists(bad, schema)).rejects.toThrow(InputError);
    await expect(readJsonFileIfExists(bad, schema)).rejects.toThrow(`${bad}: not valid JSON`);
    writeFileSync(bad, '{"x":"one"}');
    await expect(readJsonFileIfExists(bad, schema)).rejects.toThrow(`${bad}.x:`);
  });

  it("a corrupt agent state file is a clear error, not a crash", async () => {
    const state = join(dir, 'state.json');
    writeFileSync(state, 'garbage');
    await expect(readAgentState(state)).rejects.toThrow(/state\.json: not valid JSON/);
  });
});
