/**
 * The agent daemon's decisions (docs/design.md §6), as one pure function: `decide(state, event, now)` returns the
 * next state and the actions the shell (agent/daemon.ts) performs in order — read the pointer, fetch, scan or write
 * the hosts directory, reload or start dnsmasq, save the state file, report, log, sleep. An action that has a result
 * (a pointer, a manifest, a scan, a write) is answered by the shell with the matching event, whose actions run
 * before the rest of the list. The time is an argument: no clock is read here.
 *
 * The state, events and actions are in agent/daemon-state.ts. The rules, each in one place below:
 * - start-up: no byte is written before a manifest is verified; until then the fetch is retried with backoff
 *   (`startFailure`, `startDelay`), then a full sync, then dnsmasq starts (the `first-applied` event);
 * - a poll applies only when the pointer moved (`pointerRead`); a refused manifest is reported once and not fetched
 *   again until the pointer moves (`fetched`); an unreachable store backs the loop off (`failure`, `nextDelay`);
 * - the burst window (`isBurst`, `recordOps`): more file operations than the limit within the window while dnsmasq
 *   runs → written at full speed, then a SIGHUP and a check of the directory;
 * - the two compaction rules: removed-MAC files deleted once they pile up (`shouldCompactRemoved`), and in the
 *   sharded layout a SIGHUP once enough shard records were rewritten or on a schedule (`shouldCompactSharded`);
 * - drift repair: a scan that differs from what this agent wrote is repaired by a full apply (`scanned`);
 * - staleness: no contact with the store for too long is logged once, and the recovery too (`noteStaleness`).
 *
 * The directory's content is owned by the state: it is updated in place by each write (a copy of 100k entries per
 * apply would cost more than the apply), so an old state must not be reused after `decide` returned a new one.
 */
import { InputError } from '../core/errors.ts';
import { type DirectoryState, type Plan, applyPlanInPlace, classifyEntry, countRecords, removedRecords } from '../core/hostsdir.ts';
import { planSync } from '../core/hostsdir-layout.ts';
import type { Manifest } from '../core/manifest.ts';
import type { AgentConfig } from './config.ts';
import type { Action, DaemonState, Decision, DirKnowledge, Event, LogLevel, RepairTarget, ScanWhy } from './daemon-state.ts';
import { isStale } from './daemon-state.ts';
import { LARGE_APPLY_OPERATIONS } from './heap.ts';
import { type Fetched, type PointerRead, pointerId, pointerMoved } from './manifest-source.ts';

const log = (level: LogLevel, fields: Record<string, unknown>, msg: string): Action => ({ kind: 'log', level, fields, msg });
const then = (event: Event): Action => ({ kind: 'then', event });
const iso = (ms: number) => new Date(ms).toISOString();

export function decide(state: DaemonState, event: Event, now: number): Decision {
  const s: DaemonState = { ...state, stats: { ...state.stats } };
  const cfg = s.config;
  switch (event.type) {
    case 'started':
      s.applied = event.applied;
      s.phase = 'starting';
      return { state: s, actions: [{ kind: 'read-pointer' }] };
    case 'retry':
      return { state: s, actions: [{ kind: 'read-pointer' }] };
    case 'check-requested':
      s.checkRequested = true;
      return { state: s, actions: [] };
    case 'tick': {
      const actions: Action[] = [];
      if (s.checkRequested) {
        s.checkRequested = false;
        if (s.applied && s.manifest) actions.push(scanAction(s, 'on SIGHUP', true, now));
      }
      s.stats.polls++;
      actions.push({ kind: 'read-pointer' }, then({ type: 'cycle-end' }));
      return { state: s, actions };
    }
    case 'poll':
      s.stats.polls++;
      return { state: s, actions: [{ kind: 'read-pointer' }] };
    case 'pointer':
      return pointerRead(s, event.read, now);
    case 'fetched':
      return fetched(s, event.fetched, now);
    case 'scanned':
      return scanned(s, event, now);
    case 'written':
      return written(s, now);
    case 'write-failed':
      // Unknown now: whatever the next apply finds, it scans first.
      s.dir = { kind: 'unknown' };
      s.applying = undefined;
      return { state: s, actions: [{ kind: 'fatal', message: `cannot write the hosts directory ${cfg.hostsdir}: ${event.error}` }] };
    case 'reloaded':
      s.stats.reloads++;
      s.recentOps = [];
      s.lastReloadAt = now;
      s.rewrittenSinceReload = 0;
      return {
        state: s,
        actions: [log('info', { generation: event.generation, operations: event.operations, reason: event.reason, rewrittenRecords: state.rewrittenSinceReload }, 'reloaded dnsmasq')],
      };
    case 'service-started': {
      s.serviceRunning = true;
      s.phase = 'running';
      const generation = s.applied?.generation;
      const actions: Action[] =
        cfg.service.mode === 'none'
          ? [log('info', { generation, service: 'none' }, 'first full sync done (dnsmasq is not managed by the agent: service none)')]
          : [log('info', { generation, service: event.description }, 'dnsmasq started after the first full sync')];
      if (s.reloadAfterStart) {
        // dnsmasq was not stopped at start-up, so it may have been running all along and still hold records the
        // first sync dropped (e.g. a layout migration): a start of a running service does not re-read anything.
        s.reloadAfterStart = false;
        actions.push({ kind: 'reload', reason: 'first sync dropped records while dnsmasq may have been running', operations: 0, generation: generation ?? null });
      }
      actions.push({ kind: 'report', ack: true }, ...garbageActions(s));
      return { state: s, actions };
    }
    case 'service-stopped':
      s.serviceRunning = false;
      return { state: s, actions: [] };
    case 'acked':
      s.lastAckAt = now;
      return { state: s, actions: [] };
    case 'fatal':
      setError(s, `fatal: ${event.message}`, s.applied?.generation ?? null, now);
      return { state: s, actions: [] };
    case 'first-applied':
      return { state: s, actions: [{ kind: 'write-ready-file' }, { kind: 'start-service' }] };
    case 'poll-applied':
      return { state: s, actions: [{ kind: 'report', ack: true }, ...garbageActions(s)] };
    case 'unchanged-polled': {
      const actions: Action[] = [];
      if (s.serviceRunning && shouldCompactSharded(s, true, now)) actions.push({ kind: 'reload', reason: 'compaction: schedule', operations: 0, generation: s.applied?.generation ?? null });
      if (now - s.lastAckAt >= cfg.ackHeartbeatSeconds * 1000) actions.push({ kind: 'report', ack: true });
      actions.push(...garbageActions(s)); // a drift repair is an apply
      return { state: s, actions };
    }
    case 'settle':
      return settle(s, event, now);
    case 'cycle-end': {
      const actions = noteStaleness(s, now);
      actions.push({ kind: 'report', ack: false });
      return { state: s, actions };
    }
  }
}

/** How long the loop sleeps before its next tick: none after a SIGHUP, the jittered interval, or a backoff. */
export function nextDelay(state: DaemonState): { minMs: number; maxMs: number } {
  const cfg = state.config;
  if (state.checkRequested) return { minMs: 0, maxMs: 0 };
  if (state.failures === 0) {
    const base = cfg.pollIntervalSeconds * 1000;
    return { minMs: base * (1 - cfg.pollJitter), maxMs: base * (1 + cfg.pollJitter) };
  }
  const ms = Math.min(cfg.retryMaxSeconds * 1000, cfg.retryMinSeconds * 1000 * 2 ** (state.failures - 1));
  return { minMs: ms / 2, maxMs: ms };
}

/** The start-up's backoff before fetch attempt `attempt + 1`: doubling from the minimum, randomised up to 2×, capped. */
export function startDelay(config: AgentConfig, attempt: number): { minMs: number; maxMs: number } {
  const base = config.retryMinSeconds * 1000 * 2 ** (attempt - 1);
  const cap = config.retryMaxSeconds * 1000;
  return { minMs: Math.min(base, cap), maxMs: Math.min(2 * base, cap) };
}

function pointerRead(s: DaemonState, read: PointerRead, now: number): Decision {
  const site = s.config.site;
  if (read.kind === 'unreachable') return failure(s, read.error, now);
  s.lastContactAt = now;
  if (read.kind === 'unpublished') return failure(s, `no manifest published yet for site "${site}"`, now);
  if (read.kind === 'refused') {
    const message = new InputError('pointer', site, read.reason).message;
    if (s.phase === 'starting') return startFailure(s, message, now);
    // A pointer that is not valid JSON/schema: the store answered, nothing to back off. Reported once, not on
    // every poll (like a refused manifest).
    const actions: Action[] = [];
    if (s.lastError?.message !== `pointer refused: ${message}`) {
      setError(s, `pointer refused: ${message}`, null, now);
      actions.push(log('error', { error: message, generation: s.applied?.generation }, 'pointer refused; the hosts directory is left as it is'));
    }
    actions.push({ kind: 'report', ack: true });
    return { state: s, actions };
  }
  const pointer = read.pointer;
  if (s.phase === 'starting') return { state: s, actions: [{ kind: 'fetch', pointer }] };
  if (!pointerMoved(pointer, s.applied)) {
    s.failures = 0;
    // Back on the applied manifest: an earlier refusal or outage is over.
    s.lastError = null;
    s.refused = undefined;
    const actions: Action[] = [log('debug', { generation: pointer.generation, scans: s.stats.scans, writes: s.stats.writes, polls: s.stats.polls }, 'poll: no change')];
    if (s.config.driftCheckSeconds > 0 && now - s.lastDriftCheck >= s.config.driftCheckSeconds * 1000) actions.push(scanAction(s, 'on the drift schedule', true, now));
    actions.push(then({ type: 'unchanged-polled' }));
    return { state: s, actions };
  }
  if (s.refused === pointerId(pointer)) {
    s.failures = 0;
    return { state: s, actions: [] }; // already refused and reported; wait for the pointer to move
  }
  return { state: s, actions: [{ kind: 'fetch', pointer }] };
}

function fetched(s: DaemonState, f: Fetched, now: number): Decision {
  if (f.kind === 'unreachable') return failure(s, f.error, now); // retried, not refused
  if (f.kind === 'refused') {
    s.refused = pointerId(f.pointer);
    s.stats.refusals++;
    setError(s, `manifest refused: ${f.reason}`, f.pointer.generation, now);
    const logged = log('error', { generation: f.pointer.generation, error: f.reason, refusals: s.stats.refusals }, 'manifest refused; the hosts directory is left as it is');
    if (s.phase === 'starting') {
      const next = startFailure(s, f.reason, now);
      return { state: next.state, actions: [logged, ...next.actions] };
    }
    return { state: s, actions: [logged, { kind: 'report', ack: true }] };
  }
  if (s.phase === 'starting') return startApply(s, f.pointer.sha256, f.manifest, { first: true, repair: false, then: { type: 'first-applied' } }, now);
  s.failures = 0;
  return startApply(s, f.pointer.sha256, f.manifest, { first: false, repair: false, then: { type: 'poll-applied' } }, now);
}

/** No verified manifest yet: dnsmasq stays stopped, and the fetch is tried again after a backoff. */
function startFailure(s: DaemonState, error: string, now: number): Decision {
  s.attempts++;
  const actions: Action[] = [log('warn', { error, attempt: s.attempts }, 'no verified manifest yet; dnsmasq stays stopped'), ...noteStaleness(s, now), { kind: 'report', ack: false }];
  actions.push({ kind: 'sleep', ...startDelay(s.config, s.attempts), then: { type: 'retry' } });
  return { state: s, actions };
}

function failure(s: DaemonState, error: string, now: number): Decision {
  if (s.phase === 'starting') return startFailure(s, error, now);
  s.failures++;
  setError(s, `store unreachable: ${error}`, null, now);
  return { state: s, actions: [log('warn', { error, failures: s.failures, generation: s.applied?.generation }, 'poll failed; keeping the last good policy')] };
}

function setError(s: DaemonState, message: string, generation: number | null, now: number): void {
  s.lastError = { message, at: iso(now), generation };
}

function noteStaleness(s: DaemonState, now: number): Action[] {
  const stale = isStale(s, now);
  const actions: Action[] = [];
  if (stale && !s.staleReported) {
    actions.push(
      log('error', { generation: s.applied?.generation ?? null, lastContactAt: s.lastContactAt === undefined ? null : iso(s.lastContactAt), staleAfterSeconds: s.config.staleAfterSeconds }, 'policy is stale: no contact with the store'),
    );
  } else if (!stale && s.staleReported) {
    actions.push(log('info', { generation: s.applied?.generation ?? null }, 'store reachable again'));
  }
  s.staleReported = stale;
  return actions;
}

function garbageActions(s: DaemonState): Action[] {
  const size = s.garbage;
  s.garbage = undefined;
  return size ? [{ kind: 'collect-garbage', size }] : [];
}

function scanAction(s: DaemonState, why: ScanWhy, mayRepair: boolean, now: number, target?: RepairTarget): Action {
  s.stats.scans++;
  if (why !== 'apply') s.lastDriftCheck = now;
  return target ? { kind: 'scan', why, mayRepair, target } : { kind: 'scan', why, mayRepair };
}

function startApply(s: DaemonState, sha256: string, manifest: Manifest, how: { first: boolean; repair: boolean; then: Event | undefined }, now: number): Decision {
  s.applying = { sha256, manifest, ...how, running: s.serviceRunning, startedAt: now, plans: [] };
  if (s.dir.kind === 'unknown') return { state: s, actions: [scanAction(s, 'apply', false, now)] };
  return planNext(s, now);
}

/** The first plan of an apply, or the compaction plan after it, or the end of the apply. */
function planNext(s: DaemonState, now: number): Decision {
  const a = s.applying!;
  const cfg = s.config;
  const dir = s.dir as Exclude<DirKnowledge, { kind: 'unknown' }>;
  let plan: Plan;
  if (a.plans.length === 0) {
    const previous = dir.kind === 'exact' ? { previous: dir.policy, previousRemoved: removedRecords(dir.policy, dir.counts) } : {};
    plan = planSync(cfg.layout, a.manifest.policy, dir.dir, previous);
  } else if (a.plans.length === 1 && shouldCompactRemoved(s, a.plans[0]!)) {
    // The removed files already hold the removed verdict (first pass), so dnsmasq is right until the SIGHUP.
    plan = planSync(cfg.layout, a.manifest.policy, dir.dir, { compactRemoved: true });
  } else {
    return finish(s, now);
  }
  a.plans = [...a.plans, plan];
  // Small applies are paced so dnsmasq keeps up; a burst that needs a SIGHUP anyway is written at full speed
  // (the SIGHUP re-reads everything, so pacing it would only stretch the time dnsmasq spends on events).
  const paced = a.running && !isBurst(s, plan.writes.length + plan.deletes.length, now);
  return { state: s, actions: [{ kind: 'write', plan, paced, generation: a.manifest.generation }] };
}

function written(s: DaemonState, now: number): Decision {
  const a = s.applying!;
  const plan = a.plans[a.plans.length - 1]!;
  const dir = s.dir as Exclude<DirKnowledge, { kind: 'unknown' }>;
  const counts = dir.kind === 'exact' ? dir.counts : countRecords(dir.dir);
  s.dir = { kind: 'exact', dir: applyPlanInPlace(dir.dir, plan, counts), policy: a.manifest.policy, counts };
  const next = planNext(s, now);
  if (a.plans.length < 2 || plan !== a.plans[1]) return next;
  return { state: next.state, actions: [log('info', { generation: a.manifest.generation, deletes: plan.deletes.length }, 'compacting removed MACs'), ...next.actions] };
}

function scanned(s: DaemonState, event: Extract<Event, { type: 'scanned' }>, now: number): Decision {
  if (event.why === 'apply') {
    s.dir = { kind: 'scanned', dir: event.dir };
    return planNext(s, now);
  }
  const actual = event.dir;
  const expected: DirectoryState = s.dir.kind === 'unknown' ? new Map() : s.dir.dir;
  const differs = [...new Set([...actual.keys(), ...expected.keys()])].filter((n) => actual.get(n) !== expected.get(n) && !isHarmless(n, actual.get(n)));
  if (differs.length === 0) return { state: s, actions: [log('debug', { files: actual.size }, `directory verified ${event.why}`)] };
  const actions: Action[] = [log('warn', { count: differs.length, sample: differs.slice(0, 10) }, `directory drifted (${event.why}); repairing`)];
  s.dir = { kind: 'scanned', dir: actual }; // a scan, not the result of an apply: the next diff must be a full one
  const target = event.target ?? (s.manifest && s.applied ? { sha256: s.applied.sha256, manifest: s.manifest } : undefined);
  if (!event.mayRepair || !target) return { state: s, actions };
  const repair = startApply(s, target.sha256, target.manifest, { first: false, repair: true, then: undefined }, now);
  return { state: repair.state, actions: [...actions, ...repair.actions] };
}

/** The apply's writes are done: burst, dropped records and sharded compaction decide on a SIGHUP. */
function finish(s: DaemonState, now: number): Decision {
  const a = s.applying!;
  const cfg = s.config;
  s.applying = undefined;
  const writes = a.plans.reduce((n, p) => n + p.writes.length, 0);
  const deletes = a.plans.reduce((n, p) => n + p.deletes.length, 0);
  s.stats.writes += writes;
  s.stats.deletes += deletes;
  s.stats.applies++;
  // Only writes dnsmasq sees count towards a burst (the first sync happens before it starts).
  const ops = a.running ? recordOps(s, writes + deletes, now) : 0;
  const burst = a.running && ops > cfg.apply.reloadAboveOperations;
  const dropped = a.plans.some((p) => p.reloadNeeded);
  if (a.running) s.rewrittenSinceReload += rewrittenRecords(a.plans);
  const compact = a.running && !burst && !dropped ? shouldCompactSharded(s, false, now) : undefined;
  const reload = a.running && (burst || dropped || compact !== undefined);
  if (a.first && dropped && !a.running && !cfg.stopServiceAtStart) s.reloadAfterStart = true;
  const actions: Action[] = [];
  if (reload) {
    // A burst may have overflowed dnsmasq's inotify queue (lost events are silent); a SIGHUP re-reads everything.
    actions.push({ kind: 'reload', reason: burst ? 'burst' : dropped ? 'records dropped' : `compaction: ${compact}`, operations: ops, generation: a.manifest.generation });
    // A repair must aim at the manifest being applied, not at the one applied before it.
    if (burst && cfg.apply.verifyAfterReload) actions.push(scanAction(s, 'after a burst', !a.repair, now, { sha256: a.sha256, manifest: a.manifest }));
  }
  actions.push(then({ type: 'settle', applying: a, reload, durationMs: now - a.startedAt }));
  return { state: s, actions };
}

/** After the reload and check of a finished apply: it is the applied one; reported and saved. */
function settle(s: DaemonState, { applying: a, reload, durationMs }: Extract<Event, { type: 'settle' }>, now: number): Decision {
  const writes = a.plans.reduce((n, p) => n + p.writes.length, 0);
  const deletes = a.plans.reduce((n, p) => n + p.deletes.length, 0);
  s.garbage = writes + deletes >= LARGE_APPLY_OPERATIONS ? 'large' : 'some';
  s.manifest = a.manifest;
  s.applied = { site: s.config.site, generation: a.manifest.generation, sha256: a.sha256, appliedAt: iso(now) };
  s.refused = undefined;
  s.lastError = null;
  const last = a.plans[a.plans.length - 1]!;
  s.lastApply = { writes, deletes, durationMs, foreign: last.foreign.length };
  const actions: Action[] = [{ kind: 'save-state', state: s.applied }];
  if (last.foreign.length > 0) {
    actions.push(log('warn', { foreign: last.foreign.slice(0, 20).map((f) => `${f.name} (${f.reason})`), count: last.foreign.length }, 'foreign entries in the hosts directory (left alone)'));
  }
  const { allow, deny, removed } = a.plans[0]!.counts;
  actions.push(log('info', { generation: a.manifest.generation, writes, deletes, durationMs, first: a.first, reload, allow, deny, removed }, 'applied'));
  if (a.then) actions.push(then(a.then));
  return { state: s, actions };
}

/** Would `n` more operations now push the reload window past the limit? */
function isBurst(s: DaemonState, n: number, now: number): boolean {
  const windowMs = s.config.apply.reloadWindowSeconds * 1000;
  return s.recentOps.filter((o) => now - o.at < windowMs).reduce((sum, o) => sum + o.n, n) > s.config.apply.reloadAboveOperations;
}

/** Records `n` operations; returns the operations within the reload window, these included. */
function recordOps(s: DaemonState, n: number, now: number): number {
  const windowMs = s.config.apply.reloadWindowSeconds * 1000;
  s.recentOps = [...s.recentOps.filter((o) => now - o.at < windowMs), { at: now, n }];
  return s.recentOps.reduce((sum, o) => sum + o.n, 0);
}

/**
 * Removed-MAC compaction: delete the records of MACs Ironic no longer knows once they are many and a large share
 * of the MAC records (a SIGHUP re-reads every file). The plan counts them on every path (core/hostsdir.ts).
 */
function shouldCompactRemoved(s: DaemonState, plan: Plan): boolean {
  const cfg = s.config.compaction;
  const { allow, deny, removed } = plan.counts;
  return cfg.enabled && removed > 0 && removed >= cfg.minRemoved && removed >= cfg.minShare * (allow + deny + removed);
}

/**
 * Sharded layout: a reload is cheap (few files to re-read; docs/scale-mode.md), and it frees the dead copies every
 * shard rewrite leaves behind (memory, and per-event CPU: dnsmasq walks all records on each inotify event).
 * `onSchedule`: the time rule only (a poll that changed nothing); otherwise the count rule as well.
 */
function shouldCompactSharded(s: DaemonState, onSchedule: boolean, now: number): 'rewritten shard records' | 'schedule' | undefined {
  const cfg = s.config.compaction;
  if (s.config.layout.kind !== 'sharded' || !cfg.enabled || s.rewrittenSinceReload === 0) return undefined;
  if (!onSchedule && cfg.reloadAfterRecords > 0 && s.rewrittenSinceReload >= cfg.reloadAfterRecords) return 'rewritten shard records';
  if (cfg.reloadIntervalSeconds > 0 && now - s.lastReloadAt >= cfg.reloadIntervalSeconds * 1000) return 'schedule';
  return undefined;
}

/** Hidden files other than ours are never read by dnsmasq and never written by us: not drift. */
function isHarmless(name: string, content: string | null | undefined): boolean {
  return content !== undefined && classifyEntry(name, content ?? null).kind === 'temp';
}


/** Records in the shard files a plan rewrote: each leaves its previous copy in dnsmasq's memory until a reload. */
function rewrittenRecords(plans: readonly Plan[]): number {
  let n = 0;
  for (const p of plans) for (const w of p.writes) if (w.reason === 'shard') n += countLines(w.content);
  return n;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
