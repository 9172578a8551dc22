/** The exporter's pure parts and its local behaviour, without an Ironic: fast checks of each rule. */
import { createServer } from 'node:http';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudFrom } from '../../cli/commands/export.ts';
import { InputError } from '../../core/errors.ts';
import { faultOf, requestJson, retryAfterMs } from '../../exporter/api-client.ts';
import { keystoneV3Base } from '../../exporter/auth.ts';
import { serviceRoot } from '../../exporter/collect.ts';
import { httpRequest } from '../../exporter/http.ts';
import { UpstreamError } from '../../exporter/upstream-error.ts';
import { buildBundle, sameContent, writeExport } from '../../exporter/write-export.ts';
import { exportKey } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { PreconditionFailedError } from '../../store/store.ts';
import { pxeFilter } from '../ironic/support/cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-filter-exporter-units-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noLog = () => {};
const page = (macs: string[]) => ({ ports: macs.map((address) => ({ address, node_uuid: 'n1' })) });

describe('faultOf: the human part of an OpenStack error body', () => {
  it('unwraps Ironic\'s JSON-in-JSON, inspector/Keystone error objects, and clips anything else', () => {
    expect(faultOf(JSON.stringify({ error_message: JSON.stringify({ faultcode: 'Client', faultstring: 'Node x could not be found.', debuginfo: null }) }))).toBe('Node x could not be found.');
    expect(faultOf(JSON.stringify({ error: { message: 'Limit over 1000' } }))).toBe('Limit over 1000');
    expect(faultOf('<html>\n  <body>Bad Gateway</body></html>')).toBe('<html> <body>Bad Gateway</body></html>');
    expect(faultOf('x'.repeat(1000))).toHaveLength(301);
  });
});

describe('serviceRoot / keystoneV3Base', () => {
  it('accepts the root with or without /v1 and slashes', () => {
    expect(serviceRoot('http://127.0.0.1:6385', 'f')).toBe('http://127.0.0.1:6385');
    expect(serviceRoot('https://ironic.example/baremetal/v1/', 'f')).toBe('https://ironic.example/baremetal');
    expect(keystoneV3Base('https://ks:5000')).toBe('https://ks:5000/v3');
    expect(keystoneV3Base('https://ks:5000/v3/')).toBe('https://ks:5000/v3');
  });

  it('refuses other schemes, queries, and credentials in the URL without echoing the password', () => {
    expect(() => serviceRoot('ftp://x', '--ironic-url')).toThrow(/--ironic-url: expected an http/);
    expect(() => serviceRoot('http://x/?limit=1', '--ironic-url')).toThrow(/without a query/);
    let message = '';
    try {
      serviceRoot('http://admin:s3cret@x:6385', '--ironic-url');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/credentials do not belong in the URL/);
    expect(message).not.toContain('s3cret');
  });
});

describe('cloudFrom: which auth the options and OS_* variables ask for', () => {
  const base = { ironicUrl: 'https://ironic:6385' };
  const auth = async (o: Parameters<typeof cloudFrom>[0], env: NodeJS.ProcessEnv) => (await cloudFrom(o, env)).auth;
  it('infers none, token and password like the OpenStack client does', async () => {
    expect(await auth(base, {})).toEqual({ type: 'none' });
    expect(await auth(base, { OS_TOKEN: ' tok ' })).toEqual({ type: 'token', token: 'tok' });
    expect(await auth({ ...base, authUrl: 'https://ks', username: 'u', projectName: 'p' }, { OS_PASSWORD: 'pw' })).toEqual({
      type: 'password', authUrl: 'https://ks', user: { name: 'u', domain: { name: 'Default' } }, password: 'pw', scope: { project: { name: 'p', domain: { name: 'Default' } } },
    });
    expect(await auth({ ...base, authType: 'noauth' }, { OS_TOKEN: 'tok' })).toEqual({ type: 'none' });
  });

  it('reads secrets from the first line of a file, and says what is missing', async () => {
    const f = join(dir, 'tok');
    await writeFile(f, 'from-file\nignored\n');
    expect(await auth({ ...base, tokenFile: f }, { OS_TOKEN: 'env' })).toEqual({ type: 'token', token: 'from-file' });
    await writeFile(join(dir, 'empty'), '\n');
    await expect(auth({ ...base, tokenFile: join(dir, 'empty') }, {})).rejects.toThrow('--token-file: the secret file is empty');
    await expect(auth({ ...base, tokenFile: join(dir, 'absent') }, {})).rejects.toThrow(/--token-file: cannot read the secret file \(ENOENT\)/);
    await expect(auth({ ...base, authType: 'token' }, {})).rejects.toThrow(InputError);
  });

  it('takes systemd credentials os-token / os-password from $CREDENTIALS_DIRECTORY before the environment', async () => {
    const creds = join(dir, 'credentials');
    await mkdir(creds, { recursive: true });
    await writeFile(join(creds, 'os-token'), 'cred-token\n');
    await writeFile(join(creds, 'os-password'), 'cred-pw');
    expect(await auth(base, { CREDENTIALS_DIRECTORY: creds, OS_TOKEN: 'env' })).toEqual({ type: 'token', token: 'cred-token' });
    const pw = await auth({ ...base, authType: 'password', authUrl: 'https://ks', username: 'u' }, { CREDENTIALS_DIRECTORY: creds, OS_PASSWORD: 'env' });
    expect(pw).toMatchObject({ type: 'password', password: 'cred-pw' });
    // An explicit file still wins; a credentials directory without the file falls back to the variable.
    const f = join(dir, 'explicit');
    await writeFile(f, 'explicit-token');
    expect(await auth({ ...base, tokenFile: f }, { CREDENTIALS_DIRECTORY: creds })).toEqual({ type: 'token', token: 'explicit-token' });
    expect(await auth(base, { CREDENTIALS_DIRECTORY: join(dir, 'nope'), OS_TOKEN: 'env' })).toEqual({ type: 'token', token: 'env' });
    await expect(auth({ ...base, authType: 'password', authUrl: 'https://ks', username: 'u' }, {})).rejects.toThrow(/password auth needs --password-file, OS_PASSWORD or auth.password/);
  });
});

describe('writeExport', () => {
  it('skips an export equal to the latest one, writes when Ironic changed', async () => {
    const store = new LocalStore(join(dir, 'store-a'));
    const t1 = new Date('2026-11-25T20:00:00.000Z');
    const t2 = new Date('2026-11-25T20:01:00.000Z');
    const first = await writeExport({ kind: 'store', store }, 'dc1', { ports: [page(['52:54:00:00:00:01'])], nodes: [] }, t1, noLog);
    expect(first).toMatchObject({ status: 'written', location: exportKey('dc1', t1) });
    const same = await writeExport({ kind: 'store', store }, 'dc1', { ports: [page(['52:54:00:00:00:01'])], nodes: [] }, t2, noLog);
    expect(same).toMatchObject({ status: 'unchanged', location: exportKey('dc1', t1) });
    const changed = await writeExport({ kind: 'store', store }, 'dc1', { ports: [page(['52:54:00:00:00:02'])], nodes: [] }, t2, noLog);
    expect(changed).toMatchObject({ status: 'written', location: exportKey('dc1', t2) });
    expect((await store.listObjects('exports/dc1/')).map((o) => o.key)).toEqual([exportKey('dc1', t1), exportKey('dc1', t2)]);
  });

  it('writes anyway when the latest export cannot be read (a write-only exporter role), and says so', async () => {
    const inner = new LocalStore(join(dir, 'store-writeonly'));
    const denied = () => Promise.reject(new Error('AccessDenied: s3:ListBucket'));
    const store = Object.assign(Object.create(inner) as LocalStore, { listObjects: denied });
    const events: [string, Record<string, unknown>][] = [];
    const t = new Date('2026-11-25T20:00:00.000Z');
    const out = await writeExport({ kind: 'store', store }, 'dc1', { ports: [page(['52:54:00:00:00:01'])] }, t, (e, f) => events.push([e, f]));
    expect(out.status).toBe('written');
    expect(events[0]).toEqual(['export.latest-unreadable', { site: 'dc1', error: 'AccessDenied: s3:ListBucket' }]);
    expect(await inner.getObject(exportKey('dc1', t))).toBeDefined();
  });

  it('never overwrites an export another run wrote under the same key (conditional put)', async () => {
    const store = new LocalStore(join(dir, 'store-b'));
    const t = new Date('2026-11-25T20:00:00.000Z');
    await store.putObject(exportKey('dc1', t), new TextEncoder().encode('{"other":"writer"}'));
    await expect(writeExport({ kind: 'store', store }, 'dc1', { ports: [page(['52:54:00:00:00:01'])] }, t, noLog)).rejects.toThrow(PreconditionFailedError);
    expect(new TextDecoder().decode((await store.getObject(exportKey('dc1', t)))!.bytes)).toBe('{"other":"writer"}');
  });

  it('refuses a bundle the compute function would refuse, before writing anything', async () => {
    const out = join(dir, 'out-bad');
    await expect(writeExport({ kind: 'dir', dir: out }, 'dc1', { ports: [] }, new Date(), noLog)).rejects.toThrow(/export\.ports/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it('sameContent ignores the time but not the site or any page', () => {
    const a = buildBundle('dc1', { ports: [page(['52:54:00:00:00:01'])], nodes: [{ nodes: [] }] }, new Date(1));
    expect(sameContent(JSON.parse(JSON.stringify(buildBundle('dc1', { ports: a.ports, nodes: a.nodes! }, new Date(2)))), a)).toBe(true);
    expect(sameContent({ ...a, site: 'dc2' }, a)).toBe(false);
    expect(sameContent({ ...a, nodes: undefined }, a)).toBe(false);
    expect(sameContent(undefined, a)).toBe(false);
  });
});

describe('http + retries against a loopback server', () => {
  let url = '';
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === '/big') return void res.end('x'.repeat(5000));
    if (req.url === '/429') return void res.writeHead(hits === 1 ? 429 : 200, { 'Retry-After': '1' }).end('{"ok":true}');
    if (req.url === '/404') return void res.writeHead(404).end('{"error_message": "{\\"faultstring\\": \\"nope\\"}"}');
    res.writeHead(502).end('bad gateway');
  });
  beforeAll(async () => {
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  });
  const t = { timeoutMs: 5000, retries: 2, retryDelayMs: 5, log: noLog };

  it('retries a 502 (then gives up saying how often) but never a 404', async () => {
    hits = 0;
    await expect(requestJson('Ironic', { method: 'GET', url: `${url}/x` }, t)).rejects.toThrow(/HTTP 502: bad gateway \(gave up after 3 attempts\)$/);
    expect(hits).toBe(3);
    hits = 0;
    const err = await requestJson('Ironic', { method: 'GET', url: `${url}/404` }, t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toMatch(/Ironic GET .*\/404: HTTP 404: nope$/);
    expect(hits).toBe(1);
  });

  it('waits for Retry-After on a 429 before trying again', async () => {
    hits = 0;
    const logged: Record<string, unknown>[] = [];
    const started = performance.now();
    const res = await requestJson('Ironic', { method: 'GET', url: `${url}/429` }, { ...t, log: (_e, f) => logged.push(f) });
    expect(res.body).toEqual({ ok: true });
    expect(hits).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(logged[0]).toMatchObject({ retryAfterMs: 1000 });
    expect(retryAfterMs('Wed, 25 Nov 2026 21:00:10 GMT', Date.parse('2026-11-25T21:00:00Z'))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('refuses a body over the size cap', async () => {
    await expect(httpRequest('Ironic', { method: 'GET', url: `${url}/big`, timeoutMs: 5000, maxBytes: 1000 })).rejects.toThrow(/response larger than 1000 bytes, refused/);
  });
});

describe('pxe-filter export: command-line mistakes exit 2 with one line and touch nothing', () => {
  it('no destination, a bad site name, a bad API version', async () => {
    const noDest = await pxeFilter(['export', '--site', 'dc1', '--ironic-url', 'http://127.0.0.1:9']);
    expect(noDest).toMatchObject({ code: 2, stdout: '' });
    expect(noDest.stderr).toBe('pxe-filter: --to/--out: say where the export goes: --to <store> or --out <dir>\n');
    const badSite = await pxeFilter(['export', '--site', 'DC 1', '--ironic-url', 'http://127.0.0.1:9', '--out', join(dir, 'never')]);
    expect(badSite.code).toBe(2);
    expect(badSite.stderr).toMatch(/^pxe-filter: --site: a site name is/);
    const badVersion = await pxeFilter(['export', '--site', 'dc1', '--ironic-url', 'http://127.0.0.1:9', '--out', join(dir, 'never'), '--api-version', 'v2']);
    expect(badVersion.stderr).toBe('pxe-filter: --api-version: expected 1.N or latest: "v2"\n');
    await expect(readdir(join(dir, 'never'))).rejects.toThrow(/ENOENT/);
  });
});
