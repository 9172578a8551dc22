/**
 * A small, dependency-free SVG writer for the bench: one log–log panel per case (time against N), one line per
 * series. Pure: data in, SVG text out.
 */

export interface Series {
  label: string;
  color: string;
  /** SVG stroke-dasharray, e.g. "6 3"; solid when absent. */
  dash?: string;
  /** [N, milliseconds]; points with a non-positive or missing value are left out. */
  points: [number, number][];
}

export interface Panel {
  title: string;
  subtitle?: string;
  series: Series[];
}

export interface PlotOptions {
  title: string;
  caption?: string;
  columns?: number;
  panelWidth?: number;
  panelHeight?: number;
}

const MARGIN = { left: 58, right: 12, top: 40, bottom: 36 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Decades [10^lo, 10^hi] that contain every value (at least one decade wide). */
export function decades(values: number[]): [number, number] {
  const logs = values.filter((v) => v > 0 && Number.isFinite(v)).map(Math.log10);
  if (logs.length === 0) return [0, 1];
  const lo = Math.floor(Math.min(...logs));
  const hi = Math.max(Math.ceil(Math.max(...logs)), lo + 1);
  return [lo, hi];
}

/** Position of `value` on a log axis spanning decades [lo, hi] over `length` pixels. */
export function logPosition(value: number, [lo, hi]: [number, number], length: number): number {
  return ((Math.log10(value) - lo) / (hi - lo)) * length;
}

export function formatN(n: number): string {
  return n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`;
  return `${ms} ms`;
}

const fmt = (x: number) => (Math.round(x * 10) / 10).toString();

function panelSvg(panel: Panel, x0: number, y0: number, width: number, height: number): string {
  const w = width - MARGIN.left - MARGIN.right;
  const h = height - MARGIN.top - MARGIN.bottom;
  const points = panel.series.flatMap((s) => s.points.filter(([n, ms]) => n > 0 && ms > 0));
  const xd = decades(points.map(([n]) => n));
  const yd = decades(points.map(([, ms]) => ms));
  const px = (n: number) => x0 + MARGIN.left + logPosition(n, xd, w);
  const py = (ms: number) => y0 + MARGIN.top + h - logPosition(ms, yd, h);
  const out: string[] = [];
  out.push(`<text x="${fmt(x0 + MARGIN.left)}" y="${fmt(y0 + 16)}" class="title">${escapeXml(panel.title)}</text>`);
  if (panel.subtitle) out.push(`<text x="${fmt(x0 + MARGIN.left)}" y="${fmt(y0 + 30)}" class="sub">${escapeXml(panel.subtitle)}</text>`);
  out.push(`<rect x="${fmt(x0 + MARGIN.left)}" y="${fmt(y0 + MARGIN.top)}" width="${fmt(w)}" height="${fmt(h)}" class="frame"/>`);
  for (let d = xd[0]; d <= xd[1]; d++) {
    const x = px(10 ** d);
    out.push(`<line x1="${fmt(x)}" y1="${fmt(y0 + MARGIN.top)}" x2="${fmt(x)}" y2="${fmt(y0 + MARGIN.top + h)}" class="grid"/>`);
    out.push(`<text x="${fmt(x)}" y="${fmt(y0 + MARGIN.top + h + 14)}" class="tick" text-anchor="middle">${formatN(10 ** d)}</text>`);
  }
  for (let d = yd[0]; d <= yd[1]; d++) {
    const y = py(10 ** d);
    out.push(`<line x1="${fmt(x0 + MARGIN.left)}" y1="${fmt(y)}" x2="${fmt(x0 + MARGIN.left + w)}" y2="${fmt(y)}" class="grid"/>`);
    out.push(`<text x="${fmt(x0 + MARGIN.left - 4)}" y="${fmt(y + 4)}" class="tick" text-anchor="end">${formatMs(Number((10 ** d).toPrecision(1)))}</text>`);
  }
  out.push(`<text x="${fmt(x0 + MARGIN.left + w / 2)}" y="${fmt(y0 + height - 6)}" class="tick" text-anchor="middle">N (MACs / ports)</text>`);
  for (const s of panel.series) {
    const pts = s.points.filter(([n, ms]) => n > 0 && ms > 0).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) continue;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(`<polyline points="${pts.map(([n, ms]) => `${fmt(px(n))},${fmt(py(ms))}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [n, ms] of pts) out.push(`<circle cx="${fmt(px(n))}" cy="${fmt(py(ms))}" r="3" fill="${s.color}"><title>${escapeXml(`${s.label}, N=${n}: ${ms.toPrecision(3)} ms`)}</title></circle>`);
  }
  return out.join('\n');
}

export function plotSvg(panels: Panel[], options: PlotOptions): string {
  const columns = options.columns ?? 3;
  const pw = options.panelWidth ?? 330;
  const ph = options.panelHeight ?? 250;
  const rows = Math.ceil(panels.length / columns);
  const width = columns * pw;
  const legend = [...new Map(panels.flatMap((p) => p.series).map((s) => [s.label, s])).values()];
  const perRow = Math.max(1, Math.floor(width / 330));
  const head = 48 + Math.ceil(legend.length / perRow) * 18;
  const height = head + rows * ph + (options.caption ? 24 : 8);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    '<style>.title{font-size:13px;font-weight:bold}.sub{font-size:11px;fill:#555}.tick{font-size:10px;fill:#333}.frame{fill:none;stroke:#999}.grid{stroke:#ddd;stroke-width:1}.legend{font-size:12px}.caption{font-size:11px;fill:#555}</style>',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  legend.forEach((s, i) => {
    const x = 12 + (i % perRow) * 330;
    const y = 44 + Math.floor(i / perRow) * 18;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 28}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${x + 34}" y="${y}" class="legend">${escapeXml(s.label)}</text>`);
  });
  panels.forEach((p, i) => out.push(panelSvg(p, (i % columns) * pw, head + Math.floor(i / columns) * ph, pw, ph)));
  if (options.caption) out.push(`<text x="12" y="${height - 8}" class="caption">${escapeXml(options.caption)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
