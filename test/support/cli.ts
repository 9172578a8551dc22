/**
 * Test helpers for the command line: run `main()` in-process (fast) or spawn the real `cli/bin.js` (what an
 * operator runs), capture stdout/stderr and the exit status; snapshot a directory to prove "nothing written".
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../../cli/main.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `main(argv)` in this process, with stdout/stderr captured (about 100x faster than a spawn). */
export async function runCli(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The real executable, as `npx pxe-filter` runs it. */
export function spawnCli(argv: string[], cwd = REPO_ROOT): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [join(REPO_ROOT, 'cli', 'bin.js'), ...argv], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** A fresh temp directory, removed by the returned cleanup (call it from afterEach/afterAll). */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `pxe-filter-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface FileSnapshot {
  content: string;
  mode: number;
  ino: number;
  mtimeNs: bigint;
}

/** Every entry of a directory (recursively) with content, mode, inode and mtime: equal snapshots = nothing written. */
export function snapshotDir(dir: string): Map<string, FileSnapshot> {
  const out = new Map<string, FileSnapshot>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const relName = rel ? `${rel}/${name}` : name;
      const abs = join(dir, relName);
      const info = statSync(abs, { bigint: true });
      if (info.isDirectory()) {
        out.set(`${relName}/`, { content: '', mode: Number(info.mode & 0o7777n), ino: Number(info.ino), mtimeNs: info.mtimeNs });
        walk(relName);
      } else {
        out.set(relName, { content: readFileSync(abs, 'latin1'), mode: Number(info.mode & 0o7777n), ino: Number(info.ino), mtimeNs: info.mtimeNs });
      }
    }
  };
  walk('');
  return out;
}

/** Name → content of the regular files directly in `dir`. */
export function readFlat(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const abs = join(dir, name);
    if (statSync(abs).isFile()) out[name] = readFileSync(abs, 'utf8');
  }
  return out;
}

/** The one line a refusal must print: exactly one non-empty line on stderr. */
export function stderrLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.length > 0);
}
