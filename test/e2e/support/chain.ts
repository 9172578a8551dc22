/**
 * The whole chain from "inspection started" to dnsmasq's answer, with every part real and run as an operator runs
 * it on one host (docs/onprem.md): a real Ironic + ironic-inspector on loopback, `pxe-filter export --watch` and
 * `pxe-filter control run` on a local store, the agent daemon polling that store, and a real dnsmasq in the e2e
 * rig's network namespaces. Used by `npm run bench:latency` (many trials) and by test/e2e/chain.test.ts (one
 * trial each way, a generous bound).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../../../store/local-store.ts';
import { settingsParameter } from '../../../store/keys.ts';
import { type Enrolled, enrollNode, macFor, waitIntrospection, waitState } from '../../ironic/support/enroll.ts';
import { type Rig, destroyRig, startRig } from '../../ironic/support/ironic-rig.ts';
import { type AgentProcess, CLI, daemonConfig, launchAgentDaemon } from './agent.ts';
import { type DnsmasqRig, REPO_ROOT, createDnsmasqRig, dnsmasqPid, ignoredCount } from './dnsmasq.ts';
import { type NetnsPair, createNetnsPair } from './netns.ts';
import { Prober } from './prober.ts';
import { isAlive, sleep, waitFor } from './run.ts';
import { tearDownRig } from './teardown.ts';

export const CHAIN_SITE = 'chain';

export interface ChainOptions {
  /** Nodes enrolled (manageable, inspect_interface=inspector, one PXE port each); one per trial. */
  nodes: number;
  /** `export --watch --interval`: unset = the product's default. */
  watchIntervalSeconds?: number;
  /** The agent's poll of the local store's pointer. */
  agentPollSeconds?: number;
  /** Network namespace name prefix, for callers outside vitest (the bench); tests get the run's from the global setup. */
  netnsPrefix?: string;
  /** The site's source of "being inspected": Ironic's provision states (default) or ironic-inspector's introspections. */
  source?: 'ironic' | 'inspector';
}

export interface Chain {
  ironic: Rig;
  dnsmasq: DnsmasqRig;
  prober: Prober;
  nodes: Enrolled[];
  services: Service[];
  agent: AgentProcess;
  /** Everything the services printed so far, for a failure message. */
  output(): string;
}

export interface Service {
  name: string;
  child: ChildProcess;
  output: () => string;
}

function spawnService(name: string, args: string[]): Service {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { name, child, output: () => output };
}

async function stopService(s: Service): Promise<void> {
  const pid = s.child.pid;
  if (pid === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGTERM');
  for (let i = 0; i < 200 && isAlive(pid) && s.child.exitCode === null; i++) await sleep(25);
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
}

/** What the rig was made of, so that a failure half-way still stops every process it started. */
export interface ChainParts {
  ironic?: Rig;
  pair?: NetnsPair;
  dnsmasq?: DnsmasqRig;
  prober?: Prober;
  services: Service[];
}

export async function startChain(o: ChainOptions, parts: ChainParts): Promise<Chain> {
  parts.ironic = await startRig({ withInspector: true });
  const ironic = parts.ironic;
  const nodes: Enrolled[] = [];
  for (let i = 0; i < o.nodes; i++) {
    nodes.push(await enrollNode(ironic, { name: `chain-${i}`, macs: [macFor(0x0c00 + i, 1)], state: 'manageable', inspectInterface: 'inspector' }));
  }

  parts.pair = await createNetnsPair('chain', o.netnsPrefix ? { prefix: o.netnsPrefix } : {});
  parts.dnsmasq = await createDnsmasqRig(parts.pair);
  const dnsmasq = parts.dnsmasq;
  const storeDir = join(dnsmasq.runDir, 'store');
  await mkdir(storeDir, { recursive: true });
  // The Ironic source: "inspecting" is `inspect wait`/`inspecting` with inspect_interface=inspector, the
  // interface these nodes use (ironic's own filter would list it in [pxe_filter]supported_inspect_interfaces).
  // The inspector source: an unfinished introspection in ironic-inspector (which Ironic starts for these nodes).
  const settings = o.source === 'inspector' ? { source: 'inspector' } : { source: 'ironic', supportedInspectInterfaces: ['inspector'] };
  await new LocalStore(storeDir).putParameter(settingsParameter(CHAIN_SITE), JSON.stringify(settings));

  const store = `local:${storeDir}`;
  const interval = o.watchIntervalSeconds === undefined ? [] : ['--interval', String(o.watchIntervalSeconds)];
  parts.services.push(spawnService('export --watch', ['export', '--watch', '--site', CHAIN_SITE, '--ironic-url', ironic.ironicUrl, '--inspector-url', ironic.inspectorUrl!, '--to', store, ...interval]));
  parts.services.push(spawnService('control run', ['control', 'run', '--store', store, '--site', CHAIN_SITE]));
  const agent = await launchAgentDaemon(dnsmasq, { ...daemonConfig(dnsmasq, CHAIN_SITE, storeDir), pollIntervalSeconds: o.agentPollSeconds ?? 1 });
  const output = () => [...parts.services.map((s) => `--- ${s.name}\n${s.output()}`), `--- agent run\n${agent.output()}`].join('\n');
  // The agent starts dnsmasq after its first full sync: the chain is up once dnsmasq runs.
  const exited = () => [...parts.services.map((s) => ({ name: s.name, child: s.child })), { name: 'agent run', child: agent.child }].find((s) => s.child.exitCode !== null || s.child.signalCode !== null);
  try {
    await waitFor('dnsmasq started by the agent', () => {
      const gone = exited();
      if (gone) throw new Error(`${gone.name} exited (${gone.child.exitCode ?? gone.child.signalCode})`);
      return dnsmasqPid(dnsmasq);
    }, 120_000, 100);
  } catch (err) {
    throw new Error(`${String(err)}; the services said:\n${output()}`, { cause: err });
  }
  parts.prober = await Prober.start(parts.pair);
  return { ironic, dnsmasq, prober: parts.prober, nodes, services: parts.services, agent, output };
}

export async function stopChain(parts: ChainParts): Promise<void> {
  for (const s of parts.services) await stopService(s);
  await tearDownRig({ prober: parts.prober, rig: parts.dnsmasq, pair: parts.pair });
  await destroyRig(parts.ironic);
}

const provision = (chain: Chain, node: Enrolled, target: string) => chain.ironic.api('PUT', `/v1/nodes/${node.uuid}/states/provision`, { target });

/**
 * Probe `mac` until dnsmasq ignores it, the refusal backed by its "ignored" log line (a late OFFER must not pass
 * for a refusal). Returns when (epoch ms) the first DISCOVER that was ignored was sent.
 */
async function untilIgnored(chain: Chain, mac: string, deadlineMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < deadlineMs) {
    const before = await ignoredCount(chain.dnsmasq, mac);
    const sentAt = Date.now();
    const r = await chain.prober.probe(mac, 150);
    if (r.verdict === 'none' && (await ignoredCount(chain.dnsmasq, mac)) > before) return sentAt;
  }
  throw new Error(`${mac} was not ignored within ${deadlineMs} ms`);
}

export interface Trial {
  /** From the inspect request to the first DISCOVER from the node's MAC that got an OFFER. */
  allowMs: number;
  /** From the abort request (inspection over) to the first DISCOVER from it that dnsmasq ignored. */
  denyMs: number;
}

/**
 * One trial on one node: put it into inspection through Ironic's API and probe its MAC until dnsmasq offers;
 * then end the inspection (abort, through Ironic's API: ironic moves the node to `inspect failed` and aborts the
 * introspection in ironic-inspector) and probe until dnsmasq ignores it. Probes go out back to back (each waits
 * up to 150 ms for an answer), so a figure is late by at most one probe.
 */
export async function runTrial(chain: Chain, node: Enrolled, deadlineMs: number): Promise<Trial> {
  const mac = node.macs[0]!;
  await untilIgnored(chain, mac, deadlineMs); // the starting point: denied, a known MAC not being inspected
  const asked = Date.now();
  await provision(chain, node, 'inspect');
  const offered = await chain.prober.until(mac, 'offer', deadlineMs, 150);
  // Ironic accepts "abort" only in `inspect wait`: wait for it (the conductor gets there within a second or two).
  // Ironic reaches `inspect wait` a moment before ironic-inspector leaves `starting`; until then inspector holds
  // the node's lock and refuses the abort Ironic forwards ("Node is locked, please, retry later").
  await waitState(chain.ironic, node.uuid, 'inspect wait', deadlineMs);
  await waitIntrospection(chain.ironic, node.uuid, 'waiting', deadlineMs);
  let aborted = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await provision(chain, node, 'abort');
      break;
    } catch (err) {
      if (attempt >= 20 || !/locked/i.test(String(err))) throw err;
      await sleep(250);
      aborted = Date.now(); // the clock starts at the abort Ironic accepted
    }
  }
  const ignoredAt = await untilIgnored(chain, mac, deadlineMs);
  return { allowMs: Math.max(0, offered.sentAt - asked), denyMs: Math.max(0, ignoredAt - aborted) };
}
