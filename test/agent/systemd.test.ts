/**
 * The shipped systemd units pass `systemd-analyze verify` (Debian package `systemd`). The units name
 * /usr/bin/pxe-filter (the Debian package's executable); verify checks that ExecStart exists, so a copy points
 * at this checkout's cli/bin.js instead (packaging/test-deb.sh verifies the installed units as they are).
 * dnsmasq-base ships no unit, so a minimal dnsmasq.service stands in for the drop-in's target.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../agent/config.ts';
import { AGENT_NODE_FLAGS } from '../../agent/heap.ts';

const exec = promisify(execFile);
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function stage(): string {
  dir = mkdtempSync(join(tmpdir(), 'pxe-units-'));
  const unit = readFileSync('agent/systemd/pxe-filter-agent.service', 'utf8');
  expect(unit).toMatch(/^ExecStart=\/usr\/bin\/pxe-filter /m);
  writeFileSync(join(dir, 'pxe-filter-agent.service'), unit.replace(/^ExecStart=\/usr\/bin\/pxe-filter /m, `ExecStart=${join(process.cwd(), 'cli', 'bin.js')} `));
  mkdirSync(join(dir, 'dnsmasq.service.d'));
  copyFileSync('agent/systemd/dnsmasq.service.d/pxe-filter.conf', join(dir, 'dnsmasq.service.d', 'pxe-filter.conf'));
  writeFileSync(
    join(dir, 'dnsmasq.service'),
    '[Unit]\nDescription=dnsmasq (stand-in for the distribution unit)\n[Service]\nExecStart=/usr/sbin/dnsmasq -k\nExecReload=/bin/kill -HUP $MAINPID\n[Install]\nWantedBy=multi-user.target\n',
  );
  return dir;
}

async function verify(d: string, units: string[]) {
  try {
    const r = await exec('systemd-analyze', ['verify', ...units.map((u) => join(d, u))], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${d}:`, SYSTEMD_LOG_LEVEL: 'notice' }, cwd: d });
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

describe('systemd units', () => {
  it('the agent unit runs /usr/bin/pxe-filter with the node flags the bench measures (AGENT_NODE_FLAGS)', () => {
    const unit = readFileSync('agent/systemd/pxe-filter-agent.service', 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/pxe-filter agent run --config \/etc\/pxe-filter\/agent\.json$/m);
    // The executable embeds Node.js, which takes its flags from NODE_OPTIONS.
    const flags = /^Environment="NODE_OPTIONS=(.*)"$/m.exec(unit);
    expect(flags?.[1]?.split(' ')).toEqual([...AGENT_NODE_FLAGS]);
  });

  it('the agent unit and the dnsmasq drop-in pass systemd-analyze verify with no warning', async () => {
    const d = stage();
    const r = await verify(d, ['pxe-filter-agent.service', 'dnsmasq.service']);
    expect(r.out.split('\n').filter((l) => /pxe-filter|dnsmasq/.test(l))).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('the check really reads the drop-in and the unit (a broken copy is reported)', async () => {
    const d = stage();
    const conf = join(d, 'dnsmasq.service.d', 'pxe-filter.conf');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}BindsToo=nothing\n`);
    const r = await verify(d, ['dnsmasq.service']);
    expect(r.out).toMatch(/pxe-filter\.conf.*BindsToo/);
    writeFileSync(join(d, 'pxe-filter-agent.service'), readFileSync(join(d, 'pxe-filter-agent.service'), 'utf8').replace(join(process.cwd(), 'cli', 'bin.js'), '/nonexistent/pxe-filter'));
    const bad = await verify(d, ['pxe-filter-agent.service']);
    expect(bad.code).not.toBe(0);
  });

  it('the hardening and fail-closed settings are present', () => {
    const unit = readFileSync('agent/systemd/pxe-filter-agent.service', 'utf8');
    for (const line of ['ProtectSystem=strict', 'NoNewPrivileges=yes', 'Restart=always', 'RuntimeDirectory=pxe-filter', 'StateDirectory=pxe-filter']) expect(unit).toContain(line);
    expect(unit).toMatch(/^ReadWritePaths=-?\/\S+/m);
    const dropIn = readFileSync('agent/systemd/dnsmasq.service.d/pxe-filter.conf', 'utf8');
    expect(dropIn).toMatch(/^BindsTo=pxe-filter-agent\.service$/m);
    expect(dropIn).toMatch(/^After=pxe-filter-agent\.service$/m);
    // The ready file the drop-in waits for is the agent's default readyFile.
    const readyFile = resolveConfig({ site: 'dc1', store: 'local:/s', hostsdir: '/h' }, {}, {}).readyFile;
    expect(dropIn).toContain(`ExecStartPre=/usr/bin/test -f ${readyFile}`);
  });
});
