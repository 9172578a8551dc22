import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.ts';
import { computeSite } from '../../control/compute-site.ts';
import { newestExport } from '../../control/newest-export.ts';
import { exportKey, settingsParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { exportBundle } from '../support/exports.ts';

let dir: string;
let store: LocalStore;
const enc = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-compute-'));
  store = new LocalStore(dir);
  await store.putParameter(settingsParameter('dc1'), JSON.stringify({ source: 'ironic' }));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('computeSite on the local store (the same code path as the Lambda)', () => {
  it('uses the newest export, ignoring nested keys and non-JSON objects', async () => {
    await store.putObject(exportKey('dc1', new Date('2026-11-25T20:00:00Z')), enc(exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T20:00:00.000Z' })));
    await store.putObject(exportKey('dc1', new Date('2026-11-25T21:00:00Z')), enc(exportBundle('dc1', { macs: 5, inspecting: [2], createdAt: '2026-11-25T21:00:00.000Z' })));
    await store.putObject('exports/dc1/zz/nested.json', enc({}));
    await store.putObject('exports/dc1/zzz.txt', enc({}));
    expect((await newestExport(store, 'dc1', new Date('2026-11-25T21:01:00Z'))).chosen.key).toBe('exports/dc1/2026-11-25T210000-000Z.json');
    const r = await computeSite({ store, site: 'dc1', now: new Date('2026-11-25T21:01:00Z') });
    expect(r.published.status).toBe('published');
    expect(r.published.manifest.policy.allow).toEqual(['52:54:00:00:00:02']);
    expect(r.published.manifest.source.inputs[0]!.key).toBe('exports/dc1/2026-11-25T210000-000Z.json');
  });

  it('a site without any export is a clear configuration error', async () => {
    await expect(computeSite({ store, site: 'dc1', now: new Date() })).rejects.toThrow(ConfigError);
    await expect(computeSite({ store, site: 'dc1', now: new Date() })).rejects.toThrow(/^exports\/dc1\/: no export for site "dc1" yet/);
  });
});
