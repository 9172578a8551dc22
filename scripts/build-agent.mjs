// `npm run build`: the CLI (agent included) as ES modules for PXE hosts, no node_modules needed:
// `dist/pxe-filter-agent.mjs` plus `dist/chunks/`, installed together (docs/agent.md).
// Split into chunks on purpose: each command and the AWS SDK are loaded only when used (measured with
// `agent --help`: 73 MB RSS for the same code in one 3.2 MB file, 51 MB split).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { commanderLazyChildProcess, ownChunk, zodEnglishOnly } from './esbuild-plugins.mjs';

const outfile = process.argv[2] ?? 'dist/pxe-filter-agent.mjs';
// ES modules only: a .js file next to no package.json of type "module" would be loaded as CommonJS.
if (extname(outfile) !== '.mjs') throw new Error(`build-agent: the output must be a .mjs file, not ${outfile}`);
const outdir = dirname(outfile);
const result = await build({
  entryPoints: { [basename(outfile, '.mjs')]: 'cli/entry.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  // `compute` and `agent once` are short processes where every ms of start-up shows: each one's code is one chunk.
  plugins: [
    zodEnglishOnly,
    commanderLazyChildProcess,
    ownChunk(resolve('cli/commands/compute.ts'), [resolve('core/errors.ts')]),
    ownChunk(resolve('cli/commands/agent-once.ts'), [resolve('core/errors.ts')]),
  ],
  // CommonJS dependencies (pino, commander) call require(); give each ES module one.
  banner: { js: "import { createRequire as __pxeCreateRequire } from 'node:module'; const require = __pxeCreateRequire(import.meta.url);" },
});
// Only after a successful build: chunks of earlier builds that this entry no longer imports are removed.
const written = new Set(Object.keys(result.metafile.outputs).map((p) => resolve(p)));
const chunks = join(outdir, 'chunks');
for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
  if (!written.has(resolve(chunks, name))) rmSync(join(chunks, name), { force: true });
}
process.stdout.write(`built ${outfile} (+ ${chunks}/)\n`);
