/**
 * The agent's lifecycle (docs/design.md §6): lock → (stop dnsmasq, purge) → first fetch with backoff while dnsmasq stays
 * stopped → full sync → start dnsmasq → poll with jitter, applying only when the pointer moves → ack.
 * Fail closed: nothing is written before a manifest is verified; dnsmasq starts only after a full sync and is
 * stopped when the agent stops or dies (the systemd drop-in is the second line of defence).
 */
import { rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import pRetry from 'p-retry';
import { InputError } from '../core/errors.ts';
import { type DirectoryState, type Plan, type RecordCounts, classifyEntry, countRecords } from '../core/hostsdir.ts';
import type { Manifest, Pointer } from '../core/manifest.ts';
import type { Policy } from '../core/policy.ts';
import { countRemovedMacs } from '../core/hostsdir.ts';
import { ackKey } from '../store/layout.ts';
import type { Store } from '../store/store.ts';
import type { AgentConfig } from './config.ts';
import { purgeDirectory, readDirectory } from './hostsdir-io.ts';
import { currentOwner } from './lock.ts';
import { type Logger, errorText } from './log.ts';
import { LARGE_APPLY_OPERATIONS, collectGarbage } from './heap.ts';
import { trustStoreOf } from '../core/signature.ts';
import { MetricsFile } from './metrics.ts';
import { ManifestSource, pointerId, pointerMoved } from './manifest-source.ts';
import { type AgentReport, ACK_SCHEMA, encodeReport, writeStatusFile } from './report.ts';
import { VERSION } from '../core/version.ts';
import type { ServiceControl } from './service.ts';
import { type AgentState, readAgentState, writeAgentState } from './state-file.ts';
import { syncDirectory } from './sync.ts';

export interface DaemonDeps {
  config: AgentConfig;
  store: Store;
  service: ServiceControl;
  log: Logger;
  signal: AbortSignal;
}

/** A manifest the agent will not apply (bad bytes, schema, site, replay): reported, current directory kept. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}

/** Not retryable: the agent cannot keep the directory (write errors, service start failure). */
export class FatalError extends Error {
  override readonly name = 'FatalError';
}

export class AgentDaemon {
  /** The directory as this agent left it: a no-change poll compares pointers only and never scans. */
  private dir: DirectoryState | undefined;
  /** countRecords(dir) for the reports: counted once per scanned state, then kept up to date by each apply. */
  private dirCounts: RecordCounts | undefined;
  private manifest: Manifest | undefined;
  /** The policy `dir` is the exact result of (set by an apply, cleared by a scan): enables the incremental diff. */
  private dirPolicy: Policy | undefined;
  private applied: AgentState | undefined;
  private refused: string | undefined;
  private lastContactAt: Date | undefined;
  private lastError: AgentReport['lastError'] = null;
  private lastApply = { writes: 0, deletes: 0, durationMs: null as number | null, foreign: 0 };
  private recentOps: { at: number; n: number }[] = [];
  private lastDriftCheck = Date.now();
  private lastAckAt = 0;
  private staleReported = false;
  private repairing = false;
  /** Sharded compaction: records rewritten (dead copies left in dnsmasq's memory) since the last reload. */
  private rewrittenSinceReload = 0;
  private lastReloadAt = Date.now();
  /** A reload the first apply asked for while dnsmasq may already run (no stop at start): done right after start. */
  private reloadAfterStart = false;
  private readonly startedAt = Date.now();
  serviceRunning = false;
  /** Counters for operators and tests: directory scans, file operations, SIGHUPs, polls, refused manifests. */
  readonly stats = { scans: 0, writes: 0, deletes: 0, reloads: 0, polls: 0, applies: 0, refusals: 0 };

  private readonly source: ManifestSource;

  constructor(private readonly deps: DaemonDeps) {
    this.source = new ManifestSource(deps.store, deps.config.site, trustStoreOf(deps.config.trust.publicKeys));
  }

  private get config() {
    return this.deps.config;
  }
  private get log() {
    return this.deps.log;
  }

  /** Runs until the signal aborts (resolves) or a fatal error (rejects). Stops dnsmasq on the way out. */
  async run(): Promise<void> {
    try {
      await this.init();
      await this.loop();
    } catch (err) {
      if (this.deps.signal.aborted) return;
      // Recorded before the exit, so `agent status` says why the agent is gone (written by shutDown below).
      this.setError(`fatal: ${errorText(err)}`, this.applied?.generation ?? null);
      throw err;
    } finally {
      await this.shutDown();
    }
  }

  /**
   * A SIGHUP: the configuration is read at start only, so the agent re-reads what it can — the directory, checked
   * against what it wrote (and repaired) — at once, and keeps running.
   */
  requestCheck(): void {
    this.checkRequested = true;
    this.wake?.();
  }
  private checkRequested = false;
  private wake: (() => void) | undefined;

  /**
   * The last resort of an uncaught error: the ready file goes and dnsmasq is stopped (as on every way out), and the
   * reason is recorded in the status file. Synchronous where it can be: the process exits right after.
   */
  async emergencyStop(reason: string): Promise<void> {
    rmSync(this.config.readyFile, { force: true });
    this.setError(`fatal: ${reason}`, this.applied?.generation ?? null);
    if (this.config.stopServiceOnExit) {
      await this.deps.service.stop().catch((err: unknown) => this.log.error({ error: errorText(err) }, 'cannot stop dnsmasq'));
      this.serviceRunning = false;
    }
    await this.writeStatus(this.buildReport()).catch(() => undefined);
  }

  /** Steps 1-3 of the lifecycle: start-up, first verified manifest, full sync, then dnsmasq. */
  async init(): Promise<void> {
    const { service } = this.deps;
    await this.startUp();
    const first = await this.firstFetch();
    await this.apply(first.pointer.sha256, first.manifest, true);
    await mkdir(dirname(this.config.readyFile), { recursive: true });
    await writeFile(this.config.readyFile, `${process.pid}\n`);
    try {
      await service.start();
    } catch (err) {
      throw new FatalError(`cannot start dnsmasq (${service.description}): ${errorText(err)}`);
    }
    this.serviceRunning = true;
    if (this.config.service.mode === 'none') this.log.info({ generation: this.applied?.generation, service: 'none' }, 'first full sync done (dnsmasq is not managed by the agent: service none)');
    else this.log.info({ generation: this.applied?.generation, service: service.description }, 'dnsmasq started after the first full sync');
    if (this.reloadAfterStart) {
      // dnsmasq was not stopped at start-up, so it may have been running all along and still hold records the
      // first sync dropped (e.g. a layout migration): a start of a running service does not re-read anything.
      await this.reload('first sync dropped records while dnsmasq may have been running', 0);
      this.reloadAfterStart = false;
    }
    await this.report(true);
    this.collectGarbageOfApplies();
  }

  private async startUp(): Promise<void> {
    const { service } = this.deps;
    await rm(this.config.readyFile, { force: true });
    this.applied = await readAgentState(this.config.stateFile).catch((err: unknown) => {
      throw new FatalError(`state file ${this.config.stateFile} is unreadable (${errorText(err)}); move it away to start from scratch`);
    });
    if (this.applied && this.applied.site !== this.config.site) {
      throw new FatalError(`state file ${this.config.stateFile} belongs to site "${this.applied.site}", not "${this.config.site}"`);
    }
    if (this.config.stopServiceAtStart) {
      // dnsmasq must not serve while the directory is purged or rebuilt.
      await service.stop().catch((err: unknown) => this.log.warn({ error: errorText(err) }, 'stopping dnsmasq at start-up failed'));
    }
    if (this.config.purge) {
      const r = await purgeDirectory(this.config.hostsdir);
      this.log.info({ removed: r.removed, skipped: r.skipped }, 'purged the hosts directory');
    }
  }

  private async firstFetch(): Promise<{ pointer: Pointer; manifest: Manifest }> {
    return pRetry(
      async () => {
        this.deps.signal.throwIfAborted();
        const pointer = await this.readPointerOrThrow();
        const manifest = await this.verify(pointer);
        return { pointer, manifest };
      },
      {
        retries: Number.POSITIVE_INFINITY,
        factor: 2,
        minTimeout: this.config.retryMinSeconds * 1000,
        maxTimeout: this.config.retryMaxSeconds * 1000,
        randomize: true,
        signal: this.deps.signal,
        onFailedAttempt: async ({ error, attemptNumber }) => {
          if (this.deps.signal.aborted) return;
          this.log.warn({ error: error.message, attempt: attemptNumber }, 'no verified manifest yet; dnsmasq stays stopped');
          this.noteStaleness();
          await this.report(false).catch(() => undefined);
        },
      },
    );
  }


  /** The published pointer; an unreachable store throws (retried), a pointer that is not valid is an InputError. */
  private async readPointerOrThrow(): Promise<Pointer> {
    const read = await this.source.readPointer();
    if (read.kind === 'unreachable') throw new Error(read.error);
    this.lastContactAt = new Date();
    if (read.kind === 'refused') throw new InputError('pointer', this.config.site, read.reason);
    if (read.kind === 'unpublished') throw new Error(`no manifest published yet for site "${this.config.site}"`);
    return read.pointer;
  }

  /** Everything is checked before a byte is written; a refusal is remembered so it is not fetched again. */
  private async verify(pointer: Pointer): Promise<Manifest> {
    const fetched = await this.source.fetch(pointer, this.applied);
    if (fetched.kind === 'verified') return fetched.manifest;
    if (fetched.kind === 'unreachable') throw new Error(fetched.error); // retried, not refused
    this.refused = pointerId(pointer);
    this.stats.refusals++;
    this.setError(`manifest refused: ${fetched.reason}`, pointer.generation);
    this.log.error({ generation: pointer.generation, error: fetched.reason, refusals: this.stats.refusals }, 'manifest refused; the hosts directory is left as it is');
    throw new RefusedError(fetched.reason);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.deps.signal.aborted) {
      if (!this.checkRequested) await this.sleep(failures === 0 ? this.jittered() : this.backoff(failures));
      if (this.deps.signal.aborted) return;
      try {
        if (this.checkRequested) {
          this.checkRequested = false;
          if (this.applied && this.manifest) await this.verifyDirectory('on SIGHUP');
        }
        await this.poll();
        failures = 0;
      } catch (err) {
        if (err instanceof FatalError || this.deps.signal.aborted) throw err;
        if (err instanceof RefusedError || err instanceof InputError) {
          // A refused manifest, or a pointer that is not valid JSON/schema: the store answered, nothing to back off.
          // The same bad pointer is reported once, not on every poll (like a refused manifest).
          if (err instanceof InputError && this.lastError?.message !== `pointer refused: ${err.message}`) {
            this.setError(`pointer refused: ${err.message}`, null);
            this.log.error({ error: err.message, generation: this.applied?.generation }, 'pointer refused; the hosts directory is left as it is');
          }
          await this.report(true).catch(() => undefined);
        } else {
          failures++;
          this.setError(`store unreachable: ${errorText(err)}`, null);
          this.log.warn({ error: errorText(err), failures, generation: this.applied?.generation }, 'poll failed; keeping the last good policy');
        }
      }
      this.noteStaleness();
      const status = this.buildReport();
      await this.writeStatus(status).catch((err: unknown) => this.log.warn({ error: errorText(err) }, 'cannot write the status file'));
      this.writeMetrics(status);
    }
  }

  /** One poll: a pointer read; a fetch, verify and apply only when the pointer moved. */
  async poll(): Promise<void> {
    this.stats.polls++;
    const pointer = await this.readPointerOrThrow();
    const moved = pointerMoved(pointer, this.applied);
    if (!moved) {
      this.log.debug({ generation: pointer.generation, scans: this.stats.scans, writes: this.stats.writes, polls: this.stats.polls }, 'poll: no change');
      // Back on the applied manifest: an earlier refusal or outage is over.
      this.lastError = null;
      this.refused = undefined;
      await this.maybeCheckDrift();
      if (this.serviceRunning && this.shouldCompactSharded(true)) await this.reload('compaction: schedule', 0);
      if (Date.now() - this.lastAckAt >= this.config.ackHeartbeatSeconds * 1000) await this.report(true);
      this.collectGarbageOfApplies(); // a drift repair is an apply
      return;
    }
    if (this.refused === pointerId(pointer)) return; // already refused and reported; wait for the pointer to move
    const manifest = await this.verify(pointer);
    await this.apply(pointer.sha256, manifest, false);
    await this.report(true);
    this.collectGarbageOfApplies();
  }

  private async apply(sha256: string, manifest: Manifest, first: boolean): Promise<void> {
    const { signal } = this.deps;
    const started = performance.now();
    const running = this.serviceRunning;
    // Small applies are paced so dnsmasq keeps up; a burst that needs a SIGHUP anyway is written at full speed
    // (the SIGHUP re-reads everything, so pacing it would only stretch the time dnsmasq spends on events).
    const pacing = (plan: Plan) =>
      running && !this.isBurst(plan.writes.length + plan.deletes.length) ? { batchSize: this.config.apply.batchSize, pauseMs: this.config.apply.batchPauseMs, signal } : undefined;
    const onProgress = (p: { done: number; total: number }) => {
      if (p.total >= 1000) this.log.info({ generation: manifest.generation, done: p.done, total: p.total }, 'applying');
    };
    if (!this.dir) this.stats.scans++;
    let plans: Plan[];
    try {
      const previousPolicy = this.dir ? this.dirPolicy : undefined;
      const r = await syncDirectory(this.config.hostsdir, manifest, { purge: false, layout: this.config.layout, ...this.known(), ...(previousPolicy ? { previousPolicy } : {}), onProgress, pacing });
      this.setDir(r.state);
      plans = [r.plan];
      if (this.shouldCompact(r.plan, manifest.policy, previousPolicy !== undefined)) {
        // The removed files already hold the removed verdict (first pass), so dnsmasq is right until the SIGHUP.
        const c = await syncDirectory(this.config.hostsdir, manifest, { purge: false, layout: this.config.layout, ...this.known(), compactRemoved: true, onProgress, pacing });
        this.setDir(c.state);
        plans.push(c.plan);
        this.removedAtMost = 0;
        this.log.info({ generation: manifest.generation, deletes: c.plan.deletes.length }, 'compacting removed MACs');
      }
    } catch (err) {
      if (signal.aborted) throw err;
      this.setDir(undefined); // unknown now: the next apply scans
      throw new FatalError(`cannot write the hosts directory ${this.config.hostsdir}: ${errorText(err)}`);
    }
    const writes = plans.reduce((n, p) => n + p.writes.length, 0);
    const deletes = plans.reduce((n, p) => n + p.deletes.length, 0);
    this.stats.writes += writes;
    this.stats.deletes += deletes;
    this.stats.applies++;

    // Only writes dnsmasq sees count towards a burst (the first sync happens before it starts).
    const ops = running ? this.recordOps(writes + deletes) : 0;
    const burst = running && ops > this.config.apply.reloadAboveOperations;
    const dropped = plans.some((p) => p.reloadNeeded);
    if (running) this.rewrittenSinceReload += rewrittenRecords(plans);
    const compact = running && !burst && !dropped ? this.shouldCompactSharded(false) : undefined;
    const reload = running && (burst || dropped || compact !== undefined);
    if (first && dropped && !running && !this.config.stopServiceAtStart) this.reloadAfterStart = true;
    if (reload) {
      // A burst may have overflowed dnsmasq's inotify queue (lost events are silent); a SIGHUP re-reads everything.
      await this.reload(burst ? 'burst' : dropped ? 'records dropped' : `compaction: ${compact}`, ops, manifest.generation);
      // A repair must aim at the manifest being applied, not at the one this.manifest still names.
      if (burst && this.config.apply.verifyAfterReload) await this.verifyDirectory('after a burst', { sha256, manifest });
    }

    this.garbage = writes + deletes >= LARGE_APPLY_OPERATIONS ? 'large' : 'some';
    const durationMs = Math.round(performance.now() - started);
    this.manifest = manifest;
    this.dirPolicy = manifest.policy;
    this.applied = { site: this.config.site, generation: manifest.generation, sha256, appliedAt: new Date().toISOString() };
    await writeAgentState(this.config.stateFile, this.applied);
    this.refused = undefined;
    this.lastError = null;
    const last = plans[plans.length - 1]!;
    this.lastApply = { writes, deletes, durationMs, foreign: last.foreign.length };
    if (last.foreign.length > 0) {
      this.log.warn({ foreign: last.foreign.slice(0, 20).map((f) => `${f.name} (${f.reason})`), count: last.foreign.length }, 'foreign entries in the hosts directory (left alone)');
    }
    this.log.info(
      { generation: manifest.generation, writes, deletes, durationMs, first, reload, allow: plans[0]!.counts.allow, deny: plans[0]!.counts.deny, removed: plans[0]!.counts.removed },
      'applied',
    );
  }

  private gcTimer: NodeJS.Timeout | undefined;
  /** Garbage the applies of this poll (or of the start-up) left: collected once the poll is done (agent/heap.ts). */
  private garbage: 'large' | 'some' | undefined;

  /**
   * Called when a poll or the start-up is done (acked), so the apply's plan and the previous manifest are garbage.
   * After a large apply (a first sync: ~30 MB at 100k MACs), a full GC right away. After any other, one soon
   * after: each applied manifest leaves the previous one behind (~10 MB at 100k MACs), which V8 would keep until
   * its heap limit. Coalesced, unref'd (never keeps the process alive), a no-op without --expose-gc.
   */
  private collectGarbageOfApplies(): void {
    const garbage = this.garbage;
    this.garbage = undefined;
    if (garbage === 'large') {
      clearTimeout(this.gcTimer);
      this.gcTimer = undefined;
      const heap = collectGarbage();
      if (heap) this.log.info({ generation: this.applied?.generation ?? null, ...heap }, 'collected the garbage of a large apply');
    } else if (garbage === 'some') {
      this.collectSoon();
    }
  }

  private collectSoon(): void {
    if (this.gcTimer) return;
    const delayMs = Math.min(1000, (this.config.pollIntervalSeconds * 1000) / 2);
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      const heap = collectGarbage();
      if (heap) this.log.debug(heap, 'collected the garbage of an apply');
    }, delayMs);
    this.gcTimer.unref();
  }

  /** SIGHUP (see reloadService) with its bookkeeping; a failure is fatal. */
  private async reload(reason: string, operations: number, generation = this.applied?.generation): Promise<void> {
    try {
      await this.reloadService();
    } catch (err) {
      // dnsmasq may now hold records the directory no longer has, or may have missed some: not a state to serve in.
      throw new FatalError(`cannot reload dnsmasq (${this.deps.service.description}): ${errorText(err)}`);
    }
    this.stats.reloads++;
    this.recentOps = [];
    this.log.info({ generation: generation ?? null, operations, reason, rewrittenRecords: this.rewrittenSinceReload }, 'reloaded dnsmasq');
    this.rewrittenSinceReload = 0;
    this.lastReloadAt = Date.now();
  }

  /**
   * Sharded layout: a reload is cheap (few files to re-read; docs/scale-mode.md), and it frees the dead copies every shard
   * rewrite leaves behind (memory, and per-event CPU: dnsmasq walks all records on each inotify event).
   * `onSchedule`: the time rule only (a poll that changed nothing); otherwise the count rule as well.
   */
  private shouldCompactSharded(onSchedule: boolean): 'rewritten shard records' | 'schedule' | undefined {
    const cfg = this.config.compaction;
    if (this.config.layout.kind !== 'sharded' || !cfg.enabled || this.rewrittenSinceReload === 0) return undefined;
    if (!onSchedule && cfg.reloadAfterRecords > 0 && this.rewrittenSinceReload >= cfg.reloadAfterRecords) return 'rewritten shard records';
    if (cfg.reloadIntervalSeconds > 0 && Date.now() - this.lastReloadAt >= cfg.reloadIntervalSeconds * 1000) return 'schedule';
    return undefined;
  }

  /**
   * SIGHUP through the service. The reference has only start/stop commands: in command mode without a reload
   * command, a restart is the only way to make dnsmasq drop records and re-read the directory.
   */
  private async reloadService(): Promise<void> {
    const { service } = this.deps;
    const cfg = this.config.service;
    if (cfg.mode === 'command' && cfg.reload.trim() === '') {
      await service.stop();
      await service.start();
    } else {
      await service.reload();
    }
  }

  /**
   * An upper bound of the removed-MAC pile: exact after a full diff or a count, then raised by each incremental
   * apply's newly removed MACs. While it is below the threshold the pile cannot be, so nothing is counted.
   */
  private removedAtMost: number | undefined;

  private shouldCompact(plan: Plan, policy: Policy, incremental: boolean): boolean {
    const cfg = this.config.compaction;
    if (!this.dir) return false;
    if (!incremental) this.removedAtMost = plan.counts.removed; // a full diff counts every removed MAC
    else if (this.removedAtMost !== undefined) this.removedAtMost += plan.counts.removed;
    // The pile only grows when MACs leave Ironic, and only a possible crossing of the threshold is worth a count.
    if (!cfg.enabled || plan.counts.removed === 0) return false;
    if (this.removedAtMost !== undefined && this.removedAtMost < cfg.minRemoved) return false;
    const removed = incremental ? countRemovedMacs(policy, this.dir) : plan.counts.removed;
    this.removedAtMost = removed;
    const macFiles = policy.allow.length + policy.deny.length + removed;
    return removed >= cfg.minRemoved && removed >= cfg.minShare * macFiles;
  }

  /** Would `n` more operations now push the reload window past the limit? */
  private isBurst(n: number): boolean {
    const now = Date.now();
    const windowMs = this.config.apply.reloadWindowSeconds * 1000;
    return this.recentOps.filter((o) => now - o.at < windowMs).reduce((s, o) => s + o.n, n) > this.config.apply.reloadAboveOperations;
  }

  /** File operations within the reload window, this one included. */
  private recordOps(n: number): number {
    const now = Date.now();
    const windowMs = this.config.apply.reloadWindowSeconds * 1000;
    this.recentOps = this.recentOps.filter((o) => now - o.at < windowMs);
    this.recentOps.push({ at: now, n });
    return this.recentOps.reduce((s, o) => s + o.n, 0);
  }

  /** Re-read the directory; if it is not what this agent wrote, repair it from the scan. */
  private async verifyDirectory(why: string, applying?: { sha256: string; manifest: Manifest }): Promise<void> {
    this.stats.scans++;
    this.lastDriftCheck = Date.now();
    const actual = await readDirectory(this.config.hostsdir);
    const expected = this.dir ?? new Map();
    const differs = [...new Set([...actual.keys(), ...expected.keys()])].filter((n) => actual.get(n) !== expected.get(n) && !isHarmless(n, actual.get(n)));
    if (differs.length === 0) {
      this.log.debug({ files: actual.size }, `directory verified ${why}`);
      return;
    }
    this.log.warn({ count: differs.length, sample: differs.slice(0, 10) }, `directory drifted (${why}); repairing`);
    this.setDir(actual);
    this.dirPolicy = undefined; // a scan, not the result of an apply: the next diff must be a full one
    const target = applying ?? (this.manifest && this.applied ? { sha256: this.applied.sha256, manifest: this.manifest } : undefined);
    if (target && !this.repairing) {
      this.repairing = true;
      try {
        await this.apply(target.sha256, target.manifest, false);
      } finally {
        this.repairing = false;
      }
    }
  }

  private async maybeCheckDrift(): Promise<void> {
    if (this.config.driftCheckSeconds <= 0) return;
    if (Date.now() - this.lastDriftCheck < this.config.driftCheckSeconds * 1000) return;
    await this.verifyDirectory('on the drift schedule');
  }

  private noteStaleness(): void {
    const stale = this.isStale();
    if (stale && !this.staleReported) {
      this.log.error({ generation: this.applied?.generation ?? null, lastContactAt: this.lastContactAt?.toISOString() ?? null, staleAfterSeconds: this.config.staleAfterSeconds }, 'policy is stale: no contact with the store');
    } else if (!stale && this.staleReported) {
      this.log.info({ generation: this.applied?.generation ?? null }, 'store reachable again');
    }
    this.staleReported = stale;
  }

  private isStale(): boolean {
    const since = this.lastContactAt?.getTime() ?? this.startedAt;
    return Date.now() - since > this.config.staleAfterSeconds * 1000;
  }

  private setError(message: string, generation: number | null): void {
    this.lastError = { message, at: new Date().toISOString(), generation };
  }

  /** The known directory and its counts, for an apply that updates both in place. */
  private known(): { knownState?: DirectoryState; knownCounts?: RecordCounts } {
    if (!this.dir) return {};
    return this.dirCounts ? { knownState: this.dir, knownCounts: this.dirCounts } : { knownState: this.dir };
  }

  /** A different map (a scan, a first sync) is counted afresh when a report needs it; the same map kept its counts. */
  private setDir(state: DirectoryState | undefined): void {
    if (state !== this.dir) this.dirCounts = undefined;
    this.dir = state;
  }

  buildReport(): AgentReport {
    if (this.dir && !this.dirCounts) this.dirCounts = countRecords(this.dir);
    const counts = policyCounts(this.dirCounts, this.manifest);
    return {
      schema: ACK_SCHEMA,
      site: this.config.site,
      host: this.config.host,
      version: VERSION,
      generation: this.applied?.generation ?? null,
      sha256: this.applied?.sha256 || null,
      appliedAt: this.applied?.appliedAt ?? null,
      lastContactAt: this.lastContactAt?.toISOString() ?? null,
      reportedAt: new Date().toISOString(),
      counts: { ...counts, foreign: this.lastApply.foreign, writes: this.lastApply.writes, deletes: this.lastApply.deletes },
      durationMs: this.lastApply.durationMs,
      reloads: this.stats.reloads,
      serviceRunning: this.serviceRunning,
      stale: this.isStale(),
      lastError: this.lastError,
      layout: this.config.layout.kind === 'sharded' ? `sharded/${this.config.layout.shards}` : 'per-mac',
    };
  }

  private readonly owner = currentOwner('agent run', new Date());
  private writeStatus(report: AgentReport): Promise<void> {
    return writeStatusFile(this.config.statusFile, { ...report, owner: this.owner });
  }

  private metrics: MetricsFile | undefined;

  /** The Prometheus textfile (agent/metrics.ts), beside every status file write; only when metricsFile is set. */
  private writeMetrics(report: AgentReport): void {
    if (!this.config.metricsFile) return;
    this.metrics ??= new MetricsFile(this.config.metricsFile);
    const err = this.metrics.write(report);
    if (err) this.log.warn({ error: errorText(err), metricsFile: this.config.metricsFile }, 'cannot write the metrics file');
  }

  /** Status file always; the ack in the store when asked (errors there are logged, never fatal). */
  private async report(ack: boolean): Promise<void> {
    const report = this.buildReport();
    await this.writeStatus(report).catch((err: unknown) => this.log.warn({ error: errorText(err) }, 'cannot write the status file'));
    this.writeMetrics(report);
    if (!ack) return;
    try {
      await this.deps.store.putObject(ackKey(this.config.site, this.config.host), encodeReport(report), { contentType: 'application/json' });
      this.lastAckAt = Date.now();
    } catch (err) {
      this.log.warn({ error: errorText(err) }, 'cannot write the ack');
    }
  }

  async shutDown(): Promise<void> {
    clearTimeout(this.gcTimer);
    await rm(this.config.readyFile, { force: true }).catch(() => undefined);
    if (this.config.stopServiceOnExit) {
      try {
        await this.deps.service.stop();
        if (this.config.service.mode !== 'none') this.log.info({ generation: this.applied?.generation ?? null }, 'dnsmasq stopped');
      } catch (err) {
        this.log.error({ error: errorText(err) }, 'cannot stop dnsmasq');
      }
      this.serviceRunning = false;
    }
    await this.writeStatus(this.buildReport()).catch(() => undefined);
  }

  private jittered(): number {
    const base = this.config.pollIntervalSeconds * 1000;
    return base * (1 + this.config.pollJitter * (Math.random() * 2 - 1));
  }

  private backoff(failures: number): number {
    const ms = Math.min(this.config.retryMaxSeconds * 1000, this.config.retryMinSeconds * 1000 * 2 ** (failures - 1));
    return ms * (0.5 + Math.random() / 2);
  }

  /** Sleep until `ms` passed, the signal aborts, or requestCheck() wakes it. */
  private sleep(ms: number): Promise<void> {
    const signal = this.deps.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Hidden files other than ours are never read by dnsmasq and never written by us: not drift. */
function isHarmless(name: string, content: string | null | undefined): boolean {
  return content !== undefined && classifyEntry(name, content ?? null).kind === 'temp';
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
