/**
 * Issue 12, defect 6: credentials never go over plain http without the option named for it, and no error
 * text carries a known secret — even when the service echoes the request back. A fake Keystone and a fake
 * Ironic on loopback record what reached them; the real CLI runs as a child process.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED, SecretRedactor } from '../../exporter/redact.ts';
import { pxeFilter } from '../ironic/support/cli.ts';

interface Seen { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }
interface Fake { url: string; seen: Seen[]; close(): Promise<void> }

/** A loopback server whose every answer is `answer(request)`; records each request. */
async function fakeServer(answer: (r: Seen) => { status: number; body: string; headers?: Record<string, string> }): Promise<Fake> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(r);
      const a = answer(r);
      res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let work: string;
const fakes: Fake[] = [];
const password = `S3cret"pw\\${Math.random().toString(36).slice(2)}`;
const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pxe-filter-credentials-'));
  await writeFile(join(work, 'password'), `${password}\n`, { mode: 0o600 });
  await writeFile(join(work, 'token'), `${token}\n`, { mode: 0o600 });
  await writeFile(join(work, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
});
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function fake(answer: Parameters<typeof fakeServer>[0]): Promise<Fake> {
  const f = await fakeServer(answer);
  fakes.push(f);
  return f;
}

const passwordArgs = (keystone: string) => ['--auth-url', `${keystone}/v3`, '--username', 'exporter', '--password-file', join(work, 'password'), '--project-name', 'baremetal'];
const exportArgs = (ironic: string, out: string) => ['export', '--site', 'dc1', '--ironic-url', ironic, '--out', out, '--retries', '0', '--timeout', '5'];
const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1) ?? '';

describe('credentials over plain http', () => {
  it('a Keystone http:// URL gets no password, --cacert or not: exit 2 naming --auth-url and the opt-in', async () => {
    const keystone = await fake(() => ({ status: 500, body: '{}' }));
    const ironic = await fake(() => ({ status: 500, body: '{}' }));
    for (const extra of [[], ['--cacert', join(work, 'ca.pem')]]) {
      const out = join(work, `out-${Math.random()}`);
      const res = await pxeFilter([...exportArgs(ironic.url.replace('http:', 'https:'), out), ...passwordArgs(keystone.url), ...extra]);
      expect(res.code, res.stderr).toBe(2);
      expect(lastLine(res.stderr)).toMatch(/^pxe-filter: --auth-url: credentials would be sent in clear over http; use an https URL, or --allow-insecure-http .*"http:\/\/127\.0\.0\.1:\d+\/v3"$/);
      expect(existsSync(out)).toBe(false);
    }
    expect(keystone.seen).toHaveLength(0);
    expect(ironic.seen).toHaveLength(0);
  });

  it('a token is not sent to an http:// Ironic or inspector either', async () => {
    const ironic = await fake(() => ({ status: 200, body: '{"ports":[]}' }));
    for (const [flag, url] of [['--ironic-url', ironic.url], ['--inspector-url', ironic.url]] as const) {
      const args = flag === '--ironic-url' ? exportArgs(ironic.url, join(work, 'o')) : [...exportArgs(ironic.url.replace('http:', 'https:'), join(work, 'o')), '--inspector-url', url];
      const res = await pxeFilter([...args, '--token-file', join(work, 'token')]);
      expect(res.code, res.stderr).toBe(2);
      expect(lastLine(res.stderr)).toContain(`pxe-filter: ${flag}: credentials would be sent in clear over http`);
    }
    expect(ironic.seen).toHaveLength(0);
  });

  it('noauth over http needs no opt-in (there is nothing to leak)', async () => {
    const ironic = await fake((r) => ({ status: 200, body: r.path.startsWith('/v1/ports') ? '{"ports":[]}' : '{"nodes":[]}' }));
    const out = join(work, 'noauth');
    const res = await pxeFilter(exportArgs(ironic.url, out));
    expect(res.code, res.stderr).toBe(0);
    expect(ironic.seen.length).toBeGreaterThan(0);
  });
});

describe('secrets are redacted from every error text', () => {
  it('a Keystone 400 that echoes the request body (JSON error, then raw text) never prints the password', async () => {
    for (const shape of ['json', 'raw', 'straddling the clip']) {
      const keystone = await fake((r) => {
        if (shape === 'json') return { status: 400, body: JSON.stringify({ error: { code: 400, message: `Invalid input for field 'identity': ${r.body}` } }) };
        // The password starts a few characters before the 300-character clip of an error detail.
        if (shape === 'straddling the clip') return { status: 400, body: `${'x'.repeat(296)} ${password} tail` };
        return { status: 400, body: `<html>Bad request: ${r.body}</html>` };
      });
      const out = join(work, `echo-${shape}`);
      const res = await pxeFilter([...exportArgs('https://127.0.0.1:9', out), ...passwordArgs(keystone.url), '--allow-insecure-http']);
      expect(res.code, shape).toBe(1);
      expect(keystone.seen).toHaveLength(1); // the opt-in let the request through, so the echo is real
      expect(keystone.seen[0]!.body).toContain(JSON.stringify(password).slice(1, -1));
      expect(lastLine(res.stderr)).toMatch(/^pxe-filter: Keystone POST http:\/\/127\.0\.0\.1:\d+\/v3\/auth\/tokens: HTTP 400: /);
      expect(lastLine(res.stderr)).toContain(REDACTED);
      for (const form of [password, JSON.stringify(password).slice(1, -1), password.slice(0, 6)]) expect(res.stderr + res.stdout, shape).not.toContain(form);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('an Ironic 503 that quotes the X-Auth-Token header never prints the token (error line and retry logs)', async () => {
    const ironic = await fake((r) => ({ status: 503, body: JSON.stringify({ error_message: JSON.stringify({ faultstring: `token ${String(r.headers['x-auth-token'])} refused` }) }) }));
    const out = join(work, 'ironic-echo');
    const res = await pxeFilter(['export', '--site', 'dc1', '--ironic-url', ironic.url, '--out', out, '--retries', '1', '--retry-delay', '10', '--token-file', join(work, 'token'), '--allow-insecure-http']);
    expect(res.code).toBe(1);
    expect(ironic.seen.every((s) => s.headers['x-auth-token'] === token)).toBe(true);
    expect(ironic.seen).toHaveLength(2);
    expect(res.stderr).toContain('"msg":"http.retry"');
    expect(lastLine(res.stderr)).toMatch(/HTTP 503: token \*\*\* refused \(gave up after 2 attempts\)$/);
    expect(res.stderr + res.stdout).not.toContain(token);
  });
});

describe('SecretRedactor', () => {
  it('redacts raw, JSON-escaped (once and twice) and URL-encoded forms, longest first, and nothing else', () => {
    const r = new SecretRedactor();
    r.add('a"b\\c d');
    r.add('abc');
    r.add('abcdef');
    r.add('');
    r.add(undefined);
    expect(r.redact('x a"b\\c d y')).toBe('x *** y');
    expect(r.redact(JSON.stringify({ m: 'a"b\\c d' }))).toBe('{"m":"***"}');
    expect(r.redact(JSON.stringify({ m: JSON.stringify({ f: 'a"b\\c d' }) }))).toBe(JSON.stringify({ m: JSON.stringify({ f: '***' }) }));
    expect(r.redact('p=a%22b%5Cc%20d')).toBe('p=***');
    expect(r.redact('abcdefg abc ab')).toBe('***g *** ab');
    expect(r.redactFields({ error: 'was abc', n: 3, nested: { s: 'abc' } })).toEqual({ error: 'was ***', n: 3, nested: { s: '***' } });
    expect(new SecretRedactor().redact('abc')).toBe('abc');
  });
});
