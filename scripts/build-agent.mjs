// `npm run build`: the CLI (agent included) as ES modules for PXE hosts, no node_modules needed:
// `dist/pxe-filter-agent.mjs` plus `dist/chunks/`, installed together (docs/agent.md).
// Split into chunks on purpose: each command and the AWS SDK are loaded only when used, so `agent run` on a
// `local:` or `s3://` store never parses the others (measured: 73 MB RSS for one 3.2 MB file against 55 MB split).
import { rmSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'dist/pxe-filter-agent.mjs';
const outdir = dirname(outfile);
rmSync(join(outdir, 'chunks'), { recursive: true, force: true }); // no stale chunks of an earlier build
await build({
  entryPoints: { [basename(outfile, extname(outfile))]: 'cli/entry.ts' },
  outdir,
  outExtension: { '.js': extname(outfile) || '.mjs' },
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
  // CommonJS dependencies (pino, commander) call require(); give each ES module one.
  banner: { js: "import { createRequire as __pxeCreateRequire } from 'node:module'; const require = __pxeCreateRequire(import.meta.url);" },
});
process.stdout.write(`built ${outfile} (+ ${join(outdir, 'chunks')}/)\n`);
