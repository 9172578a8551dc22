/**
 * control/publish-run.ts: concurrent publishers of one site. Without any lock the manifest's conditional write lets
 * exactly one of them publish generation N+1; the others lose it, run again on the new state and find it unchanged.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishRun } from '../../control/publish-run.ts';
import { manifestKey } from '../../store/keys.ts';
import { readPointer } from '../../store/pointer.ts';
import type { LocalStore } from '../../store/local-store.ts';
import { PreconditionFailedError, type Store } from '../../store/store.ts';
import { putExport, siteStore } from '../support/control.ts';

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-publish-run-'));
  store = await siteStore(dir, 'dc1');
  await putExport(store, 'dc1');
  await publishRun({ store, site: 'dc1' });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('publishRun', () => {
  it('five publishers at once, no lock: one publishes generation 2, the others lose the conditional write and find it unchanged', async () => {
    await putExport(store, 'dc1', { inspecting: [4] });
    const runs = await Promise.all(Array.from({ length: 5 }, () => publishRun({ store, site: 'dc1' })));
    expect(runs.filter((r) => r.published.status === 'published')).toHaveLength(1);
    expect(runs.map((r) => r.published.manifest.generation)).toEqual([2, 2, 2, 2, 2]);
    expect((await store.listVersions(manifestKey('dc1'))).length).toBe(2);
    expect((await readPointer(store, 'dc1'))?.generation).toBe(2);
  });

  it('a lost conditional write runs again on the new state; three lost in a row fail the run', async () => {
    await putExport(store, 'dc1', { inspecting: [4] });
    let lose = 1;
    const flaky: Store = Object.assign(Object.create(store) as Store, {
      putObject: (key: string, bytes: Uint8Array, o?: Parameters<Store['putObject']>[2]) => {
        if (key === manifestKey('dc1') && lose-- > 0) return Promise.reject(new PreconditionFailedError(key));
        return store.putObject(key, bytes, o);
      },
    });
    const r = await publishRun({ store: flaky, site: 'dc1' });
    expect(r).toMatchObject({ attempts: 2, published: { status: 'published' } });

    await putExport(store, 'dc1', { inspecting: [5] });
    lose = 3;
    await expect(publishRun({ store: flaky, site: 'dc1' })).rejects.toThrow(PreconditionFailedError);
    expect((await readPointer(store, 'dc1'))?.generation).toBe(2);
  });

  it('takes the given lock around each attempt and releases it, also when the run fails', async () => {
    const events: string[] = [];
    const lock = async () => {
      events.push('lock');
      return { release: async () => void events.push('release') };
    };
    await publishRun({ store, site: 'dc1', lock });
    await expect(publishRun({ store, site: 'dc9', lock })).rejects.toThrow(/no settings for site "dc9"/);
    expect(events).toEqual(['lock', 'release', 'lock', 'release']);
  });
});
