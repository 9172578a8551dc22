/**
 * Rollback (docs/design.md §5): publish an earlier generation's policy as a NEW generation. The pointer keeps moving
 * forward, so agents that refuse replays (a lower generation) accept it, and history stays append-only.
 */
import { InputError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { type Provenance, serializeProvenance } from '../core/provenance.ts';
import type { ProvenanceWriter } from './provenance.ts';
import { GuardSettingsSchema } from '../core/settings.ts';
import { manifestKey } from '../store/keys.ts';
import type { Store } from '../store/store.ts';
import { findGeneration, readProvenance } from './history.ts';
import { type PublishResult, publishPolicy, readCurrentManifest } from './publish.ts';
import type { ManifestSigner } from './signing.ts';

export interface RollbackRequest {
  store: Store;
  site: string;
  toGeneration: number;
  now: Date;
  /** Rollback publishes a new generation, signed like any other (agents that require signatures refuse it otherwise). */
  signer?: ManifestSigner;
}

export interface RollbackResult {
  from: { generation: number; versionId: string };
  published: PublishResult;
}

export { findGeneration } from './history.ts';

export async function rollbackSite(req: RollbackRequest): Promise<RollbackResult> {
  const { store, site, toGeneration } = req;
  const current = await readCurrentManifest(store, site);
  if (!current) throw new InputError('--site', site, 'has no published manifest to roll back');
  if (toGeneration >= current.manifest.generation) {
    throw new InputError('--to-generation', toGeneration, `must be below the current generation ${current.manifest.generation}`);
  }
  const target = await findGeneration(store, site, toGeneration);
  const restored = await readProvenance(store, site, toGeneration);
  const published = await publishPolicy({
    store,
    site,
    policy: target.manifest.policy,
    inputs: [{ key: `${manifestKey(site)}?versionId=${target.versionId}`, sha256: target.sha256 }],
    // An operator asked for exactly this policy: the guard is for broken exports, not deliberate rollbacks.
    guard: GuardSettingsSchema.parse({}),
    force: true,
    now: req.now,
    ...(req.signer ? { signer: req.signer } : {}),
    // The same policy, so the same explanation: the restored generation's provenance, stamped with the new one.
    ...(restored ? { provenance: restoredProvenance(restored) } : {}),
  });
  return { from: { generation: toGeneration, versionId: target.versionId }, published };
}

/** A full document (never a delta: its base may be any age), stamped with the new generation. */
function restoredProvenance(restored: Provenance): ProvenanceWriter {
  return {
    render: (m: Manifest) => ({ bytes: serializeProvenance({ ...restored, generation: m.generation, publishedAt: m.createdAt, policyDigest: m.policyDigest }), form: 'full' }),
    stored: () => {},
  };
}
