/**
 * The writer skips its fchmod when the process umask leaves 0644 alone, and must still produce 0644 files under
 * a umask that would not (dnsmasq reads them as an unprivileged user). Child processes, so each has its own umask
 * from the start (the writer reads it once).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'pxe-umask-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const script = `
import { applyPlanToDirectory } from './agent/hostsdir-io.ts';
import { diffDirectory } from './core/hostsdir.ts';
const policy = { unknownHosts: 'deny', removed: 'deny', allow: ['52:54:00:00:00:01'], deny: ['52:54:00:00:00:02'] };
await applyPlanToDirectory(process.argv[1], diffDirectory(policy, new Map()));
`;

describe('hostsdir writer file mode', () => {
  for (const umask of ['0022', '0077', '0027', '0002']) {
    it(`writes 0644 files under umask ${umask}`, () => {
      const dir = mkdtempSync(join(root, `u${umask}-`));
      const r = spawnSync('sh', ['-c', `umask ${umask} && exec node --import tsx --input-type=module -e "$0" "$1"`, script, dir], { encoding: 'utf8', cwd: process.cwd() });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const names = readdirSync(dir);
      expect(names).toHaveLength(3);
      for (const name of names) expect((statSync(join(dir, name)).mode & 0o777).toString(8)).toBe('644');
    });
  }
});
