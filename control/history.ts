/**
 * A site's published history, read from the store: every manifest generation still stored (bucket versioning;
 * old versions expire by lifecycle) and the provenance kept beside each. Read-only; for operators' queries.
 */
import { InputError } from '../core/errors.ts';
import { type Manifest, parseManifestBytes, sha256 } from '../core/manifest.ts';
import { PROVENANCE_SCHEMA, type Provenance, type StoredProvenance, parseProvenanceBytes, resolveProvenanceDelta } from '../core/provenance.ts';
import { manifestKey, provenanceKey } from '../store/keys.ts';
import type { Store } from '../store/store.ts';
import { readPointer } from '../store/pointer.ts';

export interface GenerationSummary {
  generation: number;
  versionId: string;
  publishedAt: string;
  allow: number;
  deny: number;
  unknownHosts: Manifest['policy']['unknownHosts'];
  /** The export (or, for a rollback, the manifest version) the generation was computed from. */
  inputs: Manifest['source']['inputs'];
  current: boolean;
}

/** Every stored generation, newest first, with the manifest of each (for diffs and removed-MAC lookups). */
export async function readGenerations(store: Store, site: string): Promise<{ summary: GenerationSummary; manifest: Manifest }[]> {
  const key = manifestKey(site);
  const pointer = await readPointer(store, site);
  const out: { summary: GenerationSummary; manifest: Manifest }[] = [];
  for (const v of await store.listVersions(key)) {
    const obj = await store.getObject(key, v.versionId);
    if (!obj) continue; // expired between the listing and the read
    const m = parseManifestBytes(obj.bytes, `${key}@${v.versionId}`);
    out.push({
      manifest: m,
      summary: {
        generation: m.generation,
        versionId: v.versionId,
        publishedAt: m.createdAt,
        allow: m.policy.allow.length,
        deny: m.policy.deny.length,
        unknownHosts: m.policy.unknownHosts,
        inputs: m.source.inputs,
        current: pointer?.versionId === v.versionId,
      },
    });
  }
  return out.sort((a, b) => b.summary.generation - a.summary.generation);
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


/**
 * The provenance of one generation: the versions of the provenance object are read newest first until that
 * generation (generations only grow, so a lower one ends the search). Undefined when none is stored (published
 * before provenance was kept, or expired with its manifest). A delta is resolved against the full document whose
 * object version it names (read by version: an agent's role may read versions but not list them).
 */
export async function readProvenance(store: Store, site: string, generation: number): Promise<Provenance | undefined> {
  const key = provenanceKey(site);
  const found = await findProvenance(store, key, generation);
  if (!found) return undefined;
  if (found.doc.schema === PROVENANCE_SCHEMA) return found.doc;
  const label = `${key}@${found.versionId}`;
  const baseObj = await store.getObject(key, found.doc.base.versionId);
  // Its base expired first (the lifecycle keeps non-current versions for a time, and the base became one earlier).
  if (!baseObj) return undefined;
  const baseLabel = `${key}@${found.doc.base.versionId}`;
  const base = parseProvenanceBytes(baseObj.bytes, baseLabel);
  if (base.schema !== PROVENANCE_SCHEMA) throw new InputError(`${label}.base`, found.doc.base.versionId, 'names another delta; a delta is always of a full document');
  return resolveProvenanceDelta(found.doc, base, label);
}

async function findProvenance(store: Store, key: string, generation: number): Promise<{ doc: StoredProvenance; versionId: string } | undefined> {
  // The current object first: it is the one asked for nearly always, and reading it needs no version listing
  // (which an agent's role may not do).
  const current = await store.getObject(key);
  if (!current) return undefined;
  const p = parseProvenanceBytes(current.bytes, key);
  if (p.generation === generation) return { doc: p, versionId: current.versionId };
  if (p.generation < generation) return undefined;
  for (const v of await store.listVersions(key)) {
    const obj = await store.getObject(key, v.versionId);
    if (!obj) continue;
    const p = parseProvenanceBytes(obj.bytes, `${key}@${v.versionId}`);
    if (p.generation === generation) return { doc: p, versionId: v.versionId };
    if (p.generation < generation) break;
  }
  return undefined;
}

/** The current generation named by the pointer, or a refusal when the site never published. */
export async function currentGeneration(store: Store, site: string): Promise<number> {
  const pointer = await readPointer(store, site);
  if (!pointer) throw new InputError('--site', site, `has no published manifest in ${store.description}`);
  return pointer.generation;
}
