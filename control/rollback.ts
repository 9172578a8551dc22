/**
 * Rollback (design §5): publish an earlier generation's policy as a NEW generation. The pointer keeps moving
 * forward, so agents that refuse replays (a lower generation) accept it, and history stays append-only.
 */
import { InputError } from '../core/errors.ts';
import { type Manifest, parseManifestBytes, sha256 } from '../core/manifest.ts';
import { GuardSettingsSchema } from '../core/settings.ts';
import { manifestKey } from '../store/layout.ts';
import type { Store } from '../store/store.ts';
import { type PublishResult, publishPolicy, readCurrentManifest } from './publish.ts';

export interface RollbackRequest {
  store: Store;
  site: string;
  toGeneration: number;
  now: Date;
}

export interface RollbackResult {
  from: { generation: number; versionId: string };
  published: PublishResult;
}

/** Find the version of the site's manifest key whose generation is `generation`; a refusal names `field` (the user's option). */
export async function findGeneration(
  store: Store,
  site: string,
  generation: number,
  field = '--to-generation',
): Promise<{ manifest: Manifest; versionId: string; sha256: string; lastModified: Date }> {
  const key = manifestKey(site);
  for (const v of await store.listVersions(key)) {
    const obj = await store.getObject(key, v.versionId);
    if (!obj) continue;
    const m = parseManifestBytes(obj.bytes, `${key}@${v.versionId}`);
    if (m.generation === generation) return { manifest: m, versionId: v.versionId, sha256: sha256(obj.bytes), lastModified: v.lastModified };
    // Versions are newest first and generations only grow: once below the target it cannot appear any more.
    if (m.generation < generation) break;
  }
  throw new InputError(field, generation, `no version of ${key} holds this generation (never published, or expired by the bucket lifecycle)`);
}

export async function rollbackSite(req: RollbackRequest): Promise<RollbackResult> {
  const { store, site, toGeneration } = req;
  const current = await readCurrentManifest(store, site);
  if (!current) throw new InputError('--site', site, 'has no published manifest to roll back');
  if (toGeneration >= current.manifest.generation) {
    throw new InputError('--to-generation', toGeneration, `must be below the current generation ${current.manifest.generation}`);
  }
  const target = await findGeneration(store, site, toGeneration);
  const published = await publishPolicy({
    store,
    site,
    policy: target.manifest.policy,
    inputs: [{ key: `${manifestKey(site)}?versionId=${target.versionId}`, sha256: target.sha256 }],
    // An operator asked for exactly this policy: the guard is for broken exports, not deliberate rollbacks.
    guard: GuardSettingsSchema.parse({}),
    force: true,
    now: req.now,
  });
  return { from: { generation: toGeneration, versionId: target.versionId }, published };
}
