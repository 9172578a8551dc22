/**
 * One compute run for one site, on any Store: newest export + site settings → policy → guard → publish.
 * The Lambda handler and any CLI wrap this; it holds no AWS or Lambda specifics.
 */
import { ConfigError, InputError } from '../core/errors.ts';
import { parseExportBundle, parseJsonText } from '../core/export-bundle.ts';
import { sha256 } from '../core/manifest.ts';
import type { PolicyStats } from '../core/policy.ts';
import type { SiteSettings } from '../core/settings.ts';
import { exportsPrefix } from '../store/layout.ts';
import type { Store } from '../store/store.ts';
import { policyFromExport } from './policy-from-export.ts';
import { provenanceWriter } from './provenance.ts';
import { type PublishResult, publishPolicy } from './publish.ts';
import { loadSiteSettings } from './site-settings.ts';

export interface ComputeSiteRequest {
  store: Store;
  site: string;
  now: Date;
  force?: boolean;
}

export interface ComputeSiteResult {
  exportKey: string;
  settings: SiteSettings;
  stats: PolicyStats;
  published: PublishResult;
}

/**
 * The newest export by key. Keys are timestamps (store/layout exportKey), so the newest sorts last. S3 events
 * can arrive late or out of order; always computing from the newest object (not the one in the event) means a
 * late event can never publish an older export over a newer one.
 */
export async function latestExportKey(store: Store, site: string): Promise<string> {
  const prefix = exportsPrefix(site);
  const keys = (await store.listObjects(prefix)).map((o) => o.key).filter((k) => k.endsWith('.json') && !k.slice(prefix.length).includes('/'));
  const latest = keys.at(-1);
  if (!latest) throw new ConfigError(`${prefix}: no export for site "${site}" yet (run pxe-filter export)`);
  return latest;
}

export async function computeSite(req: ComputeSiteRequest): Promise<ComputeSiteResult> {
  const { store, site } = req;
  const settings = await loadSiteSettings(store, site);
  const exportKey = await latestExportKey(store, site);
  const obj = await store.getObject(exportKey);
  if (!obj) throw new Error(`${exportKey}: listed but gone when read (expired by lifecycle?); the next run will use the newest export`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(obj.bytes);
  } catch {
    throw new InputError(exportKey, `${obj.bytes.byteLength} bytes`, 'not UTF-8');
  }
  const bundle = parseJsonText(text, exportKey);
  const parsed = parseExportBundle(bundle, exportKey);
  if (parsed.site !== site) throw new InputError(`${exportKey}.site`, parsed.site, `is not the site "${site}" whose prefix it is under`);
  const { policy, stats } = policyFromExport(parsed, settings);
  const input = { key: exportKey, sha256: sha256(obj.bytes) };
  const published = await publishPolicy({
    store,
    site,
    policy,
    inputs: [input],
    provenance: provenanceWriter({ bundle, parsed, settings, export: input }),
    guard: settings.guard,
    force: req.force ?? false,
    now: req.now,
  });
  return { exportKey, settings, stats, published };
}
