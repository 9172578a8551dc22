/**
 * The cut-over from ironic-inspector (docs/migrate.md), end to end: ironic-inspector's own dnsmasq filter code
 * (Debian python3-ironic-inspector, configured by a real inspector.conf) fills the hosts directory of a real
 * dnsmasq with its colon-named files; the operator runs `pxe-filter migrate` on that inspector.conf, publishes a
 * manifest that `pxe-filter compute` made from the same Ironic documents, turns the old filter off and lets
 * the agent (`agent once --config` with the migrated config) take the directory over. The sampled MACs — allowed
 * while inspecting, denied, removed from Ironic, unknown — get the same answers from dnsmasq before and after,
 * and a denied MAC probed all through the take-over is never offered.
 * Two configurations: inspector's defaults with start/stop commands (the agent purges and rebuilds while dnsmasq
 * is down), and `purge_dhcp_hostsdir = false` with dnsmasq run outside inspector (the agent adopts the colon files
 * under the running dnsmasq).
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publishPolicy } from '../../control/publish.ts';
import { parseManifestBytes } from '../../core/manifest.ts';
import { type Mac, macFileName } from '../../core/mac.ts';
import { LocalStore } from '../../store/local-store.ts';
import { CLI } from './support/agent.ts';
import { type DnsmasqRig, REPO_ROOT, createDnsmasqRig, dnsmasqPid, ignoredCount, startCount, startDnsmasq, stopDnsmasq } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { InspectorFilter, type IronicDocs, inspectorAvailability } from './support/inspector.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { type RunResult, run, waitFor } from './support/run.ts';
import { tearDownRig } from './support/teardown.ts';

const SITE = 'cutover';
const CTL = join(REPO_ROOT, 'test/e2e/support/dnsmasq-ctl.sh');
type Seen = 'offer' | 'ignored' | 'silent';

/**
 * One Ironic: a node under introspection (its ports allowed), a node whose introspection finished and one never
 * introspected (denied), a port without a node (denied), a port deleted between two syncs ("removed") and a MAC
 * Ironic does not know. `removedOf`: which node the deleted port belonged to before.
 */
function ironic(octet: number, removedOf: 'inspecting' | 'finished') {
  const mac = (n: number) => `52:54:00:c7:${octet.toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}`;
  const macs = { allowed: [mac(1), mac(2)], denied: [mac(3), mac(4), mac(5), mac(6)], removed: mac(7), unknown: mac(8) };
  const ports = [
    [macs.allowed[0]!, 'node-inspecting'],
    [macs.allowed[1]!, 'node-inspecting'],
    [macs.denied[0]!, 'node-finished'],
    [macs.denied[1]!, 'node-finished'],
    [macs.denied[2]!, 'node-idle'],
    [macs.denied[3]!, null],
  ] as const;
  const introspection = [
    { uuid: 'node-inspecting', finished: false, state: 'waiting', error: null },
    { uuid: 'node-finished', finished: true, state: 'finished', error: null },
  ];
  const portsDoc = (rows: readonly (readonly [string, string | null])[]) => ({ ports: rows.map(([address, node_uuid]) => ({ address, node_uuid, uuid: `port-${address}` })) });
  return {
    macs,
    /** Before the port was deleted, and after (what Ironic says now). */
    before: { ports: portsDoc([...ports, [macs.removed, `node-${removedOf}`]]), introspection: { introspection } },
    now: { ports: portsDoc(ports), introspection: { introspection } },
  };
}

async function writeDocs(dir: string, name: string, docs: { ports: unknown; introspection: unknown }): Promise<IronicDocs> {
  const files = { ports: join(dir, `${name}-ports.json`), introspection: join(dir, `${name}-introspection.json`) };
  await writeFile(files.ports, JSON.stringify(docs.ports));
  await writeFile(files.introspection, JSON.stringify(docs.introspection));
  return files;
}

const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
  run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, timeoutMs: 60_000, env: { ...process.env, ...env } });

async function cliOk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const r = await cli(args, env);
  if (r.code !== 0) throw new Error(`pxe-filter ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

describeE2E(
  'cut-over from ironic-inspector\'s dnsmasq filter to the agent (docs/migrate.md)',
  () => {
    let pair: NetnsPair | undefined;
    let rig: DnsmasqRig;
    let prober: Prober | undefined;
    let inspector: InspectorFilter | undefined;

    beforeAll(async () => {
      inspector = InspectorFilter.start(); // imports ironic-inspector meanwhile
      pair = await createNetnsPair('cutover');
      rig = await createDnsmasqRig(pair);
      prober = await Prober.start(pair);
    });

    afterAll(async () => {
      await inspector?.stop();
      await tearDownRig({ prober, rig, pair });
    });

    /** The rig's dnsmasq-ctl.sh commands, unquoted: oslo strips one pair of quotes around a whole value. */
    function ctl(verb: 'start' | 'stop'): string {
      const words = [CTL, verb, rig.runDir, rig.pair.srv];
      for (const w of words) expect(w, 'a word the INI file can hold unquoted').toMatch(/^[\w./-]+$/);
      return words.join(' ');
    }

    /** verdictOf for every MAC at once: one DISCOVER each, all in flight together (one timeout, not one per MAC). */
    async function verdicts(macs: readonly string[]): Promise<Record<string, Seen>> {
      const ignoredBefore = await Promise.all(macs.map((m) => ignoredCount(rig, m)));
      const answers = await prober!.probeMany(macs, 1_000);
      const out: Record<string, Seen> = {};
      for (const [i, r] of answers.entries()) {
        out[r.mac] = r.verdict === 'offer' ? 'offer' : (await ignoredCount(rig, r.mac)) > ignoredBefore[i]! ? 'ignored' : 'silent';
      }
      return out;
    }

    /** Probe `denied` in a loop until `during` settles; returns every MAC that got an OFFER meanwhile. */
    async function watchDenied<T>(denied: readonly string[], during: () => Promise<T>): Promise<{ result: T; offered: string[]; rounds: number }> {
      let running = true;
      let rounds = 0;
      const offered: string[] = [];
      const watcher = (async () => {
        while (running) {
          for (const r of await prober!.probeMany(denied, 300)) if (r.verdict === 'offer') offered.push(r.mac);
          rounds++;
        }
      })();
      // The round in flight when `during` settles is awaited before `rounds` is read: a take-over faster than one
      // round still counts the round that overlapped it (it started before `during` did).
      let result: T;
      try {
        result = await during();
      } finally {
        running = false;
        await watcher;
      }
      return { result, offered, rounds };
    }

    const colonNames = () => readdirSync(rig.hostsdir).filter((n) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(n)).sort();
    const visible = () => readdirSync(rig.hostsdir).filter((n) => !n.startsWith('.')).sort();
    const record = (mac: string, verdict: 'allow' | 'deny') => (verdict === 'allow' ? `${mac}\n` : `${mac},ignore\n`);

    /** migrate → compute → publish → agent plan, as docs/migrate.md's steps 1–3; returns the agent config path. */
    async function prepareAgent(dir: string, conf: string, docs: IronicDocs, env: NodeJS.ProcessEnv) {
      const agentConf = join(dir, 'agent.json');
      const settingsFile = join(dir, 'settings.json');
      const storeDir = join(dir, 'store');
      const migrated = await cliOk(['migrate', '--from-inspector-conf', conf, '--site', SITE, '--store', `local:${storeDir}`, '--out', agentConf, '--settings-out', settingsFile]);
      expect(migrated.stderr).toMatch(new RegExp(`taken over +\\[dnsmasq_pxe_filter\\] dhcp_hostsdir = ${rig.hostsdir} \\(${conf}:\\d+\\)`));
      const config = JSON.parse(await readFile(agentConf, 'utf8')) as { hostsdir: string; purge: boolean; service: Record<string, string> };
      const settings = JSON.parse(await readFile(settingsFile, 'utf8')) as { source: string; discovery: boolean; denyUnknownMacs: boolean };
      expect(config.hostsdir).toBe(rig.hostsdir);

      // The control plane: compute on an export of the same documents the inspector saw, then publish.
      const manifestFile = join(dir, 'manifest.json');
      await cliOk([
        'compute', '--site', SITE, '--source', settings.source, '--ports', docs.ports, '--introspection', docs.introspection,
        ...(settings.discovery ? ['--discovery'] : []), ...(settings.denyUnknownMacs ? ['--deny-unknown-macs'] : []), '--out', manifestFile,
      ]);
      const manifest = parseManifestBytes(await readFile(manifestFile), manifestFile);
      const published = await publishPolicy({
        store: new LocalStore(storeDir), site: SITE, policy: manifest.policy, inputs: manifest.source.inputs,
        guard: { maxChangeShare: 0.5, minChangesToGuard: 10 }, force: false, now: new Date(),
      });
      expect(published.status).toBe('published');

      // Look before switching: the plan names every colon file as one to adopt, and writes nothing.
      const before = visible();
      const plan = JSON.parse((await cliOk(['agent', 'plan', '--config', agentConf, '--json'], env)).stdout) as { deletesByReason: Record<string, number>; foreign: unknown[] };
      expect(plan.deletesByReason).toEqual({ adopted: colonNames().length });
      expect(plan.foreign).toEqual([]);
      expect(visible()).toEqual(before);
      return { agentConf, config, settings, manifest };
    }

    it('inspector.conf with dnsmasq start/stop commands (purge by default): inspector stops dnsmasq on its way out, the agent rebuilds the directory and starts it; same verdicts', async () => {
      const dir = join(rig.runDir, 'purge');
      await mkdir(dir);
      const world = ironic(0x0a, 'finished');
      const [before, now] = [await writeDocs(dir, 'before', world.before), await writeDocs(dir, 'now', world.now)];
      const conf = join(dir, 'inspector.conf');
      await writeFile(conf, ['[pxe_filter]', 'driver = dnsmasq', '', '[dnsmasq_pxe_filter]', `dhcp_hostsdir = ${rig.hostsdir}`, `dnsmasq_start_command = ${ctl('start')}`, `dnsmasq_stop_command = ${ctl('stop')}`, ''].join('\n'));

      // ironic-inspector runs: init_filter (purge, sync, start dnsmasq), then a periodic sync after a port was deleted.
      await inspector!.configure(conf);
      await inspector!.init(before);
      const inspectorsDnsmasq = await waitFor('dnsmasq started by ironic-inspector', () => dnsmasqPid(rig), 5_000);
      await inspector!.sync(now);
      const { allowed, denied, removed, unknown } = world.macs;
      const known = [...allowed, ...denied, removed];
      expect(colonNames()).toEqual([...known].sort());
      for (const m of allowed) expect(readFileSync(join(rig.hostsdir, m), 'utf8')).toBe(record(m, 'allow'));
      for (const m of denied) expect(readFileSync(join(rig.hostsdir, m), 'utf8')).toBe(record(m, 'deny'));
      // Removed from Ironic while an introspection runs: rewritten as allow (as unknown hosts are).
      expect(readFileSync(join(rig.hostsdir, removed), 'utf8')).toBe(record(removed, 'allow'));
      expect(readFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), 'utf8')).toBe('*:*:*:*:*:*\n');

      const sample = [...known, unknown];
      const expected = Object.fromEntries([...allowed.map((m) => [m, 'offer']), ...denied.map((m) => [m, 'ignored']), [removed, 'offer'], [unknown, 'offer']]);
      const served = await verdicts(sample);
      expect(served).toEqual(expected);

      const env = { PXE_FILTER_STATE_FILE: join(dir, 'state.json') };
      const { agentConf, config } = await prepareAgent(dir, conf, now, env);
      expect(config).toMatchObject({ purge: true, service: { mode: 'command', start: ctl('start'), stop: ctl('stop'), reload: '' } });

      const starts = await startCount(rig);
      const takeover = await watchDenied(denied, async () => {
        // Turn the old filter off: ironic-inspector restarted with driver = noop tears its filter down first, which
        // runs dnsmasq_stop_command. Then the agent: purge, write, start (the migrated start command).
        await inspector!.tearDown();
        expect(dnsmasqPid(rig)).toBeUndefined();
        return cli(['agent', 'once', '--config', agentConf], env);
      });
      expect(takeover.result.code, takeover.result.stderr).toBe(0);
      expect(takeover.result.stdout).toContain(`${known.length + 1} purged`); // the colon files and the wildcard
      expect(takeover.rounds).toBeGreaterThan(0);
      expect(takeover.offered).toEqual([]);
      const agentsDnsmasq = await waitFor('dnsmasq started by the agent', () => dnsmasqPid(rig), 5_000);
      expect(agentsDnsmasq).not.toBe(inspectorsDnsmasq);
      expect(await startCount(rig)).toBe(starts + 1);

      // Purged, then rebuilt from the manifest: Ironic's MACs and the wildcard. The removed MAC has no file any
      // more; it falls to the wildcard, which always has the removed verdict (allow, while inspecting).
      expect(colonNames()).toEqual([]);
      expect(visible()).toEqual([...allowed, ...denied].map((m) => macFileName(m as Mac)).concat('unknown_hosts_filter').sort());
      expect(readFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), 'utf8')).toBe('*:*:*:*:*:*\n');
      expect(await verdicts(sample)).toEqual(served);
    });

    it('purge_dhcp_hostsdir = false, dnsmasq run outside inspector, deny_unknown_macs: the agent adopts the colon files under the running dnsmasq; same verdicts, same dnsmasq', async () => {
      await stopDnsmasq(rig);
      for (const name of readdirSync(rig.hostsdir)) rmSync(join(rig.hostsdir, name));
      const dir = join(rig.runDir, 'adopt');
      await mkdir(dir);
      const world = ironic(0x0b, 'inspecting');
      const [before, now] = [await writeDocs(dir, 'before', world.before), await writeDocs(dir, 'now', world.now)];
      const conf = join(dir, 'inspector.conf');
      await writeFile(conf, ['[pxe_filter]', 'driver = dnsmasq', 'deny_unknown_macs = true', '', '[dnsmasq_pxe_filter]', `dhcp_hostsdir = ${rig.hostsdir}`, 'purge_dhcp_hostsdir = false', ''].join('\n'));

      await inspector!.configure(conf);
      await inspector!.init(before);
      expect(dnsmasqPid(rig)).toBeUndefined(); // no start command: dnsmasq has its own unit
      const pid = await startDnsmasq(rig);
      await inspector!.sync(now);
      const { allowed, denied, removed, unknown } = world.macs;
      const known = [...allowed, ...denied, removed];
      expect(colonNames()).toEqual([...known].sort());
      // Removed with unknown MACs denied: its allow record (its node was being inspected) became a deny.
      expect(readFileSync(join(rig.hostsdir, removed), 'utf8')).toBe(record(removed, 'deny'));
      expect(readFileSync(join(rig.hostsdir, 'unknown_hosts_filter'), 'utf8')).toBe('*:*:*:*:*:*,ignore\n');

      const sample = [...known, unknown];
      const refused = [...denied, removed, unknown];
      const expected = Object.fromEntries([...allowed.map((m) => [m, 'offer']), ...refused.map((m) => [m, 'ignored'])]);
      const served = await verdicts(sample);
      expect(served).toEqual(expected);

      const env = { PXE_FILTER_STATE_FILE: join(dir, 'state.json') };
      const { agentConf, config, settings } = await prepareAgent(dir, conf, now, env);
      expect(config).toMatchObject({ purge: false, service: { mode: 'none' } });
      expect(settings).toMatchObject({ denyUnknownMacs: true, discovery: false });

      const starts = await startCount(rig);
      const takeover = await watchDenied(refused, async () => {
        await inspector!.tearDown(); // no stop command: dnsmasq keeps serving what is there
        expect(dnsmasqPid(rig)).toBe(pid);
        return cli(['agent', 'once', '--config', agentConf], env);
      });
      expect(takeover.result.code, takeover.result.stderr).toBe(0);
      expect(takeover.result.stdout).toContain(`${known.length} deleted, 0 purged, 0 foreign`);
      expect(takeover.rounds).toBeGreaterThan(0);
      expect(takeover.offered).toEqual([]);
      expect(dnsmasqPid(rig)).toBe(pid);
      expect(await startCount(rig)).toBe(starts);

      expect(colonNames()).toEqual([]);
      expect(visible()).toEqual([...known.map((m) => macFileName(m as Mac)), 'unknown_hosts_filter'].sort());
      for (const m of allowed) expect(readFileSync(join(rig.hostsdir, macFileName(m as Mac)), 'utf8')).toBe(record(m, 'allow'));
      for (const m of [...denied, removed]) expect(readFileSync(join(rig.hostsdir, macFileName(m as Mac)), 'utf8')).toBe(record(m, 'deny'));
      expect(await verdicts(sample)).toEqual(served);
    });
  },
  [inspectorAvailability],
);
