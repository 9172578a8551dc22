/** The e2e suite's one allowed skip: run when possible, fail in CI, skip loudly elsewhere. */
import { describe, expect, it } from 'vitest';
import { type HostFacts, assessE2E, decideE2E } from '../e2e/support/env.ts';

const facts = (f: Partial<HostFacts>): HostFacts => ({ platform: 'linux', uid: 0, missing: [], netnsError: () => undefined, ...f });

describe('assessE2E', () => {
  it('is available as root on Linux with dnsmasq, busybox and working namespaces', () => {
    expect(assessE2E(facts({}))).toEqual({ ok: true });
  });
  it('names the first missing piece', () => {
    expect(assessE2E(facts({ uid: 1000 }))).toEqual({ ok: false, reason: expect.stringContaining('not root') });
    expect(assessE2E(facts({ platform: 'darwin' }))).toEqual({ ok: false, reason: expect.stringContaining('darwin') });
    expect(assessE2E(facts({ missing: [{ path: '/usr/sbin/dnsmasq', pkg: 'dnsmasq-base' }] }))).toEqual({
      ok: false,
      reason: '/usr/sbin/dnsmasq missing (apt-get install -y dnsmasq-base)',
    });
    expect(assessE2E(facts({ netnsError: () => 'Operation not permitted' }))).toEqual({ ok: false, reason: expect.stringContaining('Operation not permitted') });
  });
  it('does not try to create a namespace when something else is already missing', () => {
    let asked = false;
    assessE2E(facts({ uid: 1000, netnsError: () => ((asked = true), undefined) }));
    expect(asked).toBe(false);
  });
});

describe('decideE2E', () => {
  const missing = { ok: false as const, reason: 'not root' };
  it('runs whenever the environment allows, CI or not', () => {
    expect(decideE2E({ ok: true }, { CI: 'true' })).toEqual({ action: 'run' });
    expect(decideE2E({ ok: true }, {})).toEqual({ action: 'run' });
  });
  it('fails in CI, naming the reason', () => {
    expect(decideE2E(missing, { CI: 'true' })).toEqual({ action: 'fail', message: 'e2e suite cannot run in CI: not root' });
  });
  it('skips loudly elsewhere', () => {
    const d = decideE2E(missing, {});
    expect(d.action).toBe('skip');
    expect(d.action === 'skip' && d.message).toContain('SKIPPED — not root');
  });
});
