/**
 * The agent's Prometheus textfile: the fold of reports into counters and the renderer (pure), checked by a real
 * parser of the format (`promtool check metrics`, Debian's prometheus package, installed by .ci/run); then the
 * real daemon (the built bundle) writing it beside its status file, through an apply and a refused manifest.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type MetricsState, initialMetricsState, nextMetricsState, refusalReason, renderMetrics } from '../../agent/metrics.ts';
import { ACK_SCHEMA, type AgentReport } from '../../agent/report.ts';
import { type Rig, fastTmp, isApplied, killAll, macs, makeRig, manifestBytes, policyOf, publish, publishRaw, startAgent } from './support.ts';

/** promtool's verdict on a metrics text: exit status and what it printed. */
function promtool(text: string): { status: number | null; output: string } {
  if (spawnSync('promtool', ['--version']).error) throw new Error('promtool not found: apt-get install prometheus (as .ci/run does)');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** name{labels} → value, from the text format (enough for our own output; promtool checks the format itself). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const report = (o: Partial<AgentReport> = {}): AgentReport => ({
  schema: ACK_SCHEMA,
  site: 'dc1',
  host: 'pxe-1',
  generation: 3,
  sha256: null,
  appliedAt: '2026-11-25T20:00:00.000Z',
  lastContactAt: '2026-11-25T20:01:00.000Z',
  reportedAt: '2026-11-25T20:01:00.000Z',
  counts: { allow: 5, deny: 90, removed: 2, files: 98, foreign: 0, writes: 7, deletes: 1 },
  durationMs: 1500,
  reloads: 2,
  serviceRunning: true,
  stale: false,
  lastError: null,
  version: '0.1.0',
  layout: 'sharded/256',
  ...o,
});

describe('agent metrics: fold and render', () => {
  it('counts each apply and each error once however often it is reported, by refusal reason', () => {
    let s: MetricsState = initialMetricsState();
    s = nextMetricsState(s, report());
    s = nextMetricsState(s, report()); // the same apply reported again (the poll after the ack)
    s = nextMetricsState(s, report({ appliedAt: '2026-11-25T20:05:00.000Z', counts: { ...report().counts, writes: 3, deletes: 0 } }));
    const refused = { message: 'manifest refused: manifest.sha256: does not match the pointer (expected …): "ab"', at: '2026-11-25T20:06:00.000Z', generation: 4 };
    s = nextMetricsState(s, report({ appliedAt: '2026-11-25T20:05:00.000Z', lastError: refused }));
    s = nextMetricsState(s, report({ appliedAt: '2026-11-25T20:05:00.000Z', lastError: refused }));
    s = nextMetricsState(s, report({ appliedAt: '2026-11-25T20:05:00.000Z', lastError: { message: 'store unreachable: ECONNREFUSED', at: '2026-11-25T20:07:00.000Z', generation: null } }));
    expect([s.writes, s.deletes, s.refusals.sha256, s.pollErrors]).toEqual([10, 1, 1, 1]);
    // A restarted agent's first report carries the old apply time from its state file but no apply of its own.
    expect(nextMetricsState(initialMetricsState(), report({ durationMs: null })).writes).toBe(0);
  });

  it('classifies the refusals the daemon reports', () => {
    expect(refusalReason('manifest refused: manifest.generation: is older than the applied generation 4 (replay refused): 3')).toBe('replay');
    expect(refusalReason('manifest refused: manifest.site: is not this agent\'s site "dc1": "dc2"')).toBe('site');
    expect(refusalReason('manifest refused: manifest: not UTF-8 JSON (Unexpected token): "10485760 bytes"')).toBe('invalid');
    expect(refusalReason('pointer refused: /pxe-filter/dc1/current: pointer is not JSON: "{"')).toBe('pointer');
    expect(refusalReason('store unreachable: ETIMEDOUT')).toBeUndefined();
  });

  it('renders every metric the issue lists, and promtool accepts the text', () => {
    const s = nextMetricsState(initialMetricsState(), report({ stale: true, serviceRunning: false, site: 'dc"1' }));
    const text = renderMetrics(report({ stale: true, serviceRunning: false, site: 'dc"1' }), s, new Date('2026-11-25T20:02:30.000Z'));
    const check = promtool(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
    const m = samples(text);
    expect(m.get('pxe_filter_applied_generation')).toBe(3);
    expect(m.get('pxe_filter_seconds_since_last_poll_success')).toBe(90);
    expect(m.get('pxe_filter_seconds_since_last_apply')).toBe(150);
    expect(m.get('pxe_filter_last_apply_duration_seconds')).toBe(1.5);
    expect(m.get('pxe_filter_file_writes_total')).toBe(7);
    expect(m.get('pxe_filter_file_deletes_total')).toBe(1);
    expect(m.get('pxe_filter_dnsmasq_reloads_total')).toBe(2);
    expect(m.get('pxe_filter_refusals_total{reason="sha256"}')).toBe(0);
    expect(m.get('pxe_filter_stale')).toBe(1);
    expect(m.get('pxe_filter_dnsmasq_running')).toBe(0);
    expect(m.get('pxe_filter_macs{verdict="allow"}')).toBe(5);
    expect(m.get('pxe_filter_macs{verdict="deny"}')).toBe(90);
    expect(m.get('pxe_filter_macs{verdict="removed"}')).toBe(2);
    expect(m.get('pxe_filter_agent_info{site="dc\\"1",host="pxe-1",version="0.1.0",layout="sharded/256"}')).toBe(1);
    // promtool is a real check: it refuses a broken file and lints names.
    expect(promtool(`${text}# TYPE pxe_filter_macs gauge\npxe_filter_macs{verdict="allow"} 5\n`).status).not.toBe(0);
    expect(promtool(text.replace('{verdict="allow"}', '{verdict=allow}')).status).not.toBe(0);
    expect(promtool(text.replaceAll('pxe_filter_poll_errors_total', 'pxe_filter_poll_errors')).output).toMatch(/should have "_total" suffix/);
  });

  it('before the first apply: no generation or apply samples, the rest present', () => {
    const r = report({ generation: null, appliedAt: null, durationMs: null, lastContactAt: null });
    const text = renderMetrics(r, nextMetricsState(initialMetricsState(), r), new Date());
    expect(promtool(text).status).toBe(0);
    expect(text).not.toMatch(/^pxe_filter_applied_generation /m);
    expect(text).not.toMatch(/^pxe_filter_seconds_since_last_apply /m);
    expect(text).toMatch(/^pxe_filter_dnsmasq_running 1$/m);
  });
});

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

describe('agent run writes the metrics file', () => {
  it('after the first apply and after a refusal, atomically (no temp file left), accepted by promtool', async () => {
    rig = makeRig({}, fastTmp());
    const metricsFile = join(rig.root, 'textfile', 'pxe-filter.prom');
    const { rewriteConfig } = await import('./support.ts');
    rewriteConfig(rig, { metricsFile });
    const all = macs(100);
    await publish(rig.store, policyOf(all.slice(0, 10), all.slice(10)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    await waitUntil(() => existsSync(metricsFile) && samples(readFileSync(metricsFile, 'utf8')).get('pxe_filter_applied_generation') === 1);
    const first = readFileSync(metricsFile, 'utf8');
    expect(promtool(first).status).toBe(0);
    const m = samples(first);
    expect(m.get('pxe_filter_file_writes_total')).toBe(101);
    expect(m.get('pxe_filter_macs{verdict="allow"}')).toBe(10);
    expect(m.get('pxe_filter_macs{verdict="deny"}')).toBe(90);

    const bad = manifestBytes(policyOf(all, []), 2);
    await publishRaw(rig.store, bad.bytes, { generation: 2, sha256: 'c'.repeat(64) });
    await waitUntil(() => samples(readFileSync(metricsFile, 'utf8')).get('pxe_filter_refusals_total{reason="sha256"}') === 1);
    const after = readFileSync(metricsFile, 'utf8');
    expect(promtool(after).status).toBe(0);
    expect(samples(after).get('pxe_filter_last_error')).toBe(1);
    expect(samples(after).get('pxe_filter_applied_generation')).toBe(1);
    // Only the .prom file: node_exporter never sees a temp file with its suffix.
    expect(readdirSync(dirname(metricsFile)).filter((n) => n.endsWith('.prom'))).toEqual(['pxe-filter.prom']);
  });

  it('a metricsFile that node_exporter would not read is refused at start with the field named (exit 2)', async () => {
    rig = makeRig({ metricsFile: '/tmp/pxe-filter.txt' }, fastTmp());
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    const exit = await agent.exited;
    expect(exit.code).toBe(2);
    expect(agent.stderr).toMatch(/metricsFile: node_exporter reads only files ending in \.prom/);
  });
});

async function waitUntil(pred: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
