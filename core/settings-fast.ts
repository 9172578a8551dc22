/**
 * The site name check and the settings a `compute` command line makes, without zod: a compute whose input is good
 * never loads the schema library (~35 ms of module loading and schema construction at start-up, issue #19). Anything
 * these do not accept goes to the schemas of core/settings.ts, which word the error; test/core/settings-fast.test.ts
 * checks that whatever is accepted here comes out as the schemas would give it.
 */
import type { SiteSettings } from './settings.ts';
import { SITE_NAME_PATTERN } from './site-name.ts';

/** Default share of known MACs that may vanish or flip in one publish before the guard refuses. */
export const DEFAULT_MAX_CHANGE_SHARE = 0.5;
/** Below this many vanished/flipped MACs the guard never trips (small sites flip whole racks at once). */
export const DEFAULT_MIN_CHANGES_TO_GUARD = 20;
export const DEFAULT_INSPECT_INTERFACES: readonly string[] = ['agent'];

// Site names become S3 prefixes, SSM paths and IAM resource names: one pattern (core/site-name.ts) for every reader.
export { SITE_NAME_PATTERN };

export function isSiteName(value: unknown): value is string {
  return typeof value === 'string' && SITE_NAME_PATTERN.test(value);
}

const SETTINGS_KEYS: ReadonlySet<string> = new Set(['source', 'discovery', 'denyUnknownMacs', 'supportedInspectInterfaces', 'guard']);
const GUARD_KEYS: ReadonlySet<string> = new Set(['maxChangeShare', 'minChangesToGuard']);

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
const onlyKeys = (o: Record<string, unknown>, allowed: ReadonlySet<string>) => Object.keys(o).every((k) => allowed.has(k));
const isShare = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * SiteSettingsSchema's output for `input`, or undefined when the schema must decide (a refusal, or anything this
 * does not know to be valid). The same checks and defaults as the schema: a strict object, `source` one of two
 * words, booleans, a non-empty list of non-empty interface names, a guard share from 0 to 1.
 */
export function siteSettingsFast(input: unknown): SiteSettings | undefined {
  if (!isPlainObject(input) || !onlyKeys(input, SETTINGS_KEYS)) return undefined;
  const { source, discovery, denyUnknownMacs, supportedInspectInterfaces, guard } = input;
  if (source !== 'inspector' && source !== 'ironic') return undefined;
  if ((discovery !== undefined && typeof discovery !== 'boolean') || (denyUnknownMacs !== undefined && typeof denyUnknownMacs !== 'boolean')) return undefined;
  let interfaces = DEFAULT_INSPECT_INTERFACES;
  if (supportedInspectInterfaces !== undefined) {
    if (!Array.isArray(supportedInspectInterfaces) || supportedInspectInterfaces.length === 0) return undefined;
    if (!supportedInspectInterfaces.every((i) => typeof i === 'string' && i.length > 0)) return undefined;
    interfaces = supportedInspectInterfaces as string[];
  }
  let maxChangeShare = DEFAULT_MAX_CHANGE_SHARE;
  let minChangesToGuard = DEFAULT_MIN_CHANGES_TO_GUARD;
  if (guard !== undefined) {
    if (!isPlainObject(guard) || !onlyKeys(guard, GUARD_KEYS)) return undefined;
    if (guard.maxChangeShare !== undefined) {
      if (!isShare(guard.maxChangeShare)) return undefined;
      maxChangeShare = guard.maxChangeShare;
    }
    if (guard.minChangesToGuard !== undefined) {
      if (!isCount(guard.minChangesToGuard)) return undefined;
      minChangesToGuard = guard.minChangesToGuard;
    }
  }
  return {
    source,
    discovery: discovery ?? false,
    denyUnknownMacs: denyUnknownMacs ?? false,
    supportedInspectInterfaces: [...interfaces],
    guard: { maxChangeShare, minChangesToGuard },
  };
}
