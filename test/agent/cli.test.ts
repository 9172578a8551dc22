/**
 * The operator commands through the real bundle: `--help`, `agent plan` (writes nothing), `agent status`
 * (exit 1 when unhealthy), and a bad config (exit 2, one line naming the field, nothing touched).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { macFileName } from '../../core/mac.ts';
import { isLockEntry } from '../../agent/lock.ts';
import { type Rig, agentBundle, fastTmp, isApplied, killAll, makeRig, macs, policyOf, publish, rewriteConfig, snapshot, startAgent } from './support.ts';

const exec = promisify(execFile);
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [await agentBundle(), ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

describe('agent CLI (the built bundle)', () => {
  it('the bundle runs --help for agent run, plan and status', async () => {
    for (const sub of ['run', 'plan', 'status']) {
      const r = await cli(['agent', sub, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('--config');
    }
  });

  it('agent plan shows what would change and writes nothing', async () => {
    rig = makeRig({}, fastTmp());
    const all = macs(40);
    writeFileSync(join(rig.hostsdir, macFileName(all[0]!)), `${all[0]}\n`);
    writeFileSync(join(rig.hostsdir, 'stray'), 'x\n');
    await publish(rig.store, policyOf(all.slice(0, 1), all.slice(1)));
    const before = snapshot(rig.hostsdir);
    const r = await cli(['agent', 'plan', '--config', rig.configPath, '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { generation: number; writes: number; foreign: { name: string }[]; writesByReason: Record<string, number> };
    expect(plan.generation).toBe(1);
    expect(plan.writes).toBe(40); // 39 denies + the wildcard; the allowed MAC is already right
    expect(plan.writesByReason).toEqual({ deny: 39, 'unknown-hosts': 1 });
    expect(plan.foreign.map((f) => f.name)).toEqual(['stray']);
    expect(snapshot(rig.hostsdir)).toEqual(before);
    const text = await cli(['agent', 'plan', '--config', rig.configPath]);
    expect(text.stdout).toMatch(/would write 40 file/);
  });

  it('agent status: healthy after an apply, exit 1 with the reason when stale or failing', async () => {
    rig = makeRig({ staleAfterSeconds: 1 }, fastTmp());
    const none = await cli(['agent', 'status', '--config', rig.configPath]);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/no status file/);

    await publish(rig.store, policyOf(macs(5), []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    await agent.waitFor((l) => l.msg === 'poll: no change');
    const ok = await cli(['agent', 'status', '--config', rig.configPath, '--json']);
    expect(ok.code).toBe(0);
    const doc = JSON.parse(ok.stdout) as { healthy: boolean; status: { generation: number; counts: { allow: number; files: number } } };
    expect(doc.status.generation).toBe(1);
    expect(doc.status.counts).toMatchObject({ allow: 5, files: 5 });

    // The store goes away: the agent keeps the last good policy and reports staleness.
    // (A file where the store's directory was: every read fails with ENOTDIR, like an unreachable endpoint.)
    const { renameSync } = await import('node:fs');
    renameSync(rig.storeDir, `${rig.storeDir}.gone`);
    writeFileSync(rig.storeDir, 'not a store\n');
    await agent.waitFor((l) => l.msg.startsWith('policy is stale'), 10_000);
    const stale = await cli(['agent', 'status', '--config', rig.configPath]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/STALE/);
    expect(stale.stdout).toMatch(/problem: last error .*store unreachable/);
    expect([...snapshot(rig.hostsdir).keys()].filter((n) => !isLockEntry(n))).toHaveLength(6); // the last good policy stays
  });

  it('a bad config exits 2 with one message naming the field, and touches nothing', async () => {
    rig = makeRig({}, fastTmp());
    rewriteConfig(rig, { pollIntervalSeconds: -3 });
    writeFileSync(join(rig.hostsdir, macFileName(macs(1)[0]!)), 'keep me\n');
    const before = snapshot(rig.hostsdir);
    const r = await cli(['agent', 'run', '--config', rig.configPath]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/pollIntervalSeconds.*-3/);
    expect(snapshot(rig.hostsdir)).toEqual(before);
  });
});
