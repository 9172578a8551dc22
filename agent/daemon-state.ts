/**
 * What the agent daemon knows and decides with (agent/daemon-rules.ts holds the decisions): its state, the events
 * that move it, the actions it asks of the shell (agent/daemon.ts), and the report it makes of itself.
 */
import type { DirectoryState, Plan, RecordCounts } from '../core/hostsdir.ts';
import { countRecords } from '../core/hostsdir.ts';
import type { Manifest, Pointer } from '../core/manifest.ts';
import type { Policy } from '../core/policy.ts';
import { VERSION } from '../core/version.ts';
import type { AgentConfig } from './config.ts';
import type { Fetched, PointerRead } from './manifest-source.ts';
import { type AgentReport, ACK_SCHEMA } from './report.ts';
import type { AgentState } from './state-file.ts';

/** What the agent knows of the hosts directory. */
export type DirKnowledge =
  /** Nothing (start-up, after a failed write): the next apply scans. */
  | { kind: 'unknown' }
  /** Read from disk: the next apply diffs it in full. */
  | { kind: 'scanned'; dir: DirectoryState }
  /** Exactly what applying `policy` left (so the next diff looks only at what changed), and its record counts. */
  | { kind: 'exact'; dir: DirectoryState; policy: Policy; counts: RecordCounts };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type GarbageSize = 'large' | 'some';

/** Why the directory is read, and whether a difference may be repaired (not from within a repair). */
export type ScanWhy = 'apply' | 'on SIGHUP' | 'on the drift schedule' | 'after a burst';

export interface RepairTarget {
  sha256: string;
  manifest: Manifest;
}

/** An apply under way (between its scan/writes), or the bookkeeping that settles a finished one. */
export interface Applying {
  sha256: string;
  manifest: Manifest;
  first: boolean;
  /** A repair of drift: it does not start another repair. */
  repair: boolean;
  /** dnsmasq ran when the apply began (writes it sees count towards a burst; they are paced). */
  running: boolean;
  startedAt: number;
  plans: Plan[];
  then: Event | undefined;
}

export interface DaemonStats {
  scans: number;
  writes: number;
  deletes: number;
  reloads: number;
  polls: number;
  applies: number;
  refusals: number;
}

export interface DaemonState {
  readonly config: AgentConfig;
  phase: 'starting' | 'running';
  dir: DirKnowledge;
  /** The manifest applied last (its policy names the MACs the reports count). */
  manifest: Manifest | undefined;
  applied: AgentState | undefined;
  /** pointerId of a refused pointer: not fetched again until the pointer moves. */
  refused: string | undefined;
  lastContactAt: number | undefined;
  lastError: AgentReport['lastError'];
  lastApply: { writes: number; deletes: number; durationMs: number | null; foreign: number };
  /** File operations dnsmasq saw, for the burst window. */
  recentOps: readonly { at: number; n: number }[];
  lastDriftCheck: number;
  lastAckAt: number;
  staleReported: boolean;
  /** Sharded compaction: records rewritten (dead copies left in dnsmasq's memory) since the last reload. */
  rewrittenSinceReload: number;
  lastReloadAt: number;
  /** A reload the first apply asked for while dnsmasq may already run (no stop at start): done right after start. */
  reloadAfterStart: boolean;
  readonly startedAt: number;
  serviceRunning: boolean;
  /** A SIGHUP asked for a check of the directory before the next poll. */
  checkRequested: boolean;
  /** Failed polls in a row (the loop's backoff); failed first fetches (the start-up's). */
  failures: number;
  attempts: number;
  /** Garbage the applies of this poll (or of the start-up) left: collected once the poll is done (agent/heap.ts). */
  garbage: GarbageSize | undefined;
  applying: Applying | undefined;
  readonly stats: DaemonStats;
}

export type Event =
  /** The shell's start-up is done (state file read, dnsmasq stopped, directory purged): fetch the first manifest. */
  | { type: 'started'; applied: AgentState | undefined }
  /** The start-up's backoff is over. */
  | { type: 'retry' }
  /** The loop's timer (or a SIGHUP) woke the agent: a check if asked, a poll, the status. */
  | { type: 'tick' }
  /** One poll alone. */
  | { type: 'poll' }
  | { type: 'check-requested' }
  | { type: 'pointer'; read: PointerRead }
  | { type: 'fetched'; fetched: Fetched }
  | { type: 'scanned'; why: ScanWhy; mayRepair: boolean; target?: RepairTarget; dir: DirectoryState }
  | { type: 'written' }
  | { type: 'write-failed'; error: string }
  | { type: 'reloaded'; reason: string; operations: number; generation: number | null }
  | { type: 'service-started'; description: string }
  | { type: 'service-stopped' }
  | { type: 'acked' }
  | { type: 'fatal'; message: string }
  // Steps the rules send themselves (after the actions before them are done):
  | { type: 'first-applied' }
  | { type: 'poll-applied' }
  | { type: 'unchanged-polled' }
  | { type: 'settle'; applying: Applying; reload: boolean; durationMs: number }
  | { type: 'cycle-end' };

export type Action =
  | { kind: 'read-pointer' }
  | { kind: 'fetch'; pointer: Pointer }
  /** Read the directory; with `target`, a difference is repaired towards it (default: the applied manifest). */
  | { kind: 'scan'; why: ScanWhy; mayRepair: boolean; target?: RepairTarget }
  /** Write one plan; `paced`: in batches with pauses (dnsmasq is running and this is no burst). */
  | { kind: 'write'; plan: Plan; paced: boolean; generation: number }
  /** SIGHUP dnsmasq (or restart it where no reload exists); a failure is fatal. */
  | { kind: 'reload'; reason: string; operations: number; generation: number | null }
  | { kind: 'write-ready-file' }
  | { kind: 'start-service' }
  | { kind: 'save-state'; state: AgentState }
  /** The status file and metrics from reportOf(state); with `ack`, the ack in the store too. */
  | { kind: 'report'; ack: boolean }
  | { kind: 'collect-garbage'; size: GarbageSize }
  | { kind: 'sleep'; minMs: number; maxMs: number; then: Event }
  | { kind: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string }
  | { kind: 'fatal'; message: string }
  /** Go on with this event once the actions before it are done. */
  | { kind: 'then'; event: Event };

export interface Decision {
  state: DaemonState;
  actions: Action[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function initialState(config: AgentConfig, now: number): DaemonState {
  return {
    config,
    phase: 'starting',
    dir: { kind: 'unknown' },
    manifest: undefined,
    applied: undefined,
    refused: undefined,
    lastContactAt: undefined,
    lastError: null,
    lastApply: { writes: 0, deletes: 0, durationMs: null, foreign: 0 },
    recentOps: [],
    lastDriftCheck: now,
    lastAckAt: 0,
    staleReported: false,
    rewrittenSinceReload: 0,
    lastReloadAt: now,
    reloadAfterStart: false,
    startedAt: now,
    serviceRunning: false,
    checkRequested: false,
    failures: 0,
    attempts: 0,
    garbage: undefined,
    applying: undefined,
    stats: { scans: 0, writes: 0, deletes: 0, reloads: 0, polls: 0, applies: 0, refusals: 0 },
  };
}

export function isStale(state: DaemonState, now: number): boolean {
  const since = state.lastContactAt ?? state.startedAt;
  return now - since > state.config.staleAfterSeconds * 1000;
}

/** The status file and the ack: what the agent has applied, what the directory holds, and how it is going. */
export function reportOf(state: DaemonState, now: number): AgentReport {
  const cfg = state.config;
  const counts = policyCounts(recordCounts(state.dir), state.manifest);
  return {
    schema: ACK_SCHEMA,
    site: cfg.site,
    host: cfg.host,
    version: VERSION,
    generation: state.applied?.generation ?? null,
    sha256: state.applied?.sha256 || null,
    appliedAt: state.applied?.appliedAt ?? null,
    lastContactAt: state.lastContactAt === undefined ? null : iso(state.lastContactAt),
    reportedAt: iso(now),
    counts: { ...counts, foreign: state.lastApply.foreign, writes: state.lastApply.writes, deletes: state.lastApply.deletes },
    durationMs: state.lastApply.durationMs,
    reloads: state.stats.reloads,
    serviceRunning: state.serviceRunning,
    stale: isStale(state, now),
    lastError: state.lastError,
    layout: cfg.layout.kind === 'sharded' ? `sharded/${cfg.layout.shards}` : 'per-mac',
  };
}

function recordCounts(dir: DirKnowledge): RecordCounts | undefined {
  if (dir.kind === 'exact') return dir.counts;
  if (dir.kind === 'scanned') return countRecords(dir.dir);
  return undefined;
}

/**
 * MACs the policy names, record files on disk (per-MAC files and shards), and MAC records beyond the policy
 * (removed MACs not yet compacted).
 */
function policyCounts(dir: RecordCounts | undefined, manifest: Manifest | undefined): { allow: number; deny: number; removed: number; files: number } {
  const allow = manifest?.policy.allow.length ?? 0;
  const deny = manifest?.policy.deny.length ?? 0;
  return { allow, deny, removed: Math.max(0, (dir?.records ?? 0) - allow - deny), files: dir?.files ?? 0 };
}
