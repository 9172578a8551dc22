/**
 * The agent's metrics in the Prometheus text exposition format, for node_exporter's textfile collector (the
 * on-premises convention: node_exporter reads every `*.prom` file of its `--collector.textfile.directory`).
 * Everything is derived from the report the agent writes as its status file (agent/report.ts): a pure fold of
 * successive reports into counters (nextMetricsState), a pure renderer (renderMetrics), and a small shell that
 * writes the file atomically (a temp name not ending in `.prom`, then rename), so a scrape never sees half a file.
 */
import { writeFileAtomicSync } from '../store/files.ts';
import type { AgentReport } from './report.ts';

/** Why a manifest or pointer was refused, from the refusal the daemon reports (its field names the check). */
export const REFUSAL_REASONS = ['sha256', 'replay', 'site', 'signature', 'generation', 'pointer', 'invalid'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface MetricsState {
  /** File operations and errors since this agent started, folded from its reports. */
  writes: number;
  deletes: number;
  refusals: Record<RefusalReason, number>;
  pollErrors: number;
  /** What the last folded report had, so each apply and each error is counted once however often it is reported. */
  seenAppliedAt: string | null;
  seenErrorAt: string | null;
}

export function initialMetricsState(): MetricsState {
  return {
    writes: 0,
    deletes: 0,
    refusals: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
    pollErrors: 0,
    seenAppliedAt: null,
    seenErrorAt: null,
  };
}

export function refusalReason(message: string): RefusalReason | undefined {
  if (message.startsWith('pointer refused')) return 'pointer';
  if (!message.startsWith('manifest refused')) return undefined;
  if (/sha256/.test(message)) return 'sha256';
  if (/replay/.test(message)) return 'replay';
  if (/\.site\b/.test(message)) return 'site';
  if (/signature/i.test(message)) return 'signature';
  if (/generation/.test(message)) return 'generation';
  return 'invalid';
}

/**
 * Fold one report. The first report of a process counts its apply only when it holds one (`durationMs` set):
 * a state file from before a restart carries an appliedAt but no operations of this process.
 */
export function nextMetricsState(state: MetricsState, report: AgentReport): MetricsState {
  const next: MetricsState = { ...state, refusals: { ...state.refusals } };
  if (report.appliedAt !== null && report.appliedAt !== state.seenAppliedAt && report.durationMs !== null) {
    next.writes += report.counts.writes;
    next.deletes += report.counts.deletes;
  }
  next.seenAppliedAt = report.appliedAt;
  const error = report.lastError;
  if (error && error.at !== state.seenErrorAt) {
    const reason = refusalReason(error.message);
    if (reason) next.refusals[reason]++;
    else next.pollErrors++;
  }
  next.seenErrorAt = error?.at ?? state.seenErrorAt;
  return next;
}

interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: { labels?: Record<string, string>; value: number }[];
}

/** Label values escaped as the format requires (backslash, double quote, newline). */
const escapeLabel = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
const seconds = (iso: string | null) => (iso === null ? undefined : Date.parse(iso) / 1000);

export function renderMetrics(report: AgentReport, state: MetricsState, now: Date): string {
  const t = now.getTime() / 1000;
  const contact = seconds(report.lastContactAt);
  const applied = seconds(report.appliedAt);
  const g = (name: string, help: string, value: number | undefined, labels?: Record<string, string>): Family => ({
    name,
    help,
    type: 'gauge',
    samples: value === undefined ? [] : [{ value, ...(labels ? { labels } : {}) }],
  });
  const families: Family[] = [
    g('pxe_filter_agent_info', 'The agent: version, site, host and hosts-directory layout (value 1).', 1, {
      site: report.site,
      host: report.host,
      version: report.version ?? 'unknown',
      layout: report.layout ?? 'unknown',
    }),
    g('pxe_filter_applied_generation', 'Manifest generation applied to the hosts directory (absent until the first apply).', report.generation ?? undefined),
    g('pxe_filter_last_poll_success_timestamp_seconds', 'Unix time of the last successful read of the pointer.', contact),
    g('pxe_filter_seconds_since_last_poll_success', 'Seconds from the last successful read of the pointer to when this file was written.', contact === undefined ? undefined : Math.max(0, t - contact)),
    g('pxe_filter_last_apply_timestamp_seconds', 'Unix time the applied generation was applied.', applied),
    g('pxe_filter_seconds_since_last_apply', 'Seconds from the last apply to when this file was written.', applied === undefined ? undefined : Math.max(0, t - applied)),
    g('pxe_filter_last_apply_duration_seconds', 'Duration of the last apply.', report.durationMs === null ? undefined : report.durationMs / 1000),
    { name: 'pxe_filter_file_writes_total', help: 'Files written to the hosts directory by this agent process.', type: 'counter', samples: [{ value: state.writes }] },
    { name: 'pxe_filter_file_deletes_total', help: 'Files deleted from the hosts directory by this agent process.', type: 'counter', samples: [{ value: state.deletes }] },
    { name: 'pxe_filter_dnsmasq_reloads_total', help: 'dnsmasq reloads (SIGHUP) by this agent process.', type: 'counter', samples: [{ value: report.reloads }] },
    {
      name: 'pxe_filter_refusals_total',
      help: 'Manifests or pointers refused (the hosts directory was left as it was), by reason.',
      type: 'counter',
      samples: REFUSAL_REASONS.map((reason) => ({ labels: { reason }, value: state.refusals[reason] })),
    },
    { name: 'pxe_filter_poll_errors_total', help: 'Polls that failed for another reason (store unreachable).', type: 'counter', samples: [{ value: state.pollErrors }] },
    g('pxe_filter_stale', '1 when the policy is stale: no contact with the store for longer than staleAfterSeconds.', report.stale ? 1 : 0),
    g('pxe_filter_dnsmasq_running', '1 when the agent has dnsmasq running.', report.serviceRunning ? 1 : 0),
    g('pxe_filter_last_error', '1 when the last poll or apply ended in an error (see the status file for the message).', report.lastError ? 1 : 0),
    {
      name: 'pxe_filter_macs',
      help: 'MACs in force on this host by verdict (removed: records of MACs Ironic no longer has, not yet compacted).',
      type: 'gauge',
      samples: (['allow', 'deny', 'removed'] as const).map((verdict) => ({ labels: { verdict }, value: report.counts[verdict] })),
    },
    g('pxe_filter_hostsdir_files', 'Record files in the hosts directory.', report.counts.files),
  ];
  const out: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      out.push(`${f.name}${labels} ${Number.isInteger(s.value) ? s.value : s.value.toFixed(3)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The shell: folds each report and rewrites the file. A write error is returned (logged by the caller), never thrown. */
export class MetricsFile {
  private state = initialMetricsState();
  constructor(readonly path: string) {}

  write(report: AgentReport, now = new Date()): Error | undefined {
    this.state = nextMetricsState(this.state, report);
    try {
      writeFileAtomicSync(this.path, renderMetrics(report, this.state, now), { mkdir: true });
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }
}
