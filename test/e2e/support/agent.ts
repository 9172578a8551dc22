/**
 * The real agent, driven as an operator would: `pxe-filter agent once` for single applies, and the daemon
 * (`pxe-filter agent run --config FILE`) as a long-lived process the tests signal by PID.
 */
import { publishPolicy } from '../../../control/publish.ts';
import type { Store } from '../../../store/store.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildManifest, serializeManifest } from '../../../core/manifest.ts';
import { UNKNOWN_HOSTS_FILE, parseRecords } from '../../../core/hostsdir.ts';
import type { Layout } from '../../../core/hostsdir-layout.ts';
import { LayoutSchema } from '../../../core/layout-schema.ts';
import { type Mac, macFileName } from '../../../core/mac.ts';
import { shardName, shardOf } from '../../../core/sharded.ts';
import type { Policy } from '../../../core/policy.ts';
import { type DnsmasqRig, REPO_ROOT, serviceCommands } from './dnsmasq.ts';
import { type RunResult, isAlive, run, sleep } from './run.ts';

export const CLI = join(REPO_ROOT, 'cli/bin.js');

/** Write a manifest of `policy` (canonicalised by core) to RUNDIR/manifest-<generation>.json. */
export async function writeManifest(rig: DnsmasqRig, generation: number, policy: Policy, site = 'e2e'): Promise<string> {
  const manifest = buildManifest({ site, generation, createdAt: new Date(), inputs: [], policy });
  const path = join(rig.runDir, `manifest-${generation}.json`);
  await writeFile(path, serializeManifest(manifest));
  return path;
}

export function policy(p: { allow?: readonly string[]; deny?: readonly string[]; unknownHosts?: 'allow' | 'deny'; removed?: 'allow' | 'deny' }): Policy {
  return {
    allow: [...(p.allow ?? [])] as Mac[],
    deny: [...(p.deny ?? [])] as Mac[],
    unknownHosts: p.unknownHosts ?? 'deny',
    removed: p.removed ?? p.unknownHosts ?? 'deny',
  };
}

/** The layouts every behavioural e2e case runs in: docs/design.md §3's one file per MAC, and scale mode's default. */
export const LAYOUTS: readonly Layout[] = [{ kind: 'per-mac' }, LayoutSchema.parse({ kind: 'sharded' })];
export const layoutName = (l: Layout) => (l.kind === 'per-mac' ? 'per-MAC files' : `${l.shards} shard files`);

/** `--layout …` (and `--shards N`) for the agent's command line. */
export function layoutArgs(layout: Layout | undefined): string[] {
  if (!layout) return [];
  return layout.kind === 'per-mac' ? ['--layout', 'per-mac'] : ['--layout', 'sharded', '--shards', String(layout.shards)];
}

/** The record the hosts directory holds for `mac` in `layout` (its per-MAC file or its line in its shard), if any. */
export function recordIn(rig: DnsmasqRig, layout: Layout, mac: string): string | undefined {
  const m = mac as Mac;
  const name = layout.kind === 'per-mac' ? macFileName(m) : shardName(shardOf(m, layout.shards));
  let content: string;
  try {
    content = readFileSync(join(rig.hostsdir, name), 'utf8');
  } catch {
    return undefined;
  }
  if (layout.kind === 'per-mac') return content;
  const v = parseRecords(content).get(m);
  return v === undefined ? undefined : v === 'allow' ? `${m}\n` : `${m},ignore\n`;
}

/** The visible (non-hidden) names a hosts directory in `layout` holds for these MACs: record files + wildcard. */
export function expectedNames(layout: Layout, macs: readonly string[]): string[] {
  const names = layout.kind === 'per-mac' ? macs.map((m) => macFileName(m as Mac)) : Array.from({ length: layout.shards }, (_, i) => shardName(i));
  return [...names, UNKNOWN_HOSTS_FILE].sort();
}

export function visibleNames(rig: DnsmasqRig): string[] {
  return readdirSync(rig.hostsdir).filter((n) => !n.startsWith('.')).sort();
}

/** `pxe-filter agent once` in service-command mode against the rig's dnsmasq. */
export async function agentOnce(rig: DnsmasqRig, manifestPath: string, options: { purge?: boolean; layout?: Layout } = {}): Promise<RunResult> {
  const cmds = serviceCommands(rig);
  const args = [CLI, 'agent', 'once', '--manifest', manifestPath, '--hostsdir', rig.hostsdir, '--service', 'command'];
  args.push('--start-command', cmds.start, '--stop-command', cmds.stop, '--reload-command', cmds.reload);
  if (options.purge === false) args.push('--no-purge');
  args.push(...layoutArgs(options.layout));
  return run(process.execPath, args, { cwd: REPO_ROOT, timeoutMs: 120_000 });
}

export async function agentOnceOk(rig: DnsmasqRig, manifestPath: string, options: { purge?: boolean; layout?: Layout } = {}): Promise<RunResult> {
  const r = await agentOnce(rig, manifestPath, options);
  if (r.code !== 0) throw new Error(`agent once exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/** The daemon's configuration file (the contract of `pxe-filter agent run --config FILE`). */
export interface AgentDaemonConfig {
  site: string;
  host: string;
  store: string;
  hostsdir: string;
  stateFile: string;
  purge: boolean;
  pollIntervalSeconds: number;
  service: { mode: 'command'; start: string; stop: string; reload: string };
  stopServiceOnExit: boolean;
  layout?: Layout;
}

export function daemonConfig(rig: DnsmasqRig, site: string, storeDir: string, layout?: Layout): AgentDaemonConfig {
  return {
    ...(layout ? { layout } : {}),
    site,
    host: 'e2e-host',
    store: `local:${storeDir}`,
    hostsdir: rig.hostsdir,
    stateFile: join(rig.runDir, 'agent-state.json'),
    purge: true,
    pollIntervalSeconds: 1,
    // Under dnsmasq-guard.sh: a SIGKILLed agent takes dnsmasq down with it (no systemd here).
    service: { mode: 'command', ...serviceCommands(rig, { watchAgent: true }) },
    stopServiceOnExit: true,
  };
}

export interface AgentProcess {
  pid: number;
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** Launch `pxe-filter agent run --config FILE` as a child of the test; the caller kills it by PID. */
export async function launchAgentDaemon(rig: DnsmasqRig, config: AgentDaemonConfig): Promise<AgentProcess> {
  const configPath = join(rig.runDir, 'agent-config.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const child = spawn(process.execPath, [CLI, 'agent', 'run', '--config', configPath], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  if (child.pid === undefined) throw new Error('agent did not start');
  launched.add(child);
  void exited.then(() => launched.delete(child));
  return { pid: child.pid, child, output: () => output, exited };
}

const launched = new Set<ChildProcess>();

/** Kill every agent this worker launched and has not seen exit (afterAll / failure path), by PID. */
export async function killLaunchedAgents(): Promise<void> {
  for (const child of launched) if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL');
  for (let i = 0; i < 40 && [...launched].some((c) => c.pid !== undefined && isAlive(c.pid)); i++) await sleep(25);
}

/** Publish a deny-unknown policy as a new generation into a local store, as the control plane would (no guard). */
export function publishToStore(store: Store, site: string, allow: readonly string[], deny: readonly string[]) {
  return publishPolicy({
    store,
    site,
    policy: policy({ allow, deny, unknownHosts: 'deny' }),
    inputs: [],
    guard: { maxChangeShare: 1, minChangesToGuard: 0 },
    force: true,
    now: new Date(),
  });
}
