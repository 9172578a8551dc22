import { describe, it } from 'vitest';
import { type Availability, decideE2E, e2eAvailability } from './env.ts';

/**
 * `describe` for a real-dnsmasq suite. Unavailable environment: in CI one failing test names the reason;
 * elsewhere the suite is skipped and the reason is printed where nobody can miss it. `needs`: what this suite
 * needs beyond the rig (e.g. ironic-inspector's filter code), decided the same way.
 */
export function describeE2E(name: string, body: () => void, needs: readonly (() => Availability)[] = []): void {
  let availability = e2eAvailability();
  for (const need of needs) if (availability.ok) availability = need();
  const d = decideE2E(availability, process.env);
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
