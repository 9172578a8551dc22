/**
 * One writer per hosts directory (issue 12, defect 1): every command that writes the directory takes its lock,
 * and a second writer exits 1 at once naming the owner, with the directory left as the owner made it.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UNKNOWN_HOSTS_FILE, recordText, wildcardText } from '../../core/hostsdir.ts';
import { macFileName } from '../../core/mac.ts';
import type { Policy } from '../../core/policy.ts';
import { type Rig, fastTmp, isApplied, killAll, makeRig, manifestBytes, macs, policyOf, publish, snapshot, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

/** The visible files (what dnsmasq reads) the agent writes for a policy in the per-MAC layout. */
function expectedFiles(policy: Policy): Record<string, string> {
  const out: Record<string, string> = { [UNKNOWN_HOSTS_FILE]: wildcardText(policy.unknownHosts) };
  for (const m of policy.allow) out[macFileName(m)] = recordText(m, 'allow');
  for (const m of policy.deny) out[macFileName(m)] = recordText(m, 'deny');
  return out;
}

function visibleFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) if (!name.startsWith('.')) out[name] = readFileSync(join(dir, name), 'utf8');
  return out;
}

const OWNER_MESSAGE = /hosts directory .* is in use by pid \d+ \(agent (once|run), since \d{4}-\d\d-\d\dT/;

describe('one writer per hosts directory', () => {
  it('20 trials of two concurrent `agent once` with different manifests: the directory is exactly one of them, the loser exits 1 naming the owner', async () => {
    rig = makeRig({}, fastTmp());
    const all = macs(1000);
    const A = policyOf(all, [], true);
    const B = policyOf([], all, false);
    const files = { A: expectedFiles(A), B: expectedFiles(B) };
    const paths = { A: join(rig.root, 'a.json'), B: join(rig.root, 'b.json') };
    writeFileSync(paths.A, manifestBytes(A, 1).bytes);
    writeFileSync(paths.B, manifestBytes(B, 2).bytes);
    const release = join(rig.root, 'release');
    // The winner holds the directory (through its service start) until the loser has exited, or 3 s: the two runs
    // overlap whatever the spawn skew of a busy machine.
    const start = `for i in $(seq 150); do [ -e '${release}' ] && break; sleep 0.02; done`;
    for (let trial = 0; trial < 20; trial++) {
      rmSync(release, { force: true });
      const once = (which: 'A' | 'B') =>
        startAgent(['agent', 'once', '--manifest', paths[which], '--hostsdir', rig!.hostsdir, '--service', 'command', '--start-command', start]);
      const [a, b] = await Promise.all([once('A'), once('B')]);
      await Promise.race([a.exited, b.exited]);
      writeFileSync(release, '');
      const [ea, eb] = await Promise.all([a.exited, b.exited]);
      const codes = [ea.code, eb.code].sort();
      expect(codes, `trial ${trial}: ${a.stderr} ${b.stderr}`).toEqual([0, 1]);
      const [winner, loser] = ea.code === 0 ? (['A', b] as const) : (['B', a] as const);
      expect(loser.stderr.trim().split('\n')).toHaveLength(1);
      expect(loser.stderr).toMatch(OWNER_MESSAGE);
      expect(loser.stderr).toContain('agent once');
      expect(visibleFiles(rig.hostsdir), `trial ${trial}`).toEqual(files[winner]);
      expect(readdirSync(rig.hostsdir).filter((n) => n.startsWith('.'))).toEqual([]); // lock released, no temp left
    }
  }, 300_000);

  it('`agent once` while the daemon runs exits 1 naming the daemon, and writes nothing', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(50), macs(50, 50)));
    const daemon = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await daemon.waitFor(isApplied(1));
    const before = snapshot(rig.hostsdir);
    const manifest = join(rig.root, 'other.json');
    writeFileSync(manifest, manifestBytes(policyOf([], macs(100)), 7).bytes);
    const once = await startAgent(['agent', 'once', '--manifest', manifest, '--hostsdir', rig.hostsdir, '--service', 'none']);
    const { code } = await once.exited;
    expect(code).toBe(1);
    expect(once.stderr).toMatch(OWNER_MESSAGE);
    expect(once.stderr).toContain(`pid ${daemon.child.pid} (agent run`);
    expect(snapshot(rig.hostsdir)).toEqual(before);
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });

  it('a second daemon with another state file exits 1 at once; the first keeps the directory', async () => {
    rig = makeRig({ purge: true });
    await publish(rig.store, policyOf(macs(50), macs(50, 50)));
    const first = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await first.waitFor(isApplied(1));
    const before = snapshot(rig.hostsdir);
    const otherState = join(rig.root, 'other-state');
    mkdirSync(otherState);
    // Through another spelling of the same directory: the lock is the directory's, not the path's.
    const second = await startAgent(['agent', 'run', '--config', rig.configPath, '--state-file', join(otherState, 'state.json'), '--hostsdir', `${rig.hostsdir}/./`]);
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.stderr).toContain(`is in use by pid ${first.child.pid} (agent run`);
    expect(second.lines.some((l) => l.msg === 'purged the hosts directory')).toBe(false);
    expect(snapshot(rig.hostsdir)).toEqual(before);
    rmSync(otherState, { recursive: true });
    const mark = first.lines.length;
    await publish(rig.store, policyOf(macs(40), macs(60, 40)));
    await first.waitFor(isApplied(2), 15_000, mark);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});
