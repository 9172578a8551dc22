/** The exporter's systemd units pass `systemd-analyze verify` (the same check systemd makes when loading them). */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const UNITS = fileURLToPath(new URL('../../agent/systemd/', import.meta.url));
const BIN = fileURLToPath(new URL('../../cli/bin.js', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-filter-units-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * verify refuses an ExecStart binary that does not exist; the units name the installed path
 * (/usr/bin/pxe-filter, from the Debian package), so the copy under test points at this checkout's executable instead.
 */
async function copyUnits(edit: (text: string) => string = (t) => t): Promise<string[]> {
  const out: string[] = [];
  for (const name of ['pxe-filter-export.service', 'pxe-filter-export.timer', 'pxe-filter-export-watch.service']) {
    const text = (await readFile(join(UNITS, name), 'utf8')).replaceAll('/usr/bin/pxe-filter', BIN);
    await writeFile(join(dir, name), edit(text));
    out.push(join(dir, name));
  }
  return out;
}

async function verify(paths: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('systemd-analyze', ['verify', ...paths], { timeout: 60_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? '' };
  }
}

describe('agent/systemd/pxe-filter-export.{service,timer} and pxe-filter-export-watch.service', () => {
  it('pass systemd-analyze verify with no warning about themselves', async () => {
    const res = await verify(await copyUnits());
    expect(res.stderr.split('\n').filter((l) => l.includes('pxe-filter-export'))).toEqual([]);
    expect(res.code).toBe(0);
  });

  it('the check has teeth for the watch service too', async () => {
    const res = await verify(await copyUnits((t) => t.replace('Restart=on-failure', 'Restart=on-failur')));
    expect(res.stderr).toMatch(/pxe-filter-export-watch\.service.*(Failed to parse|on-failur)/);
  });

  it('the watch service runs `export --watch` with the same arguments, restarts after giving up (75) but not on bad options (2), and replaces the timer', async () => {
    const watch = await readFile(join(UNITS, 'pxe-filter-export-watch.service'), 'utf8');
    expect(watch).toMatch(/^ExecStart=\/usr\/bin\/pxe-filter export --watch \$PXE_FILTER_EXPORT_ARGS \$PXE_FILTER_WATCH_ARGS$/m);
    expect(watch).toMatch(/^EnvironmentFile=\/etc\/pxe-filter\/export\.env$/m);
    expect(watch).toMatch(/^Restart=on-failure$/m);
    expect(watch).toMatch(/^RestartPreventExitStatus=2$/m);
    expect(watch).toMatch(/^StartLimitIntervalSec=0$/m);
    expect(watch).toMatch(/^Conflicts=pxe-filter-export\.timer pxe-filter-export\.service$/m);
    expect(watch).toMatch(/^WantedBy=multi-user\.target$/m);
  });

  it('the check has teeth: a misspelt directive in the service is reported', async () => {
    const res = await verify(await copyUnits((t) => t.replace('Type=oneshot', 'Type=oneshott')));
    expect(res.stderr).toMatch(/pxe-filter-export\.service.*(Failed to parse service type|oneshott)/);
  });

  it('the service is a oneshot that runs `pxe-filter export` with the operator\'s arguments; the timer triggers it', async () => {
    const service = await readFile(join(UNITS, 'pxe-filter-export.service'), 'utf8');
    const timer = await readFile(join(UNITS, 'pxe-filter-export.timer'), 'utf8');
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/bin\/pxe-filter export \$PXE_FILTER_EXPORT_ARGS$/m);
    expect(service).toMatch(/^EnvironmentFile=\/etc\/pxe-filter\/export\.env$/m);
    expect(timer).toMatch(/^OnUnitInactiveSec=\d+s$/m);
    expect(timer).toMatch(/^WantedBy=timers\.target$/m);
  });
});
