/**
 * Full garbage collections when node runs with --expose-gc (the systemd unit's ExecStart does: AGENT_NODE_FLAGS),
 * made by the daemon once a poll (or its start-up) is done, because it knows there is garbage then:
 * - after a large apply: a first sync leaves promoted garbage (the plan, the manifest text, the paths) that V8
 *   neither collected nor returned while the daemon idled between polls (no mark-compact while idle); it was then
 *   collected inside a later poll, which paid the pause for it;
 * - about a second after any other apply: the previous manifest is garbage.
 */
import { getHeapStatistics } from 'node:v8';

/** File operations from which an apply counts as large (a first sync or a restart of a 10k-MAC site and up). */
export const LARGE_APPLY_OPERATIONS = 10_000;

/**
 * Node flags the agent runs with (agent/systemd/pxe-filter-agent.service; the bench runs the agent with them):
 * a 1 MB young generation instead of 16 MB (the daemon allocates little between applies), and the GC above.
 * docs/performance.md has the steady-state RSS with and without them.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'] as const;

/** Heap in use before and after a full collection, in MB; undefined when node was started without --expose-gc. */
export function collectGarbage(): { heapUsedBeforeMb: number; heapUsedAfterMb: number } | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return undefined;
  const before = getHeapStatistics().used_heap_size;
  gc();
  const after = getHeapStatistics().used_heap_size;
  const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  return { heapUsedBeforeMb: mb(before), heapUsedAfterMb: mb(after) };
}
