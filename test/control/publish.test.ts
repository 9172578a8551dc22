/** publishPolicy on the local store: generations, no-op on unchanged, guard, crash repair, forward-only pointer. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GuardError } from '../../core/errors.ts';
import type { Mac } from '../../core/mac.ts';
import { sha256 } from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { DEFAULT_MAX_CHANGE_SHARE, DEFAULT_MIN_CHANGES_TO_GUARD } from '../../core/settings.ts';
import { type PublishRequest, publishPolicy, readCurrentManifest } from '../../control/publish.ts';
import { readPointer } from '../../store/pointer.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { manifestKey, pointerParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { PreconditionFailedError, type Store } from '../../store/store.ts';
import { tempDir } from '../support/cli.ts';

const m = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}` as Mac;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => m(a + i));
const policy = (p: Partial<Policy>): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [], deny: [], ...p });
const guard = { maxChangeShare: DEFAULT_MAX_CHANGE_SHARE, minChangesToGuard: DEFAULT_MIN_CHANGES_TO_GUARD };

let tmp: { path: string; cleanup: () => void };
let store: LocalStore;
const req = (p: Policy, extra: Partial<PublishRequest> = {}): PublishRequest => ({
  store,
  site: 'dc1',
  policy: p,
  inputs: [{ key: 'exports/dc1/x.json', sha256: sha256('x') }],
  guard,
  force: false,
  now: new Date('2026-11-25T12:00:00Z'),
  ...extra,
});
const pointerFile = () => join(store.root, 'parameters', pointerParameter('dc1').slice(1));
beforeEach(() => {
  tmp = tempDir('publish');
  store = new LocalStore(join(tmp.path, 'store'));
});
afterEach(() => tmp.cleanup());

describe('publishPolicy', () => {
  it('first publish: generation 1, the pointer names the exact version and sha256, and the agent can pull it', async () => {
    const r = await publishPolicy(req(policy({ deny: range(0, 30) })));
    expect(r).toMatchObject({ status: 'published', manifest: { generation: 1 }, pointerRepaired: false });
    const obj = await store.getObject(manifestKey('dc1'));
    expect(await readPointer(store, 'dc1')).toEqual({ site: 'dc1', generation: 1, key: manifestKey('dc1'), versionId: obj!.versionId, sha256: sha256(obj!.bytes) });
    expect((await new ManifestSource(store, 'dc1').current(undefined))?.manifest.policy.deny).toHaveLength(30);
  });

  it('unchanged policy → no new version, pointer file not rewritten; a change → generation 2', async () => {
    await publishPolicy(req(policy({ deny: range(0, 30) })));
    const before = statSync(pointerFile(), { bigint: true });
    const again = await publishPolicy(req(policy({ deny: range(0, 30) }), { now: new Date('2026-11-26T00:00:00Z') }));
    expect(again).toMatchObject({ status: 'unchanged', manifest: { generation: 1 }, pointerRepaired: false });
    expect(await store.listVersions(manifestKey('dc1'))).toHaveLength(1);
    const after = statSync(pointerFile(), { bigint: true });
    expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
    const changed = await publishPolicy(req(policy({ allow: [m(0)], deny: range(1, 30) })));
    expect(changed).toMatchObject({ status: 'published', manifest: { generation: 2 } });
    expect((await readPointer(store, 'dc1'))?.generation).toBe(2);
  });

  it('guard refusal leaves the manifest object and the pointer exactly as they were', async () => {
    await publishPolicy(req(policy({ deny: range(0, 100) })));
    const pointerBefore = await store.getParameter(pointerParameter('dc1'));
    const versionsBefore = await store.listVersions(manifestKey('dc1'));
    await expect(publishPolicy(req(policy({ deny: range(0, 10) })))).rejects.toBeInstanceOf(GuardError);
    await expect(publishPolicy(req(policy({})))).rejects.toThrow(/no ports/);
    expect(await store.getParameter(pointerParameter('dc1'))).toBe(pointerBefore);
    expect(await store.listVersions(manifestKey('dc1'))).toEqual(versionsBefore);
    expect((await publishPolicy(req(policy({ deny: range(0, 10) }), { force: true }))).manifest.generation).toBe(2);
  });

  it('a crash between the object write and the pointer write is repaired by the next publish (same policy)', async () => {
    await publishPolicy(req(policy({ deny: range(0, 30) })));
    // A store whose next pointer write dies, as a Lambda killed between the two calls would.
    let crash = true;
    const crashing: Store = Object.assign(Object.create(store) as LocalStore, {
      putParameter: async (name: string, value: string) => {
        if (crash) {
          crash = false;
          throw new Error('killed');
        }
        return store.putParameter(name, value);
      },
    });
    await expect(publishPolicy(req(policy({ allow: [m(1)], deny: [m(0), ...range(2, 30)] }), { store: crashing }))).rejects.toThrow('killed');
    expect((await readCurrentManifest(store, 'dc1'))?.manifest.generation).toBe(2);
    expect((await readPointer(store, 'dc1'))?.generation).toBe(1); // agents still get generation 1: consistent
    const repaired = await publishPolicy(req(policy({ allow: [m(1)], deny: [m(0), ...range(2, 30)] })));
    expect(repaired).toMatchObject({ status: 'unchanged', pointerRepaired: true, manifest: { generation: 2 } });
    const obj = await store.getObject(manifestKey('dc1'));
    expect(await readPointer(store, 'dc1')).toMatchObject({ generation: 2, versionId: obj!.versionId, sha256: sha256(obj!.bytes) });
  });

  it('the pointer never moves backwards (a slow publisher cannot undo a newer one)', async () => {
    await publishPolicy(req(policy({ deny: range(0, 30) })));
    const newer = { site: 'dc1', generation: 7, key: manifestKey('dc1'), versionId: 'newer-version', sha256: 'a'.repeat(64) };
    await store.putParameter(pointerParameter('dc1'), JSON.stringify(newer));
    const r = await publishPolicy(req(policy({ allow: [m(0)], deny: range(1, 30) })));
    expect(r.manifest.generation).toBe(2);
    expect(await readPointer(store, 'dc1')).toEqual(newer);
  });

  it('two concurrent publishes of different policies: exactly one lands as generation 2, the other loses its conditional write', async () => {
    await publishPolicy(req(policy({ deny: range(0, 30) })));
    const results = await Promise.allSettled([
      publishPolicy(req(policy({ allow: [m(0)], deny: range(1, 30) }))),
      publishPolicy(req(policy({ allow: [m(5)], deny: [...range(0, 5), ...range(6, 30)] }))),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(PreconditionFailedError);
    expect(await store.listVersions(manifestKey('dc1'))).toHaveLength(2);
    const winner = (won[0] as PromiseFulfilledResult<{ manifest: { policy: Policy } }>).value.manifest.policy;
    expect((await new ManifestSource(store, 'dc1').current(undefined))?.manifest.policy).toEqual(winner);
  });
});
