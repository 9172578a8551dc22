/**
 * Prints `N passed, N failed` (plus `, N skipped`) as the very last line, which is how CI here counts tests.
 * A test file that fails to import, or whose beforeAll throws, counts as one failure so it can never pass unseen;
 * so does an e2e suite over its time budget.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { OVER_BUDGET } from '../e2e/support/budget-reporter.ts';

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let failedHere = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++;
      }
      // A file that failed to import, or whose beforeAll threw (its tests then show as skipped), is a failure.
      if (failedHere === 0 && mod.state() === 'failed') failedHere = 1;
      failed += failedHere;
    }
    failed += unhandledErrors.length;
    // Printed after vitest's own summary so it is the closing line. An e2e suite over its time budget
    // (budget-reporter.ts, which runs before this one) is one more failure.
    process.on('exit', () => {
      if ((globalThis as Record<symbol, unknown>)[OVER_BUDGET] !== undefined) failed++;
      process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
    });
  }
}
