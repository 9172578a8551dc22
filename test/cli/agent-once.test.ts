/**
 * `pxe-filter agent once`: a manifest that is missing, not JSON, of the wrong schema, tampered, or carrying a
 * path in place of a MAC exits 2 with exactly one stderr line, and the hosts directory stays byte-identical (the
 * start-up purge is not run either); the service is not started.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, snapshotDir, stderrLines, tempDir } from '../support/cli.ts';
import { writeSite } from '../support/exports.ts';

const tmp = tempDir('agent-once');
afterAll(() => tmp.cleanup());
const p = (name: string) => join(tmp.path, name);
const hostsdir = p('hostsdir');
const started = p('started');
let good: string;

beforeAll(async () => {
  const site = writeSite(tmp.path, 6, [1]);
  good = p('manifest.json');
  expect((await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--out', good])).code).toBe(0);
  mkdirSync(hostsdir);
  // A populated directory, including a foreign file the purge would remove.
  expect((await runCli(['agent', 'once', '--manifest', good, '--hostsdir', hostsdir, '--service', 'none'])).code).toBe(0);
  writeFileSync(join(hostsdir, 'README'), 'operator note\n');
});

async function refusedAgent(manifestPath: string, mustContain: string[]) {
  const before = snapshotDir(tmp.path);
  const r = await runCli(['agent', 'once', '--manifest', manifestPath, '--hostsdir', hostsdir, '--service', 'command', '--start-command', `touch ${started}`]);
  expect(r.code, r.stderr).toBe(2);
  const lines = stderrLines(r);
  expect(lines, r.stderr).toHaveLength(1);
  for (const s of mustContain) expect(lines[0]).toContain(s);
  expect(snapshotDir(tmp.path)).toEqual(before); // hosts directory byte-identical, inodes and mtimes too
  expect(existsSync(started)).toBe(false);
  expect(existsSync(join(hostsdir, 'README'))).toBe(true); // the purge did not run
}

const edit = (name: string, f: (text: string) => string) => {
  const path = p(name);
  writeFileSync(path, f(readFileSync(good, 'utf8')));
  return path;
};

describe('agent once: bad manifest → exit 2, one line, directory byte-identical, dnsmasq not started', () => {
  it('missing manifest file', async () => {
    await refusedAgent(p('absent.json'), ['--manifest', 'absent.json', 'cannot read file']);
  });

  it('not JSON', async () => {
    await refusedAgent(edit('truncated.json', (t) => t.slice(0, t.length / 2)), ['truncated.json', 'not valid JSON at line 1 column']);
  });

  it('wrong schema', async () => {
    await refusedAgent(edit('schema2.json', (t) => t.replace('pxe-filter/manifest@1', 'pxe-filter/manifest@2')), ['schema2.json.schema', 'manifest@2']);
  });

  it('tampered policy (digest no longer matches)', async () => {
    await refusedAgent(edit('tampered.json', (t) => t.replace('"unknownHosts":"allow"', '"unknownHosts":"deny"')), ['policyDigest', 'does not match']);
  });

  it('a path instead of a MAC in the policy ("../../etc/x")', async () => {
    await refusedAgent(edit('dotdot.json', (t) => t.replace('"allow":["52:54:00:00:00:01"]', '"allow":["../../etc/passwd"]')), ['policy.allow[0]', '../../etc/passwd']);
    expect(existsSync(p('etc'))).toBe(false);
  });

  it('a NUL byte in a MAC', async () => {
    await refusedAgent(edit('nul.json', (t) => t.replace('"allow":["52:54:00:00:00:01"]', '"allow":["52:54:00:00:00:01\\u0000x"]')), ['policy.allow[0]', '\\u0000']);
  });

  it('hosts directory that does not exist (nothing is created)', async () => {
    const r = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', p('no-such-dir'), '--service', 'none']);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toEqual([expect.stringContaining('--hostsdir')]);
    expect(existsSync(p('no-such-dir'))).toBe(false);
  });
});

describe('agent once: good manifest', () => {
  it('--no-purge keeps the foreign file and reports it; default purge removes it; the start command runs last', async () => {
    const keep = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', hostsdir, '--no-purge', '--service', 'none']);
    expect(keep.code).toBe(0);
    expect(keep.stdout).toContain('0 written, 0 deleted, 0 purged, 1 foreign (README)');
    const r = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', hostsdir, '--service', 'command', '--start-command', `ls ${hostsdir} > ${started}`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(join(hostsdir, 'README'))).toBe(false);
    // dnsmasq is started after the directory is complete: the start command saw all 7 files.
    expect(readFileSync(started, 'utf8').trim().split('\n')).toHaveLength(7);
  });
});

describe('agent once --layout / --shards', () => {
  it.each([
    [['--shards', '16'], '--shards'],
    [['--layout', 'sharded', '--shards', '0'], '--shards'],
    [['--layout', 'hashed'], '--layout'],
  ])('refuses %j with exit 2 and one line naming the flag; nothing is touched', async (flags, name) => {
    const before = snapshotDir(tmp.path);
    const r = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', hostsdir, '--service', 'none', '--no-purge', ...flags]);
    expect(r.code, r.stderr).toBe(2);
    expect(stderrLines(r), r.stderr).toHaveLength(1);
    expect(stderrLines(r)[0]).toContain(name);
    expect(snapshotDir(tmp.path)).toEqual(before);
  });

  it('--layout sharded --shards 4 writes 4 shards + the wildcard; --layout per-mac migrates back', async () => {
    const dir = p('layout-dir');
    mkdirSync(dir);
    const sharded = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', dir, '--service', 'none', '--layout', 'sharded', '--shards', '4']);
    expect(sharded.code, sharded.stderr).toBe(0);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['shard-0000', 'shard-0001', 'shard-0002', 'shard-0003', 'unknown_hosts_filter']);
    const records = ['shard-0000', 'shard-0001', 'shard-0002', 'shard-0003'].flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));
    expect(records).toHaveLength(6);
    const back = await runCli(['agent', 'once', '--manifest', good, '--hostsdir', dir, '--service', 'none', '--no-purge', '--layout', 'per-mac']);
    expect(back.code, back.stderr).toBe(0);
    const files = readdirSync(dir).filter((n) => n !== 'unknown_hosts_filter');
    expect(files).toHaveLength(6);
    expect(files.every((n) => /^([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(n))).toBe(true);
  });
});
