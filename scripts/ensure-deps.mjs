// Makes `npm start` and `npm test` work on a fresh clone: runs `npm ci` when node_modules was not installed from
// this exact package-lock.json, then rebuilds the compiled command line (cli/bin.js runs dist/cli/) when a source
// file changed since it was built. Keyed on the lock file's content, not on mtimes, so a fresh checkout of the same
// lock file (a worktree, a CI clone sharing a cache) does not reinstall. Plain JS: it runs before anything is installed.
import { execFileSync, execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const marker = 'node_modules/.pxe-filter-lock.sha256';
const want = createHash('sha256').update(readFileSync('package-lock.json')).digest('hex');
const have = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '';
if (have !== want) {
  process.stderr.write('pxe-filter: installing the locked dependencies (npm ci)…\n');
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
  writeFileSync(marker, `${want}\n`);
}
execFileSync(process.execPath, ['scripts/build-cli.mjs', '--if-stale'], { stdio: 'inherit' });
