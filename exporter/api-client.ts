/**
 * JSON GET/POST against an OpenStack service with retries (p-retry, exponential backoff with jitter) on
 * what may pass (connection errors, timeouts, truncated bodies, 5xx, 429) and none on what will not (4xx).
 */
import pRetry from 'p-retry';
import { type HttpRequest, type HttpResponse, describe, httpRequest } from './http.ts';
import { UpstreamError } from './upstream-error.ts';

export type LogFn = (event: string, fields: Record<string, unknown>) => void;

export interface TransportOptions {
  ca?: string | Buffer;
  insecure?: boolean;
  timeoutMs: number;
  /** Attempts after the first one. */
  retries: number;
  /** First backoff delay; it doubles per attempt (with jitter), capped at 30 s. */
  retryDelayMs: number;
  log: LogFn;
  /** Applied to every text a service sent back before it goes into a message (see SecretRedactor). */
  redact?: (text: string) => string;
}

export interface JsonResponse {
  status: number;
  headers: HttpResponse['headers'];
  body: unknown;
}

/** Send with retries; return the parsed JSON of a 2xx answer or throw one UpstreamError. */
export async function requestJson(service: string, req: Omit<HttpRequest, 'ca' | 'insecure' | 'timeoutMs'>, t: TransportOptions): Promise<JsonResponse> {
  const what = describe(service, req);
  let attempts = 0;
  try {
    return await pRetry(
      async () => {
        attempts++;
        const res = await httpRequest(service, { ...req, timeoutMs: t.timeoutMs, ...(t.ca !== undefined ? { ca: t.ca } : {}), ...(t.insecure ? { insecure: true } : {}) });
        if (res.status < 200 || res.status > 299) throw statusError(what, res, t.redact ?? ((x) => x));
        return { status: res.status, headers: res.headers, body: parseBody(what, res) };
      },
      {
        retries: t.retries,
        minTimeout: t.retryDelayMs,
        maxTimeout: 30_000,
        factor: 2,
        randomize: true,
        shouldRetry: ({ error }) => error instanceof UpstreamError && error.retryable,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (error instanceof UpstreamError && error.retryable && retriesLeft > 0) {
            t.log('http.retry', { service, attempt: attemptNumber, retriesLeft, error: error.message, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) });
            // An overloaded service said when to come back: honour it (on top of the backoff), within reason.
            const wait = error.retryAfterMs;
            if (wait) await new Promise((r) => setTimeout(r, Math.min(wait, MAX_RETRY_AFTER_MS)));
          }
        },
      },
    );
  } catch (err) {
    if (err instanceof UpstreamError && err.retryable && attempts > 1) {
      throw new UpstreamError(`${err.message} (gave up after ${attempts} attempts)`, false, err.status);
    }
    throw err;
  }
}

function parseBody(what: string, res: HttpResponse): unknown {
  try {
    return JSON.parse(res.text);
  } catch (err) {
    // A 2xx whose body is not JSON (cut by a proxy, an HTML error page): not worth retrying blindly.
    throw new UpstreamError(`${what}: HTTP ${res.status} but the body is not valid JSON (${res.text.length} bytes; ${(err as Error).message})`, false, res.status);
  }
}

const MAX_RETRY_AFTER_MS = 60_000;

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function statusError(what: string, res: HttpResponse, redact: (text: string) => string): UpstreamError {
  const retryable = res.status >= 500 || res.status === 429;
  // Redact before clipping: a clipped echo would otherwise keep a prefix of the secret.
  const detail = faultOf(redact(res.text));
  const hint =
    res.status === 401 ? ' — the credentials were refused: check the token (--token-file / OS_TOKEN) or the Keystone user' :
    res.status === 403 ? ' — the credentials lack permission for this call' :
    res.status === 406 ? ' — the service does not support the requested API version (see --api-version)' : '';
  return new UpstreamError(`${what}: HTTP ${res.status}${detail ? `: ${detail}` : ''}${hint}`, retryable, res.status, retryable ? retryAfterMs(res.headers['retry-after']) : undefined);
}

const MAX_DETAIL = 300;

/**
 * The human part of an OpenStack error body. Ironic nests a JSON string in JSON:
 * {"error_message": "{\"faultstring\": \"…\"}"}; inspector says {"error": {"message": "…"}}; Keystone
 * {"error": {"message": "…"}} too. Anything else is shown cut short.
 */
export function faultOf(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return clip(text.replace(/\s+/g, ' ').trim());
  }
  const obj = doc as Record<string, unknown> | null;
  if (obj && typeof obj === 'object') {
    const em = obj['error_message'];
    if (typeof em === 'string') {
      try {
        const inner = JSON.parse(em) as Record<string, unknown>;
        if (typeof inner['faultstring'] === 'string') return clip(inner['faultstring']);
      } catch {
        return clip(em);
      }
    }
    const err = obj['error'] as Record<string, unknown> | undefined;
    if (err && typeof err === 'object' && typeof err['message'] === 'string') return clip(err['message']);
  }
  return clip(text.replace(/\s+/g, ' ').trim());
}

function clip(s: string): string {
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}…` : s;
}
