/**
 * The test side of DHCP probing: a long-lived dhcp-probe-server inside the client namespace (fast, many
 * probes in flight), and busybox udhcpc, a real DHCP client doing the whole DISCOVER/OFFER/REQUEST/ACK.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BUSYBOX, IP } from './env.ts';
import { REPO_ROOT } from './dnsmasq.ts';
import { CLI_IF, type NetnsPair } from './netns.ts';
import { isAlive, run, runOk, sleep } from './run.ts';

export type Verdict = 'offer' | 'none';
export interface ProbeResult {
  mac: string;
  verdict: Verdict;
  ip?: string;
  ms: number;
}

/** What a probe that got no answer waited for; dnsmasq answers in ~2 ms when it is not busy. */
export const DEFAULT_TIMEOUT_MS = 400;

export class Prober {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: ProbeResult) => void; reject: (e: Error) => void }>();
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  static async start(pair: NetnsPair): Promise<Prober> {
    const child = spawn(IP, ['netns', 'exec', pair.cli, process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/e2e/support/dhcp-probe-server.ts')], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const prober = new Prober(child);
    child.stderr.on('data', (d: Buffer) => (prober.stderr += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: boolean; id?: number; mac: string; verdict: Verdict | 'error'; ip?: string; ms: number; error?: string };
        if (msg.ready) return resolve();
        const done = msg.id !== undefined ? prober.waiting.get(msg.id) : undefined;
        if (!done || msg.id === undefined) return;
        prober.waiting.delete(msg.id);
        if (msg.verdict === 'error') return done.reject(new Error(`probe of ${msg.mac} failed: ${msg.error}`));
        done.resolve({ mac: msg.mac, verdict: msg.verdict, ms: msg.ms, ...(msg.ip ? { ip: msg.ip } : {}) });
      });
      child.once('exit', (code) => {
        const err = new Error(`probe server exited (${code}): ${prober.stderr}`);
        reject(err); // no-op once ready
        // Probes still in flight would otherwise wait forever.
        for (const w of prober.waiting.values()) w.reject(err);
        prober.waiting.clear();
      });
    });
    await ready;
    return prober;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** One DISCOVER for `mac`; resolves with "offer" as soon as one arrives, else "none" after the timeout. */
  probe(mac: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ProbeResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, mac, timeoutMs })}\n`);
    });
  }

  /** Many DISCOVERs at once, `spacingMs` apart (dnsmasq's socket buffer is finite). */
  async probeMany(macs: readonly string[], timeoutMs = DEFAULT_TIMEOUT_MS, spacingMs = 1): Promise<ProbeResult[]> {
    const results: Promise<ProbeResult>[] = [];
    for (const mac of macs) {
      results.push(this.probe(mac, timeoutMs));
      if (spacingMs > 0) await sleep(spacingMs);
    }
    return Promise.all(results);
  }

  /**
   * Probe until the verdict is `want`. Returns how long after the call the first matching DISCOVER was sent
   * (`elapsedMs`) and when, in epoch ms (`sentAt`), so it can be compared with a file's mtime.
   */
  async until(mac: string, want: Verdict, deadlineMs: number, timeoutMs = 150): Promise<{ elapsedMs: number; sentAt: number; probes: number }> {
    const started = performance.now();
    for (let probes = 1; ; probes++) {
      const sent = performance.now();
      const sentAt = Date.now();
      const r = await this.probe(mac, timeoutMs);
      if (r.verdict === want) return { elapsedMs: sent - started, sentAt, probes };
      if (performance.now() - started > deadlineMs) {
        throw new Error(`${mac}: still "${r.verdict}" after ${probes} probes over ${Math.round(performance.now() - started)} ms (wanted "${want}")`);
      }
    }
  }

  async stop(): Promise<void> {
    const pid = this.child.pid;
    this.child.stdin.end();
    for (let i = 0; i < 40 && pid !== undefined && isAlive(pid) && this.child.exitCode === null; i++) await sleep(25);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export interface ClientResult {
  lease: boolean;
  ip?: string;
  ms: number;
  output: string;
}

/**
 * busybox udhcpc, a real DHCP client, with the client interface set to `mac`: DISCOVER, and on an OFFER the
 * REQUEST/ACK as well. `-s /bin/true` keeps it from configuring anything; one try of one second.
 */
export async function udhcpc(pair: NetnsPair, mac: string): Promise<ClientResult> {
  await runOk(IP, ['-n', pair.cli, 'link', 'set', 'dev', CLI_IF, 'address', mac]);
  const r = await run(IP, ['netns', 'exec', pair.cli, BUSYBOX, 'udhcpc', '-i', CLI_IF, '-f', '-q', '-n', '-t', '1', '-T', '1', '-A', '0', '-s', '/bin/true'], {
    timeoutMs: 10_000,
  });
  const output = r.stdout + r.stderr;
  const ip = /lease of (\S+) obtained/.exec(output)?.[1];
  return { lease: r.code === 0 && ip !== undefined, ms: r.ms, output, ...(ip ? { ip } : {}) };
}
