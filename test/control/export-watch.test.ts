/** control/export-watch.ts: inotify on a real local store sees each export once it is complete, and only then. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExportWatch, watchLocalExports } from '../../control/export-watch.ts';
import { LocalStore } from '../../store/local-store.ts';
import { tempDir } from '../support/cli.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function setup() {
  const tmp = tempDir('export-watch');
  const root = join(tmp.path, 'store');
  mkdirSync(root);
  const events: string[] = [];
  const errors: Error[] = [];
  let watch: ExportWatch | undefined;
  const start = (site = 'dc1') => {
    watch = watchLocalExports(root, site, () => events.push(site), (e) => errors.push(e));
    return watch;
  };
  cleanups.push(() => {
    watch?.close();
    tmp.cleanup();
  });
  return { root, store: new LocalStore(root), events, errors, start };
}

async function until(cond: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watching a local store for new exports', () => {
  it('reports an export written after the watch started, in a store whose export prefix did not exist yet', async () => {
    const s = setup();
    s.start();
    await s.store.putObject('exports/dc1/2026-12-02T100000-000Z.json', bytes('{}'));
    await until(() => s.events.length >= 1, 'the first export');
    await s.store.putObject('exports/dc1/2026-12-02T100100-000Z.json', bytes('{}'));
    await until(() => s.events.length >= 2, 'the second export');
    expect(s.errors).toEqual([]);
  });

  it('ignores other sites, manifests and acks; exports already there at start are not news', async () => {
    const s = setup();
    await s.store.putObject('exports/dc1/old.json', bytes('{}'));
    s.start();
    await s.store.putObject('exports/dc2/2026-12-02T100000-000Z.json', bytes('{}'));
    await s.store.putObject('manifests/dc1/manifest.json', bytes('{}'));
    await s.store.putObject('acks/dc1/host.json', bytes('{}'));
    await s.store.putObject('exports/dc1/new.json', bytes('{}'));
    await until(() => s.events.length >= 1, 'the new export');
    await new Promise((r) => setTimeout(r, 200));
    expect(s.events).toEqual(['dc1']);
  });

  it('sees exports under a nested prefix (state exports) and keeps only a handful of watches however many exports exist', async () => {
    const s = setup();
    for (let i = 0; i < 50; i++) await s.store.putObject(`exports/dc1/${String(i).padStart(3, '0')}.json`, bytes('{}'));
    const w = s.start();
    // objects/, objects/exports/ and the site's prefix; complete exports are not watched.
    expect(w.watched).toBeLessThanOrEqual(3);
    await s.store.putObject('exports/dc1/state/2026-12-02T100000-000Z.json', bytes('{}'));
    await until(() => s.events.length >= 1, 'the nested export');
    for (let i = 50; i < 60; i++) await s.store.putObject(`exports/dc1/${i}.json`, bytes('{}'));
    await until(() => s.events.length >= 11, 'ten more exports');
    expect(w.watched).toBeLessThanOrEqual(4); // + the nested prefix
  });

  it('a fresh store directory (no objects/ yet) is followed from its root down as the directories appear', async () => {
    const s = setup();
    const w = s.start();
    expect(w.watched).toBe(1);
    await s.store.putObject('exports/dc1/x.json', bytes('{}'));
    await until(() => s.events.length >= 1, 'the export');
    expect(s.errors).toEqual([]);
  });

  it('close() stops every watch', async () => {
    const s = setup();
    const w = s.start();
    w.close();
    expect(w.watched).toBe(0);
    await s.store.putObject('exports/dc1/x.json', bytes('{}'));
    await new Promise((r) => setTimeout(r, 200));
    expect(s.events).toEqual([]);
  });
});
