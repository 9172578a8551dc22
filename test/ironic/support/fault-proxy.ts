/**
 * A small HTTP(S) server on 127.0.0.1 that stands in front of a real Ironic / ironic-inspector: it can
 * demand a token (as keystonemiddleware would), play Keystone v3 password auth, serve TLS with a
 * throwaway certificate, and break chosen requests (HTTP 500, a body cut mid-way, invalid JSON, no answer).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Fault = 'pass' | 'http500' | 'http503' | 'truncate' | 'badjson' | 'hang' | 'reset';

export interface Keystone {
  username: string;
  password: string;
  userDomain: string;
  project: string;
  /** The token handed out on success (and then required by the proxy). */
  token: string;
}

export interface ProxyOptions {
  target: string;
  /** Where /v1/introspection… goes (ironic-inspector), when one proxy fronts both services. */
  inspectorTarget?: string;
  /** Requests without this X-Auth-Token get Ironic's 401. */
  requireToken?: string;
  keystone?: Keystone;
  tls?: { key: string; cert: string };
  /** Decides per proxied request (1-based count of /v1 requests). */
  fault?: (n: number, path: string) => Fault;
  /** Runs before a request is forwarded: to change Ironic between two pages of one walk. */
  beforeForward?: (n: number, path: string) => Promise<void>;
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface FaultProxy {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startProxy(o: ProxyOptions): Promise<FaultProxy> {
  const seen: SeenRequest[] = [];
  let count = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      seen.push({ method: req.method ?? '', path, headers: req.headers });
      const body = Buffer.concat(chunks).toString('utf8');
      if (o.keystone && req.method === 'POST' && path === '/v3/auth/tokens') return keystoneAnswer(o.keystone, body, res);
      if (o.requireToken !== undefined && req.headers['x-auth-token'] !== o.requireToken) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }));
        return;
      }
      count++;
      const fault = o.fault?.(count, path) ?? 'pass';
      if (fault === 'hang') return; // never answers; the client's deadline must fire
      if (fault === 'reset') return void req.socket.destroy();
      if (fault === 'http500' || fault === 'http503') {
        const status = fault === 'http500' ? 500 : 503;
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error_message: JSON.stringify({ faultcode: 'Server', faultstring: `injected ${status}`, debuginfo: null }) }));
        return;
      }
      const target = o.inspectorTarget && path.startsWith('/v1/introspection') ? o.inspectorTarget : o.target;
      const n = count;
      void (o.beforeForward?.(n, path) ?? Promise.resolve()).then(() => forward(target, req, body)).then(
        (up) => {
          if (fault === 'truncate') {
            // Promise the whole length, send half, then drop the connection.
            res.writeHead(up.status, { 'Content-Type': 'application/json', 'Content-Length': String(up.body.length) });
            res.write(up.body.subarray(0, Math.floor(up.body.length / 2)));
            setTimeout(() => res.socket?.destroy(), 20);
            return;
          }
          const out = fault === 'badjson' ? up.body.subarray(0, Math.floor(up.body.length / 2)) : up.body;
          res.writeHead(up.status, { 'Content-Type': 'application/json', 'Content-Length': String(out.length) });
          res.end(out);
        },
        (err: Error) => {
          res.writeHead(502, { 'Content-Type': 'text/plain' });
          res.end(`proxy: ${err.message}`);
        },
      );
    });
  };
  const server = o.tls ? https.createServer({ key: o.tls.key, cert: o.tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function forward(target: string, req: http.IncomingMessage, body: string): Promise<{ status: number; body: Buffer }> {
  const headers: Record<string, string> = {};
  for (const name of ['accept', 'content-type', 'x-openstack-ironic-api-version', 'x-openstack-ironic-inspector-api-version']) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  const res = await fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

function keystoneAnswer(k: Keystone, body: string, res: http.ServerResponse): void {
  let ok: boolean;
  try {
    const doc = JSON.parse(body) as {
      auth: { identity: { methods: string[]; password: { user: { name: string; password: string; domain: { name: string } } } }; scope?: { project?: { name: string } } };
    };
    const user = doc.auth.identity.password.user;
    ok = doc.auth.identity.methods.includes('password') && user.name === k.username && user.password === k.password && user.domain.name === k.userDomain && doc.auth.scope?.project?.name === k.project;
  } catch {
    ok = false;
  }
  if (!ok) {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }));
    return;
  }
  res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': k.token });
  res.end(JSON.stringify({ token: { methods: ['password'], expires_at: new Date(Date.now() + 3600_000).toISOString(), project: { name: k.project } } }));
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it, made by openssl in `dir`. */
export async function makeCertificates(dir: string): Promise<{ caPath: string; key: string; cert: string; otherCaPath: string }> {
  const p = (n: string) => join(dir, n);
  const ossl = (args: string[]) => run('openssl', args, { timeout: 30_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await ossl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=pxe-filter test CA']);
  await ossl(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await ossl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '1', '-extfile', p('ext.cnf')]);
  await ossl(['req', '-x509', ...ec, '-keyout', p('other.key'), '-out', p('other.pem'), '-days', '1', '-subj', '/CN=unrelated CA']);
  return { caPath: p('ca.pem'), key: await readFile(p('server.key'), 'utf8'), cert: await readFile(p('server.pem'), 'utf8'), otherCaPath: p('other.pem') };
}

export const randomToken = () => `gAAAA${randomBytes(24).toString('hex')}`;
