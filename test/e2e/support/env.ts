/**
 * Can this machine run the real-dnsmasq suite? It needs root, network namespaces, dnsmasq and busybox.
 * In CI (CI=true) a missing piece is a failure; on a developer machine the suite is skipped with a loud
 * reason — the one skip the project allows. The decision is pure (`decideE2E`) and unit-tested.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const BUSYBOX = '/bin/busybox';
export const IP = 'ip';

export type Availability = { ok: true } | { ok: false; reason: string };

export interface HostFacts {
  platform: string;
  uid: number | undefined;
  /** Executables that are missing, with the Debian package that provides them. */
  missing: { path: string; pkg: string }[];
  /** Only asked when everything else is there: creates and deletes a namespace. */
  netnsError: () => string | undefined;
}

export function assessE2E(facts: HostFacts): Availability {
  if (facts.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${facts.platform})` };
  if (facts.uid !== 0) return { ok: false, reason: 'not root: creating network namespaces needs root (run as root, or in CI)' };
  const first = facts.missing[0];
  if (first) return { ok: false, reason: `${first.path} missing (apt-get install -y ${first.pkg})` };
  const netns = facts.netnsError();
  if (netns !== undefined) return { ok: false, reason: `cannot create a network namespace (ip netns add): ${netns}` };
  return { ok: true };
}

export type E2EDecision = { action: 'run' } | { action: 'fail'; message: string } | { action: 'skip'; message: string };

/** Run when possible; otherwise fail in CI and skip (loudly) elsewhere. */
export function decideE2E(a: Availability, env: NodeJS.ProcessEnv): E2EDecision {
  if (a.ok) return { action: 'run' };
  if (env.CI === 'true') return { action: 'fail', message: `e2e suite cannot run in CI: ${a.reason}` };
  return { action: 'skip', message: `E2E SUITE SKIPPED — ${a.reason}. It runs (and must pass) in CI; run as root to run it here.` };
}

function hostFacts(): HostFacts {
  const missing = [
    { path: DNSMASQ, pkg: 'dnsmasq-base' },
    { path: BUSYBOX, pkg: 'busybox' },
  ].filter(({ path }) => {
    try {
      accessSync(path, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  return {
    platform: process.platform,
    uid: process.getuid?.(),
    missing,
    netnsError: () => {
      const name = `pxf-avail-${process.pid}`;
      try {
        execFileSync(IP, ['netns', 'add', name], { stdio: 'pipe' });
      } catch (err) {
        return (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
      }
      try {
        execFileSync(IP, ['netns', 'del', name], { stdio: 'pipe' });
      } catch {
        // Created but not deleted: still usable; the namespace is empty and harmless.
      }
      return undefined;
    },
  };
}

let cached: Availability | undefined;
export function e2eAvailability(): Availability {
  cached ??= assessE2E(hostFacts());
  return cached;
}
