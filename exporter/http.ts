/**
 * One HTTP(S) request with a deadline, a body size cap and an optional private CA bundle.
 * Built on node:http/https rather than global fetch: Node 20's fetch only takes a custom CA through an
 * undici `Agent` dispatcher, and the `undici` package is not a dependency of this project.
 */
import http from 'node:http';
import https from 'node:https';
import { UpstreamError, redactUrl } from './upstream-error.ts';
import { PRODUCT } from '../core/version.ts';

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA bundle trusted for https URLs instead of the system store. */
  ca?: string | Buffer;
  /** Do not verify TLS certificates (OS_INSECURE / clouds.yaml verify: false). */
  insecure?: boolean;
  timeoutMs: number;
  /** Larger bodies are refused rather than buffered without bound. */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** What a label such as "Ironic" calls this request in messages: `Ironic GET http://…/v1/ports?…`. */
export function describe(service: string, req: Pick<HttpRequest, 'method' | 'url'>): string {
  return `${service} ${req.method} ${redactUrl(req.url)}`;
}

export function httpRequest(service: string, req: HttpRequest): Promise<HttpResponse> {
  const what = describe(service, req);
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.reject(new UpstreamError(`${what}: not a valid URL`, false));
  }
  const isHttps = url.protocol === 'https:';
  if (!isHttps && url.protocol !== 'http:') return Promise.reject(new UpstreamError(`${what}: only http and https URLs are supported`, false));
  const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
  const signal = AbortSignal.timeout(req.timeoutMs);
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': PRODUCT, ...req.headers };
  if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: UpstreamError) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const options: https.RequestOptions = { method: req.method, headers, signal, ...(isHttps && req.ca !== undefined ? { ca: req.ca } : {}), ...(isHttps && req.insecure ? { rejectUnauthorized: false } : {}) };
    const request = (isHttps ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          fail(new UpstreamError(`${what}: response larger than ${maxBytes} bytes, refused`, false, res.statusCode));
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('aborted', () => fail(truncated(what, res)));
      res.on('error', (err) => fail(networkError(what, err, signal, req.timeoutMs, res)));
      res.on('end', () => {
        // `complete` is false when the connection closed before Content-Length / the last chunk arrived.
        if (!res.complete) return fail(truncated(what, res));
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.on('error', (err) => fail(networkError(what, err, signal, req.timeoutMs)));
    if (req.body !== undefined) request.write(req.body);
    request.end();
  });
}

function truncated(what: string, res: http.IncomingMessage): UpstreamError {
  return new UpstreamError(`${what}: response truncated (connection closed before the whole body arrived)`, true, res.statusCode);
}

function networkError(what: string, err: Error, signal: AbortSignal, timeoutMs: number, res?: http.IncomingMessage): UpstreamError {
  if (signal.aborted) return new UpstreamError(`${what}: no complete answer within ${timeoutMs / 1000} s (timeout)`, true);
  if (res) return truncated(what, res);
  const code = (err as NodeJS.ErrnoException).code;
  // TLS verification failures will not fix themselves: do not retry, say what to check.
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new UpstreamError(`${what}: TLS certificate not trusted (${code}); give the CA bundle with --cacert`, false);
  }
  return new UpstreamError(`${what}: ${err.message || code || 'connection failed'}`, true);
}
