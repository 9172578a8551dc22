import { z } from 'zod';
import { SITE_NAME_PATTERN } from './site-name.ts';

/** Default share of known MACs that may vanish or flip in one publish before the guard refuses. */
export const DEFAULT_MAX_CHANGE_SHARE = 0.5;
/** Below this many vanished/flipped MACs the guard never trips (small sites flip whole racks at once). */
export const DEFAULT_MIN_CHANGES_TO_GUARD = 20;

export const GuardSettingsSchema = z.strictObject({
  maxChangeShare: z.number().min(0).max(1).default(DEFAULT_MAX_CHANGE_SHARE),
  minChangesToGuard: z.number().int().min(0).default(DEFAULT_MIN_CHANGES_TO_GUARD),
});

/**
 * Per-site settings (SSM `/pxe-filter/<site>/settings` in AWS, a JSON file locally).
 * `source` picks what "inspecting" means: ironic-inspector introspection status, or Ironic provision states.
 */
export const SiteSettingsSchema = z.strictObject({
  source: z.enum(['inspector', 'ironic']),
  /** ironic-inspector `[processing]node_not_found_hook` set, or ironic `[auto_discovery]enabled`. */
  discovery: z.boolean().default(false),
  /** ironic-inspector `[pxe_filter]deny_unknown_macs`. */
  denyUnknownMacs: z.boolean().default(false),
  /** ironic `[pxe_filter]supported_inspect_interfaces`. */
  supportedInspectInterfaces: z.array(z.string().min(1)).min(1).default(['agent']),
  guard: GuardSettingsSchema.default({ maxChangeShare: DEFAULT_MAX_CHANGE_SHARE, minChangesToGuard: DEFAULT_MIN_CHANGES_TO_GUARD }),
});
export type SiteSettings = z.output<typeof SiteSettingsSchema>;
export type GuardSettings = z.output<typeof GuardSettingsSchema>;

/** Site names become S3 prefixes, SSM paths and IAM resource names: keep them to a safe alphabet. */
export const SiteNameSchema = z
  .string()
  .regex(SITE_NAME_PATTERN, 'a site name is 1-63 characters of a-z, 0-9 and "-", starting with a letter or digit');
