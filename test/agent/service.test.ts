/** Service control: every failure is one line naming the command; the mode none does nothing. */
import { describe, expect, it } from 'vitest';
import { serviceControl } from '../../agent/service.ts';

describe('serviceControl', () => {
  it('systemctl failure (no such unit, or no systemd at all) is one line naming the command', async () => {
    const svc = serviceControl({ mode: 'systemctl', unit: 'pxe-filter-no-such-unit.service' });
    const err = await svc.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^start command failed \(.+\): systemctl start pxe-filter-no-such-unit\.service/);
    expect(err!.message).not.toContain('\n');
  });

  it('a command killed by a signal says so', async () => {
    await expect(serviceControl({ mode: 'command', start: 'kill -TERM $$', stop: '', reload: '' }).start()).rejects.toThrow(/^start command failed \(killed by SIGTERM\)/);
  });

  it('reload runs the reload command; mode none does nothing', async () => {
    await expect(serviceControl({ mode: 'command', start: '', stop: '', reload: 'exit 4' }).reload()).rejects.toThrow('reload command failed (exit 4): exit 4');
    const none = serviceControl({ mode: 'none' });
    await expect(Promise.all([none.start(), none.stop(), none.reload()])).resolves.toEqual([undefined, undefined, undefined]);
  });
});
