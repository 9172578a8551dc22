import { describe, expect, it } from 'vitest';
import { decades, escapeXml, logPosition, plotSvg } from '../../bench/plot.ts';
import { type BenchDoc, type BenchResult, readmeBlock, replaceBlockText, targets } from '../../bench/report.ts';

const stat = (median: number) => ({ median, min: median, max: median });

function doc(results: BenchResult[]): BenchDoc {
  return {
    machine: { date: '2026-12-02T08:00:00.000Z', cpus: '2 × test', memGiB: 1, node: 'v20', dir: '/dev/shm', fsType: 'tmpfs', runs: 1, sizes: [1000, 100000], durationS: 1 },
    results,
  };
}

describe('bench plot', () => {
  it('places values on log axes by decade', () => {
    expect(decades([1000, 100000])).toEqual([3, 5]);
    expect(decades([0.5, 2])).toEqual([-1, 1]);
    expect(decades([5])).toEqual([0, 1]);
    expect(logPosition(10_000, [3, 5], 200)).toBeCloseTo(100);
    expect(logPosition(1000, [3, 5], 200)).toBeCloseTo(0);
  });

  it('draws one polyline per series, higher values higher up, and escapes text', () => {
    const svg = plotSvg(
      [{ title: 'a < b', series: [{ label: 'ours & co', color: '#000', points: [[1000, 10], [100000, 1000]] }, { label: 'empty', color: '#111', points: [] }] }],
      { title: 'T' },
    );
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('ours &amp; co');
    const lines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1]!);
    expect(lines).toHaveLength(1);
    const [[x1, y1], [x2, y2]] = lines[0]!.split(' ').map((p) => p.split(',').map(Number)) as [[number, number], [number, number]];
    expect(x2).toBeGreaterThan(x1);
    expect(y2).toBeLessThan(y1); // SVG y grows downwards
    expect(escapeXml(`"'`)).toBe('&quot;&apos;');
  });
});

describe('bench report', () => {
  it('judges the targets from one run and says which were not measured', () => {
    const t = targets(
      doc([
        { impl: 'pxe-filter', scope: 'process', case: 'compute', n: 100000, wall: stat(600), rss: stat(200) },
        { impl: 'pxe-filter', scope: 'process', case: 'json-floor', n: 100000, wall: stat(500) },
        { impl: 'pxe-filter', layout: 'per-mac', scope: 'process', case: 'agent-once', n: 100000, wall: stat(3000) },
        { impl: 'pxe-filter', layout: 'sharded', scope: 'process', case: 'agent-once', n: 100000, wall: stat(400) },
        { impl: 'pxe-filter', layout: 'sharded', scope: 'process', case: 'agent-once-executable', n: 100000, wall: stat(300) },
        { impl: 'reference', scope: 'in-process', case: 'first-fill', n: 100000, wall: stat(3300) },
      ]),
    );
    const byLabel = (s: string) => t.find((x) => x.label.includes(s))!;
    // The executable is judged on its own line (11×), beside the bundle's (8.25×); its per-MAC case was not run.
    expect(byLabel('sharded, whole process (executable')).toMatchObject({ met: true, figure: expect.stringContaining('11.00×') });
    expect(t.filter((x) => x.label.includes('per-mac, whole process (executable'))).toEqual([]);
    expect(byLabel('1.5× the JSON floor')).toMatchObject({ met: true, figure: expect.stringContaining('1.20×') });
    expect(byLabel('256 MB').met).toBe(true);
    expect(byLabel('per-mac, whole process').met).toBe(true); // 3300 / 3000 = 1.1×
    expect(byLabel('sharded, whole process')).toMatchObject({ met: false, figure: expect.stringContaining('8.25×') });
    expect(byLabel('no-change').met).toBeUndefined();
  });

  it('writes the README block with the date, and refuses a file without the markers', () => {
    const block = readmeBlock(doc([{ impl: 'pxe-filter', layout: 'per-mac', scope: 'in-process', case: 'churn', n: 100000, wall: stat(30) }, { impl: 'reference', scope: 'in-process', case: 'churn', n: 100000, wall: stat(600) }]));
    expect(block).toContain('2026-12-02 08:00 UTC');
    expect(block).toContain('30.0 ms (20.0×)');
    const text = 'a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n';
    expect(replaceBlockText(text, 'x', 'new')).toBe('a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n');
    expect(() => replaceBlockText('no markers', 'x', 'new')).toThrow(/no <!-- x:start -->/);
  });
});
