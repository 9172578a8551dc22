// `npm run build:cli`: the operator command line compiled to JavaScript, `dist/cli/pxe-filter.mjs` plus
// `dist/cli/chunks/`, which `cli/bin.js` (the package's `bin`) runs: `npx pxe-filter` and `npm i -g .` never
// transpile TypeScript. npm runs it as `prepare` (so `npm ci` and `npm install` build it); `npm start` and
// `npm test` run it with `--if-stale` (scripts/ensure-deps.mjs, the vitest set-up), which rebuilds only when a
// source file is newer than the build. The build itself is the agent bundle's (scripts/build-agent.mjs): same
// code, same chunks loaded on demand, another output path.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const CLI_BUNDLE = 'dist/cli/pxe-filter.mjs';
const SOURCES = ['cli', 'core', 'agent', 'control', 'exporter', 'store', 'functions', 'package.json', 'package-lock.json', 'scripts/build-agent.mjs', 'scripts/esbuild-plugins.mjs'];

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs; // a deleted file changes its directory's mtime
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function isStale() {
  if (!existsSync(CLI_BUNDLE)) return true;
  const built = statSync(CLI_BUNDLE).mtimeMs;
  return SOURCES.some((s) => existsSync(s) && newestMtime(s) > built);
}

if (!process.argv.includes('--if-stale') || isStale()) {
  execFileSync(process.execPath, ['scripts/build-agent.mjs', CLI_BUNDLE], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.stderr.write(`pxe-filter: built the command line (${CLI_BUNDLE})\n`);
}
