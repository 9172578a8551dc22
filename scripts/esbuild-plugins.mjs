// esbuild plugins shared by `npm run build` (scripts/build-agent.mjs) and the bench's bundles (bench/run.ts).
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
