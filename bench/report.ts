/**
 * The bench's results as Markdown (tables, targets, the README block) and as plot panels. Pure functions of the
 * result document, except replaceBlock, which rewrites the generated block of a Markdown file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Panel } from './plot.ts';

export interface Sample {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
  writes?: number;
  /** An in-process case's process from spawn to exit (set-up included), measured by the bench. */
  processWallMs?: number;
}
export interface Stat {
  median: number;
  min: number;
  max: number;
}
export interface BenchResult {
  impl: 'pxe-filter' | 'reference';
  layout?: 'per-mac' | 'sharded';
  /** in-process: timed inside the case process; process: a whole process, spawn to exit. */
  scope: 'in-process' | 'process';
  case: string;
  n: number;
  wall?: Stat;
  cpu?: Stat;
  rss?: Stat;
  processWall?: Stat;
  writes?: number;
  steadyRss?: Stat;
  peakRss?: Stat;
  churnRss?: Stat;
}
export interface Machine {
  date: string;
  cpus: string;
  memGiB: number;
  node: string;
  dir: string;
  fsType: string;
  runs: number;
  sizes: number[];
  durationS: number;
  cpuPressure?: string;
}
export interface BenchDoc {
  machine: Machine;
  results: BenchResult[];
}

export function stats(samples: Sample[], key: keyof Sample): Stat {
  const v = samples.map((s) => Number(s[key] ?? NaN)).sort((a, b) => a - b);
  return { median: v[Math.floor(v.length / 2)]!, min: v[0]!, max: v.at(-1)! };
}

type Query = { impl?: BenchResult['impl']; layout?: BenchResult['layout']; case: string; n: number };
export function find(doc: BenchDoc, q: Query): BenchResult | undefined {
  return doc.results.find((r) => r.impl === (q.impl ?? 'pxe-filter') && r.case === q.case && r.n === q.n && (q.layout === undefined || r.layout === q.layout));
}

export const fmtMs = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '' : ms >= 100 ? Math.round(ms).toLocaleString('en-US') : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtRange = (s: Stat | undefined) => (s ? `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})` : '');
const fmtMb = (s: Stat | undefined) => (s && !Number.isNaN(s.median) ? s.median.toFixed(0) : '');
const fmtN = (n: number) => n.toLocaleString('en-US');
/** How many times faster `ours` is than `theirs` (theirs ÷ ours), as "12.3×". */
const times = (theirs: Stat | undefined, ours: Stat | undefined) => {
  const r = ratio(theirs, ours);
  return r === undefined ? '' : `${r >= 100 ? r.toFixed(0) : r.toFixed(r >= 10 ? 1 : 2)}×`;
};
export function ratio(a: Stat | undefined, b: Stat | undefined): number | undefined {
  return a && b && b.median > 0 ? a.median / b.median : undefined;
}

export function machineLine(m: Machine): string {
  return (
    `${m.date.slice(0, 16).replace('T', ' ')} UTC; ${m.cpus}, ${m.memGiB} GiB, node ${m.node}; hosts directory on ${m.dir} (${m.fsType}); ` +
    `medians of ${m.runs} runs (min–max); the whole bench took ${m.durationS} s. A shared VM` +
    `${m.cpuPressure ? ` (/proc/pressure/cpu at the end: ${m.cpuPressure.replace('some ', '')})` : ''}: compare within this run only.`
  );
}

const IN_PROCESS_CASES = ['floor-fill', 'first-fill', 'no-change-poll', 'no-change-rescan', 'churn', 'floor-restart', 'restart'];

export function resultsBlock(doc: BenchDoc): string {
  const { machine } = doc;
  const lines = [
    `Run: ${machineLine(machine)}`,
    '',
    '**In-process** (timed inside the case process: the agent daemon\'s code path; the reference\'s `init_filter()` / `sync()`):',
    '',
    '| case | N | ours per-MAC, wall ms | CPU ms | peak RSS MB | files written | ours sharded/256, wall ms | files written | reference, wall ms | files written | reference ÷ per-MAC | reference ÷ sharded |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const n of machine.sizes) {
    for (const kind of IN_PROCESS_CASES) {
      const r = find(doc, { case: kind, n, layout: 'per-mac' });
      if (!r) continue;
      const s = find(doc, { case: kind, n, layout: 'sharded' });
      const ref = find(doc, { impl: 'reference', case: kind, n });
      lines.push(
        `| ${kind} | ${fmtN(n)} | ${fmtRange(r.wall)} | ${fmtMs(r.cpu?.median)} | ${fmtMb(r.rss)} | ${r.writes ?? ''} | ${fmtRange(s?.wall)} | ${s?.writes ?? ''} | ${fmtRange(ref?.wall)} | ${ref?.writes ?? ''} | ${times(ref?.wall, r.wall)} | ${times(ref?.wall, s?.wall)} |`,
      );
    }
  }
  lines.push(
    '',
    '**Whole process** (spawn to exit, as a user pays it: node\'s start-up, module loading, reading and verifying, writes; CPU and peak RSS of the process from GNU time):',
    '',
    '| case | N | wall ms | CPU ms | peak RSS MB | compared with | ratio |',
    '|---|---:|---:|---:|---:|---|---:|',
  );
  for (const n of machine.sizes) {
    const floor = find(doc, { case: 'json-floor', n });
    const compute = find(doc, { case: 'compute', n });
    const refFill = find(doc, { impl: 'reference', case: 'first-fill', n });
    if (floor) lines.push(`| JSON floor: read + JSON.parse the exports in node | ${fmtN(n)} | ${fmtRange(floor.wall)} | ${fmtMs(floor.cpu?.median)} | ${fmtMb(floor.rss)} | | |`);
    if (compute) lines.push(`| \`compute\` (agent bundle) | ${fmtN(n)} | ${fmtRange(compute.wall)} | ${fmtMs(compute.cpu?.median)} | ${fmtMb(compute.rss)} | JSON floor | ${ratioText(compute.wall, floor?.wall)} of the floor |`);
    for (const [kind, what] of ONCE_KINDS) {
      for (const layout of ['per-mac', 'sharded'] as const) {
        const once = find(doc, { case: kind, n, layout });
        if (!once) continue;
        const cmp = refFill ? `reference init_filter() ${fmtMs(refFill.wall?.median)} ms in-process, ${fmtMs(refFill.processWall?.median)} ms whole process` : '';
        const r = refFill ? `${times(refFill.wall, once.wall)} (whole process: ${times(refFill.processWall, once.wall)})` : '';
        lines.push(`| \`agent once\` first fill, ${layout === 'sharded' ? 'sharded/256' : 'per-MAC'} (${what}) | ${fmtN(n)} | ${fmtRange(once.wall)} | ${fmtMs(once.cpu?.median)} | ${fmtMb(once.rss)} | ${cmp} | ${r} |`);
      }
    }
  }
  const steady = machine.sizes.map((n) => find(doc, { case: 'agent-steady-rss', n })).filter((s) => s?.steadyRss);
  if (steady.length) {
    lines.push('', '| agent steady state (`agent run`, after apply + 5 polls) | N | VmRSS MB median (min–max) | VmHWM MB | highest VmRSS while applying 10 changes, MB |', '|---|---:|---:|---:|---:|');
    for (const s of steady) {
      const range = (v: Stat) => `${v.median.toFixed(0)} (${v.min.toFixed(0)}–${v.max.toFixed(0)})`;
      lines.push(`| agent run | ${fmtN(s!.n)} | ${range(s!.steadyRss!)} | ${s!.peakRss!.median.toFixed(0)} | ${range(s!.churnRss!)} |`);
    }
  }
  return lines.join('\n');
}

function ratioText(a: Stat | undefined, b: Stat | undefined) {
  const r = ratio(a, b);
  return r === undefined ? '' : `${r.toFixed(2)}×`;
}

/** `agent once` as hosts run it: the agent bundle under node, and the Debian package's self-contained executable. */
const ONCE_KINDS = [
  ['agent-once', 'agent bundle: `node dist/pxe-filter-agent.mjs`'],
  ['agent-once-executable', 'executable: `/usr/bin/pxe-filter` of the .deb'],
] as const;

export interface Target {
  label: string;
  met: boolean | undefined;
  figure: string;
}

export function targets(doc: BenchDoc): Target[] {
  const n = Math.max(...doc.machine.sizes);
  const get = (q: Omit<Query, 'n'>) => find(doc, { ...q, n });
  const out: Target[] = [];
  const add = (label: string, value: number | undefined, ok: (v: number) => boolean, figure: (v: number) => string) =>
    out.push({ label, met: value === undefined ? undefined : ok(value), figure: value === undefined ? 'not measured (run with --reference)' : figure(value) });
  const compute = get({ case: 'compute' });
  const floor = get({ case: 'json-floor' });
  add('`compute` ≤ 1.5× the JSON floor (whole processes)', ratio(compute?.wall, floor?.wall), (v) => v <= 1.5, (v) => `${fmtMs(compute?.wall?.median)} / ${fmtMs(floor?.wall?.median)} ms = ${v.toFixed(2)}×`);
  add('`compute` ≤ 256 MB peak RSS', compute?.rss?.median, (v) => v <= 256, (v) => `${v.toFixed(0)} MB`);
  const refFill = get({ impl: 'reference', case: 'first-fill' });
  for (const [kind, what] of ONCE_KINDS) for (const [layout, min] of [['per-mac', 1], ['sharded', 10]] as const) {
    const once = get({ case: kind, layout });
    if (kind !== 'agent-once' && !once) continue;
    add(
      `\`agent once\` first fill, ${layout}, whole process (${what}) ≥ ${min}× the reference's in-process init_filter()`,
      ratio(refFill?.wall, once?.wall),
      (v) => v >= min,
      (v) => `${fmtMs(refFill?.wall?.median)} / ${fmtMs(once?.wall?.median)} ms = ${v.toFixed(2)}×`,
    );
  }
  const fill = get({ case: 'first-fill', layout: 'per-mac' });
  add('in-process first fill (per-MAC) ≤ 1.3× the floor', ratio(fill?.wall, get({ case: 'floor-fill' })?.wall), (v) => v <= 1.3, (v) => `${v.toFixed(2)}×`);
  add('in-process restart (per-MAC) ≤ 1.5× the floor', ratio(get({ case: 'restart', layout: 'per-mac' })?.wall, get({ case: 'floor-restart' })?.wall), (v) => v <= 1.5, (v) => `${v.toFixed(2)}×`);
  add(
    'no-change sync ≥ 100× faster than the reference',
    ratio(get({ impl: 'reference', case: 'no-change-poll' })?.wall, get({ case: 'no-change-poll', layout: 'per-mac' })?.wall),
    (v) => v >= 100,
    (v) => `${v.toFixed(0)}×`,
  );
  const churn = get({ case: 'churn', layout: 'per-mac' });
  add('50-flip sync ≥ 25× faster than the reference', ratio(get({ impl: 'reference', case: 'churn' })?.wall, churn?.wall), (v) => v >= 25, (v) => `${v.toFixed(1)}× (${churn?.writes} files written)`);
  const steady = get({ case: 'agent-steady-rss' });
  add('agent steady-state RSS ≤ 120 MB', steady?.steadyRss?.median, (v) => v <= 120, (v) => `${v.toFixed(0)} MB between polls; ≤ ${steady?.churnRss?.median.toFixed(0)} MB while applying changes`);
  return out;
}

export function targetLines(doc: BenchDoc): string[] {
  const n = Math.max(...doc.machine.sizes);
  return [`Targets at N = ${fmtN(n)} (this run):`, '', ...targets(doc).map((t) => `- ${t.met === undefined ? 'n/a' : t.met ? 'MET' : '**MISSED**'} — ${t.label}: ${t.figure}`)];
}

/** The README's performance table: the two largest sizes, ours per-MAC and sharded against the reference. */
export function readmeBlock(doc: BenchDoc): string {
  const sizes = doc.machine.sizes.slice(-2);
  const head = sizes.map((n) => `${fmtN(n)}: ours per-MAC | sharded | reference`).join(' | ');
  const lines = [
    `Measured ${machineLine(doc.machine)}`,
    '',
    `| case at N MACs (2 % inspecting) | ${head} |`,
    `|---|${sizes.map(() => '---:|---:|---:').join('|')}|`,
  ];
  const row = (label: string, kind: string, refCase = kind, scope: 'in-process' | 'process' = 'in-process') => {
    const cells = sizes.map((n) => {
      const pm = find(doc, { case: kind, n, layout: 'per-mac' });
      const sh = find(doc, { case: kind, n, layout: 'sharded' });
      const ref = find(doc, { impl: 'reference', case: refCase, n });
      const cell = (r: BenchResult | undefined) => (r?.wall ? `${fmtMs(r.wall.median)} ms${ref?.wall ? ` (${times(ref.wall, r.wall)})` : ''}` : '—');
      return `${cell(pm)} | ${cell(sh)} | ${ref?.wall ? `${fmtMs(ref.wall.median)} ms` : '—'}`;
    });
    lines.push(`| ${label}${scope === 'process' ? ' — whole process' : ''} | ${cells.join(' | ')} |`);
  };
  row('`agent once` first fill of an empty directory (agent bundle)', 'agent-once', 'first-fill', 'process');
  row('`agent once` first fill of an empty directory (/usr/bin/pxe-filter)', 'agent-once-executable', 'first-fill', 'process');
  row('daemon start-up on an empty directory (first fill)', 'first-fill');
  row('daemon start-up on a full directory (restart)', 'restart');
  row('no-change sync (daemon: one poll)', 'no-change-poll');
  row('50 flips + 25 removed + 25 added (one poll)', 'churn');
  const computeCells = sizes.map((n) => {
    const c = find(doc, { case: 'compute', n });
    const f = find(doc, { case: 'json-floor', n });
    return `${fmtMs(c?.wall?.median)} ms, ${fmtMb(c?.rss)} MB (${ratioText(c?.wall, f?.wall)} the JSON floor) | | —`;
  });
  lines.push(`| \`compute\` from N-port exports — whole process | ${computeCells.join(' | ')} |`);
  lines.push('', '(×) = how many times faster than the reference. ', ...targetLines(doc));
  return lines.join('\n');
}

export function plotPanels(doc: BenchDoc): Panel[] {
  const sizes = doc.machine.sizes;
  const series = (label: string, color: string, q: Omit<Query, 'n'>, pick: (r: BenchResult) => Stat | undefined = (r) => r.wall, dash?: string) => ({
    label,
    color,
    ...(dash ? { dash } : {}),
    points: sizes.flatMap((n): [number, number][] => {
      const r = find(doc, { ...q, n });
      const s = r && pick(r);
      return s ? [[n, s.median]] : [];
    }),
  });
  const ours = (kind: string) => [series('ours, per-MAC', '#1f77b4', { case: kind, layout: 'per-mac' }), series('ours, sharded/256', '#2ca02c', { case: kind, layout: 'sharded' })];
  const ref = (kind: string) => series('reference (ironic-inspector), in-process', '#d62728', { impl: 'reference', case: kind });
  return [
    {
      title: 'agent once: first fill',
      subtitle: 'whole process; reference: init_filter()',
      series: [
        ...ours('agent-once'),
        series('ours, sharded/256, /usr/bin/pxe-filter', '#17becf', { case: 'agent-once-executable', layout: 'sharded' }, undefined, '6 2'),
        ref('first-fill'),
        series('reference, whole process', '#d62728', { impl: 'reference', case: 'first-fill' }, (r) => r.processWall, '5 3'),
      ],
    },
    { title: 'daemon first fill', subtitle: 'in-process start-up on an empty directory', series: [...ours('first-fill'), series('floor (raw file-system calls)', '#7f7f7f', { case: 'floor-fill' }, undefined, '2 3'), ref('first-fill')] },
    { title: 'daemon restart', subtitle: 'in-process start-up on a full directory', series: [...ours('restart'), ref('restart')] },
    { title: 'no-change sync', subtitle: 'in-process: one daemon poll; reference sync()', series: [...ours('no-change-poll'), ref('no-change-poll')] },
    { title: '50 flips + 25 removed + 25 added', subtitle: 'in-process: one daemon poll; reference sync()', series: [...ours('churn'), ref('churn')] },
    { title: 'compute', subtitle: 'whole process, N-port Ironic exports', series: [series('ours, compute', '#9467bd', { case: 'compute' }), series('JSON floor (read + parse the inputs)', '#7f7f7f', { case: 'json-floor' }, undefined, '2 3')] },
  ];
}

/** Replace what lies between `<!-- NAME:start -->` and `<!-- NAME:end -->` in `file`. */
export function replaceBlock(file: string, name: string, content: string): void {
  const text = readFileSync(file, 'utf8');
  const next = replaceBlockText(text, name, content);
  writeFileSync(file, next);
}

export function replaceBlockText(text: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`no ${start} … ${end} block`);
  return `${text.slice(0, i + start.length)}\n${content}\n${text.slice(j)}`;
}
