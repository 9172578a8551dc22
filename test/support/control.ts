/**
 * Test helpers for the on-premises control plane (`publish`, `control run`): a local store with a site's settings
 * and exports, and a `control run` process spawned as an operator (or systemd) starts it, read line by line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { exportKey, settingsParameter } from '../../store/keys.ts';
import { readPointer } from '../../store/pointer.ts';
import { LocalStore } from '../../store/local-store.ts';
import { REPO_ROOT } from './cli.ts';
import { exportBundle } from './exports.ts';

export async function siteStore(root: string, site = 'dc1', settings: Record<string, unknown> = { source: 'ironic' }): Promise<LocalStore> {
  const store = new LocalStore(root);
  await store.putParameter(settingsParameter(site), JSON.stringify(settings));
  return store;
}

let clock = Date.now();
/** An export as the exporter uploads it, dated after every earlier one of this process. */
export async function putExport(store: LocalStore, site: string, o: { macs?: number; inspecting?: number[]; firstMac?: number } = {}): Promise<string> {
  clock = Math.max(clock + 1, Date.now());
  const at = new Date(clock);
  const key = exportKey(site, at);
  const doc = exportBundle(site, { macs: o.macs ?? 30, inspecting: o.inspecting ?? [], createdAt: at.toISOString(), ...(o.firstMac !== undefined ? { firstMac: o.firstMac } : {}) });
  await store.putObject(key, new TextEncoder().encode(JSON.stringify(doc)));
  return key;
}

export async function pointerGeneration(store: LocalStore, site = 'dc1'): Promise<number | undefined> {
  return (await readPointer(store, site))?.generation;
}

export interface LogLine {
  level: string;
  msg: string;
  site?: string;
  generation?: number;
  [k: string]: unknown;
}

export interface Service {
  child: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  /** Resolves with the first line (in order, from the start) that matches, or rejects after `ms`. */
  waitFor(pred: (l: LogLine) => boolean, what: string, ms?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `pxe-filter control run ARGS` as a real process (cli/bin.js, the compiled command line). */
export function spawnControlRun(args: string[], env: NodeJS.ProcessEnv = process.env): Service {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'cli', 'bin.js'), 'control', 'run', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let err = '';
  let buf = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(JSON.parse(text) as LogLine);
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => {
    for (const w of waiters) w();
  });
  let done = false;
  void exited.then(() => (done = true));
  const waitFor = (pred: (l: LogLine) => boolean, what: string, ms = 15_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        } else if (done) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`control run exited before ${what}; stdout:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; stdout:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${err}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    child,
    lines,
    stderr: () => err,
    waitFor,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}
