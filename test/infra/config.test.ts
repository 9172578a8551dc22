import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.ts';
import { loadConfigFile, resolveConfig } from '../../infra/config.ts';

const file = (doc: unknown) => JSON.stringify(doc);

describe('deployment config', () => {
  it('the shipped infra/sites.json is valid', () => {
    const cfg = resolveConfig(loadConfigFile('infra/sites.json'), 'infra/sites.json', undefined);
    expect(cfg.sites.map((s) => s.name)).toEqual(['dc1']);
    expect(cfg.sites[0]!.settings.guard.maxChangeShare).toBe(0.5);
  });

  it('fills defaults and narrows by -c sites to sites the file describes', () => {
    const two = file({ sites: [{ name: 'dc1', settings: { source: 'ironic' } }, { name: 'dc2', settings: { source: 'inspector' } }] });
    const cfg = resolveConfig(two, 'f.json', 'dc2, dc1');
    expect(cfg.sites.map((s) => [s.name, s.settings.source, s.scheduleMinutes])).toEqual([['dc2', 'inspector', 15], ['dc1', 'ironic', 15]]);
    expect(cfg.noncurrentVersionDays).toBe(90);
    expect(resolveConfig(two, 'f.json', ['dc2']).sites.map((s) => s.name)).toEqual(['dc2']);
  });

  it('-c sites naming a site the file does not describe is refused, never made up from defaults (issue 14)', () => {
    const one = file({ sites: [{ name: 'dc1', settings: { source: 'ironic' } }] });
    expect(() => resolveConfig(one, 'infra/sites.json', 'dc1,dc2')).toThrow(/^context sites\[1\]: not a site of infra\/sites\.json \(it has dc1\): describe it there first: "dc2"$/);
    expect(() => resolveConfig(undefined, 'infra/sites.json', 'dc1')).toThrow(/^context sites\[0\]: not a site of infra\/sites\.json \(it has none\)/);
    // The key that used to allow it is gone: a file that still has it is told so.
    expect(() => resolveConfig(file({ defaultSettings: { source: 'ironic' }, sites: [{ name: 'dc1', settings: { source: 'ironic' } }] }), 'f.json', 'dc1')).toThrow(/^f\.json/);
  });

  it('a bad setting fails with the file, the field and the value', () => {
    expect(() => resolveConfig(file({ sites: [{ name: 'dc1', settings: { source: 'ironic', guard: { maxChangeShare: 1.5 } } }] }), 'sites.json', undefined)).toThrow(
      /^sites\.json\.sites\[0\]\.settings\.guard\.maxChangeShare: .*: 1\.5$/,
    );
    expect(() => resolveConfig(file({ sites: [{ name: 'dc1', settings: { source: 'ironic' }, schedule: 5 }] }), 'sites.json', undefined)).toThrow(/^sites\.json\.sites\[0\]/);
    expect(() => resolveConfig(file({ logRetentionDays: 10, sites: [{ name: 'dc1', settings: { source: 'ironic' } }] }), 'sites.json', undefined)).toThrow(/^sites\.json\.logRetentionDays: one of 1, 3, 5/);
    expect(() => resolveConfig(file({ sites: [{ name: 'dc1', settings: { source: 'ironic', discovery: true, denyUnknownMacs: true } }] }), 'sites.json', undefined)).toThrow(ConfigError);
    expect(() => resolveConfig(file({ sites: [{ name: 'dc1', settings: { source: 'ironic' } }, { name: 'dc1', settings: { source: 'ironic' } }] }), 'sites.json', undefined)).toThrow(/^sites\.json\.sites\[1\]\.name: site listed twice/);
    expect(() => resolveConfig('{"sites": [', 'sites.json', undefined)).toThrow(/^sites\.json: not valid JSON/);
  });

  it('refuses to deploy no site at all', () => {
    expect(() => resolveConfig(undefined, 'infra/sites.json', undefined)).toThrow(/^sites: no sites/);
    expect(() => resolveConfig(undefined, 'infra/sites.json', ' , ')).toThrow(/context sites: no site names/);
  });
});
