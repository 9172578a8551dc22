/** A site's settings as the cloud keeps them: JSON in SSM `/pxe-filter/<site>/settings`, validated with zod. */
import { ConfigError, InputError } from '../core/errors.ts';
import { assertConsistentSettings } from '../core/policy.ts';
import { type SiteSettings, SiteSettingsSchema } from '../core/settings.ts';
import { parseWith } from '../core/zod-errors.ts';
import { settingsParameter } from '../store/keys.ts';
import type { Store } from '../store/store.ts';

/** Parse settings text; every refusal names the parameter and the field ("/pxe-filter/dc1/settings.guard.maxChangeShare"). */
export function parseSiteSettings(text: string, label: string): SiteSettings {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(label, text, `not valid JSON (${(err as Error).message})`);
  }
  const settings = parseWith(SiteSettingsSchema, doc, label);
  assertConsistentSettings(settings);
  return settings;
}

export async function loadSiteSettings(store: Store, site: string): Promise<SiteSettings> {
  const name = settingsParameter(site);
  const text = await store.getParameter(name);
  if (text === undefined) throw new ConfigError(`${name}: no settings for site "${site}" (deploy the stack with this site, or put the parameter)`);
  return parseSiteSettings(text, name);
}
