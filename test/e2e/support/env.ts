/**
 * Can this machine run the real-dnsmasq suite? It needs root, network namespaces, dnsmasq and busybox.
 * In CI (CI=true) a missing piece is a failure; on a developer machine the suite is skipped with a loud
 * reason — the one skip the project allows.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { describe, it } from 'vitest';

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const BUSYBOX = '/bin/busybox';
export const IP = 'ip';

export type Availability = { ok: true } | { ok: false; reason: string };

let cached: Availability | undefined;

export function e2eAvailability(): Availability {
  cached ??= probe();
  return cached;
}

function probe(): Availability {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root: creating network namespaces needs root (run as root, or in CI)' };
  for (const [bin, pkg] of [[DNSMASQ, 'dnsmasq-base'], [BUSYBOX, 'busybox']] as const) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      return { ok: false, reason: `${bin} missing (apt-get install -y ${pkg})` };
    }
  }
  const name = `pxf-avail-${process.pid}`;
  try {
    execFileSync(IP, ['netns', 'add', name], { stdio: 'pipe' });
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace (ip netns add): ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err)}` };
  }
  try {
    execFileSync(IP, ['netns', 'del', name], { stdio: 'pipe' });
  } catch {
    // A namespace we could create but not delete is still usable; the global teardown tries again.
  }
  return { ok: true };
}

/**
 * `describe` for a real-dnsmasq suite. Unavailable environment: in CI one failing test names the reason;
 * elsewhere the suite is skipped and the reason is printed where nobody can miss it.
 */
export function describeE2E(name: string, body: () => void): void {
  const a = e2eAvailability();
  if (a.ok) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('runs in this environment', () => {
        throw new Error(`e2e suite cannot run in CI: ${a.reason}`);
      });
    });
    return;
  }
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! E2E SUITE SKIPPED: "${name}" — ${a.reason}\n!! It runs (and must pass) in CI; run as root to run it here.\n${bar}\n`);
  describe.skip(name, body);
}
