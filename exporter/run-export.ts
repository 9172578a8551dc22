/**
 * `pxe-filter export`, without the command line: authenticate, read every page, validate, then write
 * the one bundle (or nothing). Any failure before the write leaves the target untouched.
 */
import { SiteNameSchema } from '../core/settings.ts';
import { parseWith } from '../core/zod-errors.ts';
import type { LogFn, TransportOptions } from './api-client.ts';
import { type AuthConfig, obtainToken } from './auth.ts';
import { refuseClearCredentials } from './clear-text.ts';
import type { SecretRedactor } from './redact.ts';
import { collectExport, serviceRoot } from './collect.ts';
import { type ExportTarget, type WriteOutcome, writeExport } from './write-export.ts';

export interface ExportRunOptions {
  site: string;
  ironicUrl: string;
  inspectorUrl?: string;
  auth: AuthConfig;
  /** Send credentials to http:// URLs (Keystone, Ironic, inspector) anyway; off unless the operator opts in. */
  allowInsecureHttp?: boolean;
  /** Applied to every error text and log field; knows the run's secrets. */
  redactor?: SecretRedactor;
  ca?: Buffer;
  apiVersion: string;
  pageSize: number;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  target: ExportTarget;
  now?: () => Date;
  log: LogFn;
}

export interface ExportRunOutcome extends WriteOutcome {
  counts: { ports: number; nodes: number; introspection?: number };
  durationMs: number;
}

export async function runExport(o: ExportRunOptions): Promise<ExportRunOutcome> {
  const started = performance.now();
  const site = parseWith(SiteNameSchema, o.site, '--site');
  // Refuse a bad URL before any credential is sent anywhere.
  serviceRoot(o.ironicUrl, '--ironic-url');
  if (o.inspectorUrl !== undefined) serviceRoot(o.inspectorUrl, '--inspector-url');
  const allowHttp = o.allowInsecureHttp ?? false;
  if (o.auth.type !== 'none') {
    refuseClearCredentials(o.ironicUrl, '--ironic-url', allowHttp);
    if (o.inspectorUrl !== undefined) refuseClearCredentials(o.inspectorUrl, '--inspector-url', allowHttp);
  }
  const transport: TransportOptions = {
    timeoutMs: o.timeoutMs,
    retries: o.retries,
    retryDelayMs: o.retryDelayMs,
    log: o.log,
    ...(o.redactor ? { redact: (text: string) => o.redactor!.redact(text) } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
  };
  const token = await obtainToken(o.auth, transport, allowHttp);
  const collected = await collectExport({
    ironicUrl: o.ironicUrl,
    ...(o.inspectorUrl !== undefined ? { inspectorUrl: o.inspectorUrl } : {}),
    ...(token !== undefined ? { token } : {}),
    apiVersion: o.apiVersion,
    pageSize: o.pageSize,
    transport,
  });
  const now = (o.now ?? (() => new Date()))();
  const written = await writeExport(
    o.target,
    site,
    { ports: collected.ports, nodes: collected.nodes, ...(collected.introspection ? { introspection: collected.introspection } : {}) },
    now,
    o.log,
  );
  return { ...written, counts: collected.counts, durationMs: Math.round(performance.now() - started) };
}
