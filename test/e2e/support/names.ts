/** Names shared by the e2e harness and its global setup (which must not import vitest's runtime). */

/** Every namespace of one test run starts with this, so the global teardown can find leftovers. */
export function runPrefix(runId: string): string {
  return `pxf-e2e-${runId}-`;
}
