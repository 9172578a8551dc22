// The self-contained executable (/usr/bin/pxe-filter of the Debian package, scripts/package-deb.mjs; the bench
// measures it too): the command line bundled by esbuild into one CommonJS script (cli/sea-entry.ts), turned into a
// blob by `node --experimental-sea-config`, and injected with postject into a copy of the Node.js binary that runs
// this script (stripped of its symbols first). The host then needs no Node.js at all.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { commanderLazyChildProcess, zodEnglishOnly } from './esbuild-plugins.mjs';

// The sentinel Node.js looks for to know it carries a program (Node's SEA documentation).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const run = (cmd, args, o = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...o });

/** Build the executable at `out`; `work` holds the intermediate script and blob. */
export async function buildExecutable(out, work) {
  mkdirSync(work, { recursive: true });
  const script = join(work, 'pxe-filter.cjs');
  await build({
    entryPoints: ['cli/sea-entry.ts'],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [zodEnglishOnly, commanderLazyChildProcess],
  });
  const seaConfig = join(work, 'sea-config.json');
  // useCodeCache: V8's compiled code goes into the blob, so the 1.5 MB script is not compiled at every start.
  writeFileSync(seaConfig, JSON.stringify({ main: script, output: join(work, 'sea.blob'), disableExperimentalSEAWarning: true, useCodeCache: true }));
  run(process.execPath, ['--experimental-sea-config', seaConfig]);
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  run('strip', ['--strip-all', '--remove-section=.comment', out]);
  // Its output (progress, LIEF warnings) is only shown when it fails.
  run(join('node_modules', '.bin', 'postject'), [out, 'NODE_SEA_BLOB', join(work, 'sea.blob'), '--sentinel-fuse', SEA_FUSE], { stdio: ['ignore', 'ignore', 'pipe'] });
}
