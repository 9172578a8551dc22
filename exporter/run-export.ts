/**
 * `pxe-filter export`, without the command line: authenticate, find the endpoints (given, or from the
 * Keystone catalogue), read every page, validate, then write the one bundle (or nothing). Any failure
 * before the write leaves the target untouched.
 */
import { SiteNameSchema } from '../core/settings.ts';
import { parseWith } from '../core/zod-errors.ts';
import type { LogFn, TransportOptions } from './api-client.ts';
import { type AuthConfig, authenticate } from './auth.ts';
import { type Catalog, findEndpoint } from './catalog.ts';
import { refuseClearCredentials } from './clear-text.ts';
import type { Interface } from './cloud-config.ts';
import { type CollectOptions, collectExport, serviceRoot } from './collect.ts';
import type { SecretRedactor } from './redact.ts';
import { UpstreamError } from './upstream-error.ts';
import { type ExportTarget, type WriteOutcome, writeExport } from './write-export.ts';

/** auto: read inspector when its URL is given or in the catalogue; required: fail without it; off: never. */
export type InspectorMode = 'auto' | 'required' | 'off';

export interface ExportRunOptions {
  site: string;
  /** Explicit Ironic endpoint; without it the catalogue's `baremetal` at `interface` / `regionName`. */
  ironicUrl?: string;
  inspectorUrl?: string;
  inspector?: InspectorMode;
  interface?: Interface;
  regionName?: string;
  auth: AuthConfig;
  /** Send credentials to http:// URLs (Keystone, Ironic, inspector) anyway; off unless the operator opts in. */
  allowInsecureHttp?: boolean;
  /** Applied to every error text and log field; knows the run's secrets. */
  redactor?: SecretRedactor;
  ca?: Buffer;
  insecure?: boolean;
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
  endpoints: { ironic: string; inspector?: string };
  durationMs: number;
}

export async function runExport(o: ExportRunOptions): Promise<ExportRunOutcome> {
  const started = performance.now();
  const c = await connect(o);
  const collected = await collectExport(c.collect);
  const now = (o.now ?? (() => new Date()))();
  const written = await writeExport(
    o.target,
    c.site,
    { ports: collected.ports, nodes: collected.nodes, ...(collected.introspection ? { introspection: collected.introspection } : {}) },
    now,
    o.log,
  );
  return {
    ...written,
    counts: collected.counts,
    endpoints: c.endpoints,
    durationMs: Math.round(performance.now() - started),
  };
}

export interface Connection {
  site: string;
  endpoints: { ironic: string; inspector?: string };
  /** What collectExport / collectState need: endpoints, the token, the transport. */
  collect: CollectOptions;
}

/**
 * Check the options, authenticate and find the endpoints: everything before the first Ironic request. `export
 * --watch` connects again after a failure (a token expires; a catalogue may change).
 */
export async function connect(o: Omit<ExportRunOptions, 'target'>): Promise<Connection> {
  const site = parseWith(SiteNameSchema, o.site, '--site');
  const inspectorMode = o.inspector ?? 'auto';
  // Refuse a bad URL, or credentials bound for http, before any credential is sent anywhere.
  if (o.ironicUrl !== undefined) serviceRoot(o.ironicUrl, '--ironic-url');
  if (o.inspectorUrl !== undefined) serviceRoot(o.inspectorUrl, '--inspector-url');
  const allowHttp = o.allowInsecureHttp ?? false;
  const sendsCredentials = o.auth.type !== 'none';
  if (sendsCredentials) {
    if (o.ironicUrl !== undefined) refuseClearCredentials(o.ironicUrl, '--ironic-url', allowHttp);
    if (o.inspectorUrl !== undefined && inspectorMode !== 'off') refuseClearCredentials(o.inspectorUrl, '--inspector-url', allowHttp);
  }
  const transport: TransportOptions = {
    timeoutMs: o.timeoutMs,
    retries: o.retries,
    retryDelayMs: o.retryDelayMs,
    log: o.log,
    ...(o.redactor ? { redact: (text: string) => o.redactor!.redact(text) } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.insecure ? { insecure: true } : {}),
  };
  const { token, catalog } = await authenticate(o.auth, transport, allowHttp);
  const endpoints = chooseEndpoints(o, inspectorMode, catalog);
  if (sendsCredentials) {
    refuseClearCredentials(endpoints.ironic, 'the catalogue\'s "baremetal" endpoint', allowHttp);
    if (endpoints.inspector !== undefined) refuseClearCredentials(endpoints.inspector, 'the catalogue\'s "baremetal-introspection" endpoint', allowHttp);
  }
  o.log('export.endpoints', { ironic: endpoints.ironic, ironicFrom: o.ironicUrl !== undefined ? 'option' : 'catalogue', inspector: endpoints.inspector ?? null, inspectorFrom: endpoints.inspectorFrom });
  return {
    site,
    endpoints: { ironic: endpoints.ironic, ...(endpoints.inspector !== undefined ? { inspector: endpoints.inspector } : {}) },
    collect: {
      ironicUrl: endpoints.ironic,
      ...(endpoints.inspector !== undefined ? { inspectorUrl: endpoints.inspector } : {}),
      ...(token !== undefined ? { token } : {}),
      apiVersion: o.apiVersion,
      pageSize: o.pageSize,
      transport,
    },
  };
}

/** Given URLs win; otherwise the catalogue. A missing `baremetal` is fatal; a missing inspector only when required. */
function chooseEndpoints(o: Omit<ExportRunOptions, 'target'>, mode: InspectorMode, catalog: Catalog | undefined): { ironic: string; inspector?: string; inspectorFrom: string } {
  const iface = o.interface ?? 'public';
  let ironic = o.ironicUrl;
  if (ironic === undefined) {
    const found = findEndpoint(catalog, 'baremetal', iface, o.regionName);
    if ('error' in found) throw new UpstreamError(`cannot find Ironic: ${found.error}; register it in Keystone or give --ironic-url`, false);
    ironic = checked(found.url, 'baremetal');
  }
  if (mode === 'off') return { ironic, inspectorFrom: 'off' };
  if (o.inspectorUrl !== undefined) return { ironic, inspector: o.inspectorUrl, inspectorFrom: 'option' };
  if (catalog === undefined) {
    if (mode === 'required') throw new UpstreamError('--inspector required: give --inspector-url (there is no Keystone catalogue to find ironic-inspector in)', false);
    return { ironic, inspectorFrom: 'none' };
  }
  const found = findEndpoint(catalog, 'baremetal-introspection', iface, o.regionName);
  if ('error' in found) {
    if (mode === 'required' || !/no "baremetal-introspection" service/.test(found.error)) {
      throw new UpstreamError(`cannot find ironic-inspector: ${found.error}; register it in Keystone, give --inspector-url, or --inspector off`, false);
    }
    return { ironic, inspectorFrom: 'none' };
  }
  return { ironic, inspector: checked(found.url, 'baremetal-introspection'), inspectorFrom: 'catalogue' };
}

function checked(url: string, type: string): string {
  try {
    serviceRoot(url, type);
  } catch {
    throw new UpstreamError(`the Keystone catalogue's "${type}" endpoint is not a usable service URL: ${url}`, false);
  }
  return url;
}
