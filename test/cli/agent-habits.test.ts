/**
 * The operator's habits on the agent CLI (issue 14): `agent once --config` applies the published manifest like the
 * daemon; `agent plan` says how many lines it left out and has terraform's --detailed-exitcode; `agent run` without
 * --config says so; with `--service none` the daemon does not claim it started dnsmasq.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, isApplied, killAll, makeRig, macs, policyOf, publish, rewriteConfig, snapshot, startAgent } from '../agent/support.ts';
import { type CliResult, readFlat, runCli, stderrLines } from '../support/cli.ts';
import { macFileName } from '../../core/mac.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

/** In-process, with process.exitCode (how `plan` and `status` report) reset around the run. */
async function cli(argv: string[]): Promise<CliResult> {
  process.exitCode = undefined;
  try {
    return await runCli(argv);
  } finally {
    process.exitCode = undefined;
  }
}

describe('agent CLI habits', () => {
  it('agent once --config applies the published manifest to the configured directory and records it', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(3), macs(2, 3)));
    const r = await cli(['agent', 'once', '--config', rig.configPath]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^applied generation 1 of site dc1 to ${rig.hostsdir}: 6 written`));
    expect(readFileSync(`${rig.hostsdir}/${macFileName(macs(1)[0]!)}`, 'utf8')).toBe(`${macs(1)[0]}\n`);
    expect(JSON.parse(readFileSync(rig.stateFile, 'utf8'))).toMatchObject({ site: 'dc1', generation: 1 });
  });

  it('agent once --config purges as the config says (purge: false adopts ironic-inspector\'s colon files); --purge / --no-purge override it', async () => {
    rig = makeRig({ purge: false });
    await publish(rig.store, policyOf(macs(1), macs(1, 1)));
    const [allowed, denied] = [macs(1)[0]!, macs(1, 1)[0]!];
    const seedLeftovers = () => {
      writeFileSync(join(rig!.hostsdir, denied), `${denied}\n`); // ironic-inspector's name and an out-of-date verdict
      writeFileSync(join(rig!.hostsdir, 'operator-notes'), 'x\n');
    };
    seedLeftovers();
    const kept = await cli(['agent', 'once', '--config', rig.configPath]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('0 purged, 1 foreign (operator-notes)');
    expect(readFlat(rig.hostsdir)).toEqual({
      [macFileName(allowed)]: `${allowed}\n`,
      [macFileName(denied)]: `${denied},ignore\n`,
      'operator-notes': 'x\n',
      unknown_hosts_filter: '*:*:*:*:*:*,ignore\n',
    });

    seedLeftovers();
    const purged = await cli(['agent', 'once', '--config', rig.configPath, '--purge']);
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toContain('5 purged, 0 foreign');
    expect(Object.keys(readFlat(rig.hostsdir)).sort()).toEqual([macFileName(denied), macFileName(allowed), 'unknown_hosts_filter'].sort());

    rewriteConfig(rig, { purge: true });
    seedLeftovers();
    const flag = await cli(['agent', 'once', '--config', rig.configPath, '--no-purge']);
    expect(flag.code, flag.stderr).toBe(0);
    expect(flag.stdout).toContain('0 purged, 1 foreign (operator-notes)');
    const byConfig = await cli(['agent', 'once', '--config', rig.configPath]);
    expect(byConfig.stdout).toContain('4 purged, 0 foreign');
  });

  it('agent once needs --manifest or --config (one line, exit 2), not both', async () => {
    rig = makeRig();
    const none = await cli(['agent', 'once', '--hostsdir', rig.hostsdir]);
    expect(none.code).toBe(2);
    expect(stderrLines(none)).toEqual(['pxe-filter: --manifest: missing: give --manifest FILE, or --config FILE to apply the published manifest']);
    const both = await cli(['agent', 'once', '--manifest', 'm.json', '--config', rig.configPath]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give either --manifest or --config, not both');
  });

  it('agent plan: "… and N more" past the sample; --detailed-exitcode 2 pending, 0 in sync, 1 on error', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(30), []));
    const pending = await cli(['agent', 'plan', '--config', rig.configPath, '--detailed-exitcode']);
    expect(pending.code, pending.stderr).toBe(2);
    expect(pending.stdout).toContain('would write 31 file(s)');
    expect(pending.stdout.trimEnd().split('\n').at(-1)).toBe('  … and 11 more'); // 20 shown of 31
    expect((await cli(['agent', 'plan', '--config', rig.configPath])).code).toBe(0); // without the flag: 0
    expect((await cli(['agent', 'once', '--config', rig.configPath])).code).toBe(0);
    const before = snapshot(rig.hostsdir);
    const inSync = await cli(['agent', 'plan', '--config', rig.configPath, '--detailed-exitcode', '--json']);
    expect(inSync.code).toBe(0);
    expect(JSON.parse(inSync.stdout)).toMatchObject({ inSync: true, writes: 0, deletes: 0, more: 0 });
    expect(snapshot(rig.hostsdir)).toEqual(before);
    rewriteConfig(rig, { pollIntervalSeconds: -1 });
    const error = await cli(['agent', 'plan', '--config', rig.configPath, '--detailed-exitcode']);
    expect(error.code).toBe(1); // a bad config is 2 elsewhere; here 2 means "changes pending"
    expect(stderrLines(error)).toHaveLength(1);
    expect(error.stderr).toContain('pollIntervalSeconds');
  });

  it('agent run without --config says so', async () => {
    const r = await cli(['agent', 'run']);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/^pxe-filter: --config: not given: agent run needs a config file/);
  });

  it('with service none the daemon does not log that it started (or stopped) dnsmasq', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(3), []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    await agent.waitFor((l) => l.msg.startsWith('first full sync done (dnsmasq is not managed by the agent'));
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(agent.lines.filter((l) => /dnsmasq (started|stopped)/.test(l.msg))).toEqual([]);
    expect(existsSync(rig.hostsdir)).toBe(true);
  });
});
