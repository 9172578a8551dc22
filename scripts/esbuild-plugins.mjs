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
 * commander requires child_process at load, for subcommands that are separate executables, which this program has
 * none of: every run paid for loading it (and net, dgram, streams behind it). Loaded when spawn is first called.
 */
export const commanderLazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!source.includes(eager)) throw new Error(`commander-lazy-child-process: ${args.path} no longer has: ${eager}`);
      const lazy = "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};
