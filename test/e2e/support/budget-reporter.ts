/**
 * The e2e suite must finish in under 5 minutes in CI (issue "a real dnsmasq and a real DHCP client", item 7).
 * This reporter measures the e2e project's wall time, from its first file being queued to its last file ending,
 * prints it, and fails the run (exit status 1) when the budget is exceeded.
 */
import type { Reporter, TestModule } from 'vitest/node';

export const E2E_PROJECT = 'e2e';
/** Set on globalThis when the budget is exceeded, so the count reporter counts it as a failure. */
export const OVER_BUDGET = Symbol.for('pxe-filter.e2e-over-budget');
export const E2E_BUDGET_MS = Number(process.env.PXF_E2E_BUDGET_MS ?? 300_000);

export default class BudgetReporter implements Reporter {
  private first: number | undefined;
  private last: number | undefined;
  private files = 0;

  onTestModuleQueued(mod: TestModule): void {
    if (mod.project.name !== E2E_PROJECT) return;
    this.first ??= performance.now();
  }

  onTestModuleEnd(mod: TestModule): void {
    if (mod.project.name !== E2E_PROJECT) return;
    this.last = performance.now();
    this.files++;
  }

  onTestRunEnd(): void {
    if (this.first === undefined || this.last === undefined) return;
    const ms = this.last - this.first;
    const line = `e2e suite: ${this.files} files in ${(ms / 1000).toFixed(1)} s (budget ${E2E_BUDGET_MS / 1000} s)`;
    if (ms > E2E_BUDGET_MS) {
      process.stdout.write(`\nFAIL ${line}: over budget\n`);
      process.exitCode = 1;
      (globalThis as Record<symbol, unknown>)[OVER_BUDGET] = line;
    } else {
      process.stdout.write(`\n${line}\n`);
    }
  }
}
