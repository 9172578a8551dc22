/**
 * One real dnsmasq (Debian dnsmasq-base) inside a server namespace, as the agent's `--service command` mode
 * drives it: the start/stop/reload command strings call dnsmasq-ctl.sh, which records the PID. This module
 * writes the configuration, hands out those commands, and reads the evidence: the PID (checked to be a
 * dnsmasq inside the right namespace) and dnsmasq's own log.
 */
import { readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DHCP_RANGE, type NetnsPair, SRV_IF } from './netns.ts';
import { isAlive, run, sleep, waitFor } from './run.ts';
import type { Prober } from './prober.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const CTL = join(REPO_ROOT, 'test/e2e/support/dnsmasq-ctl.sh');

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export interface DnsmasqRig {
  pair: NetnsPair;
  /** Holds dnsmasq.conf, dnsmasq.pid, dnsmasq.log, the lease file, manifests and the hosts directory. */
  runDir: string;
  hostsdir: string;
  logPath: string;
}

export async function createDnsmasqRig(pair: NetnsPair): Promise<DnsmasqRig> {
  const runDir = await mkdtemp(join(tmpdir(), 'pxf-e2e-'));
  const hostsdir = join(runDir, 'hostsdir');
  await mkdir(hostsdir);
  // dnsmasq drops privileges to "nobody": the directory and its parents must be searchable and readable.
  await chmod(runDir, 0o755);
  await chmod(hostsdir, 0o755);
  const logPath = join(runDir, 'dnsmasq.log');
  const conf = [
    'keep-in-foreground',
    'port=0', // no DNS: DHCP only
    `interface=${SRV_IF}`,
    'bind-interfaces',
    `dhcp-range=${DHCP_RANGE}`,
    `dhcp-hostsdir=${hostsdir}`,
    `dhcp-leasefile=${join(runDir, 'leases')}`,
    `pid-file=${join(runDir, 'dnsmasq.pid')}`,
    'no-ping', // else every first OFFER of an address waits up to 3 s for ICMP echo
    'log-facility=-',
  ];
  await writeFile(join(runDir, 'dnsmasq.conf'), `${conf.join('\n')}\n`);
  await writeFile(logPath, '');
  return { pair, runDir, hostsdir, logPath };
}

/** Shell commands for the agent's `--service command` mode. `watchAgent`: run under dnsmasq-guard.sh. */
export function serviceCommands(rig: DnsmasqRig, options: { watchAgent?: boolean } = {}) {
  const base = (verb: string) => `${q(CTL)} ${verb} ${q(rig.runDir)} ${q(rig.pair.srv)}`;
  return {
    // $PPID is expanded by the agent's own `/bin/sh -c`, whose parent is the agent process.
    start: options.watchAgent ? `${base('start')} --watch-pid $PPID` : base('start'),
    stop: base('stop'),
    reload: base('reload'),
  };
}

/** The PID of the rig's dnsmasq, only if /proc/PID/comm is dnsmasq and it lives in the server namespace. */
export function dnsmasqPid(rig: DnsmasqRig): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(rig.runDir, 'dnsmasq.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'dnsmasq') return undefined;
    if (statSync(`/proc/${pid}/ns/net`).ino !== statSync(`/run/netns/${rig.pair.srv}`).ino) return undefined;
    if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

/** Start dnsmasq directly (without an agent) through the same command the agent would run. */
export async function startDnsmasq(rig: DnsmasqRig): Promise<number> {
  const r = await run('/bin/sh', ['-c', serviceCommands(rig).start]);
  if (r.code !== 0) throw new Error(`dnsmasq did not start: ${r.stderr}`);
  return waitFor('dnsmasq PID', () => dnsmasqPid(rig), 5_000);
}

/** Stop by PID (SIGTERM, then SIGKILL), verifying it is our dnsmasq first. */
export async function stopDnsmasq(rig: DnsmasqRig): Promise<void> {
  const pid = dnsmasqPid(rig);
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export async function destroyDnsmasqRig(rig: DnsmasqRig | undefined): Promise<void> {
  if (!rig) return;
  await stopDnsmasq(rig);
  if (process.env.PXF_E2E_KEEP !== '1') await rm(rig.runDir, { recursive: true, force: true });
}

export async function readLog(rig: DnsmasqRig): Promise<string> {
  return readFile(rig.logPath, 'utf8');
}

/** Log lines of dnsmasq's DHCP side that say it ignored a DISCOVER from this MAC. */
export function ignoredLine(mac: string): RegExp {
  return new RegExp(`DHCPDISCOVER\\(${SRV_IF}\\) ${mac} ignored$`, 'm');
}

/** How often dnsmasq has logged that it ignored a DISCOVER from this MAC. */
export async function ignoredCount(rig: DnsmasqRig, mac: string): Promise<number> {
  return (await readLog(rig)).match(new RegExp(ignoredLine(mac).source, 'gm'))?.length ?? 0;
}

/** How many times dnsmasq started ("started, version …" lines) in this rig's log. */
export async function startCount(rig: DnsmasqRig): Promise<number> {
  return (await readLog(rig)).match(/^dnsmasq\[\d+\]: started, version /gm)?.length ?? 0;
}

/** File names of the hosts directory that dnsmasq logged as read, with how often each was read. */
export async function readsOfHostsdir(rig: DnsmasqRig, fromOffset = 0): Promise<Map<string, number>> {
  const text = (await readLog(rig)).slice(fromOffset);
  const prefix = `read ${rig.hostsdir}/`;
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(prefix);
    if (i < 0) continue;
    const name = line.slice(i + prefix.length).trim();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

export async function logSize(rig: DnsmasqRig): Promise<number> {
  return (await readFile(rig.logPath)).length;
}

/**
 * What dnsmasq does with one DISCOVER from `mac`: "offer", "ignored" (no answer, and dnsmasq logged that it
 * ignored this MAC — the evidence that a record refused it), or "silent" (no answer and no such line).
 */
export async function verdictOf(rig: DnsmasqRig, prober: Prober, mac: string, timeoutMs = 1_000): Promise<'offer' | 'ignored' | 'silent'> {
  const before = await ignoredCount(rig, mac);
  const r = await prober.probe(mac, timeoutMs);
  if (r.verdict === 'offer') return 'offer';
  return (await ignoredCount(rig, mac)) > before ? 'ignored' : 'silent';
}
