/**
 * FakeAws served over loopback HTTP in the S3 (REST/XML, path-style), SSM (JSON 1.1) and DynamoDB (JSON 1.0) wire formats, so that
 * real SDK clients run their whole stack against it: signing, retries with backoff, (de)serialisation.
 * Only the calls the control plane makes are served. `faults` injects throttling/5xx per operation.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeAws } from './fake-aws.ts';

export type Operation = 'GetObject' | 'PutObject' | 'ListObjectsV2' | 'GetParameter' | 'PutParameter' | 'GetItem' | 'PutItem';
export type Fault = 'SlowDown' | 'InternalError' | 'ThrottlingException';

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export class AwsHttp {
  readonly requests: Operation[] = [];
  /** Faults to answer, per operation, before serving it for real (consumed in order). */
  readonly faults = new Map<Operation, Fault[]>();
  private server: Server | undefined;
  endpoint = '';

  constructor(
    private readonly fake: FakeAws,
    private readonly bucket: string,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req, Buffer.concat(chunks), res).catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.endpoint = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  count(op: Operation): number {
    return this.requests.filter((r) => r === op).length;
  }

  private async handle(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('DynamoDB_20120810.')) return this.dynamodb(target.slice('DynamoDB_20120810.'.length) as Operation, JSON.parse(body.toString('utf8')) as Record<string, unknown>, res);
    if (typeof target === 'string' && target.startsWith('AmazonSSM.')) return this.ssm(target.slice('AmazonSSM.'.length) as Operation, JSON.parse(body.toString('utf8')) as Record<string, unknown>, res);
    const [, bucket, ...rest] = url.pathname.split('/');
    if (bucket !== this.bucket) return void res.writeHead(404).end();
    const key = rest.map(decodeURIComponent).join('/');
    if (req.method === 'GET' && !key && url.searchParams.get('list-type') === '2') {
      if (this.fault('ListObjectsV2', res, 's3')) return;
      const out = this.fake.listObjectsV2({ Prefix: url.searchParams.get('prefix') ?? '', ...(url.searchParams.get('continuation-token') ? { ContinuationToken: url.searchParams.get('continuation-token')! } : {}) });
      const contents = out.Contents.map((c) => `<Contents><Key>${xmlEscape(c.Key)}</Key><LastModified>${c.LastModified.toISOString()}</LastModified><ETag>${xmlEscape(c.ETag)}</ETag><Size>${c.Size}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join('');
      const next = out.NextContinuationToken ? `<NextContinuationToken>${out.NextContinuationToken}</NextContinuationToken>` : '';
      return this.xml(res, 200, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${this.bucket}</Name><KeyCount>${out.Contents.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>${out.IsTruncated}</IsTruncated>${contents}${next}</ListBucketResult>`);
    }
    if (req.method === 'GET' && key) {
      if (this.fault('GetObject', res, 's3')) return;
      try {
        const versionId = url.searchParams.get('versionId');
        const out = this.fake.getObject({ Key: key, ...(versionId ? { VersionId: versionId } : {}) });
        const bytes = await out.Body.transformToByteArray();
        res.writeHead(200, { etag: out.ETag, 'x-amz-version-id': out.VersionId, 'last-modified': out.LastModified.toUTCString(), 'content-length': bytes.byteLength, 'content-type': 'application/json' });
        return void res.end(Buffer.from(bytes));
      } catch (err) {
        return this.s3Error(res, err);
      }
    }
    if (req.method === 'PUT' && key) {
      if (this.fault('PutObject', res, 's3')) return;
      try {
        const ifMatch = req.headers['if-match'];
        const ifNoneMatch = req.headers['if-none-match'];
        const out = this.fake.putObject({ Key: key, Body: new Uint8Array(body), ...(typeof ifMatch === 'string' ? { IfMatch: ifMatch } : {}), ...(typeof ifNoneMatch === 'string' ? { IfNoneMatch: ifNoneMatch } : {}) });
        res.writeHead(200, { etag: out.ETag, 'x-amz-version-id': out.VersionId, 'content-length': 0 });
        return void res.end();
      } catch (err) {
        return this.s3Error(res, err);
      }
    }
    res.writeHead(501).end();
  }

  private ssm(op: Operation, input: Record<string, unknown>, res: ServerResponse): void {
    if (this.fault(op, res, 'ssm')) return;
    try {
      const out = op === 'GetParameter' ? this.fake.getParameter(input as { Name: string }) : this.fake.putParameter(input as { Name: string; Value: string; Overwrite?: boolean });
      const text = JSON.stringify(out);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text) }).end(text);
    } catch (err) {
      const text = JSON.stringify({ __type: (err as Error).name, message: (err as Error).message });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text) }).end(text);
    }
  }

  private dynamodb(op: Operation, input: Record<string, unknown>, res: ServerResponse): void {
    if (this.fault(op, res, 'dynamodb')) return;
    const reply = (status: number, doc: unknown) => {
      const text = JSON.stringify(doc);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    try {
      reply(200, op === 'GetItem' ? this.fake.getItem(input as never) : op === 'PutItem' ? this.fake.putItem(input as never) : {});
    } catch (err) {
      reply(400, { __type: `com.amazonaws.dynamodb.v20120810#${(err as Error).name}`, message: (err as Error).message });
    }
  }

  /** Record the request; answer the next injected fault for this operation, if any. */
  private fault(op: Operation, res: ServerResponse, protocol: 's3' | 'ssm' | 'dynamodb'): boolean {
    this.requests.push(op);
    const fault = this.faults.get(op)?.shift();
    if (!fault) return false;
    if (protocol === 'dynamodb') {
      const text = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${fault === 'InternalError' ? 'InternalServerError' : fault}`, message: 'injected' });
      res.writeHead(fault === 'InternalError' ? 500 : 400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) }).end(text);
    } else if (protocol === 'ssm') {
      const text = JSON.stringify({ __type: fault === 'InternalError' ? 'InternalServerError' : fault, message: 'injected' });
      res.writeHead(fault === 'InternalError' ? 500 : 400, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text) }).end(text);
    } else {
      this.xml(res, fault === 'SlowDown' ? 503 : 500, `<Error><Code>${fault}</Code><Message>injected</Message></Error>`);
    }
    return true;
  }

  private s3Error(res: ServerResponse, err: unknown): void {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    this.xml(res, e.$metadata?.httpStatusCode ?? 500, `<Error><Code>${e.name ?? 'InternalError'}</Code><Message>fake</Message></Error>`);
  }

  private xml(res: ServerResponse, status: number, body: string): void {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) }).end(text);
  }
}
