/**
 * ironic-inspector's own dnsmasq PXE filter (Debian python3-ironic-inspector) as a long-lived process, driven
 * through test/e2e/support/inspector_filter.py: init (purge, sync, start dnsmasq), periodic syncs, and the tear-down
 * ironic-inspector runs when it stops. Its options come from a real inspector.conf (`configure`). Start it early:
 * importing ironic-inspector takes seconds.
 */
import { type ChildProcessWithoutNullStreams, spawnSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './dnsmasq.ts';
import type { Availability } from './env.ts';
import { isAlive, sleep } from './run.ts';

export const PYTHON = '/usr/bin/python3';
const HARNESS = join(REPO_ROOT, 'test/e2e/support/inspector_filter.py');

/** Is ironic-inspector's filter importable by the system Python? */
export function inspectorAvailability(): Availability {
  const r = spawnSync(PYTHON, ['-c', 'import ironic_inspector.pxe_filter.dnsmasq'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  return { ok: false, reason: `ironic-inspector's filter is not importable by ${PYTHON} (apt-get install -y python3-ironic-inspector): ${(r.stderr ?? String(r.error)).trim().split('\n').at(-1)}` };
}

/** The Ironic state the filter sees: files in the form of GET /v1/ports?detail=True and GET /v1/introspection. */
export interface IronicDocs {
  ports: string;
  introspection: string;
}

export class InspectorFilter {
  private readonly waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.resolve(line));
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.once('exit', (code, signal) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`ironic-inspector's filter exited (${code ?? signal}): ${this.stderr}`));
    });
  }

  static start(): InspectorFilter {
    return new InspectorFilter(spawn(PYTHON, [HARNESS], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** A new filter with the options of this inspector.conf, as ironic-inspector starting with it. */
  configure(inspectorConf: string): Promise<void> {
    return this.call({ op: 'configure', conf: inspectorConf });
  }

  private async call(cmd: Record<string, unknown>): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`ironic-inspector's filter is not running: ${this.stderr}`);
    const reply = new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const r = JSON.parse(await reply) as { ok: boolean; error?: string };
    if (!r.ok) throw new Error(`ironic-inspector's filter: ${String(cmd.op)} failed: ${r.error}\n${this.stderr}`);
  }

  /** init_filter(): purge (if configured), sync, then dnsmasq_start_command — what ironic-inspector does at start. */
  init(docs: IronicDocs): Promise<void> {
    return this.call({ op: 'init', ...docs });
  }

  /** One periodic sync. */
  sync(docs: IronicDocs): Promise<void> {
    return this.call({ op: 'sync', ...docs });
  }

  /** tear_down_filter(): dnsmasq_stop_command, as when ironic-inspector stops (e.g. restarted with driver = noop). */
  tearDown(): Promise<void> {
    return this.call({ op: 'teardown' });
  }

  /** End the process (stdin closed, then SIGKILL by PID if it lingers). */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    this.child.stdin.end();
    for (let i = 0; i < 40 && pid !== undefined && isAlive(pid) && this.child.exitCode === null; i++) await sleep(25);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
