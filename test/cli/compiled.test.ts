/**
 * The operator's command line runs compiled JavaScript (issue 14): `cli/bin.js` runs `dist/cli/`, which needs
 * neither TypeScript nor node_modules. Proven by running a copy of exactly those files where no node_modules is.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildManifest, serializeManifest } from '../../core/manifest.ts';
import { REPO_ROOT, tempDir } from '../support/cli.ts';

const exec = promisify(execFile);
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

async function run(bin: string, args: string[]) {
  try {
    const r = await exec(process.execPath, [bin, ...args], { cwd: '/', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the compiled command line (cli/bin.js → dist/cli)', () => {
  const tmp = tempDir('compiled');
  afterAll(() => tmp.cleanup());
  // A copy of the checkout's bin and build only: no node_modules, no .ts file, no tsx anywhere above it.
  const copy = join(tmp.path, 'pkg');
  mkdirSync(join(copy, 'cli'), { recursive: true });
  cpSync(join(REPO_ROOT, 'cli', 'bin.js'), join(copy, 'cli', 'bin.js'));
  cpSync(join(REPO_ROOT, 'dist', 'cli'), join(copy, 'dist', 'cli'), { recursive: true });
  const bin = join(copy, 'cli', 'bin.js');

  it('contains no TypeScript: the build is plain .mjs files', () => {
    const files = readdirSync(join(copy, 'dist', 'cli'), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.mjs')).length).toBeGreaterThan(1);
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  /** The text of a chunk and of every chunk it imports statically: what loading it parses. */
  function staticClosure(entry: string): { files: number; text: string } {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import [^;]*? from "(\.\/[^"]+)";?$|^} from "(\.\/[^"]+)";$/gm)) visit(join(file, '..', m[1] ?? m[2]!));
    };
    visit(entry);
    return { files: seen.size, text: [...seen].map((f) => readFileSync(f, 'utf8')).join('\n') };
  }

  it('--help and --version load only the parser: no zod, no command, no AWS SDK in the entry\'s static imports', () => {
    const { files, text: loaded } = staticClosure(join(copy, 'dist', 'cli', 'pxe-filter.mjs'));
    expect(files).toBeGreaterThan(1);
    expect(loaded).toContain('node_modules/commander/');
    expect(loaded).not.toContain('node_modules/zod/');
    expect(loaded).not.toContain('node_modules/@aws-sdk/');
    expect(loaded).not.toContain('node_modules/pino/');
  });

  it('compute loads no zod for good Ironic exports: the schemas only word errors or serve other options (issue #19)', () => {
    const chunks = join(copy, 'dist', 'cli', 'chunks');
    const compute = readdirSync(chunks).filter((f) => f.startsWith('compute-'));
    expect(compute).toHaveLength(1);
    const { text } = staticClosure(join(chunks, compute[0]!));
    for (const needed of ['// core/ironic-fast.ts', '// core/manifest-build.ts', '// core/settings-fast.ts', '// core/policy.ts']) expect(text, needed).toContain(needed);
    for (const lazy of ['node_modules/zod/', '// core/ironic-exports.ts', '// core/manifest.ts', '// core/settings.ts', '// control/signing.ts']) {
      expect(text, lazy).not.toContain(lazy);
    }
  });

  it.each([
    ['compute', 'compute-', '// core/policy.ts'],
    ['agent once', 'agent-once-', '// core/shard-fill.ts'],
  ])('%s is one module beyond what the entry loads (scripts/esbuild-plugins.mjs ownChunk), with the error classes the entry maps to exit statuses shared', (_, prefix, own) => {
    const chunks = join(copy, 'dist', 'cli', 'chunks');
    const command = join(chunks, readdirSync(chunks).find((f) => f.startsWith(prefix))!);
    const closure = (file: string) => {
      const seen = new Set<string>();
      const visit = (f: string) => {
        if (seen.has(f)) return;
        seen.add(f);
        for (const m of readFileSync(f, 'utf8').matchAll(/^import [^;]*? from "(\.\/[^"]+)";?$|^} from "(\.\/[^"]+)";$|^import "(\.\/[^"]+)";$/gm)) visit(join(f, '..', m[1] ?? m[2] ?? m[3]!));
      };
      visit(file);
      return seen;
    };
    const entryFiles = closure(join(copy, 'dist', 'cli', 'pxe-filter.mjs'));
    expect([...closure(command)].filter((f) => !entryFiles.has(f))).toEqual([command]);
    const text = readFileSync(command, 'utf8');
    expect(text).toContain(own);
    expect(text).not.toContain('// core/errors.ts');
  });

  it('agent once loads the store, the logger, the lock-file library and zod only when it reads a store (--config)', () => {
    const chunks = join(copy, 'dist', 'cli', 'chunks');
    const once = readdirSync(chunks).filter((f) => f.startsWith('agent-once-'));
    expect(once).toHaveLength(1);
    const { text } = staticClosure(join(chunks, once[0]!));
    expect(text).toContain('// agent/sync.ts');
    for (const lazy of ['// store/local-store.ts', '// agent/manifest-source.ts', '// agent/state-file.ts', '// agent/config.ts', 'node_modules/pino/', 'node_modules/proper-lockfile/', 'node_modules/zod/']) {
      expect(text, lazy).not.toContain(lazy);
    }
  });

  it('--version prints package.json\'s version, without node_modules', async () => {
    const r = await run(bin, ['--version']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('agent once applies a manifest, without node_modules', async () => {
    const manifest = join(tmp.path, 'm.json');
    const hostsdir = join(tmp.path, 'hostsdir');
    mkdirSync(hostsdir);
    const m = buildManifest({ site: 'dc1', generation: 7, createdAt: new Date(), inputs: [], policy: { unknownHosts: 'deny', removed: 'deny', allow: [], deny: [] } });
    writeFileSync(manifest, serializeManifest(m));
    const r = await run(bin, ['agent', 'once', '--manifest', manifest, '--hostsdir', hostsdir, '--service', 'none']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^applied generation 7 of site dc1/);
    expect(readdirSync(hostsdir)).toEqual(['unknown_hosts_filter']);
  });

  it('without a build: one line saying how to build it, exit 1', async () => {
    const bare = join(tmp.path, 'bare', 'cli');
    mkdirSync(bare, { recursive: true });
    cpSync(join(REPO_ROOT, 'cli', 'bin.js'), join(bare, 'bin.js'));
    const r = await run(join(bare, 'bin.js'), ['--help']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^pxe-filter: the command line is not built \(no .*\/bare\/dist\/cli\/pxe-filter\.mjs\): run `npm run build:cli` in .*\/bare\/\n$/);
  });
});
