/**
 * The daemon's rules (agent/daemon-rules.ts) driven without processes, files or timers: a fake clock, an in-memory
 * hosts directory and store, and a small interpreter that answers each action the way agent/daemon.ts does.
 * The spawned-process tests (daemon.test.ts, sharded-daemon.test.ts, signals.test.ts …) are the integration layer.
 */
import { describe, expect, it } from 'vitest';
import { type DirectoryState, applyPlan } from '../../core/hostsdir.ts';
import { type Mac, macFileName } from '../../core/mac.ts';
import { type Manifest, type Pointer, buildManifest } from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { type AgentConfig, resolveConfig } from '../../agent/config.ts';
import { decide, nextDelay, startDelay } from '../../agent/daemon-rules.ts';
import { type Action, type DaemonState, type Event, initialState, reportOf } from '../../agent/daemon-state.ts';
import type { Fetched, PointerRead } from '../../agent/manifest-source.ts';

const SITE = 'dc1';
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const mac = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}` as Mac;
const macs = (from: number, n: number) => Array.from({ length: n }, (_, i) => mac(from + i));

function config(extra: Record<string, unknown> = {}): AgentConfig {
  return resolveConfig({ site: SITE, host: 'pxe-a', store: 'local:/nonexistent', hostsdir: '/nonexistent/hostsdir', service: { mode: 'systemctl', unit: 'dnsmasq.service' }, ...extra }, {}, {});
}

function manifestOf(generation: number, policy: Partial<Policy>): Manifest {
  return buildManifest({ site: SITE, generation, createdAt: new Date(T0), inputs: [], policy: { unknownHosts: 'deny', removed: 'deny', allow: [], deny: [], ...policy } });
}
const pointerOf = (m: Manifest): Pointer => ({ site: SITE, generation: m.generation, key: `manifests/${SITE}/manifest.json`, versionId: `v${m.generation}`, sha256: `${m.generation}`.padStart(64, '0') });

/** The world the shell would touch, in memory; every action performed is recorded. */
class World {
  now = T0;
  dir: DirectoryState = new Map();
  published: Manifest | undefined;
  /** What the store answers instead of the published manifest. */
  pointerAnswer: PointerRead | undefined;
  fetchAnswer: ((p: Pointer) => Fetched) | undefined;
  failWrites = false;
  onScan: ((why: string) => void) | undefined;
  actions: Action[] = [];
  state: DaemonState;

  constructor(readonly cfg: AgentConfig) {
    this.state = initialState(cfg, this.now);
  }

  /** Feed one event; perform actions until the queue is empty, a sleep is asked for, or a fatal error. */
  send(event: Event): Action[] {
    const done: Action[] = [];
    const queue = this.decide(event);
    while (queue.length > 0) {
      const action = queue.shift()!;
      done.push(action);
      if (action.kind === 'sleep' || action.kind === 'fatal') break;
      const next = this.perform(action);
      if (next) queue.unshift(...this.decide(next));
    }
    this.actions.push(...done);
    return done;
  }

  private decide(event: Event): Action[] {
    const r = decide(this.state, event, this.now);
    this.state = r.state;
    return r.actions;
  }

  private perform(a: Action): Event | undefined {
    switch (a.kind) {
      case 'read-pointer':
        return { type: 'pointer', read: this.pointerAnswer ?? (this.published ? { kind: 'pointer', pointer: pointerOf(this.published) } : { kind: 'unpublished' }) };
      case 'fetch':
        return { type: 'fetched', fetched: this.fetchAnswer?.(a.pointer) ?? { kind: 'verified', pointer: a.pointer, manifest: this.published! } };
      case 'scan':
        this.onScan?.(a.why);
        return { type: 'scanned', why: a.why, mayRepair: a.mayRepair, ...(a.target ? { target: a.target } : {}), dir: new Map(this.dir) };
      case 'write':
        if (this.failWrites) return { type: 'write-failed', error: 'EIO' };
        this.dir = applyPlan(this.dir, a.plan);
        return { type: 'written' };
      case 'reload':
        return { type: 'reloaded', reason: a.reason, operations: a.operations, generation: a.generation };
      case 'start-service':
        return { type: 'service-started', description: 'systemctl (dnsmasq.service)' };
      case 'report':
        return a.ack ? { type: 'acked' } : undefined;
      case 'then':
        return a.event;
      default:
        return undefined;
    }
  }

  /** Start-up through the first full sync and the start of dnsmasq. */
  start(m: Manifest): void {
    this.published = m;
    this.send({ type: 'started', applied: undefined });
    expect(this.state.serviceRunning).toBe(true);
    this.actions = [];
  }

  publish(m: Manifest): void {
    this.published = m;
  }

  tick(ms = 0): Action[] {
    this.now += ms;
    return this.send({ type: 'tick' });
  }
}

const kinds = (actions: Action[]) => actions.map((a) => a.kind);
const reloads = (actions: Action[]) => actions.filter((a): a is Extract<Action, { kind: 'reload' }> => a.kind === 'reload').map((a) => a.reason);
const logs = (actions: Action[], msg: string) => actions.filter((a): a is Extract<Action, { kind: 'log' }> => a.kind === 'log' && a.msg === msg);
const writes = (actions: Action[]) => actions.filter((a): a is Extract<Action, { kind: 'write' }> => a.kind === 'write');

describe('daemon rules: start-up', () => {
  it('writes nothing before a verified manifest; retries with a doubling, capped backoff while dnsmasq stays stopped', () => {
    const w = new World(config({ retryMinSeconds: 1, retryMaxSeconds: 5 }));
    w.pointerAnswer = { kind: 'unreachable', error: 'connect ECONNREFUSED' };
    const first = w.send({ type: 'started', applied: undefined });
    expect(kinds(first)).toEqual(['read-pointer', 'log', 'report', 'sleep']);
    expect(first.at(-1)).toMatchObject({ kind: 'sleep', minMs: 1000, maxMs: 2000, then: { type: 'retry' } });
    const delays = [2, 3, 4].map(() => w.send({ type: 'retry' }).at(-1));
    expect(delays).toEqual([
      expect.objectContaining({ minMs: 2000, maxMs: 4000 }),
      expect.objectContaining({ minMs: 4000, maxMs: 5000 }),
      expect.objectContaining({ minMs: 5000, maxMs: 5000 }),
    ]);
    expect(w.actions.some((a) => a.kind === 'write' || a.kind === 'start-service' || a.kind === 'write-ready-file')).toBe(false);
    expect(logs(w.actions, 'no verified manifest yet; dnsmasq stays stopped').map((l) => l.fields.attempt)).toEqual([1, 2, 3, 4]);
    expect(startDelay(w.cfg, 10)).toEqual({ minMs: 5000, maxMs: 5000 });
  });

  it('a refused first manifest is reported and retried, never applied; the next good one is', () => {
    const w = new World(config());
    const bad = manifestOf(1, { allow: macs(0, 2) });
    w.published = bad;
    w.fetchAnswer = (pointer) => ({ kind: 'refused', pointer, reason: 'manifest.sha256: does not match the pointer' });
    const first = w.send({ type: 'started', applied: undefined });
    expect(logs(first, 'manifest refused; the hosts directory is left as it is')).toHaveLength(1);
    expect(first.at(-1)!.kind).toBe('sleep');
    expect(w.state.lastError?.message).toMatch(/^manifest refused: /);
    expect(w.state.stats.refusals).toBe(1);
    w.fetchAnswer = undefined;
    w.published = manifestOf(2, { allow: macs(0, 2) });
    const next = w.send({ type: 'retry' });
    expect(kinds(next)).toEqual(expect.arrayContaining(['write', 'save-state', 'write-ready-file', 'start-service']));
    // Order of the start: the full sync is written, then the ready file, then dnsmasq.
    expect(kinds(next).indexOf('write')).toBeLessThan(kinds(next).indexOf('write-ready-file'));
    expect(kinds(next).indexOf('write-ready-file')).toBeLessThan(kinds(next).indexOf('start-service'));
    expect(w.state.lastError).toBeNull();
    expect(w.dir.get(macFileName(mac(0)))).toBe(`${mac(0)}\n`);
  });

  it('a first sync that drops records while dnsmasq may run (no stop at start) reloads right after the start', () => {
    const w = new World(config({ stopServiceAtStart: false, purge: false, layout: { kind: 'sharded', shards: 4 } }));
    w.dir.set(macFileName(mac(1)), `${mac(1)}\n`); // a per-MAC file: migrated to a shard, so its record is dropped
    w.published = manifestOf(1, { allow: macs(0, 3) });
    const actions = w.send({ type: 'started', applied: undefined });
    expect(reloads(actions)).toEqual(['first sync dropped records while dnsmasq may have been running']);
    expect(kinds(actions).indexOf('start-service')).toBeLessThan(kinds(actions).indexOf('reload'));
  });
});

describe('daemon rules: polls', () => {
  it('a poll that finds the same pointer reads nothing else; a moved one fetches and applies only the change', () => {
    const w = new World(config());
    w.start(manifestOf(1, { allow: macs(0, 10) }));
    expect(kinds(w.tick(15_000))).toEqual(['read-pointer', 'log', 'then', 'then', 'report']);
    w.publish(manifestOf(2, { allow: macs(1, 9), deny: [mac(0)] }));
    const actions = w.tick(15_000);
    expect(writes(actions).map((a) => a.plan.writes.map((x) => x.name))).toEqual([[macFileName(mac(0))]]);
    expect(writes(actions)[0]!.paced).toBe(true); // dnsmasq runs and this is no burst
    expect(actions).toContainEqual({ kind: 'save-state', state: expect.objectContaining({ generation: 2 }) });
    expect(w.state.dir.kind).toBe('exact');
    expect(w.state.stats).toMatchObject({ scans: 1, applies: 2, polls: 2 });
  });

  it('a refused manifest is logged and acked once, not fetched again until the pointer moves', () => {
    const w = new World(config());
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    w.publish(manifestOf(2, { allow: macs(0, 3) }));
    w.fetchAnswer = (pointer) => ({ kind: 'refused', pointer, reason: 'pointer.signature: no trusted key signed it' });
    const first = w.tick(15_000);
    expect(logs(first, 'manifest refused; the hosts directory is left as it is')).toHaveLength(1);
    expect(first).toContainEqual({ kind: 'report', ack: true });
    const again = w.tick(15_000);
    expect(kinds(again)).toEqual(['read-pointer', 'then', 'report']);
    expect(w.state.stats.refusals).toBe(1);
    expect(w.state.lastError?.message).toBe('manifest refused: pointer.signature: no trusted key signed it');
    expect(w.state.failures).toBe(0);
    // Back on the applied generation: the refusal is over.
    w.publish(manifestOf(1, { allow: macs(0, 2) }));
    w.tick(15_000);
    expect(w.state.lastError).toBeNull();
    expect(w.state.refused).toBeUndefined();
  });

  it('a bad pointer is reported once, with no backoff', () => {
    const w = new World(config({ pollIntervalSeconds: 15, pollJitter: 0.2 }));
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    w.pointerAnswer = { kind: 'refused', reason: 'not JSON', error: undefined as never };
    const first = w.tick(15_000);
    expect(logs(first, 'pointer refused; the hosts directory is left as it is')).toHaveLength(1);
    const second = w.tick(15_000);
    expect(logs(second, 'pointer refused; the hosts directory is left as it is')).toHaveLength(0);
    expect(w.state.failures).toBe(0);
    expect(nextDelay(w.state)).toEqual({ minMs: 12_000, maxMs: 18_000 });
  });

  it('an unreachable store backs the loop off (doubling to the cap) and keeps the policy; a good poll resets it', () => {
    const w = new World(config({ retryMinSeconds: 2, retryMaxSeconds: 10, pollIntervalSeconds: 15, pollJitter: 0.2 }));
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    expect(nextDelay(w.state)).toEqual({ minMs: 12_000, maxMs: 18_000 });
    w.pointerAnswer = { kind: 'unreachable', error: 'timeout' };
    const ranges = [1, 2, 3, 4].map(() => {
      w.tick(15_000);
      return nextDelay(w.state);
    });
    expect(ranges).toEqual([
      { minMs: 1000, maxMs: 2000 },
      { minMs: 2000, maxMs: 4000 },
      { minMs: 4000, maxMs: 8000 },
      { minMs: 5000, maxMs: 10_000 },
    ]);
    expect(w.state.lastError?.message).toBe('store unreachable: timeout');
    expect(w.actions.some((a) => a.kind === 'write')).toBe(false);
    w.pointerAnswer = undefined;
    w.tick(15_000);
    expect(w.state.failures).toBe(0);
    expect(nextDelay(w.state)).toEqual({ minMs: 12_000, maxMs: 18_000 });
  });

  it('staleness: logged once when contact is lost for longer than allowed, and the recovery once', () => {
    const w = new World(config({ staleAfterSeconds: 60 }));
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    w.pointerAnswer = { kind: 'unreachable', error: 'timeout' };
    expect(logs(w.tick(30_000), 'policy is stale: no contact with the store')).toHaveLength(0);
    expect(logs(w.tick(31_000), 'policy is stale: no contact with the store')).toHaveLength(1);
    expect(reportOf(w.state, w.now).stale).toBe(true);
    expect(logs(w.tick(30_000), 'policy is stale: no contact with the store')).toHaveLength(0);
    w.pointerAnswer = undefined;
    expect(logs(w.tick(1000), 'store reachable again')).toHaveLength(1);
    expect(reportOf(w.state, w.now).stale).toBe(false);
  });

  it('the ack is re-sent as a heartbeat on unchanged polls', () => {
    const w = new World(config({ ackHeartbeatSeconds: 300 }));
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    expect(w.tick(100_000)).not.toContainEqual({ kind: 'report', ack: true });
    expect(w.tick(200_000)).toContainEqual({ kind: 'report', ack: true });
    expect(w.tick(1000)).not.toContainEqual({ kind: 'report', ack: true });
  });

  it('a write that fails is fatal and leaves the directory unknown', () => {
    const w = new World(config());
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    w.publish(manifestOf(2, { allow: macs(0, 3) }));
    w.failWrites = true;
    const actions = w.tick(15_000);
    expect(actions.at(-1)).toEqual({ kind: 'fatal', message: 'cannot write the hosts directory /nonexistent/hostsdir: EIO' });
    expect(w.state.dir.kind).toBe('unknown');
    expect(w.state.applied?.generation).toBe(1);
  });
});

describe('daemon rules: the burst window', () => {
  const cfg = () => config({ apply: { reloadAboveOperations: 10, reloadWindowSeconds: 60, batchSize: 5, batchPauseMs: 10 } });

  it('over the limit within the window: written unpaced, SIGHUP, then the directory is checked', () => {
    const w = new World(cfg());
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    w.publish(manifestOf(2, { allow: macs(0, 20) }));
    const actions = w.tick(15_000);
    expect(writes(actions).map((a) => a.paced)).toEqual([false]);
    expect(reloads(actions)).toEqual(['burst']);
    expect(actions).toContainEqual(expect.objectContaining({ kind: 'scan', why: 'after a burst' }));
    expect(logs(actions, 'applied')[0]!.fields).toMatchObject({ generation: 2, reload: true, writes: 18 });
    expect(w.state.recentOps).toEqual([]); // a reload empties the window
  });

  it('small applies add up within the window, and fall out of it', () => {
    const w = new World(cfg());
    w.start(manifestOf(1, { allow: [] }));
    w.publish(manifestOf(2, { allow: macs(0, 6) }));
    expect(reloads(w.tick(1000))).toEqual([]);
    w.publish(manifestOf(3, { allow: macs(0, 12) }));
    const second = w.tick(1000); // 6 + 6 > 10 within 60 s
    expect(writes(second).map((a) => a.paced)).toEqual([false]);
    expect(reloads(second)).toEqual(['burst']);
    w.publish(manifestOf(4, { allow: macs(0, 18) }));
    expect(reloads(w.tick(1000))).toEqual([]);
    w.publish(manifestOf(5, { allow: macs(0, 24) }));
    expect(reloads(w.tick(61_000))).toEqual([]); // the previous 6 left the window
  });

  it('the first sync never counts (dnsmasq is not running yet)', () => {
    const w = new World(cfg());
    w.start(manifestOf(1, { allow: macs(0, 100) }));
    expect(w.state.recentOps).toEqual([]);
    expect(w.state.stats.reloads).toBe(0);
  });
});

describe('daemon rules: drift repair', () => {
  it('the drift schedule scans on an unchanged poll and repairs towards the applied manifest', () => {
    const w = new World(config({ driftCheckSeconds: 3600 }));
    w.start(manifestOf(1, { allow: macs(0, 3) }));
    expect(kinds(w.tick(60_000))).not.toContain('scan');
    w.dir.delete(macFileName(mac(1)));
    w.dir.set(macFileName(mac(2)), `${mac(2)},ignore\n`);
    w.dir.set('.pxe-filter-x.tmp', 'x'); // an interrupted write's temp file: hidden from dnsmasq, not drift
    const actions = w.tick(3600_000);
    expect(logs(actions, 'directory drifted (on the drift schedule); repairing')[0]!.fields).toMatchObject({ count: 2 });
    expect(writes(actions)[0]!.plan.writes.map((x) => x.name).sort()).toEqual([macFileName(mac(1)), macFileName(mac(2))].sort());
    expect(w.dir.get(macFileName(mac(2)))).toBe(`${mac(2)}\n`);
    expect(w.state.dir.kind).toBe('exact');
    expect(kinds(w.tick(60_000))).not.toContain('scan'); // the check moved the schedule
  });

  it('a SIGHUP checks the directory before the next poll, at once', () => {
    const w = new World(config());
    w.start(manifestOf(1, { allow: macs(0, 3) }));
    w.send({ type: 'check-requested' });
    expect(nextDelay(w.state)).toEqual({ minMs: 0, maxMs: 0 });
    w.dir.delete(macFileName(mac(0)));
    const actions = w.tick(10);
    expect(kinds(actions).slice(0, 2)).toEqual(['scan', 'log']);
    expect(logs(actions, 'directory drifted (on SIGHUP); repairing')).toHaveLength(1);
    expect(w.dir.get(macFileName(mac(0)))).toBe(`${mac(0)}\n`);
    expect(w.state.checkRequested).toBe(false);
  });

  it('after a burst the check repairs towards the manifest being applied; a repair does not start another', () => {
    const w = new World(config({ apply: { reloadAboveOperations: 2 } }));
    w.start(manifestOf(1, { allow: macs(0, 2) }));
    w.publish(manifestOf(2, { allow: macs(0, 8) }));
    // Someone deletes a file between the write and the check: the repair writes it back (generation 2's content).
    w.onScan = (why) => {
      if (why === 'after a burst') w.dir.delete(macFileName(mac(7)));
    };
    const actions = w.tick(15_000);
    expect(reloads(actions)).toEqual(['burst']);
    expect(logs(actions, 'directory drifted (after a burst); repairing')).toHaveLength(1);
    expect(w.dir.get(macFileName(mac(7)))).toBe(`${mac(7)}\n`);
    expect(logs(actions, 'applied').map((l) => l.fields.generation)).toEqual([2, 2]);
    expect(w.state.applied?.generation).toBe(2);
  });
});

describe('daemon rules: compaction', () => {
  it('per-MAC: removed-MAC files are rewritten until they are many and a large share, then deleted with a SIGHUP', () => {
    const w = new World(config({ compaction: { minRemoved: 5, minShare: 0.3 } }));
    const all = macs(0, 20);
    w.start(manifestOf(1, { allow: all }));
    w.publish(manifestOf(2, { allow: all.slice(4) })); // 4 removed: below minRemoved
    const few = w.tick(15_000);
    expect(writes(few)).toHaveLength(1);
    expect(reloads(few)).toEqual([]);
    expect(w.dir.get(macFileName(all[0]!))).toBe(`${all[0]},ignore\n`);
    w.publish(manifestOf(3, { allow: all.slice(8) })); // 8 removed of 20 files: 40% ≥ 30%
    const many = w.tick(15_000);
    expect(writes(many)).toHaveLength(2);
    expect(logs(many, 'compacting removed MACs')[0]!.fields).toMatchObject({ deletes: 8 });
    expect(reloads(many)).toEqual(['records dropped']);
    expect(w.dir.has(macFileName(all[0]!))).toBe(false);
    expect(reportOf(w.state, w.now).counts).toMatchObject({ allow: 12, removed: 0, files: 12 });
  });

  it('per-MAC: below the share nothing is compacted, and disabled means never', () => {
    const share = new World(config({ compaction: { minRemoved: 2, minShare: 0.5 } }));
    share.start(manifestOf(1, { allow: macs(0, 20) }));
    share.publish(manifestOf(2, { allow: macs(5, 15) }));
    expect(reloads(share.tick(15_000))).toEqual([]);
    const off = new World(config({ compaction: { minRemoved: 1, minShare: 0, enabled: false } }));
    off.start(manifestOf(1, { allow: macs(0, 20) }));
    off.publish(manifestOf(2, { allow: [] }));
    expect(writes(off.tick(15_000))).toHaveLength(1);
  });

  it('sharded: a SIGHUP once enough shard records were rewritten, or on the schedule after any rewrite', () => {
    const w = new World(config({ layout: { kind: 'sharded', shards: 4 }, compaction: { reloadAfterRecords: 30, reloadIntervalSeconds: 900 } }));
    const all = macs(0, 40);
    w.start(manifestOf(1, { allow: all }));
    expect(w.state.rewrittenSinceReload).toBe(0); // the first sync is not a rewrite dnsmasq saw
    w.publish(manifestOf(2, { allow: all.slice(1), deny: [all[0]!] }));
    expect(reloads(w.tick(15_000))).toEqual([]);
    const rewritten = w.state.rewrittenSinceReload;
    expect(rewritten).toBeGreaterThan(0);
    expect(rewritten).toBeLessThan(30);
    w.publish(manifestOf(3, { allow: [], deny: all })); // every shard rewritten: 40 more records
    expect(reloads(w.tick(15_000))).toEqual(['compaction: rewritten shard records']);
    expect(w.state.rewrittenSinceReload).toBe(0);
    w.publish(manifestOf(4, { allow: [all[0]!], deny: all.slice(1) }));
    w.tick(15_000);
    expect(reloads(w.tick(60_000))).toEqual([]); // nothing due yet
    expect(reloads(w.tick(900_000))).toEqual(['compaction: schedule']);
    expect(reloads(w.tick(900_000))).toEqual([]); // nothing rewritten since
  });
});

describe('daemon rules: the report', () => {
  it('counts what the directory holds and what the policy names, with the time given', () => {
    const w = new World(config());
    w.start(manifestOf(1, { allow: macs(0, 3), deny: macs(10, 2) }));
    w.publish(manifestOf(2, { allow: macs(0, 2), deny: macs(10, 2) }));
    w.tick(15_000);
    const r = reportOf(w.state, w.now);
    expect(r).toMatchObject({ generation: 2, counts: { allow: 2, deny: 2, removed: 1, files: 5, writes: 1, deletes: 0 }, serviceRunning: true, stale: false, lastError: null });
    expect(r.reportedAt).toBe(new Date(w.now).toISOString());
    expect(r.appliedAt).toBe(new Date(w.now).toISOString());
  });
});
