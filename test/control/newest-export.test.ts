/**
 * Issue 12 defect 3: the export a compute uses is the newest by the time recorded inside it, not by key; an export
 * dated more than 5 minutes after its upload (or now) is refused and reported; an older export uploaded late never
 * replaces a newer one. On the local store, which `local run` and `npm start` use with the same control/ code as the
 * Lambda (test/functions/compute.test.ts covers the Lambda's side: metric, log, alarm).
 */
import { utimesSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { computeSite } from '../../control/compute-site.ts';
import { FUTURE_TOLERANCE_MS, NoUsableExportError, futureDating, newestExport } from '../../control/newest-export.ts';
import { exportKey, manifestKey, pointerParameter, settingsParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { exportBundle, mac } from '../support/exports.ts';

let dir: string;
let store: LocalStore;
const enc = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-newest-'));
  store = new LocalStore(dir);
  await store.putParameter(settingsParameter('dc1'), JSON.stringify({ source: 'ironic' }));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Put an export as the exporter would, received by the store at `uploadedAt` (the local store's LastModified is the version file's mtime). */
async function upload(key: string, doc: unknown, uploadedAt: Date): Promise<void> {
  const { versionId } = await store.putObject(key, enc(doc), { condition: { ifNoneMatch: '*' } });
  utimesSync(join(dir, 'objects', key, 'versions', versionId), uploadedAt, uploadedAt);
}
const at = (iso: string) => new Date(iso);

describe('which export a compute uses (local store, the code the Lambda runs)', () => {
  it('a future-dated key (2099, bad exporter clock), then a correct export: the correct one wins, the future one is refused and reported', async () => {
    const bad = exportKey('dc1', at('2099-01-01T00:00:00Z'));
    await upload(bad, exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2099-01-01T00:00:00.000Z' }), at('2026-11-25T20:00:00Z'));
    // Alone, the future export is no export at all: refused with the reason, nothing published.
    const alone = computeSite({ store, site: 'dc1', now: at('2026-11-25T20:01:00Z') });
    await expect(alone).rejects.toThrow(NoUsableExportError);
    await expect(alone).rejects.toThrow(/no usable export: 1 refused .*createdAt 2099-01-01T00:00:00.000Z is more than 5 minutes after/);
    expect(await store.getParameter(pointerParameter('dc1'))).toBeUndefined();

    const good = exportKey('dc1', at('2026-11-25T20:02:00Z'));
    await upload(good, exportBundle('dc1', { macs: 5, inspecting: [2], createdAt: '2026-11-25T20:02:00.000Z' }), at('2026-11-25T20:02:01Z'));
    const r = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:03:00Z') });
    expect(r.exportKey).toBe(good);
    expect(r.published.status).toBe('published');
    expect(r.published.manifest.policy.allow).toEqual([mac(2)]);
    expect(r.refusedExports).toEqual([expect.objectContaining({ key: bad, kind: 'future', createdAt: '2099-01-01T00:00:00.000Z' })]);

    // A later correct export still wins (nothing is pinned): the next change publishes generation 2.
    const later = exportKey('dc1', at('2026-11-25T21:00:00Z'));
    await upload(later, exportBundle('dc1', { macs: 5, inspecting: [3], createdAt: '2026-11-25T21:00:00.000Z' }), at('2026-11-25T21:00:01Z'));
    const r2 = await computeSite({ store, site: 'dc1', now: at('2026-11-25T21:01:00Z') });
    expect(r2).toMatchObject({ exportKey: later, published: { status: 'published', manifest: { generation: 2 } } });
    // Uploaded more than the tolerance before a valid export, the future one cannot matter any more: not even read.
    expect(r2.refusedExports).toEqual([]);
  });

  it('a key that sorts last ("zzz.json") with an older recorded time does not win: the time inside decides', async () => {
    await upload('exports/dc1/zzz.json', exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T19:00:00.000Z' }), at('2026-11-25T19:00:01Z'));
    const good = exportKey('dc1', at('2026-11-25T20:00:00Z'));
    await upload(good, exportBundle('dc1', { macs: 5, inspecting: [2], createdAt: '2026-11-25T20:00:00.000Z' }), at('2026-11-25T20:00:01Z'));
    const r = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:01:00Z') });
    expect(r.exportKey).toBe(good);
    expect(r.published.manifest.policy.allow).toEqual([mac(2)]);
  });

  it('an older export uploaded after a newer one (a slow exporter) never replaces it', async () => {
    const newer = exportKey('dc1', at('2026-11-25T20:02:00Z'));
    await upload(newer, exportBundle('dc1', { macs: 5, inspecting: [2], createdAt: '2026-11-25T20:02:00.000Z' }), at('2026-11-25T20:02:01Z'));
    const first = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:02:30Z') });
    expect(first.published.manifest.policy.allow).toEqual([mac(2)]);
    const older = exportKey('dc1', at('2026-11-25T20:00:00Z'));
    await upload(older, exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T20:00:00.000Z' }), at('2026-11-25T20:03:00Z'));
    const r = await computeSite({ store, site: 'dc1', now: at('2026-11-25T20:03:30Z') });
    expect(r.exportKey).toBe(newer);
    expect(r.published).toMatchObject({ status: 'unchanged', manifest: { generation: 1 } });
    expect((await store.listVersions(manifestKey('dc1'))).length).toBe(1);
  });

  it('an export dated ahead of its own upload is refused even when now has caught up with it', async () => {
    // Written at 20:00 claiming 20:30: by 20:40 that time is in the past, but it was never true.
    await upload(exportKey('dc1', at('2026-11-25T20:30:00Z')), exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T20:30:00.000Z' }), at('2026-11-25T20:00:00Z'));
    await upload(exportKey('dc1', at('2026-11-25T20:03:00Z')), exportBundle('dc1', { macs: 5, inspecting: [2], createdAt: '2026-11-25T20:03:00.000Z' }), at('2026-11-25T20:03:01Z'));
    const r = await newestExport(store, 'dc1', at('2026-11-25T20:40:00Z'));
    expect(r.chosen.createdAt.toISOString()).toBe('2026-11-25T20:03:00.000Z');
    expect(r.refused).toEqual([expect.objectContaining({ kind: 'future', reason: expect.stringContaining('after its upload at 2026-11-25T20:00:00.000Z') })]);
  });

  it('within the tolerance (clock skew) an export is accepted; the walk stops at the first upload that cannot be newer', async () => {
    for (let i = 0; i < 10; i++) {
      const t = new Date(Date.parse('2026-11-25T10:00:00Z') + i * 3_600_000);
      await upload(exportKey('dc1', t), exportBundle('dc1', { macs: 5, inspecting: [i % 5], createdAt: t.toISOString() }), t);
    }
    await upload('exports/dc1/just-before.json', exportBundle('dc1', { macs: 5, inspecting: [3], createdAt: '2026-11-25T19:59:30.000Z' }), at('2026-11-25T19:59:30Z'));
    // The newest is dated 4 minutes after its upload: skew, accepted.
    const skewed = new Date(Date.parse('2026-11-25T20:00:00Z') + FUTURE_TOLERANCE_MS - 60_000);
    await upload('exports/dc1/skewed.json', exportBundle('dc1', { macs: 5, inspecting: [4], createdAt: skewed.toISOString() }), at('2026-11-25T20:00:00Z'));
    const r = await newestExport(store, 'dc1', at('2026-11-25T20:00:30Z'));
    expect(r.chosen.key).toBe('exports/dc1/skewed.json');
    expect(r.refused).toEqual([]);
    // Of 12 exports only two are read: the newest upload, and the one uploaded within the tolerance before the best time.
    expect(r.read).toBe(2);
  });

  it('the newest upload unreadable fails the run naming its key; an older unreadable one behind a valid newer upload is only reported', async () => {
    await upload('exports/dc1/a.json', exportBundle('dc1', { macs: 5, inspecting: [1], createdAt: '2026-11-25T19:59:00.000Z' }), at('2026-11-25T19:59:00Z'));
    await upload('exports/dc1/b.json', { schema: 'nope' }, at('2026-11-25T20:00:00Z'));
    const now = at('2026-11-25T20:01:00Z');
    await expect(newestExport(store, 'dc1', now)).rejects.toThrow(InputError);
    await expect(newestExport(store, 'dc1', now)).rejects.toThrow(/^exports\/dc1\/b\.json\.schema: /);
    await upload('exports/dc1/c.json', exportBundle('dc1', { macs: 5, inspecting: [3], createdAt: '2026-11-25T20:01:00.000Z' }), at('2026-11-25T20:01:00Z'));
    const r = await newestExport(store, 'dc1', at('2026-11-25T20:02:00Z'));
    expect(r.chosen.key).toBe('exports/dc1/c.json');
    expect(r.refused).toEqual([expect.objectContaining({ key: 'exports/dc1/b.json', kind: 'invalid' })]);
  });

  it('futureDating: the limit is the earlier of upload time and now, plus 5 minutes', () => {
    const now = at('2026-11-25T20:00:00Z');
    expect(futureDating(at('2026-11-25T20:05:00Z'), undefined, now)).toBeUndefined();
    expect(futureDating(at('2026-11-25T20:05:00.001Z'), undefined, now)).toMatch(/more than 5 minutes after now/);
    expect(futureDating(at('2026-11-25T19:06:00Z'), at('2026-11-25T19:00:00Z'), now)).toMatch(/after its upload at 2026-11-25T19:00:00.000Z/);
  });
});
