/**
 * What `publish` and `control run` check before they write anything: the store (a local store's directory must
 * exist: a typo must not create a second, empty store that no agent reads), each site (a valid name with settings
 * in that store), and the signing key. Each refusal names the option the operator gave.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { SiteNameSchema } from '../../core/settings.ts';
import { parseWith } from '../../core/zod-errors.ts';
import { loadSiteSettings } from '../../control/site-settings.ts';
import { settingsParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { openStore } from '../../store/open.ts';
import type { Store } from '../../store/store.ts';

export interface PublisherStore {
  store: Store;
  /** The directory of a local store (its locks and watches); undefined for s3://. */
  root: string | undefined;
}

export async function openPublisherStore(spec: string): Promise<PublisherStore> {
  if (spec.startsWith('local:')) {
    const root = resolve(spec.slice('local:'.length));
    let isDir = false;
    try {
      isDir = statSync(root).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new InputError('--store', spec, 'no such directory (the exporter creates a local store with its first export: check the path)');
    return { store: new LocalStore(root), root };
  }
  return { store: await openStore(spec), root: undefined };
}

/** The site name, refused unless the store holds its settings (and they are valid). */
export async function checkSite(store: Store, spec: string, site: string): Promise<string> {
  const name = parseWith(SiteNameSchema, site, '--site');
  if ((await store.getParameter(settingsParameter(name))) === undefined) {
    throw new InputError('--site', name, `no settings for this site in ${spec} (parameter ${settingsParameter(name)}: see docs/onprem.md)`);
  }
  await loadSiteSettings(store, name);
  return name;
}

/** The sites of a local store: those with settings (`parameters/pxe-filter/<site>/settings`). */
export function sitesWithSettings(root: string): string[] {
  const dir = join(root, 'parameters', 'pxe-filter');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((site) => SiteNameSchema.safeParse(site).success && existsSync(join(dir, site, 'settings')))
    .sort();
}
