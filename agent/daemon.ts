/**
 * The agent's lifecycle (docs/design.md §6): lock → (stop dnsmasq, purge) → first fetch with backoff while dnsmasq stays
 * stopped → full sync → start dnsmasq → poll with jitter, applying only when the pointer moves → ack.
 * Fail closed: nothing is written before a manifest is verified; dnsmasq starts only after a full sync and is
 * stopped when the agent stops or dies (the systemd drop-in is the second line of defence).
 *
 * This is the shell: every decision is agent/daemon-rules.ts's (a pure function of the state, an event and the
 * time); here its actions are performed — the store, the hosts directory, dnsmasq, the files, the timers.
 */
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { writeFileAtomicSync } from '../store/files.ts';
import { ackKey } from '../store/keys.ts';
import type { Store } from '../store/store.ts';
import type { AgentConfig } from './config.ts';
import { decide, nextDelay } from './daemon-rules.ts';
import { type Action, type DaemonState, type DaemonStats, type Event, initialState, reportOf } from './daemon-state.ts';
import { applyPlanToDirectory, purgeDirectory, readDirectory } from './hostsdir-io.ts';
import { currentOwner } from './lock.ts';
import { type Logger, errorText } from './log.ts';
import { collectGarbage } from './heap.ts';
import { trustStoreOf } from '../core/signature.ts';
import { MetricsFile } from './metrics.ts';
import { ManifestSource } from './manifest-source.ts';
import { type AgentReport, encodeReport, writeStatusFile } from './report.ts';
import type { ServiceControl } from './service.ts';
import { readAgentState, writeAgentState } from './state-file.ts';

export interface DaemonDeps {
  config: AgentConfig;
  store: Store;
  service: ServiceControl;
  log: Logger;
  signal: AbortSignal;
  /** Milliseconds since the epoch (default Date.now); the rules never read a clock themselves. */
  now?: () => number;
}

/** Not retryable: the agent cannot keep the directory (write errors, service start failure). */
export class FatalError extends Error {
  override readonly name = 'FatalError';
}

export class AgentDaemon {
  private state: DaemonState;
  private readonly source: ManifestSource;
  private readonly now: () => number;
  private readonly owner;
  private metrics: MetricsFile | undefined;
  private gcTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly deps: DaemonDeps) {
    this.now = deps.now ?? Date.now;
    this.state = initialState(deps.config, this.now());
    this.source = new ManifestSource(deps.store, deps.config.site, trustStoreOf(deps.config.trust.publicKeys));
    this.owner = currentOwner('agent run', new Date(this.now()));
  }

  private get config() {
    return this.deps.config;
  }
  private get log() {
    return this.deps.log;
  }

  /** Counters for operators and tests: directory scans, file operations, SIGHUPs, polls, refused manifests. */
  get stats(): Readonly<DaemonStats> {
    return this.state.stats;
  }

  get serviceRunning(): boolean {
    return this.state.serviceRunning;
  }

  /** Runs until the signal aborts (resolves) or a fatal error (rejects). Stops dnsmasq on the way out. */
  async run(): Promise<void> {
    try {
      await this.init();
      await this.loop();
    } catch (err) {
      if (this.deps.signal.aborted) return;
      // Recorded before the exit, so `agent status` says why the agent is gone (written by shutDown below).
      this.dispatch({ type: 'fatal', message: errorText(err) });
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
    this.dispatch({ type: 'check-requested' });
    this.wake?.();
  }

  /**
   * The last resort of an uncaught error: the ready file goes and dnsmasq is stopped (as on every way out), and the
   * reason is recorded in the status file. Synchronous where it can be: the process exits right after.
   */
  async emergencyStop(reason: string): Promise<void> {
    rmSync(this.config.readyFile, { force: true });
    this.dispatch({ type: 'fatal', message: reason });
    if (this.config.stopServiceOnExit) {
      await this.deps.service.stop().catch((err: unknown) => this.log.error({ error: errorText(err) }, 'cannot stop dnsmasq'));
      this.dispatch({ type: 'service-stopped' });
    }
    await this.writeStatus(this.buildReport()).catch(() => undefined);
  }

  /** Start-up, first verified manifest, full sync, then dnsmasq. */
  async init(): Promise<void> {
    await rm(this.config.readyFile, { force: true });
    const applied = await readAgentState(this.config.stateFile).catch((err: unknown) => {
      throw new FatalError(`state file ${this.config.stateFile} is unreadable (${errorText(err)}); move it away to start from scratch`);
    });
    if (applied && applied.site !== this.config.site) {
      throw new FatalError(`state file ${this.config.stateFile} belongs to site "${applied.site}", not "${this.config.site}"`);
    }
    if (this.config.stopServiceAtStart) {
      // dnsmasq must not serve while the directory is purged or rebuilt.
      await this.deps.service.stop().catch((err: unknown) => this.log.warn({ error: errorText(err) }, 'stopping dnsmasq at start-up failed'));
    }
    if (this.config.purge) {
      const r = await purgeDirectory(this.config.hostsdir);
      this.log.info({ removed: r.removed, skipped: r.skipped }, 'purged the hosts directory');
    }
    await this.drive({ type: 'started', applied });
  }

  private async loop(): Promise<void> {
    while (!this.deps.signal.aborted) {
      const { minMs, maxMs } = nextDelay(this.state);
      if (maxMs > 0) await this.sleep(minMs + Math.random() * (maxMs - minMs));
      if (this.deps.signal.aborted) return;
      await this.drive({ type: 'tick' });
    }
  }

  /** One poll: a pointer read; a fetch, verify and apply only when the pointer moved. */
  async poll(): Promise<void> {
    await this.drive({ type: 'poll' });
  }

  buildReport(): AgentReport {
    return reportOf(this.state, this.now());
  }

  async shutDown(): Promise<void> {
    clearTimeout(this.gcTimer);
    await rm(this.config.readyFile, { force: true }).catch(() => undefined);
    if (this.config.stopServiceOnExit) {
      try {
        await this.deps.service.stop();
        if (this.config.service.mode !== 'none') this.log.info({ generation: this.state.applied?.generation ?? null }, 'dnsmasq stopped');
      } catch (err) {
        this.log.error({ error: errorText(err) }, 'cannot stop dnsmasq');
      }
      this.dispatch({ type: 'service-stopped' });
    }
    await this.writeStatus(this.buildReport()).catch(() => undefined);
  }

  /** The rules' answer to one event, kept; its actions are returned for the caller to perform. */
  private dispatch(event: Event): Action[] {
    const { state, actions } = decide(this.state, event, this.now());
    this.state = state;
    return actions;
  }

  /** Performs the event's actions in order; an action's own result event goes first, before the rest of them. */
  private async drive(event: Event): Promise<void> {
    const queue = this.dispatch(event);
    while (queue.length > 0) {
      this.deps.signal.throwIfAborted();
      const next = await this.perform(queue.shift()!);
      if (next) queue.unshift(...this.dispatch(next));
    }
  }

  private async perform(action: Action): Promise<Event | undefined> {
    const { config, service, signal } = this.deps;
    switch (action.kind) {
      case 'read-pointer':
        return { type: 'pointer', read: await this.source.readPointer() };
      case 'fetch':
        return { type: 'fetched', fetched: await this.source.fetch(action.pointer, this.state.applied, this.state.manifest?.policy) };
      case 'scan':
        return { type: 'scanned', why: action.why, mayRepair: action.mayRepair, ...(action.target ? { target: action.target } : {}), dir: await readDirectory(config.hostsdir) };
      case 'write': {
        const onProgress = (p: { done: number; total: number }) => {
          if (p.total >= 1000) this.log.info({ generation: action.generation, done: p.done, total: p.total }, 'applying');
        };
        const pacing = action.paced ? { batchSize: config.apply.batchSize, pauseMs: config.apply.batchPauseMs, signal } : undefined;
        try {
          const dir = this.state.dir; // what the plan was made from: which of its writes replace a file
          await applyPlanToDirectory(config.hostsdir, action.plan, onProgress, pacing, dir.kind === 'unknown' ? undefined : dir.dir);
        } catch (err) {
          if (signal.aborted) throw err;
          return { type: 'write-failed', error: errorText(err) };
        }
        return { type: 'written' };
      }
      case 'reload':
        try {
          await this.reloadService();
        } catch (err) {
          // dnsmasq may now hold records the directory no longer has, or may have missed some: not a state to serve in.
          throw new FatalError(`cannot reload dnsmasq (${service.description}): ${errorText(err)}`);
        }
        return { type: 'reloaded', reason: action.reason, operations: action.operations, generation: action.generation };
      case 'write-ready-file':
        writeFileAtomicSync(config.readyFile, `${process.pid}\n`, { mkdir: true });
        return undefined;
      case 'start-service':
        try {
          await service.start();
        } catch (err) {
          throw new FatalError(`cannot start dnsmasq (${service.description}): ${errorText(err)}`);
        }
        return { type: 'service-started', description: service.description };
      case 'save-state':
        await writeAgentState(config.stateFile, action.state);
        return undefined;
      case 'report':
        return this.report(action.ack);
      case 'collect-garbage':
        this.collectGarbage(action.size);
        return undefined;
      case 'sleep':
        await this.sleep(action.minMs + Math.random() * (action.maxMs - action.minMs), false);
        signal.throwIfAborted();
        return action.then;
      case 'log':
        this.log[action.level](action.fields, action.msg);
        return undefined;
      case 'fatal':
        throw new FatalError(action.message);
      case 'then':
        return action.event;
    }
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
   * Called when a poll or the start-up is done (acked), so the apply's plan and the previous manifest are garbage.
   * After a large apply (a first sync), a full GC right away. After any other, one soon after: each applied manifest
   * leaves the previous one behind, which V8 would keep until its heap limit. Coalesced, unref'd (never keeps the
   * process alive), a no-op without --expose-gc.
   */
  private collectGarbage(size: 'large' | 'some'): void {
    if (size === 'large') {
      clearTimeout(this.gcTimer);
      this.gcTimer = undefined;
      const heap = collectGarbage();
      if (heap) this.log.info({ generation: this.state.applied?.generation ?? null, ...heap }, 'collected the garbage of a large apply');
      return;
    }
    if (this.gcTimer) return;
    const delayMs = Math.min(1000, (this.config.pollIntervalSeconds * 1000) / 2);
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      const heap = collectGarbage();
      if (heap) this.log.debug(heap, 'collected the garbage of an apply');
    }, delayMs);
    this.gcTimer.unref();
  }

  private writeStatus(report: AgentReport): Promise<void> {
    return writeStatusFile(this.config.statusFile, { ...report, owner: this.owner });
  }

  /** The Prometheus textfile (agent/metrics.ts), beside every status file write; only when metricsFile is set. */
  private writeMetrics(report: AgentReport): void {
    if (!this.config.metricsFile) return;
    this.metrics ??= new MetricsFile(this.config.metricsFile);
    const err = this.metrics.write(report);
    if (err) this.log.warn({ error: errorText(err), metricsFile: this.config.metricsFile }, 'cannot write the metrics file');
  }

  /** Status file always; the ack in the store when asked (errors there are logged, never fatal). */
  private async report(ack: boolean): Promise<Event | undefined> {
    const report = this.buildReport();
    await this.writeStatus(report).catch((err: unknown) => this.log.warn({ error: errorText(err) }, 'cannot write the status file'));
    this.writeMetrics(report);
    if (!ack) return undefined;
    try {
      await this.deps.store.putObject(ackKey(this.config.site, this.config.host), encodeReport(report), { contentType: 'application/json' });
      return { type: 'acked' };
    } catch (err) {
      this.log.warn({ error: errorText(err) }, 'cannot write the ack');
      return undefined;
    }
  }

  /** Sleep until `ms` passed, the signal aborts, or (when `wakeable`) requestCheck() wakes it. */
  private sleep(ms: number, wakeable = true): Promise<void> {
    const signal = this.deps.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      if (wakeable) this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
