/**
 * CI reads the closing `N passed, N failed` line. An e2e suite over its time budget must show there as a failure,
 * not only in the exit status: vitest runs a one-file "e2e" project with the real reporters and a tiny budget.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

async function runFixture(budgetMs: number): Promise<{ code: number; lastLine: string; out: string }> {
  const args = ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/support/fixtures/reporters/vitest.config.ts'];
  const env = { ...process.env, PXF_E2E_BUDGET_MS: String(budgetMs), CI: 'true' };
  try {
    const r = await exec(process.execPath, args, { env });
    return { code: 0, lastLine: r.stdout.trim().split('\n').at(-1)!, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, lastLine: e.stdout.trim().split('\n').at(-1)!, out: e.stdout };
  }
}

describe('closing line', () => {
  it('an e2e suite over budget: exit 1, "FAIL … over budget", and one failure counted', async () => {
    const r = await runFixture(1);
    expect(r.out).toMatch(/FAIL e2e suite: 1 files in [\d.]+ s \(budget 0.001 s\): over budget/);
    expect(r.lastLine).toBe('1 passed, 1 failed');
    expect(r.code).toBe(1);
  });

  it('within budget: exit 0 and no failure', async () => {
    const r = await runFixture(120_000);
    expect(r.lastLine).toBe('1 passed, 0 failed');
    expect(r.code).toBe(0);
  });
});
