// esbuild plugins shared by `npm run build` (scripts/build-agent.mjs) and the bench's bundles (bench/run.ts).
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, sep } from 'node:path';

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

/**
 * A command's code in one chunk. With code splitting, a module goes into a chunk with the other modules that the
 * same set of entry points reaches, so the ~20 small core modules `compute` imports end up in ~15 chunks, shared in
 * as many ways with the other commands, and each is a module Node resolves, reads, compiles and links apart (a few
 * ms of every `compute`). Given the command's module (`root`), this plugin bundles a copy of every module it
 * imports statically, directly or not, for it alone: they are reached from that one entry point and go into its
 * chunk. Dynamic imports, node_modules and the modules in `shared` (those whose identity matters across the process,
 * such as the error classes the command line maps to exit statuses) stay the common ones.
 *
 * A copied module is a second instance in a process that also loads the common one (a dynamic import of `root`
 * reaching it): caches held in module state (WeakMaps of known-canonical policies, …) are then per instance, which
 * costs a recomputation, never a different answer.
 */
export function ownChunk(root, shared) {
  // One suffix per command: two commands' copies of a module are two modules, each in its command's chunk.
  const SUFFIX = `?own-chunk=${basename(root, extname(root))}`;
  const sharedPaths = new Set(shared);
  return {
    name: 'own-chunk',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.resolving || args.kind !== 'import-statement') return undefined;
        if (args.importer !== root && args.pluginData?.ownChunk !== SUFFIX) return undefined; // another instance's copies are not this one's
        const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { resolving: true } });
        if (r.errors.length > 0) return { errors: r.errors };
        if (r.external || r.namespace !== 'file' || sharedPaths.has(r.path) || r.path.split(sep).includes('node_modules')) {
          return { path: r.path, external: r.external, namespace: r.namespace, sideEffects: r.sideEffects, suffix: r.suffix };
        }
        return { path: r.path, suffix: SUFFIX, pluginData: { ownChunk: SUFFIX } };
      });
      build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
        if (args.suffix !== SUFFIX) return undefined;
        const loader = args.path.endsWith('ts') ? 'ts' : 'js';
        return { contents: await readFile(args.path, 'utf8'), loader, resolveDir: dirname(args.path), pluginData: { ownChunk: SUFFIX } };
      });
    },
  };
}
