/**
 * Issue "a real dnsmasq and a real DHCP client", cases 1–4: the real agent (`pxe-filter agent once`,
 * service-command mode) manages the hosts directory of a real dnsmasq in a network namespace; DHCPDISCOVERs
 * come from another namespace. Every MAC below is used by one test only, so the tests do not depend on
 * each other's verdicts; they share one dnsmasq, whose PID must never change (no restart, no SIGHUP).
 * Every case runs in both hosts-directory layouts: one file per MAC (docs/design.md §3) and scale mode's shard files.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LAYOUTS, agentOnceOk, layoutName, policy, recordIn, writeManifest } from './support/agent.ts';
import { CLI } from './support/agent.ts';
import { type DnsmasqRig, REPO_ROOT, createDnsmasqRig, dnsmasqPid, ignoredLine, readLog, startCount, verdictOf } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober, udhcpc } from './support/prober.ts';
import { run, waitFor } from './support/run.ts';
import type { Policy } from '../../core/policy.ts';

const mac = (n: number) => `52:54:00:e2:00:${n.toString(16).padStart(2, '0')}`;

for (const layout of LAYOUTS) describeE2E(`real dnsmasq driven by the agent (cases 1–4), ${layoutName(layout)}`, () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;
  let pid: number;
  let generation = 0;

  const verdict = (m: string) => verdictOf(rig, prober!, m);

  /** Apply a whole new policy to the running dnsmasq, as the agent does for every new manifest. */
  const apply = async (p: Policy) => agentOnceOk(rig, await writeManifest(rig, ++generation, p), { purge: false, layout });
  const record = (m: string) => recordIn(rig, layout, m);

  beforeAll(async () => {
    pair = await createNetnsPair('filter');
    rig = await createDnsmasqRig(pair);
    // First apply: purge + sync + start, the agent's start-up order.
    await agentOnceOk(rig, await writeManifest(rig, ++generation, policy({ unknownHosts: 'deny' })), { layout });
    pid = await waitFor('dnsmasq started by the agent', () => dnsmasqPid(rig), 5_000);
    prober = await Prober.start(pair);
  });

  afterAll(() => tearDownRig({ prober, rig, pair }));

  it('1. an allowed MAC gets an OFFER (and a lease, from busybox udhcpc); a denied one gets nothing and dnsmasq logs "ignored"', async () => {
    const allowed = mac(0x01);
    const denied = mac(0x02);
    await apply(policy({ allow: [allowed], deny: [denied], unknownHosts: 'deny' }));
    expect(record(denied)).toBe(`${denied},ignore\n`);

    const yes = await udhcpc(pair!, allowed);
    expect(yes.lease, yes.output).toBe(true);
    expect(yes.ip).toMatch(/^198\.1[89]\./);
    const no = await udhcpc(pair!, denied);
    expect(no.lease, no.output).toBe(false);
    expect(no.output).toContain('no lease');
    await waitFor(`"ignored" for ${denied} in dnsmasq's log`, async () => (ignoredLine(denied).test(await readLog(rig)) ? true : undefined), 2_000);
    expect(await readLog(rig)).not.toMatch(ignoredLine(allowed));

    // The fast prober agrees with the real client.
    expect(await verdict(allowed)).toBe('offer');
    expect(await verdict(denied)).toBe('ignored');
  });

  it('2. an unknown MAC is served when the manifest opens unknown hosts and ignored when it closes them', async () => {
    const known = mac(0x10);
    const unknown = mac(0x11);
    await apply(policy({ deny: [known], unknownHosts: 'allow' }));
    expect(readFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), 'utf8')).toBe('*:*:*:*:*:*\n');
    expect(await verdict(unknown)).toBe('offer');
    const open = await udhcpc(pair!, unknown);
    expect(open.lease, open.output).toBe(true);
    // An exact record beats the wildcard: the denied known MAC stays ignored while unknown hosts are open.
    expect(await verdict(known)).toBe('ignored');

    await apply(policy({ deny: [known], unknownHosts: 'deny' }));
    expect(readFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), 'utf8')).toBe('*:*:*:*:*:*,ignore\n');
    const other = mac(0x12); // never seen by dnsmasq: no lease to fall back on
    expect(await verdict(other)).toBe('ignored');
    expect(await verdict(unknown)).toBe('ignored');
    await waitFor(`"ignored" for ${other}`, async () => (ignoredLine(other).test(await readLog(rig)) ? true : undefined), 2_000);
    expect(dnsmasqPid(rig)).toBe(pid);
  });

  it('3. a new manifest flips allow→deny and deny→allow without restarting dnsmasq; the next DISCOVER gets the new verdict', async () => {
    const a = mac(0x20);
    const b = mac(0x21);
    await apply(policy({ allow: [a], deny: [b] }));
    expect(await verdict(a)).toBe('offer');
    expect(await verdict(b)).toBe('ignored');

    for (let round = 0; round < 3; round++) {
      await apply(policy({ allow: [b], deny: [a] }));
      // The very next DISCOVER after the agent returns, no polling.
      const [ra, rb] = [await verdict(a), await verdict(b)];
      expect([ra, rb], `round ${round}: a=${a} b=${b}`).toEqual(['ignored', 'offer']);

      await apply(policy({ allow: [a], deny: [b] }));
      const [ra2, rb2] = [await verdict(a), await verdict(b)];
      expect([ra2, rb2], `round ${round} back`).toEqual(['offer', 'ignored']);
    }
    // The real client agrees after the last flip.
    expect((await udhcpc(pair!, a)).lease).toBe(true);
    expect((await udhcpc(pair!, b)).lease).toBe(false);
    // Same process all along, started once, never reloaded.
    expect(dnsmasqPid(rig)).toBe(pid);
    expect(await startCount(rig)).toBe(1);
  });

  it('4. a MAC removed from Ironic is revoked by rewriting its file (open: allow, closed: ignore), never by deleting it', async () => {
    // Ironic exports, computed by the real `pxe-filter compute`: node A is deployed (active), node B inspects.
    const r = mac(0x30); // port of node A, about to be deleted from Ironic
    const s = mac(0x31); // port of node B
    const nodeA = '00000000-0000-4000-8000-00000000000a';
    const nodeB = '00000000-0000-4000-8000-00000000000b';
    const write = async (name: string, body: unknown) => {
      const p = join(rig.runDir, name);
      await writeFile(p, JSON.stringify(body));
      return p;
    };
    const node = (uuid: string, state: string) => ({ uuid, provision_state: state, inspect_interface: 'agent' });
    const compute = async (ports: unknown[], nodes: unknown[], tag: string, previous?: string) => {
      const out = join(rig.runDir, `computed-${tag}.json`);
      const args = [CLI, 'compute', '--site', 'e2e', '--ports', await write(`ports-${tag}.json`, { ports }), '--nodes', await write(`nodes-${tag}.json`, { nodes }), '--out', out];
      if (previous) args.push('--previous', previous);
      const c = await run(process.execPath, args, { cwd: REPO_ROOT });
      expect(c.code, c.stderr).toBe(0);
      return out;
    };
    const apply = async (manifestPath: string) => agentOnceOk(rig, manifestPath, { purge: false, layout });

    // gen 1: R belongs to a deployed node (deny), S is inspecting (allow); inspection under way → open.
    const g1 = await compute(
      [{ address: r, node_uuid: nodeA }, { address: s, node_uuid: nodeB }],
      [node(nodeA, 'active'), node(nodeB, 'inspect wait')],
      'g1',
    );
    await apply(g1);
    expect(await verdict(r)).toBe('ignored');
    expect(await verdict(s)).toBe('offer');

    // gen 2: R's port is deleted from Ironic while B still inspects → removed MACs are open: R's file is
    // rewritten as an allow record (dnsmasq keeps whatever it last read for a deleted file).
    const g2 = await compute([{ address: s, node_uuid: nodeB }], [node(nodeB, 'inspect wait')], 'g2', g1);
    await apply(g2);
    expect(record(r)).toBe(`${r}\n`);
    expect(await verdict(r)).toBe('offer');

    // gen 3: B's inspection finished → nothing inspects → closed: R's record is rewritten as ignore, not deleted,
    // and R is refused at once, by the running dnsmasq.
    const g3 = await compute([{ address: s, node_uuid: nodeB }], [node(nodeB, 'manageable')], 'g3', g2);
    await apply(g3);
    expect(record(r)).toBe(`${r},ignore\n`);
    expect(await verdict(r)).toBe('ignored');
    expect((await udhcpc(pair!, r)).lease).toBe(false);
    expect(await verdict(s)).toBe('ignored');
    expect(await verdict(mac(0x3f))).toBe('ignored');
    expect(dnsmasqPid(rig)).toBe(pid);
    expect(await startCount(rig)).toBe(1);
  });
});
