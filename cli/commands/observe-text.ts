/** Plain-text renderings of the observe commands' results (the JSON forms are the result objects themselves). */
import type { MacExplanation } from '../../core/explain.ts';
import type { AgentExplainResult } from './agent-explain.ts';
import type { DiffResult } from '../../control/diff.ts';
import type { ExplainResult } from '../../control/explain.ts';
import type { FleetStatus } from '../../control/fleet.ts';
import type { GenerationSummary } from '../../control/history.ts';

const lines = (l: (string | undefined | false)[]) => `${l.filter((x): x is string => typeof x === 'string').join('\n')}\n`;

function macLines(e: MacExplanation): string[] {
  const input = e.input === e.mac ? '' : ` (given as ${e.input})`;
  return [
    `${e.mac}${input}: ${e.verdict.toUpperCase()} — ${e.rule}`,
    `  ${e.reason}`,
    ...e.ports.map(
      (p) =>
        `  port ${p.port ?? '-'}  node ${p.node ?? '-'}${p.nodeName ? ` (${p.nodeName})` : ''}  provision state ${p.provisionState ?? '-'}` +
        `${p.introspection ? `  introspection ${p.introspection.finished ? 'finished' : 'running'}${p.introspection.state ? ` "${p.introspection.state}"` : ''}${p.introspection.error ? ` error "${p.introspection.error}"` : ''}` : ''}  ${p.rule}`,
    ),
  ];
}

function agentsLine(r: ExplainResult): string {
  const a = r.agents;
  if (a.error) return `agents: ${a.error}`;
  if (a.applied.length + a.notApplied.length + a.unreadable.length === 0) return 'agents: no agent has acked this site (no acks in the store)';
  const hosts = (l: { host: string; generation: number | null }[]) => l.map((h) => `${h.host} (${h.generation ?? 'none'})`).join(', ') || 'none';
  return [
    `agents that applied generation ${r.generation} or later: ${hosts(a.applied)}`,
    `agents not yet on it: ${hosts(a.notApplied)}`,
    ...(a.unreadable.length ? [`unreadable acks: ${a.unreadable.map((u) => `${u.host} (${u.error})`).join(', ')}`] : []),
  ].join('\n');
}

export function explainText(r: ExplainResult): string {
  const first = r.macs[0];
  const exportLine = first?.export ? `export ${first.export.key}${first.export.createdAt ? `, taken ${first.export.createdAt}` : ''}` : 'export unknown';
  return lines([
    `site ${r.site}, generation ${r.generation}${r.generation === r.currentGeneration ? ' (current)' : ` (current is ${r.currentGeneration})`}, published ${r.publishedAt}; ${exportLine}`,
    first && !first.provenance && `no provenance stored for generation ${r.generation} (published before provenance was kept, or a rollback): rules only, no ports or nodes`,
    ...r.macs.flatMap(macLines),
    agentsLine(r),
  ]);
}

export function agentExplainText(r: AgentExplainResult): string {
  return lines([
    `host ${r.host}: applied generation ${r.appliedGeneration}; hosts directory ${r.hostsdir}`,
    ...r.directory.map(
      (d) =>
        `${d.mac}: directory ${d.record.file ? `${d.record.file} holds "${d.record.record}"` : `no record (wildcard ${d.record.wildcard ?? 'missing'})`} (${d.record.layout}) → ` +
        `${d.record.effective ?? 'nothing'}; the applied manifest says ${d.record.expected}: ${d.record.matches ? 'matches' : 'DOES NOT MATCH'}`,
    ),
    '',
    explainText(r.explain).trimEnd(),
  ]);
}

export function fleetText(f: FleetStatus): string {
  const header = `site ${f.site}: generation ${f.generation} published ${f.publishedAt}; grace ${f.graceSeconds} s; ${f.rows.length} agent host(s)`;
  if (f.rows.length === 0) return lines([header, 'no agent has acked this site (no acks in the store)']);
  const rows = f.rows.map((r) => [
    r.host,
    r.generation === null ? '-' : String(r.generation),
    r.lag === null ? '-' : String(r.lag),
    r.appliedAt ?? '-',
    r.durationMs === null ? '-' : `${r.durationMs} ms`,
    r.version ?? '-',
    r.layout ?? '-',
    r.counts ? `${r.counts.allow}/${r.counts.deny}/${r.counts.removed}` : '-',
    r.serviceRunning === null ? '-' : r.serviceRunning ? 'running' : 'stopped',
    r.stale ? 'STALE' : 'fresh',
    r.problems.length ? r.problems.join('; ') : 'ok',
  ]);
  return lines([header, ...table(['HOST', 'GEN', 'LAG', 'APPLIED', 'APPLY', 'VERSION', 'LAYOUT', 'ALLOW/DENY/REMOVED', 'DNSMASQ', 'POLICY', 'PROBLEMS'], rows)]);
}

export function historyText(site: string, generations: GenerationSummary[]): string {
  const rows = generations.map((g) => [`${g.generation}${g.current ? '*' : ''}`, g.publishedAt, String(g.allow), String(g.deny), g.unknownHosts, g.inputs.map((i) => i.key).join(', ') || '-']);
  return lines([`site ${site}: ${generations.length} generation(s) stored (* = current)`, ...table(['GEN', 'PUBLISHED', 'ALLOW', 'DENY', 'UNKNOWN', 'FROM'], rows)]);
}

export function diffText(d: DiffResult): string {
  const wildcard =
    d.wildcard.from.verdict === d.wildcard.to.verdict
      ? `unknown hosts: ${d.wildcard.to.verdict} in both`
      : `unknown hosts: ${d.wildcard.from.verdict} → ${d.wildcard.to.verdict} (${d.wildcard.from.because} → ${d.wildcard.to.because})`;
  return lines([
    `site ${d.site}: generation ${d.from.generation} (${d.from.publishedAt}, ${d.from.exportKey ?? '-'}) → ${d.to.generation} (${d.to.publishedAt}, ${d.to.exportKey ?? '-'})`,
    wildcard,
    `${d.changes.length} MAC(s) changed, ${d.verdictChanges} of them in verdict`,
    ...d.changes.flatMap((c) => [
      `${c.mac}: ${c.from.verdict} → ${c.to.verdict} (${c.change})`,
      `  ${d.from.generation}: ${c.from.reason}`,
      `  ${d.to.generation}: ${c.to.reason}`,
    ]),
  ]);
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)];
}
