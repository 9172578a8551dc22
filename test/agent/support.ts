/** Real processes and real directories for the agent tests: a local store, the built bundle, log capture. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Mac } from '../../core/mac.ts';
import { type Manifest, type Pointer, buildManifest, serializeManifest, sha256 } from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { publishPolicy } from '../../control/publish.ts';
import { manifestKey, pointerParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';

export const mac = (i: number) =>
  `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}` as Mac;
export const macs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => mac(from + i));

let bundle: Promise<string> | undefined;
/** The real deliverable: `npm run build`'s script, built once per test file into a temp dir. */
export function agentBundle(): Promise<string> {
  bundle ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'pxe-bundle-')), 'pxe-filter-agent.mjs');
    await promisify(execFile)(process.execPath, ['scripts/build-agent.mjs', out]);
    return out;
  })();
  return bundle;
}

export interface Rig {
  root: string;
  hostsdir: string;
  storeDir: string;
  store: LocalStore;
  stateFile: string;
  configPath: string;
  cleanup(): void;
}

export function makeRig(config: Record<string, unknown> = {}, base = tmpdir()): Rig {
  const root = mkdtempSync(join(base, 'pxe-agent-'));
  const hostsdir = join(root, 'hostsdir');
  const storeDir = join(root, 'store');
  const stateFile = join(root, 'state', 'state.json');
  mkdirSync(hostsdir);
  const doc = {
    site: 'dc1',
    host: 'pxe-1',
    store: `local:${storeDir}`,
    hostsdir,
    stateFile,
    readyFile: join(root, 'state', 'ready'),
    purge: false,
    pollIntervalSeconds: 0.05,
    pollJitter: 0.2,
    retryMinSeconds: 0.05,
    retryMaxSeconds: 0.2,
    service: { mode: 'none' },
    logLevel: 'debug',
    ...config,
  };
  const configPath = join(root, 'agent.json');
  writeFileSync(configPath, JSON.stringify(doc));
  return {
    root,
    hostsdir,
    storeDir,
    store: new LocalStore(storeDir),
    stateFile,
    configPath,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export const policyOf = (allow: Mac[], deny: Mac[], open = false): Policy => ({
  unknownHosts: open ? 'allow' : 'deny',
  removed: open ? 'allow' : 'deny',
  allow: [...allow].sort(),
  deny: [...deny].sort(),
});

export async function publish(store: LocalStore, policy: Policy, site = 'dc1') {
  const r = await publishPolicy({ store, site, policy, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
  return r;
}

/** Put arbitrary bytes as the site's manifest and point the pointer at them (for tampering tests). */
export async function publishRaw(store: LocalStore, bytes: Uint8Array, pointer: Partial<Pointer> & { generation: number }, site = 'dc1') {
  const put = await store.putObject(manifestKey(site), bytes);
  const full: Pointer = { site, key: manifestKey(site), versionId: put.versionId, sha256: sha256(bytes), ...pointer };
  await store.putParameter(pointerParameter(site), JSON.stringify(full));
  return full;
}

export function manifestBytes(policy: Policy, generation: number, site = 'dc1'): { manifest: Manifest; bytes: Uint8Array } {
  const manifest = buildManifest({ site, generation, createdAt: new Date(), inputs: [], policy });
  return { manifest, bytes: serializeManifest(manifest) };
}

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export class AgentProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text, level: 'raw' };
        }
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.pred(line) ? (w.resolve(line), false) : true));
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first log line (already seen or future) matching; rejects after `ms`. */
  waitFor(pred: (l: LogLine) => boolean, ms = 15_000, from = 0): Promise<LogLine> {
    const seen = this.lines.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for a log line; last lines:\n${this.lines.slice(-8).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${this.stderr}`)), ms);
      this.waiters.push({ pred, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

const running = new Set<AgentProcess>();

export async function startAgent(args: string[], env: Record<string, string> = {}, nodeFlags: readonly string[] = []): Promise<AgentProcess> {
  const child = spawn(process.execPath, [...nodeFlags, await agentBundle(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const p = new AgentProcess(child);
  running.add(p);
  void p.exited.then(() => running.delete(p));
  return p;
}

/** afterEach: nothing a test started outlives it. */
export async function killAll(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
}

/** name → content + inode of every entry: equal snapshots mean not a byte, name or inode changed. */
export function snapshot(dir: string): Map<string, { content: string; ino: number; mode: number }> {
  const out = new Map<string, { content: string; ino: number; mode: number }>();
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name));
    out.set(name, { content: st.isFile() ? readFileSync(join(dir, name), 'utf8') : '<dir>', ino: st.ino, mode: st.mode & 0o777 });
  }
  return out;
}

export const isApplied = (generation: number) => (l: LogLine) => l.msg === 'applied' && l.generation === generation;

/** tmpfs when there is one: tests that spawn many processes stay fast on a busy disk. */
export const fastTmp = () => (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());

/** Change some fields of a rig's config file (paths stay). */
export function rewriteConfig(rig: Rig, extra: Record<string, unknown>): void {
  const doc = JSON.parse(readFileSync(rig.configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(rig.configPath, JSON.stringify({ ...doc, ...extra }));
}

/** A service whose reload command counts SIGHUPs in a file; start/stop do nothing (dnsmasq "keeps running"). */
export function countingService(root: string) {
  const reloads = join(root, 'reloads');
  return { reloads, service: { mode: 'command', start: 'true', stop: 'true', reload: `echo hup >> '${reloads}'` } };
}
export const reloadCount = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);
