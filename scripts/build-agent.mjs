// `npm run build`: the whole CLI (agent included) as one ES module for PXE hosts: `node dist/pxe-filter-agent.mjs`.
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'dist/pxe-filter-agent.mjs';
await build({
  entryPoints: ['cli/entry.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (pino, commander) call require(); give the ES module one.
  banner: { js: "import { createRequire as __pxeCreateRequire } from 'node:module'; const require = __pxeCreateRequire(import.meta.url);" },
});
process.stdout.write(`built ${outfile}\n`);
