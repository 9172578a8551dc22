/**
 * Prints `N passed, N failed` (plus `, N skipped`) as the very last line, which is how CI here counts tests.
 * A test file that fails to import has no tests; it counts as one failure so it can never pass unseen.
 */
import type { Reporter, TestModule } from 'vitest/node';

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
      // A module that failed without a failed test (import error, or a beforeAll that threw and skipped
      // every test) still counts as one failure, so it can never pass unseen.
      failed += failedHere === 0 && mod.state() === 'failed' ? 1 : failedHere;
    }
    failed += unhandledErrors.length;
    // Printed after vitest's own summary so it is the closing line.
    process.on('exit', () => {
      process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
    });
  }
}
