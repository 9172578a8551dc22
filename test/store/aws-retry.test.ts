/**
 * Throttling and 5xx are retried by the SDK retry strategy the AwsStore configures. aws-sdk-client-mock
 * replaces `send` and so skips the retry middleware; here real clients talk HTTP to a loopback server that
 * throttles first and answers later, so the whole SDK stack (retry, backoff, deserialisation) runs.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsStore, makeS3Client, makeSsmClient } from '../../store/aws-store.ts';

type Reply = { status: number; headers?: Record<string, string>; body: string };

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serve `replies` in order (the last one repeats); record each request's method and URL. */
async function serve(replies: Reply[]): Promise<{ endpoint: string; requests: string[] }> {
  const requests: string[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} ${req.headers['x-amz-target'] ?? ''}`.trim());
      const r = replies[Math.min(requests.length - 1, replies.length - 1)]!;
      res.writeHead(r.status, { 'content-length': Buffer.byteLength(r.body), ...r.headers });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return { endpoint: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, requests };
}

const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const open = (endpoint: string, maxAttempts?: number) =>
  new AwsStore(
    'pxe-filter-test',
    makeS3Client({ endpoint, region: 'eu-west-1', credentials: creds, ...(maxAttempts ? { maxAttempts } : {}) }),
    makeSsmClient({ endpoint, region: 'eu-west-1', credentials: creds, ...(maxAttempts ? { maxAttempts } : {}) }),
  );

const slowDown: Reply = { status: 503, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' };
const internal: Reply = { status: 500, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>' };
const object: Reply = { status: 200, headers: { etag: '"abc"', 'x-amz-version-id': 'v1', 'last-modified': 'Wed, 25 Nov 2026 20:00:00 GMT', 'content-type': 'application/json' }, body: '{"ok":true}' };
const ssmThrottle: Reply = { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: '{"__type":"ThrottlingException","message":"Rate exceeded"}' };
const ssmValue: Reply = { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: '{"Parameter":{"Name":"/pxe-filter/dc1/current","Type":"String","Value":"{\\"generation\\":3}","Version":3}}' };

describe('AwsStore retries throttling and 5xx through the SDK retry strategy', () => {
  it('S3 GetObject: 503 SlowDown, then 500, then the object', async () => {
    const { endpoint, requests } = await serve([slowDown, internal, object]);
    const obj = await open(endpoint).getObject('manifests/dc1/manifest.json');
    expect(obj && new TextDecoder().decode(obj.bytes)).toBe('{"ok":true}');
    expect(obj?.versionId).toBe('v1');
    expect(requests).toHaveLength(3);
    expect(requests.every((r) => r.startsWith('GET /pxe-filter-test/manifests/dc1/manifest.json'))).toBe(true);
  });

  it('SSM GetParameter: ThrottlingException twice, then the value', async () => {
    const { endpoint, requests } = await serve([ssmThrottle, ssmThrottle, ssmValue]);
    expect(await open(endpoint).getParameter('/pxe-filter/dc1/current')).toBe('{"generation":3}');
    expect(requests).toEqual(Array(3).fill('POST / AmazonSSM.GetParameter'));
  });

  it('gives up after maxAttempts and throws (never a silent success)', async () => {
    const { endpoint, requests } = await serve([slowDown]);
    await expect(open(endpoint, 3).getObject('manifests/dc1/manifest.json')).rejects.toMatchObject({ name: 'SlowDown' });
    expect(requests).toHaveLength(3);
  });

  it('does not retry a client error (a missing parameter is an answer, not a failure)', async () => {
    const notFound: Reply = { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: '{"__type":"ParameterNotFound","message":""}' };
    const { endpoint, requests } = await serve([notFound]);
    expect(await open(endpoint).getParameter('/pxe-filter/dc1/settings')).toBeUndefined();
    expect(requests).toHaveLength(1);
  });
});
