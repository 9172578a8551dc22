/**
 * pxe-filter-control.service: passes `systemd-analyze verify`, shares the exporter's identity (both write the local
 * store), and its command line with the shipped control.env's arguments starts a service that stops cleanly on
 * SIGTERM — only the store's path replaced by a temporary one.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../support/cli.ts';
import { putExport, siteStore, spawnControlRun } from '../support/control.ts';

const run = promisify(execFile);
const UNITS = join(REPO_ROOT, 'agent', 'systemd');
const unitText = readFileSync(join(UNITS, 'pxe-filter-control.service'), 'utf8');
const envText = readFileSync(join(REPO_ROOT, 'packaging', 'debian', 'control.env'), 'utf8');
const tmp = tempDir('control-unit');
afterAll(() => tmp.cleanup());

async function verify(text: string): Promise<{ code: number; stderr: string }> {
  const dir = join(tmp.path, `units-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir);
  // verify refuses an ExecStart binary that does not exist: point it at this checkout's.
  writeFileSync(join(dir, 'pxe-filter-control.service'), text.replaceAll('/usr/bin/pxe-filter', join(REPO_ROOT, 'cli', 'bin.js')));
  try {
    const { stderr } = await run('systemd-analyze', ['verify', join(dir, 'pxe-filter-control.service')], { timeout: 60_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? '' };
  }
}

describe('agent/systemd/pxe-filter-control.service', () => {
  it('passes systemd-analyze verify with no warning about itself; a misspelt directive is reported', async () => {
    const ok = await verify(unitText);
    expect(ok.stderr.split('\n').filter((l) => l.includes('pxe-filter-control'))).toEqual([]);
    expect(ok.code).toBe(0);
    const bad = await verify(unitText.replace('Type=simple', 'Type=simpel'));
    expect(bad.stderr).toMatch(/pxe-filter-control\.service.*(Failed to parse service type|simpel)/);
  });

  it('runs `control run` with the env file\'s arguments, restarts, and shares the exporter\'s dynamic user', () => {
    expect(unitText).toMatch(/^ExecStart=\/usr\/bin\/pxe-filter control run \$PXE_FILTER_CONTROL_ARGS$/m);
    expect(unitText).toMatch(/^EnvironmentFile=\/etc\/pxe-filter\/control\.env$/m);
    expect(unitText).toMatch(/^Restart=always$/m);
    const exporter = readFileSync(join(UNITS, 'pxe-filter-export.service'), 'utf8');
    for (const directive of ['DynamicUser=yes', 'User=pxe-filter', 'Group=pxe-filter', 'StateDirectory=pxe-filter']) {
      expect(unitText).toContain(`\n${directive}\n`);
      expect(exporter).toContain(`\n${directive}\n`);
    }
  });

  it('the shipped control.env names the store the exporter docs use, and its command line runs', async () => {
    const args = /^PXE_FILTER_CONTROL_ARGS=(.*)$/m.exec(envText)?.[1];
    expect(args).toContain('--store local:/var/lib/pxe-filter/store');
    const root = join(tmp.path, 'store');
    mkdirSync(root);
    const store = await siteStore(root, 'dc1');
    await putExport(store, 'dc1');
    // systemd splits $VAR in ExecStart= on whitespace.
    const svc = spawnControlRun(args!.replace('local:/var/lib/pxe-filter/store', `local:${root}`).split(/\s+/).filter(Boolean));
    try {
      await svc.waitFor((l) => l.msg === 'published' && l.site === 'dc1', 'the start-up publish');
    } finally {
      expect(await svc.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    }
  });
});
