/**
 * Failure paths and authentication of `pxe-filter export`, with the pages coming from a real Ironic and
 * ironic-inspector behind a loopback proxy that demands tokens, plays Keystone v3, serves TLS with a
 * throwaway CA, or breaks chosen requests. Whatever goes wrong: a clear error, exit status 1, and the
 * store holds exactly what it held before.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseExportBundle } from '../../core/export-bundle.ts';
import { LocalStore } from '../../store/local-store.ts';
import { pxeFilter } from './support/cli.ts';
import { type Enrolled, enrollNode, macFor } from './support/enroll.ts';
import { type FaultProxy, type ProxyOptions, makeCertificates, randomToken, startProxy } from './support/fault-proxy.ts';
import { IRONIC_BINARIES, type Rig, destroyRig, freePort, startRig } from './support/ironic-rig.ts';

const SITE = 'faults';
let rig: Rig | undefined;
let work: string;
let nodes: Enrolled[] = [];
let certs: Awaited<ReturnType<typeof makeCertificates>>;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  const missing = IRONIC_BINARIES.filter((b) => !existsSync(b));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: install the packages listed in .ci/run`);
  work = await mkdtemp(join(tmpdir(), 'pxe-filter-export-faults-'));
  certs = await makeCertificates(work);
  rig = await startRig({ withInspector: true });
  nodes = [];
  // 3 nodes x 2 ports: page size 2 => 3 port pages, so "page 2" is a middle page.
  nodes.push(await enrollNode(rig, { name: 'f0', macs: [macFor(0, 0), macFor(0, 1)], state: 'manageable' }));
  nodes.push(await enrollNode(rig, { name: 'f1', macs: [macFor(1, 0), macFor(1, 1)], state: 'inspect wait via inspector' }));
  nodes.push(await enrollNode(rig, { name: 'f2', macs: [macFor(2, 0), macFor(2, 1)], state: 'available' }));
}, 180_000);

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await destroyRig(rig);
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

async function proxy(o: Omit<ProxyOptions, 'target'>): Promise<FaultProxy> {
  const p = await startProxy({ target: rig!.ironicUrl, inspectorTarget: rig!.inspectorUrl!, ...o });
  proxies.push(p);
  return p;
}

let storeCount = 0;
const newStore = () => join(work, `store-${++storeCount}`);
const quick = ['--retries', '1', '--retry-delay', '10', '--timeout', '5', '--page-size', '2'];

function exportVia(url: string, store: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return pxeFilter(['export', '--site', SITE, '--ironic-url', url, '--to', `local:${store}`, ...quick, ...extra], env);
}

async function exportsIn(store: string) {
  return new LocalStore(store).listObjects('exports/');
}

/** The last stderr line is the CLI's one error line; the others are JSON logs. */
function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

const ironicRequests = (p: FaultProxy) => p.seen.filter((s) => s.path.startsWith('/v1/ports') || s.path.startsWith('/v1/nodes'));

describe('export: Ironic answers badly → clear error, non-zero exit, nothing published', () => {
  it('Ironic down (nothing listening): connection refused after the retries', async () => {
    const store = newStore();
    const res = await exportVia(`http://127.0.0.1:${await freePort()}`, store);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Ironic GET http:\/\/127\.0\.0\.1:\d+\/v1\/ports\?detail=True&limit=2: connect ECONNREFUSED .* \(gave up after 2 attempts\)$/);
    expect(res.stdout).toBe('');
    expect(existsSync(store)).toBe(false);
  });

  it('HTTP 500 on a middle page: retried, then refused with Ironic\'s fault string; the previous export stays', async () => {
    const store = newStore();
    const first = await exportVia(rig!.ironicUrl, store);
    expect(first.code, first.stderr).toBe(0);
    const before = await exportsIn(store);
    const bytesBefore = await new LocalStore(store).getObject(before[0]!.key);
    await rig!.api('POST', '/v1/ports', { node_uuid: nodes[0]!.uuid, address: '52:54:00:ab:cd:ef' }); // Ironic changed…
    try {
      const p = await proxy({ fault: (n) => (n >= 2 ? 'http500' : 'pass') });
      const res = await exportVia(p.url, store);
      expect(res.code).toBe(1);
      expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Ironic GET http:\/\/127\.0\.0\.1:\d+\/v1\/ports\?.*marker=.*: HTTP 500: injected 500 \(gave up after 2 attempts\)$/);
      expect(ironicRequests(p)).toHaveLength(3); // page 1, page 2, one retry of page 2
      // …but the broken run published nothing: the store holds exactly the earlier export, byte for byte.
      const after = await exportsIn(store);
      expect(after.map((o) => o.key)).toEqual(before.map((o) => o.key));
      expect((await new LocalStore(store).getObject(after[0]!.key))!.bytes).toEqual(bytesBefore!.bytes);
    } finally {
      const port = ((await rig!.api('GET', '/v1/ports?address=52:54:00:ab:cd:ef')) as { ports: { uuid: string }[] }).ports[0]!;
      await rig!.api('DELETE', `/v1/ports/${port.uuid}`);
    }
  });

  it('a 503 that passes: the retry succeeds, is logged, and the export is written', async () => {
    const store = newStore();
    const p = await proxy({ fault: (n) => (n === 2 ? 'http503' : 'pass') });
    const res = await exportVia(p.url, store);
    expect(res.code, res.stderr).toBe(0);
    const retries = res.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['msg'] === 'http.retry');
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ level: 'warn', service: 'Ironic', attempt: 1 });
    expect(String(retries[0]!['error'])).toContain('HTTP 503: injected 503');
    expect(await exportsIn(store)).toHaveLength(1);
  });

  it('a truncated page (connection closed before Content-Length was sent): retried, then refused', async () => {
    const store = newStore();
    const p = await proxy({ fault: (n) => (n >= 2 ? 'truncate' : 'pass') });
    const res = await exportVia(p.url, store);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/: response truncated \(connection closed before the whole body arrived\) \(gave up after 2 attempts\)$/);
    expect(existsSync(store)).toBe(false);
  });

  it('a page cut short but delivered as a complete 200: not JSON, refused at once without a retry', async () => {
    const store = newStore();
    const p = await proxy({ fault: (n) => (n === 2 ? 'badjson' : 'pass') });
    const res = await exportVia(p.url, store);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Ironic GET .*marker=.*: HTTP 200 but the body is not valid JSON \(\d+ bytes; .*\)$/);
    expect(ironicRequests(p)).toHaveLength(2);
    expect(existsSync(store)).toBe(false);
  });

  it('a page that is JSON but not an Ironic port list (a MAC that is not a MAC) is refused, naming the field', async () => {
    const store = newStore();
    const bad = join(work, 'bad-page.json');
    await writeFile(bad, JSON.stringify({ ports: [{ address: 'zz:zz', node_uuid: null }] }));
    // A real Ironic refuses such a MAC at enrolment, so a fake Ironic has to say it.
    const fake = await import('node:http').then(({ createServer }) => createServer((_req, res) => void readFile(bad).then((b) => res.end(b))));
    await new Promise<void>((ok) => fake.listen(0, '127.0.0.1', ok));
    try {
      const addr = fake.address() as { port: number };
      const res = await exportVia(`http://127.0.0.1:${addr.port}`, store);
      expect(res.code).toBe(1);
      expect(errorLine(res.stderr)).toBe(
        `pxe-filter: unexpected answer: Ironic GET http://127.0.0.1:${addr.port}/v1/ports?detail=True&limit=2.ports[0].address: not a MAC address (expected six hex octets like 52:54:00:12:34:56): "zz:zz"`,
      );
      expect(existsSync(store)).toBe(false);
    } finally {
      fake.closeAllConnections();
      await new Promise<void>((ok) => fake.close(() => ok()));
    }
  });

  it('a port deleted between two pages (Ironic answers 404 for its marker): the walk restarts and the export is whole', async () => {
    const store = newStore();
    let deleted: { uuid: string; address: string; node_uuid: string } | undefined;
    const p = await proxy({
      beforeForward: async (_n, path) => {
        const marker = new URLSearchParams(path.split('?')[1] ?? '').get('marker');
        if (!deleted && path.startsWith('/v1/ports') && marker) {
          deleted = (await rig!.api('GET', `/v1/ports/${marker}`)) as { uuid: string; address: string; node_uuid: string };
          await rig!.api('DELETE', `/v1/ports/${marker}`);
        }
      },
    });
    try {
      const res = await exportVia(p.url, store);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/\(5 ports, 3 nodes/);
      const restarts = res.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['msg'] === 'export.restart');
      expect(restarts).toHaveLength(1);
      expect(String(restarts[0]!['reason'])).toMatch(/HTTP 404: Port [0-9a-f-]+ could not be found\./);
      const [obj] = await exportsIn(store);
      const parsed = parseExportBundle(JSON.parse(new TextDecoder().decode((await new LocalStore(store).getObject(obj!.key))!.bytes)), obj!.key);
      expect(parsed.ports.map((x) => x.mac)).not.toContain(deleted!.address);
      expect(parsed.ports).toHaveLength(5);
    } finally {
      if (deleted) await rig!.api('POST', '/v1/ports', { node_uuid: deleted.node_uuid, address: deleted.address });
    }
  });

  it('an API version this Ironic does not serve: refused with Ironic\'s reason and a hint', async () => {
    const store = newStore();
    const res = await exportVia(rig!.ironicUrl, store, ['--api-version', '1.99']);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Ironic GET .*: HTTP 406: .*1\.99.* — the service does not support the requested API version \(see --api-version\)$/);
    expect(existsSync(store)).toBe(false);
  });

  it('no answer at all: the per-request deadline fires', async () => {
    const store = newStore();
    const p = await proxy({ fault: (n) => (n === 1 ? 'hang' : 'pass') });
    const started = Date.now();
    const res = await pxeFilter(['export', '--site', SITE, '--ironic-url', p.url, '--to', `local:${store}`, '--timeout', '1', '--retries', '0']);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Ironic GET .*: no complete answer within 1 s \(timeout\)$/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(existsSync(store)).toBe(false);
  });

  it('a wrong token: HTTP 401, the token never printed, nothing published', async () => {
    const store = newStore();
    const good = randomToken();
    const wrong = randomToken();
    const p = await proxy({ requireToken: good });
    const res = await exportVia(p.url, store, ['--allow-insecure-http'], { OS_TOKEN: wrong });
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Ironic GET .*: HTTP 401: The request you have made requires authentication\. — the credentials were refused/);
    expect(res.stderr + res.stdout).not.toContain(wrong);
    expect(ironicRequests(p)).toHaveLength(1); // 4xx is not retried
    expect(existsSync(store)).toBe(false);
  });
});

describe('export: authentication and TLS', () => {
  it('a static token from --token-file reaches Ironic and ironic-inspector on every request; `next` never leaves the configured host', async () => {
    const store = newStore();
    const token = randomToken();
    const tokenFile = join(work, 'token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const p = await proxy({ requireToken: token });
    const res = await exportVia(p.url, store, ['--token-file', tokenFile, '--inspector-url', p.url, '--allow-insecure-http']);
    expect(res.code, res.stderr).toBe(0);
    expect(p.seen.every((s) => s.headers['x-auth-token'] === token)).toBe(true);
    // Ironic's `next` links name the real Ironic port; every page request still went through the proxy.
    // 6 ports by 2: three full pages, each with `next`, then Ironic's empty fourth page; 3 nodes: 2 + 1.
    expect(ironicRequests(p).map((s) => s.path.split('?')[0])).toEqual(['/v1/ports', '/v1/ports', '/v1/ports', '/v1/ports', '/v1/nodes', '/v1/nodes']);
    expect(p.seen.filter((s) => s.path.startsWith('/v1/ports')).every((s) => s.headers['x-openstack-ironic-api-version'] === '1.43')).toBe(true);
    expect(p.seen.filter((s) => s.path.startsWith('/v1/introspection')).every((s) => s.headers['x-openstack-ironic-inspector-api-version'] === '1.8')).toBe(true);
    const [obj] = await exportsIn(store);
    const bytes = (await new LocalStore(store).getObject(obj!.key))!.bytes;
    expect(new TextDecoder().decode(bytes)).not.toContain(token);
    expect(res.stderr + res.stdout).not.toContain(token);
    const parsed = parseExportBundle(JSON.parse(new TextDecoder().decode(bytes)), obj!.key);
    expect(parsed.introspections).toEqual([{ uuid: nodes[1]!.uuid, finished: false }]);
  });

  const keystone = { username: 'pxe-exporter', password: `pw-${randomToken()}`, userDomain: 'Default', project: 'baremetal', token: randomToken() };
  const keystoneArgs = (url: string, pwFile: string) => ['--auth-url', `${url}/v3/`, '--username', keystone.username, '--password-file', pwFile, '--project-name', keystone.project];

  it('Keystone v3 password auth over TLS with a custom CA bundle', async () => {
    const store = newStore();
    const pwFile = join(work, 'password');
    await writeFile(pwFile, keystone.password, { mode: 0o600 });
    const p = await proxy({ keystone, requireToken: keystone.token, tls: { key: certs.key, cert: certs.cert } });
    const res = await exportVia(p.url, store, [...keystoneArgs(p.url, pwFile), '--cacert', certs.caPath, '--inspector-url', p.url]);
    expect(res.code, res.stderr).toBe(0);
    expect(p.seen[0]).toMatchObject({ method: 'POST', path: '/v3/auth/tokens' });
    expect(p.seen.filter((s) => s.path === '/v3/auth/tokens')).toHaveLength(1); // one token per run
    expect(p.seen.slice(1).every((s) => s.headers['x-auth-token'] === keystone.token)).toBe(true);
    expect(p.seen.some((s) => s.path.startsWith('/v1/introspection'))).toBe(true);
    const [obj] = await exportsIn(store);
    const text = new TextDecoder().decode((await new LocalStore(store).getObject(obj!.key))!.bytes);
    for (const secret of [keystone.password, keystone.token]) {
      expect(text).not.toContain(secret);
      expect(res.stderr + res.stdout).not.toContain(secret);
    }
  });

  it('the password may come from OS_PASSWORD and the rest from OS_* variables, as with an openrc', async () => {
    const store = newStore();
    const p = await proxy({ keystone, requireToken: keystone.token, tls: { key: certs.key, cert: certs.cert } });
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, ...quick], {
      OS_ENDPOINT: p.url,
      OS_AUTH_URL: p.url,
      OS_USERNAME: keystone.username,
      OS_PASSWORD: keystone.password,
      OS_PROJECT_NAME: keystone.project,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_CACERT: certs.caPath,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(await exportsIn(store)).toHaveLength(1);
  });

  it('TLS without the CA bundle, or with an unrelated one: refused with a hint, nothing sent, nothing published', async () => {
    const pwFile = join(work, 'password');
    await writeFile(pwFile, keystone.password, { mode: 0o600 });
    const p = await proxy({ keystone, requireToken: keystone.token, tls: { key: certs.key, cert: certs.cert } });
    for (const extra of [[], ['--cacert', certs.otherCaPath]]) {
      const store = newStore();
      const res = await exportVia(p.url, store, [...keystoneArgs(p.url, pwFile), ...extra]);
      expect(res.code).toBe(1);
      expect(errorLine(res.stderr)).toMatch(/^pxe-filter: Keystone POST https:\/\/127\.0\.0\.1:\d+\/v3\/auth\/tokens: TLS certificate not trusted \(\w+\); give the CA bundle with --cacert$/);
      expect(existsSync(store)).toBe(false);
    }
    expect(p.seen).toHaveLength(0); // the handshake failed: the password never left the process
  });

  it('a wrong Keystone password: one clear line naming the user, Ironic never asked, the password never printed', async () => {
    const store = newStore();
    const pwFile = join(work, 'wrong-password');
    const wrong = `wrong-${randomToken()}`;
    await writeFile(pwFile, wrong);
    const p = await proxy({ keystone, requireToken: keystone.token, tls: { key: certs.key, cert: certs.cert } });
    const res = await exportVia(p.url, store, [...keystoneArgs(p.url, pwFile), '--cacert', certs.caPath]);
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toBe('pxe-filter: Keystone refused the password of user "pxe-exporter" (domain "Default"): HTTP 401');
    expect(res.stderr + res.stdout).not.toContain(wrong);
    expect(ironicRequests(p)).toHaveLength(0);
    expect(existsSync(store)).toBe(false);
    expect(await readdir(work)).not.toContain(`store-${storeCount}`);
  });
});
