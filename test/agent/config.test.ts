import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { resolveConfig } from '../../agent/config.ts';

const base = { site: 'dc1', store: 'local:/srv/store', hostsdir: '/var/lib/hostsdir' };

describe('agent config', () => {
  it('the sample config in the repository is valid', () => {
    const doc = JSON.parse(readFileSync('agent/config.sample.json', 'utf8')) as unknown;
    const c = resolveConfig(doc, {}, {});
    expect(c.site).toBe('dc1');
    expect(c.service).toEqual({ mode: 'systemctl', unit: 'dnsmasq.service' });
  });

  it('fills defaults: hostname, files next to the state file, purge on, systemctl', () => {
    const c = resolveConfig(base, {}, {});
    expect(c.host).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    expect(c.stateFile).toBe('/var/lib/pxe-filter/state.json');
    expect(c.lockFile).toBe('/var/lib/pxe-filter/agent.lock');
    expect(c.statusFile).toBe('/var/lib/pxe-filter/status.json');
    expect(c.purge).toBe(true);
    expect(c.pollIntervalSeconds).toBe(5); // with the fast pointer: 10 s p95 to see a new generation (docs/deploy.md)
    expect(c.fastPointer).toEqual({ table: 'PxeFilter-pointers', ssmIntervalSeconds: 300, ssmRetrySeconds: 30 });
    expect(c.service).toEqual({ mode: 'systemctl', unit: 'dnsmasq.service' });
    expect(c.apply.reloadAboveOperations).toBe(4000);
  });

  it('precedence: flag > environment > file > default', () => {
    const file = { ...base, pollIntervalSeconds: 30, purge: true };
    expect(resolveConfig(file, {}, {}).pollIntervalSeconds).toBe(30);
    expect(resolveConfig(file, { PXE_FILTER_POLL_INTERVAL: '20' }, {}).pollIntervalSeconds).toBe(20);
    expect(resolveConfig(file, { PXE_FILTER_POLL_INTERVAL: '20' }, { pollInterval: 5 }).pollIntervalSeconds).toBe(5);
    expect(resolveConfig(file, { PXE_FILTER_PURGE: 'false' }, {}).purge).toBe(false);
    expect(resolveConfig(file, { PXE_FILTER_PURGE: 'false' }, { purge: true }).purge).toBe(true);
    expect(resolveConfig(file, {}, { purge: false }).purge).toBe(false);
    expect(resolveConfig(file, { PXE_FILTER_SITE: 'dc2' }, {}).site).toBe('dc2');
    expect(resolveConfig(file, { PXE_FILTER_SITE: 'dc2' }, { site: 'dc3' }).site).toBe('dc3');
    expect(resolveConfig(file, {}, { service: 'none' }).service).toEqual({ mode: 'none' });
    expect(resolveConfig(file, {}, { unit: 'dnsmasq-pxe.service' }).service).toEqual({ mode: 'systemctl', unit: 'dnsmasq-pxe.service' });
  });

  it('layout: per-MAC by default; file, --layout and --shards (flags win; --shards alone means sharded)', () => {
    expect(resolveConfig(base, {}, {}).layout).toEqual({ kind: 'per-mac' });
    expect(resolveConfig({ ...base, layout: { kind: 'sharded' } }, {}, {}).layout).toEqual({ kind: 'sharded', shards: 256 });
    const file = { ...base, layout: { kind: 'sharded', shards: 64 } };
    expect(resolveConfig(file, {}, {}).layout).toEqual({ kind: 'sharded', shards: 64 });
    expect(resolveConfig(file, {}, { layout: 'per-mac' }).layout).toEqual({ kind: 'per-mac' });
    expect(resolveConfig(file, {}, { shards: 1024 }).layout).toEqual({ kind: 'sharded', shards: 1024 });
    expect(resolveConfig(file, {}, { layout: 'sharded' }).layout).toEqual({ kind: 'sharded', shards: 64 });
    expect(resolveConfig(base, {}, { layout: 'sharded' }).layout).toEqual({ kind: 'sharded', shards: 256 });
    expect(resolveConfig(base, {}, { shards: 16 }).layout).toEqual({ kind: 'sharded', shards: 16 });
    expect(() => resolveConfig(base, {}, { layout: 'per-mac', shards: 16 })).toThrow(/--shards.*only applies to --layout sharded/);
    expect(() => resolveConfig({ ...base, layout: { kind: 'sharded', shards: 0 } }, {}, {})).toThrow(/layout\.shards/);
    expect(() => resolveConfig({ ...base, layout: { kind: 'hashed' } }, {}, {})).toThrow(/layout/);
    expect(resolveConfig(base, {}, {}).compaction).toMatchObject({ reloadAfterRecords: 50_000, reloadIntervalSeconds: 900 });
  });

  it('command mode keeps the start/stop/reload strings', () => {
    const c = resolveConfig({ ...base, service: { mode: 'command', start: 'a', stop: 'b' } }, {}, {});
    expect(c.service).toEqual({ mode: 'command', start: 'a', stop: 'b', reload: '', status: '' });
  });

  it.each([
    [{ ...base, hostsdir: 'relative/dir' }, /hostsdir/],
    [{ ...base, site: 'DC 1' }, /site/],
    [{ ...base, store: 'ftp://x' }, /store/],
    [{ ...base, pollIntervalSeconds: 'often' }, /pollIntervalSeconds/],
    [{ ...base, unknownKey: 1 }, /unknownKey|unrecognized/i],
    [{ ...base, service: { mode: 'command', start: 'a' } }, /service.stop/],
    [{ ...base, host: '../etc' }, /host/],
    [{ ...base, apply: { batchSize: -1 } }, /apply.batchSize/],
    [{ ...base, fastPointer: { table: 'no spaces allowed' } }, /fastPointer\.table.*not a DynamoDB table name/],
    [{ ...base, fastPointer: { ssmIntervalSeconds: 0 } }, /fastPointer\.ssmIntervalSeconds/],
    [{ ...base, fastPointer: { ssmRetrySecs: 5 } }, /fastPointer.*ssmRetrySecs/],
    [[1, 2], /expected a JSON object/],
  ])('refuses bad input with one error naming the field (%#)', (doc, field) => {
    let err: unknown;
    try {
      resolveConfig(doc, {}, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(field);
  });

  it('refuses bad environment values', () => {
    expect(() => resolveConfig(base, { PXE_FILTER_PURGE: 'maybe' }, {})).toThrow(/PXE_FILTER_PURGE/);
    expect(() => resolveConfig(base, { PXE_FILTER_POLL_INTERVAL: 'x' }, {})).toThrow(/PXE_FILTER_POLL_INTERVAL/);
  });
});
