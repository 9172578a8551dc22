/**
 * A hosts directory that someone else could redirect is refused (issue 12, defect 2): through a symlink (the
 * directory or a parent), owned by another user, or writable by others — exit 2, one line, and not a byte
 * written or deleted anywhere. With --allow-unsafe-hostsdir the agent writes to the resolved directory only.
 */
import { chmodSync, chownSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHostsdir } from '../../agent/hostsdir-path.ts';
import { runCli, snapshotDir, stderrLines, tempDir } from '../support/cli.ts';
import { killAll, macs, manifestBytes, policyOf, startAgent } from './support.ts';

const tmp = tempDir('hostsdir-path');
afterAll(() => tmp.cleanup());
afterEach(() => killAll());

let manifest: string;
let victim: string;
beforeAll(() => {
  manifest = join(tmp.path, 'manifest.json');
  writeFileSync(manifest, manifestBytes(policyOf(macs(3), macs(3, 3)), 1).bytes);
  // Someone's private directory, which a symlink makes look like a hosts directory.
  victim = join(tmp.path, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'id_rsa'), 'PRIVATE KEY\n');
});

const once = (hostsdir: string, ...extra: string[]) => runCli(['agent', 'once', '--manifest', manifest, '--hostsdir', hostsdir, '--service', 'none', ...extra]);

async function refused(hostsdir: string, reason: string) {
  const before = snapshotDir(tmp.path);
  const r = await once(hostsdir);
  expect(r.code, r.stderr).toBe(2);
  expect(stderrLines(r)).toHaveLength(1);
  expect(r.stderr).toContain('--hostsdir: refused: ');
  expect(r.stderr).toContain(reason);
  expect(r.stderr).toContain('--allow-unsafe-hostsdir');
  expect(snapshotDir(tmp.path)).toEqual(before); // the sentinel id_rsa is still there, nothing written anywhere
}

describe('hosts directory path checks', () => {
  it('a symlinked hosts directory is refused and the target is untouched', async () => {
    const link = join(tmp.path, 'link-dir');
    symlinkSync(victim, link);
    await refused(link, `${link} is a symbolic link`);
  });

  it('a symlinked parent is refused', async () => {
    mkdirSync(join(victim, 'hostsdir'));
    writeFileSync(join(victim, 'hostsdir', 'sentinel'), 'keep\n');
    const link = join(tmp.path, 'link-parent');
    symlinkSync(victim, link);
    await refused(join(link, 'hostsdir'), `${link} is a symbolic link`);
  });

  it('a hosts directory writable by others, or owned by another user, is refused', async () => {
    const open = join(tmp.path, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await refused(open, `${open} is writable by others (mode 0777)`);
    const group = join(tmp.path, 'group');
    mkdirSync(group);
    chmodSync(group, 0o775);
    await refused(group, 'writable by its group (mode 0775)');
    const theirs = join(tmp.path, 'theirs');
    mkdirSync(theirs);
    chownSync(theirs, 4242, 4242);
    await refused(theirs, `${theirs} is owned by uid 4242`);
    // A parent another user owns could swap the directory for a link: refused too.
    mkdirSync(join(theirs, 'hostsdir'));
    await refused(join(theirs, 'hostsdir'), `${theirs} is owned by uid 4242`);
  });

  it('a sticky world-writable parent (like /tmp) is accepted: only the owner may rename its entries', async () => {
    const sticky = join(tmp.path, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    mkdirSync(join(sticky, 'hostsdir'));
    expect(await resolveHostsdir(join(sticky, 'hostsdir'), { field: 'x', allowUnsafe: false })).toBe(join(sticky, 'hostsdir'));
    // …but not as the hosts directory itself.
    await expect(resolveHostsdir(sticky, { field: 'x', allowUnsafe: false })).rejects.toThrow('writable by others');
  });

  it('with --allow-unsafe-hostsdir the agent writes to the resolved directory, and nothing outside it', async () => {
    const target = join(tmp.path, 'target');
    mkdirSync(target);
    const link = join(tmp.path, 'accepted-link');
    symlinkSync(target, link);
    const outside = snapshotDir(victim);
    const r = await once(link, '--allow-unsafe-hostsdir');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`to ${link}`);
    expect(readdirSync(target)).toHaveLength(7); // six MACs and the wildcard
    expect(snapshotDir(victim)).toEqual(outside);
  });

  it('`agent run` refuses a symlinked hosts directory before its purge', async () => {
    const link = join(tmp.path, 'daemon-link');
    symlinkSync(victim, link);
    const config = join(tmp.path, 'agent.json');
    writeFileSync(config, JSON.stringify({ site: 'dc1', store: `local:${join(tmp.path, 'store')}`, hostsdir: link, stateFile: join(tmp.path, 'state', 'state.json'), readyFile: join(tmp.path, 'state', 'ready'), purge: true, service: { mode: 'none' } }));
    const before = snapshotDir(victim);
    const agent = await startAgent(['agent', 'run', '--config', config]);
    const { code } = await agent.exited;
    expect(code).toBe(2);
    expect(agent.stderr.trim().split('\n')).toEqual([`pxe-filter: hostsdir: refused: ${link} is a symbolic link, so another user could redirect the agent's writes and deletes (--allow-unsafe-hostsdir accepts it): ${JSON.stringify(link)}`]);
    expect(snapshotDir(victim)).toEqual(before);
  });
});
