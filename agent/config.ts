/**
 * The agent's configuration (docs/design.md §6): one JSON file, validated by a strict zod schema, then overridden by
 * environment variables (PXE_FILTER_*) and then by command-line flags. Precedence: flag > env > file > default.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { PER_MAC } from '../core/hostsdir-layout.ts';
import { LayoutSchema } from '../core/layout-schema.ts';
import { SiteNameSchema } from '../core/settings.ts';
import { trustStoreOf } from '../core/signature.ts';
import { parseWith } from '../core/zod-errors.ts';
import { RELOAD_ABOVE_OPERATIONS } from './apply-defaults.ts';
import { DEFAULT_FAST_POINTER_TABLE } from '../store/keys.ts';

/** A host name becomes an S3 key segment (`acks/<site>/<host>.json`): keep it to a safe alphabet. */
export const HostNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a host name is 1-128 characters of A-Z a-z 0-9 . _ -');

const absolutePath = z.string().min(1).refine(isAbsolute, 'must be an absolute path');

export const ServiceConfigSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('systemctl'), unit: z.string().regex(/^[A-Za-z0-9:_.@-]+$/, 'not a systemd unit name').default('dnsmasq.service') }),
  z.strictObject({
    mode: z.literal('command'),
    start: z.string(),
    stop: z.string(),
    reload: z.string().default(''),
    /** Exits 0 while dnsmasq runs (e.g. `pgrep -x dnsmasq`), for `agent status`; empty = cannot tell. */
    status: z.string().default(''),
  }),
  z.strictObject({ mode: z.literal('none') }),
]);

export const ApplyConfigSchema = z.strictObject({
  /**
   * Writes per batch while dnsmasq runs; a pause follows each batch so dnsmasq can drain its inotify queue and
   * answer DHCP in between. 0 = no pacing.
   */
  batchSize: z.number().int().min(0).default(1000),
  batchPauseMs: z.number().int().min(0).max(60_000).default(100),
  /** More file operations than this within `reloadWindowSeconds` while dnsmasq runs → SIGHUP after the apply (why this value: apply-defaults.ts). */
  reloadAboveOperations: z.number().int().min(1).default(RELOAD_ABOVE_OPERATIONS),
  reloadWindowSeconds: z.number().int().min(0).default(60),
  /** Re-read the directory after a big apply (one that triggered a reload) and compare it with the plan. */
  verifyAfterReload: z.boolean().default(true),
});

export const CompactionConfigSchema = z.strictObject({
  /** Delete removed-MAC files (then SIGHUP) once at least this many have piled up… */
  minRemoved: z.number().int().min(1).default(1000),
  /** …and they are at least this share of the MAC files (a SIGHUP re-reads every file). */
  minShare: z.number().min(0).max(1).default(0.1),
  enabled: z.boolean().default(true),
  /**
   * Sharded layout only: every shard rewrite leaves the shard's old records in dnsmasq's memory (and in the list
   * it walks on every event) until a SIGHUP, which is cheap in this layout (docs/scale-mode.md). Reload once this many records were
   * rewritten since the last reload… (0 = never on a count)
   */
  reloadAfterRecords: z.number().int().min(0).default(50_000),
  /** …or once this many seconds have passed since the last reload and anything was rewritten (0 = never on time). */
  reloadIntervalSeconds: z.number().min(0).default(900),
});

export const TrustConfigSchema = z.strictObject({
  /**
   * Public keys (PEM text, or the absolute path of a PEM file) whose signatures this agent accepts; several at once
   * for a rotation. Empty: signatures are not required. Any key: an unsigned or badly signed manifest is refused.
   */
  publicKeys: z.array(z.string().min(1)).default([]),
});

/**
 * The fast pointer of an s3:// store (docs/deploy.md, "Fleet scale"): each poll reads this DynamoDB item instead of
 * the SSM pointer, which is read on a slower schedule only. Ignored for local: stores.
 */
export const FastPointerConfigSchema = z.strictObject({
  /** The stack's FastPointerTable output; '' = none (every poll reads SSM: at most ~40 reads/s per account and region). */
  table: z.union([z.literal(''), z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'not a DynamoDB table name')]).default(DEFAULT_FAST_POINTER_TABLE),
  /** Read the SSM pointer this often while the fast pointer answers (it may lag after a failed write). */
  ssmIntervalSeconds: z.number().min(1).max(86_400).default(300),
  /** While the fast pointer fails, read the SSM pointer at most this often (1,000 agents: 33 reads/s at 30). */
  ssmRetrySeconds: z.number().min(1).max(86_400).default(30),
});

export const AgentConfigSchema = z.strictObject({
  site: SiteNameSchema,
  host: HostNameSchema.optional(),
  /** `local:/path` (embedded store) or `s3://bucket` (S3 + SSM). */
  store: z.string().regex(/^(local:.+|s3:\/\/.+)$/, 'expected local:<dir> or s3://<bucket>'),
  /** AWS region of an s3:// store (the stack's `Region` output); default: the AWS SDK's chain (AWS_REGION, …). */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as eu-west-1').optional(),
  hostsdir: absolutePath,
  /**
   * Accept a hosts directory reached through a symlink, or inside a directory another user can write
   * (agent/hostsdir-path.ts); the agent then writes to the resolved path.
   */
  allowUnsafeHostsdir: z.boolean().default(false),
  stateFile: absolutePath.default('/var/lib/pxe-filter/state.json'),
  /** Operational status for `agent status` (default: status.json next to the state file). */
  statusFile: absolutePath.optional(),
  /**
   * Prometheus text-format metrics, rewritten atomically after every poll, for node_exporter's textfile collector
   * (e.g. /var/lib/prometheus/node-exporter/pxe-filter.prom, the Debian package's directory). Unset: none written.
   */
  metricsFile: absolutePath.refine((p) => p.endsWith('.prom'), 'node_exporter reads only files ending in .prom').optional(),
  /** Lock that makes one agent own the directory; outside the hosts directory (default: agent.lock next to the state file). */
  lockFile: absolutePath.optional(),
  /** Exists only while this agent has completed a full sync; dnsmasq's drop-in refuses to start without it. */
  readyFile: absolutePath.optional(),
  purge: z.boolean().default(true),
  /** Seconds between pointer reads (with a fast pointer, SSM is read on its own slower schedule). */
  pollIntervalSeconds: z.number().min(0.05).max(86_400).default(5),
  pollJitter: z.number().min(0).max(1).default(0.2),
  service: ServiceConfigSchema.default({ mode: 'systemctl', unit: 'dnsmasq.service' }),
  /** Stop dnsmasq before the start-up purge, so it never serves from a half-built directory. */
  stopServiceAtStart: z.boolean().default(true),
  stopServiceOnExit: z.boolean().default(true),
  staleAfterSeconds: z.number().min(1).default(300),
  /** `agent status` is unhealthy when the applied generation is behind the published one for longer than this. */
  behindAfterSeconds: z.number().min(0).default(300),
  /** Backoff between failed fetches (store unreachable, manifest refused). */
  retryMinSeconds: z.number().min(0.01).default(1),
  retryMaxSeconds: z.number().min(0.01).default(60),
  /** Re-read the directory and repair drift this often (0 = never); a no-change poll never scans. */
  driftCheckSeconds: z.number().min(0).default(3600),
  /** Re-send the ack this often even when nothing changed (a heartbeat for monitoring). */
  ackHeartbeatSeconds: z.number().min(1).default(300),
  apply: ApplyConfigSchema.default(ApplyConfigSchema.parse({})),
  compaction: CompactionConfigSchema.default(CompactionConfigSchema.parse({})),
  /**
   * Hosts-directory layout: one file per MAC (docs/design.md §3, the default), or scale mode — MACs grouped into a
   * fixed number of shard files, which makes dnsmasq's start-up and SIGHUP far cheaper (its cost grows
   * with the files; docs/scale-mode.md has the figures). Switching migrates the directory without restarting dnsmasq.
   */
  layout: LayoutSchema.default(PER_MAC),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  trust: TrustConfigSchema.default({ publicKeys: [] }),
  fastPointer: FastPointerConfigSchema.default(FastPointerConfigSchema.parse({})),
});

export type AgentConfig = Omit<z.output<typeof AgentConfigSchema>, 'host' | 'statusFile' | 'lockFile' | 'readyFile'> & {
  host: string;
  statusFile: string;
  lockFile: string;
  readyFile: string;
};

/** What flags may override (undefined = not given). */
export interface AgentOverrides {
  site?: string;
  host?: string;
  store?: string;
  hostsdir?: string;
  allowUnsafeHostsdir?: boolean;
  stateFile?: string;
  purge?: boolean;
  pollInterval?: number;
  service?: 'none' | 'systemctl' | 'command';
  unit?: string;
  logLevel?: string;
  layout?: 'per-mac' | 'sharded';
  shards?: number;
  /** `--trust-key FILE` (repeatable): replaces the config's trust.publicKeys, as every flag replaces its field. */
  trustKeys?: string[];
}

/** Environment variables, each mapped onto one config field. */
export const ENV_VARS = {
  PXE_FILTER_SITE: 'site',
  PXE_FILTER_HOST: 'host',
  PXE_FILTER_STORE: 'store',
  PXE_FILTER_HOSTSDIR: 'hostsdir',
  PXE_FILTER_STATE_FILE: 'stateFile',
  PXE_FILTER_PURGE: 'purge',
  PXE_FILTER_POLL_INTERVAL: 'pollIntervalSeconds',
  PXE_FILTER_LOG_LEVEL: 'logLevel',
  PXE_FILTER_SERVICE_UNIT: 'service.unit',
} as const;

function envValue(name: string, raw: string): unknown {
  if (name === 'PXE_FILTER_PURGE') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new InputError(name, raw, 'expected true or false');
  }
  if (name === 'PXE_FILTER_POLL_INTERVAL') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new InputError(name, raw, 'expected a number of seconds');
    return n;
  }
  return raw;
}

/** Merge file, env and flags into one document, then validate it once (so errors name the field). */
export function resolveConfig(fileDoc: unknown, env: NodeJS.ProcessEnv, flags: AgentOverrides, label = 'config'): AgentConfig {
  if (fileDoc !== undefined && (typeof fileDoc !== 'object' || fileDoc === null || Array.isArray(fileDoc))) {
    throw new InputError(label, fileDoc, 'expected a JSON object');
  }
  const doc: Record<string, unknown> = { ...((fileDoc as Record<string, unknown> | undefined) ?? {}) };
  for (const [name, field] of Object.entries(ENV_VARS)) {
    const raw = env[name];
    if (raw === undefined) continue;
    if (field === 'service.unit') doc.service = { mode: 'systemctl', unit: raw };
    else doc[field] = envValue(name, raw);
  }
  const set = (field: string, value: unknown) => {
    if (value !== undefined) doc[field] = value;
  };
  set('site', flags.site);
  set('host', flags.host);
  set('store', flags.store);
  set('hostsdir', flags.hostsdir === undefined ? undefined : resolve(flags.hostsdir));
  set('allowUnsafeHostsdir', flags.allowUnsafeHostsdir);
  set('stateFile', flags.stateFile === undefined ? undefined : resolve(flags.stateFile));
  set('purge', flags.purge);
  set('pollIntervalSeconds', flags.pollInterval);
  set('logLevel', flags.logLevel);
  if (flags.layout !== undefined || flags.shards !== undefined) doc.layout = layoutOverride(doc.layout, flags);
  if (flags.service !== undefined || flags.unit !== undefined) {
    const current = (doc.service ?? {}) as Record<string, unknown>;
    const mode = flags.service ?? (current.mode as string | undefined) ?? 'systemctl';
    if (mode === 'systemctl') doc.service = { mode, unit: flags.unit ?? (current.mode === 'systemctl' ? current.unit : undefined) ?? 'dnsmasq.service' };
    else if (mode === 'none') doc.service = { mode };
    else if (current.mode !== 'command') throw new InputError('--service', mode, 'command mode needs service.start/stop in the config file');
  }
  if (flags.trustKeys !== undefined && flags.trustKeys.length > 0) doc.trust = { publicKeys: flags.trustKeys.map((f) => resolve(f)) };
  const parsed = parseWith(AgentConfigSchema, doc, label);
  const stateDir = dirname(parsed.stateFile);
  const fromFlags = flags.trustKeys !== undefined && flags.trustKeys.length > 0;
  return {
    ...parsed,
    trust: resolveTrust(parsed.trust.publicKeys, fromFlags ? '--trust-key' : `${label}.trust.publicKeys`),
    host: parsed.host ?? defaultHost(),
    statusFile: parsed.statusFile ?? join(stateDir, 'status.json'),
    lockFile: parsed.lockFile ?? join(stateDir, 'agent.lock'),
    readyFile: parsed.readyFile ?? '/run/pxe-filter/ready',
  };
}

/**
 * Each trust entry as PEM text: a path is read now (start-up), and every key is parsed once here so that a bad key
 * fails the start naming its file or field, never a later fetch.
 */
function resolveTrust(entries: readonly string[], field: string): { publicKeys: string[] } {
  const labels: string[] = [];
  const pems = entries.map((entry, i) => {
    if (entry.trimStart().startsWith('-----BEGIN')) {
      labels.push(`${field}[${i}]`);
      return entry;
    }
    if (!isAbsolute(entry)) throw new InputError(`${field}[${i}]`, entry, 'expected PEM text or the absolute path of a PEM file');
    labels.push(entry);
    try {
      return readFileSync(entry, 'utf8');
    } catch (err) {
      throw new InputError(field === '--trust-key' ? field : `${field}[${i}]`, entry, `cannot read the public key file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  });
  trustStoreOf(pems, labels);
  return { publicKeys: pems };
}

/** `--layout` / `--shards` on top of the file's `layout`: `--shards` alone means sharded (and keeps nothing else). */
function layoutOverride(current: unknown, flags: AgentOverrides): unknown {
  const kind = flags.layout ?? (flags.shards !== undefined ? 'sharded' : undefined);
  if (kind === 'per-mac') {
    if (flags.shards !== undefined) throw new InputError('--shards', flags.shards, 'only applies to --layout sharded');
    return { kind };
  }
  const fileShards = typeof current === 'object' && current !== null && (current as { kind?: unknown }).kind === 'sharded' ? (current as { shards?: unknown }).shards : undefined;
  const shards = flags.shards ?? fileShards;
  return shards === undefined ? { kind: 'sharded' } : { kind: 'sharded', shards };
}

export function defaultHost(): string {
  const h = hostname().split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '_');
  return /^[A-Za-z0-9]/.test(h) ? h.slice(0, 128) : `h${h}`.slice(0, 128);
}

export async function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv, flags: AgentOverrides): Promise<AgentConfig> {
  let doc: unknown;
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new InputError('--config', path, `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new InputError(path, `${text.length} chars`, `not JSON (${(err as Error).message})`);
    }
  }
  return resolveConfig(doc, env, flags, path ?? 'config');
}
