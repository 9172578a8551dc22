/**
 * Issue 12 "must show": a fuzz run in `npm test`. 10,000 mutated export bundles through `compute` and 10,000 mutated
 * manifests through `agent once`, in-process (the command functions the CLI calls, not a process per case):
 * - no crash: every outcome is success or a typed refusal the CLI maps to exit 2 (InputError, ConfigError) or
 *   exit 3 (GuardError), with a one-line message;
 * - a refused compute writes no manifest; a refused `agent once` leaves the hosts directory identical (names, bytes,
 *   mode, inode, mtime of every file).
 * The seed is fixed so that a failure reproduces; fast-check prints the shrunk counterexample.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentOnceCommand } from '../../cli/commands/agent-once.ts';
import { computeCommand } from '../../cli/commands/compute.ts';
import { ConfigError, GuardError, InputError } from '../../core/errors.ts';
import { type Mac, compareMacs } from '../../core/mac.ts';
import { buildManifest, parseManifestBytes, serializeManifest } from '../../core/manifest.ts';
import { snapshotDir, tempDir } from '../support/cli.ts';
import { exportBundle } from '../support/exports.ts';
import { type Mutation, applyMutations, mutations } from './mutations.ts';

const SEED = 1_202_2026;
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const NOW = new Date('2026-11-25T20:10:00Z');

// tmpfs where there is one: the run measures the code, not the disk.
const tmp = existsSync('/dev/shm') ? (() => {
  const path = mkdtempSync('/dev/shm/pxe-filter-fuzz-');
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
})() : tempDir('fuzz');
afterAll(() => tmp.cleanup());
/** Generous: a machine shared with other work must not turn a slow run into a failure (the speed is not what is tested). */
const TIMEOUT = 300_000;

/** The CLI's exit status for an error (cli/main.ts reportError), or undefined for a crash. */
function exitCodeOf(err: unknown): 2 | 3 | undefined {
  if (err instanceof InputError || err instanceof ConfigError) return 2;
  if (err instanceof GuardError) return 3;
  return undefined;
}

function expectClearRefusal(err: unknown, input: Uint8Array, list: readonly Mutation[]): 2 | 3 {
  const code = exitCodeOf(err);
  const describe = () => `${String(err)}\n${(err as Error).stack}\ninput (${input.length} bytes): ${new TextDecoder().decode(input.subarray(0, 300))}\nmutations: ${JSON.stringify(list).slice(0, 500)}`;
  if (code === undefined) throw new Error(`crash: ${describe()}`);
  const message = (err as Error).message;
  if (message.length === 0 || message.includes('\n') || message.length > 2_000 || /call stack|undefined: undefined/i.test(message)) {
    throw new Error(`unclear refusal: ${describe()}`);
  }
  return code;
}

describe('fuzz: mutated inputs never crash, refusals change nothing', () => {
  let previousManifest: string;
  beforeAll(() => {
    previousManifest = join(tmp.path, 'previous.json');
    writeFileSync(previousManifest, manifestText(macs.slice(0, 3), macs.slice(3, 6)));
  });

  it(`${RUNS} mutated export bundles through compute: success, or exit 2/3 with one line and no manifest written`, async () => {
    const exportPath = join(tmp.path, 'export.json');
    const out = join(tmp.path, 'manifest.json');
    const base = JSON.stringify({
      ...exportBundle('dc1', { macs: 6, inspecting: [1, 4], createdAt: '2026-11-25T20:00:00.000Z' }),
      introspection: [{ introspection: [{ uuid: '00000000-0000-4000-8000-000000000001', finished: false, state: 'waiting', error: null }] }],
    });
    const outcomes = { ok: 0, exit2: 0, exit3: 0 };
    await fc.assert(
      fc.asyncProperty(mutations, fc.boolean(), async (list, withPrevious) => {
        const input = applyMutations(base, list);
        writeFileSync(exportPath, input);
        rmSync(out, { force: true });
        try {
          await computeCommand({ site: 'dc1', export: exportPath, out, source: 'ironic', ...(withPrevious ? { previous: previousManifest } : {}) }, NOW);
        } catch (err) {
          const code = expectClearRefusal(err, input, list);
          outcomes[code === 2 ? 'exit2' : 'exit3']++;
          expect(existsSync(out)).toBe(false);
          return;
        }
        outcomes.ok++;
        if (existsSync(out)) parseManifestBytes(readFileSync(out), out); // what was written is a valid manifest
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The mutations reach every outcome (a fuzz that only ever fails to parse tests nothing).
    expect(outcomes.ok).toBeGreaterThan(RUNS / 20);
    expect(outcomes.exit2).toBeGreaterThan(RUNS / 4);
    expect(outcomes.exit3).toBeGreaterThan(0);
  }, TIMEOUT);

  it(`${RUNS} mutated manifests through agent once: success, or exit 2 with one line and the hosts directory identical`, async () => {
    const hostsdir = join(tmp.path, 'hostsdir');
    mkdirSync(hostsdir);
    const manifestPath = join(tmp.path, 'agent-manifest.json');
    const base = manifestText(macs.slice(0, 4), macs.slice(4, 8));
    writeFileSync(manifestPath, base);
    await agentOnceCommand({ manifest: { file: manifestPath }, hostsdir, purge: false, service: { mode: 'none' } });
    const outcomes = { ok: 0, exit2: 0 };
    // The directory only changes on success: one snapshot per case (after it), compared with the last one.
    let current = snapshotDir(hostsdir);
    // A share of valid manifests with other policies keeps the directory moving between refusals.
    const valid = fc.record({ allow: fc.subarray(macs), deny: fc.subarray(macs), unknown: fc.boolean() });
    const input = fc.oneof({ weight: 4, arbitrary: mutations.map((list) => ({ list })) }, { weight: 1, arbitrary: valid.map((policy) => ({ policy })) });
    await fc.assert(
      fc.asyncProperty(input, async (c) => {
        const bytes = 'list' in c ? applyMutations(base, c.list) : new TextEncoder().encode(manifestText(c.policy.allow, c.policy.deny.filter((m) => !c.policy.allow.includes(m)), c.policy.unknown));
        writeFileSync(manifestPath, bytes);
        try {
          await agentOnceCommand({ manifest: { file: manifestPath }, hostsdir, purge: false, service: { mode: 'none' } });
        } catch (err) {
          const code = expectClearRefusal(err, bytes, 'list' in c ? c.list : []);
          expect(code).toBe(2);
          outcomes.exit2++;
          expect(snapshotDir(hostsdir)).toEqual(current);
          return;
        }
        outcomes.ok++;
        current = snapshotDir(hostsdir);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(outcomes.ok).toBeGreaterThan(RUNS / 10);
    expect(outcomes.exit2).toBeGreaterThan(RUNS / 2);
  }, TIMEOUT);
});

const macs = Array.from({ length: 10 }, (_, i) => `52:54:00:00:01:${i.toString(16).padStart(2, '0')}` as Mac);

function manifestText(allow: readonly Mac[], deny: readonly Mac[], open = true): string {
  const m = buildManifest({
    site: 'dc1',
    generation: 7,
    createdAt: new Date('2026-11-25T20:00:00Z'),
    inputs: [{ key: 'exports/dc1/x.json', sha256: '0'.repeat(64) }],
    policy: { unknownHosts: open ? 'allow' : 'deny', removed: open ? 'allow' : 'deny', allow: [...allow].sort(compareMacs), deny: [...deny].sort(compareMacs) },
  });
  return new TextDecoder().decode(serializeManifest(m));
}
