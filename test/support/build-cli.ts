/** vitest global set-up: `cli/bin.js` runs the compiled command line, so build it when a source is newer. */
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './cli.ts';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-cli.mjs', '--if-stale'], { cwd: REPO_ROOT, stdio: 'inherit' });
}
