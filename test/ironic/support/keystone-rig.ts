/**
 * A real Keystone (Debian `keystone`) on a free 127.0.0.1 port: SQLite, fernet tokens, bootstrapped with
 * `keystone-manage bootstrap`, served by the package's own `keystone-wsgi-public` script (wsgiref, one
 * process) and stopped by PID. Installs nothing: CI installs the package (.ci/run).
 *
 * Facts this rests on (Keystone 22 on Debian 12):
 * - `keystone-wsgi-public` reads its configuration from $OS_KEYSTONE_CONFIG_DIR/keystone.conf, not argv.
 * - keystone-manage prints eventlet tracebacks at exit ("'NoneType' object has no attribute 'getcurrent'")
 *   that are harmless: the exit status is 0 and the work is done.
 * - SQLite in WAL mode: otherwise a write after a read fails with "database is locked" (see below).
 * - `[identity] password_hash_rounds = 4` (bcrypt's minimum) keeps each password check cheap on a busy
 *   machine; `[token] expiration` is the only way to have Keystone itself issue tokens that expire.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ironic-rig.ts';

const run = promisify(execFile);

export const KEYSTONE_BINARIES = ['/usr/bin/keystone-manage', '/usr/bin/keystone-wsgi-public'];

export interface KeystoneOptions {
  /** Lifetime of every token Keystone issues, in seconds. */
  tokenExpirationSeconds?: number;
}

export interface Keystone {
  dir: string;
  /** `http://127.0.0.1:PORT/v3` */
  url: string;
  adminPassword: string;
  /** A project-scoped admin token (renewed when old). */
  adminToken(): Promise<string>;
  /** REST call as admin; throws on non-2xx with the body. */
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** Password → token; returns the X-Subject-Token. */
  token(user: { name: string; password: string; project?: string }): Promise<string>;
  pid(): number | undefined;
  stop(): Promise<void>;
}

function pythonEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, LANG: 'C.UTF-8', NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', OS_KEYSTONE_CONFIG_DIR: dir };
}

export async function startKeystone(o: KeystoneOptions = {}): Promise<Keystone> {
  const dir = await mkdtemp(join(tmpdir(), 'pxe-filter-keystone-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v3`;
  const adminPassword = `admin-${Math.random().toString(36).slice(2)}`;
  let proc: ChildProcess | undefined;
  const onExit = () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', onExit);
  const stop = async () => {
    const p = proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', onExit);
    if (!process.env['KEEP_IRONIC_RIG']) await rm(dir, { recursive: true, force: true });
  };
  try {
    await writeFile(join(dir, 'keystone.conf'), keystoneConf(dir, o.tokenExpirationSeconds ?? 3600));
    const env = pythonEnv(dir);
    const manage = (args: string[]) => run('/usr/bin/keystone-manage', ['--config-file', join(dir, 'keystone.conf'), ...args], { env, timeout: 300_000 });
    // Independent steps in parallel: the schema, and the two key repositories.
    await Promise.all([
      manage(['db_sync']),
      manage(['fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root']),
      manage(['credential_setup', '--keystone-user', 'root', '--keystone-group', 'root']),
    ]);
    await manage(['bootstrap', '--bootstrap-password', adminPassword, '--bootstrap-public-url', url, '--bootstrap-internal-url', url, '--bootstrap-region-id', 'RegionOne']);
    // Keystone keeps a pooled connection inside a read transaction between requests; in SQLite's default
    // journal mode that blocks the next write's commit ("database is locked", HTTP 500). WAL lets it commit.
    await run('/usr/bin/sqlite3', [join(dir, 'keystone.sqlite'), 'PRAGMA journal_mode=WAL;'], { env, timeout: 30_000 });
    const out = await open(join(dir, 'keystone.out'), 'w');
    proc = spawn('/usr/bin/keystone-wsgi-public', ['--host', '127.0.0.1', '--port', String(port)], { cwd: dir, env, detached: true, stdio: ['ignore', out.fd, out.fd] });
    await out.close();
    await waitFor(`${url}/`, proc, dir);
  } catch (err) {
    await stop();
    throw err;
  }

  const token = async (user: { name: string; password: string; project?: string }) => {
    const res = await fetch(`${url}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: user.name, domain: { id: 'default' }, password: user.password } } },
          ...(user.project ? { scope: { project: { name: user.project, domain: { id: 'default' } } } } : {}),
        },
      }),
    });
    if (res.status !== 201) throw new Error(`Keystone token for ${user.name}: HTTP ${res.status}: ${await res.text()}`);
    return res.headers.get('x-subject-token')!;
  };
  let admin: { token: string; at: number } | undefined;
  const adminToken = async () => {
    if (!admin || Date.now() - admin.at > 30_000) admin = { token: await token({ name: 'admin', password: adminPassword, project: 'admin' }), at: Date.now() };
    return admin.token;
  };
  const api = async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-Auth-Token': await adminToken() },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Keystone ${method} ${path}: HTTP ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
  return { dir, url, adminPassword, adminToken, api, token, pid: () => proc?.pid, stop };
}

async function waitFor(url: string, proc: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const out = await readFile(join(dir, 'keystone.out'), 'utf8').catch(() => '');
      const log = await readFile(join(dir, 'keystone.log'), 'utf8').catch(() => '');
      throw new Error(`keystone exited (${proc.exitCode ?? proc.signalCode}) before answering:\n${out.slice(-2000)}\n${log.slice(-2000)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`keystone did not answer ${url} within 120 s`);
}

function keystoneConf(dir: string, expiration: number): string {
  return `[DEFAULT]
log_dir = ${dir}
log_file = keystone.log
use_stderr = false

[database]
connection = sqlite:///${dir}/keystone.sqlite

[fernet_tokens]
key_repository = ${dir}/fernet-keys

[fernet_receipts]
key_repository = ${dir}/fernet-receipts

[credential]
key_repository = ${dir}/credential-keys

[identity]
password_hash_rounds = 4

[token]
expiration = ${expiration}

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
`;
}

/** Register a service and its endpoints (interface → URL, per region) in the catalogue. */
export async function registerService(ks: Keystone, type: string, name: string, endpoints: { region: string; interface: string; url: string }[]): Promise<void> {
  const { service } = await ks.api<{ service: { id: string } }>('POST', '/services', { service: { type, name, enabled: true } });
  for (const e of endpoints) {
    await ensureRegion(ks, e.region);
    await ks.api('POST', '/endpoints', { endpoint: { service_id: service.id, interface: e.interface, region_id: e.region, url: e.url, enabled: true } });
  }
}

async function ensureRegion(ks: Keystone, id: string): Promise<void> {
  const { regions } = await ks.api<{ regions: { id: string }[] }>('GET', '/regions');
  if (!regions.some((r) => r.id === id)) await ks.api('POST', '/regions', { region: { id } });
}
