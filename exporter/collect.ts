/**
 * Reads every page of the Ironic port and node lists and of the ironic-inspector introspection list,
 * checking each page with the same schemas `compute` uses, so a bad answer stops the run before anything
 * is written.
 */
import { InputError } from '../core/errors.ts';
import { type ExportDocument, parseIntrospections, parseNodes, parsePorts } from '../core/ironic-exports.ts';
import { INSPECTING_STATES } from '../core/policy.ts';
import { type InspectingNode, type InspectionState, canonicalState } from '../core/state-export.ts';
import { type TransportOptions, requestJson } from './api-client.ts';
import { UpstreamError, redactUrl } from './upstream-error.ts';

/** ironic-inspector 1.8 added GET /v1/introspection with limit/marker. */
export const INSPECTOR_API_VERSION = '1.8';
/** A loop guard: more pages than this means `next` never ends. */
const MAX_PAGES = 100_000;
/** Walks restarted from the first page when the marker object vanished between two pages. */
const MAX_RESTARTS = 3;

export interface CollectOptions {
  ironicUrl: string;
  inspectorUrl?: string;
  token?: string;
  apiVersion: string;
  pageSize: number;
  transport: TransportOptions;
  /** No log line per listing: the fast queries of `export --watch` run every few seconds. */
  quiet?: boolean;
}

export interface Collected {
  ports: unknown[];
  nodes: unknown[];
  introspection?: unknown[];
  counts: { ports: number; nodes: number; introspection?: number };
}

export async function collectExport(o: CollectOptions): Promise<Collected> {
  const ports = await ironicList(o, 'ports');
  const nodes = await ironicList(o, 'nodes');
  const introspection = o.inspectorUrl ? await inspectorList(o, o.inspectorUrl) : undefined;
  const counts = {
    ports: validate(ports.pages, parsePorts),
    nodes: validate(nodes.pages, parseNodes),
    ...(introspection ? { introspection: validate(introspection.pages, parseIntrospections) } : {}),
  };
  return { ports: ports.bodies(), nodes: nodes.bodies(), ...(introspection ? { introspection: introspection.bodies() } : {}), counts };
}

/**
 * The fast queries of `export --watch`: only the nodes being inspected, through Ironic's provision_state filter
 * (one listing per state, each paginated), and ironic-inspector's unfinished introspections. Checked with the
 * same schemas as the full listing; anything unexpected is the service's error and nothing is concluded from it.
 */
export async function collectState(o: CollectOptions): Promise<InspectionState> {
  const nodes: InspectingNode[] = [];
  for (const state of INSPECTING_STATES) {
    const pages = await ironicList(o, 'nodes', { provision_state: state });
    for (const n of checked(() => parseNodes(pages.pages))) {
      // The filter is Ironic's; the state is checked again so that a server ignoring it cannot open the filter.
      if (n.provisionState === state) nodes.push({ uuid: n.uuid, provisionState: state as InspectingNode['provisionState'], inspectInterface: n.inspectInterface });
    }
  }
  if (!o.inspectorUrl) return canonicalState({ nodes });
  const intro = await inspectorList(o, o.inspectorUrl);
  const introspection = checked(() => parseIntrospections(intro.pages)).filter((i) => !i.finished).map((i) => i.uuid);
  return canonicalState({ nodes, introspection });
}

/** The root of a service (`http://host:6385`), whether given with or without `/v1` and trailing slashes. */
export function serviceRoot(url: string, field: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(field, url, 'not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(field, url, 'expected an http:// or https:// URL');
  if (u.username || u.password) throw new InputError(field, redactUrl(url), 'credentials do not belong in the URL (use the auth options)');
  if (u.search || u.hash) throw new InputError(field, url, 'expected the service root URL, without a query');
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`;
}

interface Pages {
  pages: ExportDocument[];
  bodies(): unknown[];
}

function pagesOf(pages: ExportDocument[]): Pages {
  return { pages, bodies: () => pages.map((p) => p.body) };
}

/**
 * Ironic pages with `next` links. Only the query of `next` is used, applied to the configured root:
 * behind a proxy Ironic may advertise another scheme or host, and the token must never follow a link
 * to a host the operator did not name.
 */
async function ironicList(o: CollectOptions, resource: 'ports' | 'nodes', filter: Record<string, string> = {}): Promise<Pages> {
  return restartOnLostMarker(o, 'Ironic', resource, () => ironicWalk(o, resource, filter));
}

/** `filter`: query parameters kept on every page (Ironic's `next` carries them, but the walk does not rely on it). */
async function ironicWalk(o: CollectOptions, resource: 'ports' | 'nodes', filter: Record<string, string>): Promise<Pages> {
  const root = serviceRoot(o.ironicUrl, '--ironic-url');
  const base = `${root}/v1/${resource}`;
  const headers = { 'X-OpenStack-Ironic-API-Version': o.apiVersion, ...(o.token ? { 'X-Auth-Token': o.token } : {}) };
  const pages: ExportDocument[] = [];
  const seenMarkers = new Set<string>();
  let query = new URLSearchParams({ detail: 'True', limit: String(o.pageSize), ...filter });
  for (;;) {
    const url = `${base}?${query.toString()}`;
    const res = await getPage('Ironic', url, headers, query.has('marker'), o.transport);
    pages.push({ label: `Ironic GET ${redactUrl(url)}`, body: res.body });
    const next = nextLink(res.body, url);
    if (next === undefined) break;
    const nextQuery = new URL(next, url).searchParams;
    const marker = nextQuery.get('marker');
    if (!marker || seenMarkers.has(marker) || pages.length >= MAX_PAGES) {
      throw new UpstreamError(`Ironic GET ${redactUrl(url)}: pagination does not advance (next marker ${JSON.stringify(marker)})`, false);
    }
    seenMarkers.add(marker);
    nextQuery.set('detail', 'True');
    for (const [k, v] of Object.entries(filter)) nextQuery.set(k, v);
    query = nextQuery;
  }
  if (!o.quiet) o.transport.log('export.fetched', { service: 'Ironic', resource, pages: pages.length, ...filter });
  return pagesOf(pages);
}

function nextLink(body: unknown, url: string): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined; // schema check reports it
  const next = (body as Record<string, unknown>)['next'];
  if (next === undefined || next === null) return undefined;
  if (typeof next !== 'string') throw new UpstreamError(`Ironic GET ${redactUrl(url)}: "next" is not a string`, false);
  return next;
}

/** ironic-inspector gives no `next` link: ask with limit + marker until a page is not full. */
async function inspectorList(o: CollectOptions, inspectorUrl: string): Promise<Pages> {
  return restartOnLostMarker(o, 'ironic-inspector', 'introspection', () => inspectorWalk(o, inspectorUrl));
}

/**
 * Pages are separate requests: when the object named by the marker is deleted between two of them, Ironic
 * (and inspector) answer 404 for the next page. The list as a whole is still readable, so walk it again
 * from the start rather than fail the run.
 */
async function restartOnLostMarker(o: CollectOptions, service: string, resource: string, walk: () => Promise<Pages>): Promise<Pages> {
  for (let restarts = 0; ; restarts++) {
    try {
      return await walk();
    } catch (err) {
      if (!(err instanceof LostMarkerError) || restarts >= MAX_RESTARTS) throw err instanceof LostMarkerError ? err.cause : err;
      o.transport.log('export.restart', { service, resource, restart: restarts + 1, reason: (err.cause as Error).message });
    }
  }
}

class LostMarkerError extends Error {
  constructor(override readonly cause: UpstreamError) {
    super(cause.message);
  }
}

/** A GET with a marker; a 404 then means the marker object is gone (the resource list itself exists). */
async function getPage(service: string, url: string, headers: Record<string, string>, hasMarker: boolean, t: TransportOptions) {
  try {
    return await requestJson(service, { method: 'GET', url, headers }, t);
  } catch (err) {
    if (hasMarker && err instanceof UpstreamError && err.status === 404) throw new LostMarkerError(err);
    throw err;
  }
}

async function inspectorWalk(o: CollectOptions, inspectorUrl: string): Promise<Pages> {
  const base = `${serviceRoot(inspectorUrl, '--inspector-url')}/v1/introspection`;
  const headers = { 'X-OpenStack-Ironic-Inspector-API-Version': INSPECTOR_API_VERSION, ...(o.token ? { 'X-Auth-Token': o.token } : {}) };
  const pages: ExportDocument[] = [];
  const seen = new Set<string>();
  let marker: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ limit: String(o.pageSize), ...(marker ? { marker } : {}) });
    const url = `${base}?${query.toString()}`;
    const res = await getPage('ironic-inspector', url, headers, marker !== undefined, o.transport);
    const label = `ironic-inspector GET ${redactUrl(url)}`;
    pages.push({ label, body: res.body });
    // Validate now: the marker comes from this page.
    const rows = checked(() => parseIntrospections([{ label, body: res.body }]));
    const last = rows.at(-1)?.uuid;
    if (rows.length < o.pageSize || last === undefined) break;
    if (seen.has(last) || pages.length >= MAX_PAGES) throw new UpstreamError(`${label}: pagination does not advance (marker ${last})`, false);
    seen.add(last);
    marker = last;
  }
  if (!o.quiet) o.transport.log('export.fetched', { service: 'ironic-inspector', resource: 'introspection', pages: pages.length });
  return pagesOf(pages);
}

/** Schema-check the pages; an answer that is not what Ironic documents is the service's fault, not the operator's. */
function validate<T>(pages: ExportDocument[], parse: (docs: readonly ExportDocument[]) => T[]): number {
  return checked(() => parse(pages)).length;
}

function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InputError) throw new UpstreamError(`unexpected answer: ${err.message}`, false);
    throw err;
  }
}
