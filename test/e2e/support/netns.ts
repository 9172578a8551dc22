/**
 * Two network namespaces joined by a veth pair: the server side (dnsmasq) and the client side (DHCP probes).
 * The pair is created inside the server namespace with its peer placed straight into the client namespace,
 * so no interface ever exists in the root namespace and no real interface is touched.
 *
 *   netns <srv>  veth-srv 198.18.0.1/15 (RFC 2544 benchmark range)  <==>  veth-cli 198.51.100.2/24  netns <cli>
 *
 * The client side has an address in another test range and a default route on the veth only so that a UDP
 * socket can send to 255.255.255.255; dnsmasq picks its range by the interface a DISCOVER arrives on.
 */
import { execFileSync } from 'node:child_process';
import { inject } from 'vitest';
import { IP } from './env.ts';
import { runPrefix } from './names.ts';
import { isAlive, run, runOk, sleep } from './run.ts';

export const SRV_IF = 'veth-srv';
export const CLI_IF = 'veth-cli';
export const SERVER_CIDR = '198.18.0.1/15';
export const SERVER_IP = '198.18.0.1';
/** Large enough that hundreds of OFFERs never exhaust it (an OFFER creates no lease, but be generous). */
export const DHCP_RANGE = '198.18.1.0,198.19.255.254,255.254.0.0,2m';
const CLIENT_CIDR = '198.51.100.2/24';

export interface NetnsPair {
  srv: string;
  cli: string;
}

const created = new Set<string>();
let counter = 0;

/** `prefix`: for callers outside vitest (bench/dnsmasq.ts); tests get the run's prefix from the global setup. */
export async function createNetnsPair(tag: string, options: { prefix?: string } = {}): Promise<NetnsPair> {
  const base = `${options.prefix ?? runPrefix(inject('e2eRunId'))}${process.pid}-${tag}${counter++}`;
  const pair = { srv: `${base}-s`, cli: `${base}-c` };
  for (const ns of [pair.srv, pair.cli]) {
    await runOk(IP, ['netns', 'add', ns]);
    created.add(ns);
  }
  await runOk(IP, ['-n', pair.srv, 'link', 'add', SRV_IF, 'type', 'veth', 'peer', 'name', CLI_IF, 'netns', pair.cli]);
  for (const ns of [pair.srv, pair.cli]) {
    // IPv6 off: no router solicitations or DAD noise on the wire or in dnsmasq's log.
    // (/proc/sys/net is per namespace; written directly because procps' sysctl is not on every CI image.)
    await run(IP, ['netns', 'exec', ns, '/bin/sh', '-c', 'for c in all default; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done 2>/dev/null']);
    await runOk(IP, ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await runOk(IP, ['-n', pair.srv, 'addr', 'add', SERVER_CIDR, 'dev', SRV_IF]);
  await runOk(IP, ['-n', pair.srv, 'link', 'set', SRV_IF, 'up']);
  await runOk(IP, ['-n', pair.cli, 'addr', 'add', CLIENT_CIDR, 'dev', CLI_IF]);
  await runOk(IP, ['-n', pair.cli, 'link', 'set', CLI_IF, 'up']);
  await runOk(IP, ['-n', pair.cli, 'route', 'add', 'default', 'dev', CLI_IF]);
  return pair;
}

/** The PIDs of every process living in a namespace we created. */
export function pidsInNetns(ns: string): number[] {
  try {
    return execFileSync(IP, ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Kill whatever still runs inside the namespace (by PID), then delete it; the veth pair goes with it. */
export async function destroyNetns(ns: string): Promise<void> {
  const pids = pidsInNetns(ns);
  for (const pid of pids) signal(pid, 'SIGTERM');
  for (let i = 0; i < 40 && pids.some(isAlive); i++) await sleep(50);
  for (const pid of pids) if (isAlive(pid)) signal(pid, 'SIGKILL');
  try {
    execFileSync(IP, ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
  created.delete(ns);
}

export async function destroyNetnsPair(pair: NetnsPair | undefined): Promise<void> {
  if (!pair) return;
  await destroyNetns(pair.cli);
  await destroyNetns(pair.srv);
}

/** Synchronous last resort for a worker that exits without running its hooks. */
export function destroyAllCreatedSync(): void {
  for (const ns of created) {
    for (const pid of pidsInNetns(ns)) signal(pid, 'SIGKILL');
    try {
      execFileSync(IP, ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
  created.clear();
}
process.once('exit', destroyAllCreatedSync);

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Exited meanwhile.
  }
}
