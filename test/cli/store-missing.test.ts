/**
 * Issue 14 (errors name what the user typed): a local store path that does not exist is reported as such, by the
 * store itself, instead of reading as "no manifest published yet" forever.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { readPointer } from '../../store/pointer.ts';
import { LocalStore } from '../../store/local-store.ts';
import { runCli, stderrLines, tempDir } from '../support/cli.ts';

const tmp = tempDir('store-missing');
afterAll(() => tmp.cleanup());

describe('a local store directory that does not exist', () => {
  const missing = join(tmp.path, 'no-such-store');

  it('reading the pointer says the directory does not exist, naming it (not "nothing published")', async () => {
    const store = new LocalStore(missing);
    const err = await readPointer(store, 'dc1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`store: no such directory (a local store is created by its first publish: check the store path given): "local:${missing}"`);
    // A first publisher reads the current manifest before it writes one: objects stay quiet.
    expect(await store.getObject('manifests/dc1/manifest.json')).toBeUndefined();
  });

  it('an existing store with nothing published yet still reads as "nothing there" (undefined), and writes create it', async () => {
    const empty = join(tmp.path, 'empty-store');
    mkdirSync(empty);
    expect(await readPointer(new LocalStore(empty), 'dc1')).toBeUndefined();
    const fresh = new LocalStore(join(tmp.path, 'fresh'));
    expect(await fresh.listObjects('exports/dc1/')).toEqual([]); // a first writer lists before writing
    await fresh.putParameter('/pxe-filter/dc1/current', '{}');
    expect(await fresh.getObject('manifests/dc1/manifest.json')).toBeUndefined();
  });

  it('`agent plan --config` with that store: exit 2, one line naming the store path', async () => {
    const hostsdir = join(tmp.path, 'hostsdir');
    mkdirSync(hostsdir);
    const config = join(tmp.path, 'agent.json');
    writeFileSync(config, JSON.stringify({ site: 'dc1', store: `local:${missing}`, hostsdir, stateFile: join(tmp.path, 'state.json'), service: { mode: 'none' } }));
    const r = await runCli(['agent', 'plan', '--config', config]);
    expect(r.code, r.stderr).toBe(2);
    expect(stderrLines(r)).toEqual([`pxe-filter: store: no such directory (a local store is created by its first publish: check the store path given): "local:${missing}"`]);
  });
});
