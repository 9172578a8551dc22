import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The count reporter stays last: CI reads its closing line.
    reporters: ['default', './test/e2e/support/budget-reporter.ts', './test/support/count-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Tests spawn cli/bin.js, which runs the compiled command line: rebuild it if a source changed.
          globalSetup: ['test/support/build-cli.ts'],
          sequence: { groupOrder: 0 },
          include: ['test/**/*.test.ts'],
          exclude: ['node_modules/**', 'cdk.out/**', 'test/e2e/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The real-dnsmasq suite (docs/e2e.md): runs after the unit tests, one file at a time, so its timings
        // are not disturbed by other work on a small CI machine; namespaces carry the run id and worker PID.
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/support/global-setup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
