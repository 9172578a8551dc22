/**
 * A real OpenStack Ironic (Debian `ironic-common`: API + conductor in one process) and optionally a real
 * ironic-inspector, on 127.0.0.1 ports chosen free, with noauth (or Keystone, see RigOptions.keystone),
 * SQLite and fake hardware, in a temp dir.
 * Installs nothing: CI installs the packages (.ci/run). Processes are stopped by PID (TERM, then KILL).
 *
 * Facts this rests on (checked with Ironic 21.4 / inspector 11.1 on Debian 12):
 * - Debian's entry points run /usr/bin/python3; a pyenv `python3` on PATH does not see Debian's modules.
 * - inspector standalone needs `transport_url = fake://`, else it loops on RabbitMQ connection errors.
 * - `[conductor] inspect_wait_timeout = 0` and inspector `timeout = 0` keep nodes in `inspect wait`.
 * - Without X-OpenStack-Ironic-API-Version the API answers as 1.1 (`inspect wait` shows as `inspecting`).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RigOptions {
  withInspector?: boolean;
  /** Ironic [api] max_limit: the largest page Ironic serves. */
  maxLimit?: number;
  /**
   * Keystone auth instead of noauth: Ironic and inspector validate tokens with keystonemiddleware
   * (auth_token) as this service user, and call each other with its credentials.
   */
  keystone?: KeystoneAuth;
}

export interface KeystoneAuth {
  /** `http://127.0.0.1:PORT/v3` */
  authUrl: string;
  username: string;
  password: string;
  project: string;
  /** The rig's own REST calls (enrolment) carry this token. */
  token(): Promise<string>;
}

export interface Rig {
  dir: string;
  ironicUrl: string;
  inspectorUrl?: string;
  /** Headers that authenticate the rig's own calls (an X-Auth-Token with Keystone auth, none with noauth). */
  authHeaders(): Promise<Record<string, string>>;
  /** REST call to Ironic at the latest API version; throws on non-2xx with the body. */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Runs `openstack <args>` against this Ironic (noauth). */
  openstack(args: string[]): Promise<string>;
  sql(statement: string): Promise<void>;
  stop(): Promise<void>;
  pids(): number[];
  log(name: 'ironic' | 'inspector'): Promise<string>;
}

export const IRONIC_BINARIES = ['/usr/bin/ironic', '/usr/bin/ironic-dbsync', '/usr/bin/ironic-inspector', '/usr/bin/ironic-inspector-dbsync', '/usr/bin/openstack', '/usr/bin/sqlite3'];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Environment for Debian's Python tools: no pyenv shims, no user site, no proxies for loopback. */
function pythonEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    LANG: 'C.UTF-8',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
}

export async function startRig(o: RigOptions = {}): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'pxe-filter-ironic-rig-'));
  const children: { name: 'ironic' | 'inspector'; proc: ChildProcess }[] = [];
  // Last line of defence when afterAll never runs (a hook timed out, the worker is torn down):
  // kill by PID when this process exits. `exit` handlers must be synchronous, hence SIGKILL.
  const onExit = () => {
    for (const { proc } of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', onExit);
  const stop = async () => {
    await Promise.all(children.map(({ proc }) => stopProcess(proc)));
    process.removeListener('exit', onExit);
  };
  try {
    const ironicPort = await freePort();
    const inspectorPort = o.withInspector ? await freePort() : 0;
    const ironicUrl = `http://127.0.0.1:${ironicPort}`;
    const inspectorUrl = o.withInspector ? `http://127.0.0.1:${inspectorPort}` : undefined;
    await mkdir(join(dir, 'state'), { recursive: true });
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await writeFile(join(dir, 'ironic.conf'), ironicConf(dir, ironicPort, inspectorUrl ?? 'http://127.0.0.1:9', o.maxLimit ?? 1000, o.keystone));
    await writeFile(join(dir, 'ironic-policy.yaml'), '');
    const env = pythonEnv(dir);
    await run('/usr/bin/ironic-dbsync', ['--config-file', join(dir, 'ironic.conf'), 'create_schema'], { env, timeout: 120_000 });
    children.push({ name: 'ironic', proc: await startProcess('/usr/bin/ironic', ['--config-file', join(dir, 'ironic.conf')], dir, 'ironic', env) });
    if (inspectorUrl) {
      await mkdir(join(dir, 'coordination'), { recursive: true });
      await mkdir(join(dir, 'ramdisk-logs'), { recursive: true });
      await writeFile(join(dir, 'inspector.conf'), inspectorConf(dir, inspectorPort, ironicUrl, o.keystone));
      await run('/usr/bin/ironic-inspector-dbsync', ['--config-file', join(dir, 'inspector.conf'), 'upgrade'], { env, timeout: 120_000 });
      children.push({ name: 'inspector', proc: await startProcess('/usr/bin/ironic-inspector', ['--config-file', join(dir, 'inspector.conf')], dir, 'inspector', env) });
    }
    for (const { name, proc } of children) {
      await waitForHttp(name === 'ironic' ? `${ironicUrl}/v1/` : `${inspectorUrl}/v1`, proc, name, dir);
    }
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${ironicUrl}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-OpenStack-Ironic-API-Version': 'latest', ...(o.keystone ? { 'X-Auth-Token': await o.keystone.token() } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Ironic ${method} ${path}: HTTP ${res.status}: ${text}`);
      return text ? (JSON.parse(text) as unknown) : undefined;
    };
    return {
      dir,
      ironicUrl,
      ...(inspectorUrl ? { inspectorUrl } : {}),
      authHeaders: async (): Promise<Record<string, string>> => (o.keystone ? { 'X-Auth-Token': await o.keystone.token() } : {}),
      api,
      openstack: async (args) => {
        const { stdout } = await run('/usr/bin/openstack', args, {
          env: { ...env, OS_AUTH_TYPE: 'none', OS_ENDPOINT: ironicUrl },
          timeout: 120_000,
          maxBuffer: 64 * 1024 * 1024,
        });
        return stdout;
      },
      sql: async (statement) => {
        // Ironic holds short write locks: wait for them (busy timeout) instead of failing with "database is locked".
        await run('/usr/bin/sqlite3', ['-cmd', '.timeout 15000', join(dir, 'ironic.sqlite'), statement], { env, timeout: 30_000 });
      },
      stop,
      pids: () => children.map((c) => c.proc.pid!).filter(Boolean),
      log: (name) => readFile(join(dir, `${name}.log`), 'utf8').catch(() => ''),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Stops the rig's processes, then removes its directory (unless KEEP_IRONIC_RIG is set, for debugging). */
export async function destroyRig(rig: Rig | undefined): Promise<void> {
  if (!rig) return;
  await rig.stop();
  if (!process.env['KEEP_IRONIC_RIG']) await rm(rig.dir, { recursive: true, force: true });
}

async function startProcess(bin: string, args: string[], dir: string, name: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const out = await open(join(dir, `${name}.out`), 'w');
  // detached: its own process group, so a Ctrl-C in the test runner does not hit it before afterAll does.
  const proc = spawn(bin, args, { cwd: dir, env, detached: true, stdio: ['ignore', out.fd, out.fd] });
  await out.close();
  return proc;
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForHttp(url: string, proc: ChildProcess, name: string, dir: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const log = await readFile(join(dir, `${name}.log`), 'utf8').catch(() => '');
      const out = await readFile(join(dir, `${name}.out`), 'utf8').catch(() => '');
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before answering:\n${out.slice(-2000)}\n${log.slice(-2000)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not answer ${url} within 90 s`);
}

/** keystonemiddleware's section, and the keystoneauth options a service uses to call another one. */
function authTokenSection(k: KeystoneAuth): string {
  return `[keystone_authtoken]
www_authenticate_uri = ${k.authUrl}
auth_url = ${k.authUrl}
${serviceAuth(k)}
`;
}

function serviceAuth(k: KeystoneAuth | undefined): string {
  if (!k) return 'auth_type = none';
  return `auth_type = password
auth_url = ${k.authUrl}
username = ${k.username}
password = ${k.password}
project_name = ${k.project}
user_domain_id = default
project_domain_id = default`;
}

function ironicConf(dir: string, port: number, inspectorUrl: string, maxLimit: number, k: KeystoneAuth | undefined): string {
  const ironicUrl = `http://127.0.0.1:${port}`;
  return `[DEFAULT]
host = pxe-filter-rig
auth_strategy = ${k ? 'keystone' : 'noauth'}
rpc_transport = none
state_path = ${dir}/state
tempdir = ${dir}/tmp
log_dir = ${dir}
log_file = ironic.log
use_stderr = false
minimum_memory_warning_only = true
enabled_hardware_types = fake-hardware
enabled_bios_interfaces = fake,no-bios
enabled_boot_interfaces = fake
enabled_console_interfaces = fake,no-console
enabled_deploy_interfaces = fake
enabled_inspect_interfaces = fake,no-inspect,inspector
enabled_management_interfaces = fake
enabled_network_interfaces = noop
enabled_power_interfaces = fake
enabled_raid_interfaces = fake,no-raid
enabled_rescue_interfaces = fake,no-rescue
enabled_storage_interfaces = fake,noop
enabled_vendor_interfaces = fake,no-vendor
default_bios_interface = no-bios
default_boot_interface = fake
default_console_interface = no-console
default_deploy_interface = fake
default_inspect_interface = fake
default_management_interface = fake
default_network_interface = noop
default_power_interface = fake
default_raid_interface = no-raid
default_rescue_interface = no-rescue
default_storage_interface = noop
default_vendor_interface = no-vendor

[api]
host_ip = 127.0.0.1
port = ${port}
api_workers = 1
max_limit = ${maxLimit}

[database]
connection = sqlite:///${dir}/ironic.sqlite

[dhcp]
dhcp_provider = none

[conductor]
automated_clean = false
sync_power_state_interval = -1
inspect_wait_timeout = 0

[inspector]
endpoint_override = ${inspectorUrl}
${serviceAuth(k)}
callback_endpoint_override = ${ironicUrl}
power_off = false
status_check_period = 5

[oslo_policy]
policy_file = ${dir}/ironic-policy.yaml
enforce_scope = false
enforce_new_defaults = false
${k ? authTokenSection(k) : ''}`;
}

function inspectorConf(dir: string, port: number, ironicUrl: string, k: KeystoneAuth | undefined): string {
  return `[DEFAULT]
auth_strategy = ${k ? 'keystone' : 'noauth'}
listen_address = 127.0.0.1
listen_port = ${port}
standalone = true
transport_url = fake://
timeout = 0
log_dir = ${dir}
log_file = inspector.log
use_stderr = false
rootwrap_config = /etc/ironic-inspector/rootwrap.conf

[database]
connection = sqlite:///${dir}/inspector.sqlite

[ironic]
${serviceAuth(k)}
endpoint_override = ${ironicUrl}

[pxe_filter]
driver = noop

[processing]
store_data = database
power_off = false
always_store_ramdisk_logs = false
ramdisk_logs_dir = ${dir}/ramdisk-logs

[coordination]
backend_url = file://${dir}/coordination
${k ? authTokenSection(k) : ''}`;
}
