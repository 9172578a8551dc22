// esbuild plugins shared by `npm run build` (scripts/build-agent.mjs) and the bench's bundles (bench/run.ts).
import { readFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

/**
 * zod's namespace re-exports every locale (`z.locales`: ~370 KB of the agent bundle, more than the rest of zod),
 * which no code here uses: zod registers English itself, from its own `locales/en.js`. Every process parsed that
 * code at start-up (`agent once`, `compute`, `agent run`). Bundle `locales/index.js` as English only.
 */
export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}node_modules${sep}zod${sep}`) ? { path: join(dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-locales' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};\n`,
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * commander requires node:child_process when it loads, for executable subcommands (`git-style`), which this CLI
 * does not have: loading it (with net, dgram and their bindings) was a measurable share of every command's
 * start-up. Bundle commander's `lib/command.js` with that require made on first use instead. A commander whose
 * source no longer has the line fails the build rather than silently keeping the eager require.
 */
const COMMANDER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
export const commanderLazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(COMMANDER_CHILD_PROCESS)) throw new Error(`${args.path}: no "${COMMANDER_CHILD_PROCESS}" to make lazy (commander changed?)`);
      const lazy = "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
      return { contents: source.replace(COMMANDER_CHILD_PROCESS, lazy), loader: 'js' };
    });
  },
};
