#!/usr/bin/env node
// `pxe-filter` from a checkout (`npx pxe-filter`, `npm i -g .`): runs the compiled command line, never TypeScript.
// dist/cli/ is built by `npm run build:cli`, which npm runs as `prepare` on `npm ci` and `npm install`.
// Plain JavaScript on purpose: it must run before anything is built.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/cli/pxe-filter.mjs', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`pxe-filter: the command line is not built (no ${fileURLToPath(bundle)}): run \`npm run build:cli\` in ${root}\n`);
  process.exitCode = 1;
}
