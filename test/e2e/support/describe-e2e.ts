import { describe, it } from 'vitest';
import { decideE2E, e2eAvailability } from './env.ts';

/**
 * `describe` for a real-dnsmasq suite. Unavailable environment: in CI one failing test names the reason;
 * elsewhere the suite is skipped and the reason is printed where nobody can miss it.
 */
export function describeE2E(name: string, body: () => void): void {
  const d = decideE2E(e2eAvailability(), process.env);
  if (d.action === 'run') {
    describe(name, body);
  } else if (d.action === 'fail') {
    describe(name, () => {
      it('runs in this environment', () => {
        throw new Error(d.message);
      });
    });
  } else {
    const bar = '!'.repeat(100);
    console.warn(`\n${bar}\n!! "${name}": ${d.message}\n${bar}\n`);
    describe.skip(name, body);
  }
}
