/**
 * Deployment configuration: which sites, their settings, retention times. Read from a JSON file
 * (default infra/sites.json, `-c config=FILE` for another) and narrowed by context `-c sites=dc1,dc2`, which may only
 * name sites the file describes.
 * Validated with zod at synth time, so a bad setting fails `cdk synth` with the field named, before AWS sees it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { SiteNameSchema, SiteSettingsSchema } from '../core/settings.ts';
import { parseWith } from '../core/zod-errors.ts';
import { assertConsistentSettings } from '../core/policy.ts';

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const SiteConfigSchema = z.strictObject({
  name: SiteNameSchema,
  /**
   * How often the schedule recomputes even without a new export (catches missed S3 events, feeds the heartbeat).
   * At most 8 h: the "no compute" alarm looks back 3 schedule periods, and an alarm period is at most one day.
   */
  scheduleMinutes: z.number().int().min(1).max(480).default(15),
  /** After a publish, agents have this long to ack before the AgentsBehind alarm counts them. */
  ackGraceMinutes: z.number().int().min(1).max(1440).default(15),
  settings: SiteSettingsSchema,
  /** Who may assume this site's agent / exporter roles (IAM principal ARNs); default: this account's root (delegated by IAM). */
  agentPrincipalArns: z.array(z.string().startsWith('arn:')).default([]),
  exporterPrincipalArns: z.array(z.string().startsWith('arn:')).default([]),
  /**
   * IAM Roles Anywhere trust anchors whose certificates may take the agent role (the role then trusts
   * rolesanywhere.amazonaws.com for these anchors only, with sts:TagSession so the certificate's subject becomes
   * session tags).
   */
  agentTrustAnchorArns: z.array(z.string().regex(/^arn:aws[a-z-]*:rolesanywhere:[a-z0-9-]+:\d{12}:trust-anchor\/[0-9a-f-]+$/, 'an IAM Roles Anywhere trust anchor ARN')).default([]),
  /**
   * The session tag that carries each agent's host name, e.g. "x509Subject/CN" (the certificate's CN, as IAM Roles
   * Anywhere sets it). When given, an agent may write only `acks/<site>/<that tag's value>.json`: no agent can
   * overwrite another host's ack to hide it from the AgentsBehind alarm. The agent's `host` must equal the tag value.
   */
  agentAckIdentityTag: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{1,128}$/, 'a session tag key (letters, digits and _ . : / = + @ -)').optional(),
});
export type SiteConfig = z.output<typeof SiteConfigSchema>;

export const DeployConfigSchema = z.strictObject({
  /** Non-current versions of manifests (and acks) are deleted after this many days; rollback reaches back this far. */
  noncurrentVersionDays: z.number().int().min(1).default(90),
  /** Exports are deleted after this many days (the compute only reads the newest). */
  exportRetentionDays: z.number().int().min(1).default(14),
  /** Access logs of the bucket are deleted after this many days. */
  accessLogRetentionDays: z.number().int().min(1).default(365),
  logRetentionDays: z.number().int().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `one of ${LOG_RETENTION_DAYS.join(', ')}`).default(90),
  /** Alarms go to an SNS topic; this address is subscribed when given. */
  alarmEmail: z.email().optional(),
  sites: z.array(SiteConfigSchema).default([]),
  /**
   * Principals besides the compute functions' roles that may sign manifests with the stack's KMS key: e.g. a
   * break-glass role operators assume for `pxe-filter rollback --sign-kms-key`. Everyone else is denied kms:Sign by
   * the key policy, whatever their IAM policies say.
   */
  signerPrincipalArns: z.array(z.string().startsWith('arn:')).default([]),
});
export type DeployConfig = z.output<typeof DeployConfigSchema>;

/**
 * `fileText`: the config file's contents (undefined: no file). `sitesContext`: `-c sites=dc1,dc2` (a comma list,
 * or an array when given in cdk.json). The result always has at least one site.
 */
export function resolveConfig(fileText: string | undefined, fileLabel: string, sitesContext: unknown): DeployConfig {
  let doc: unknown = {};
  if (fileText !== undefined) {
    try {
      doc = JSON.parse(fileText);
    } catch (err) {
      throw new InputError(fileLabel, `${fileText.length} bytes`, `not valid JSON (${(err as Error).message})`);
    }
  }
  const config = parseWith(DeployConfigSchema, doc, fileLabel);
  config.sites.forEach((s) => assertConsistentSettings(s.settings));
  const names = new Set<string>();
  for (const [i, s] of config.sites.entries()) {
    if (names.has(s.name)) throw new InputError(`${fileLabel}.sites[${i}].name`, s.name, 'site listed twice');
    names.add(s.name);
  }
  if (sitesContext === undefined || sitesContext === '') {
    if (config.sites.length === 0) throw new InputError('sites', undefined, `no sites: list them in ${fileLabel} or pass -c sites=dc1,dc2`);
    return config;
  }
  const wanted = (Array.isArray(sitesContext) ? sitesContext.map(String) : String(sitesContext).split(',')).map((s) => s.trim()).filter(Boolean);
  const sites = wanted.map((name, i) => {
    parseWith(SiteNameSchema, name, `context sites[${i}]`);
    const known = config.sites.find((s) => s.name === name);
    // A typo or a site nobody configured must not become a deployed site with guessed settings.
    if (!known) throw new InputError(`context sites[${i}]`, name, `not a site of ${fileLabel} (it has ${config.sites.map((s) => s.name).join(', ') || 'none'}): describe it there first`);
    return known;
  });
  if (sites.length === 0) throw new InputError('context sites', sitesContext, 'no site names');
  if (new Set(wanted).size !== wanted.length) throw new InputError('context sites', sitesContext, 'a site is listed twice');
  return { ...config, sites };
}

export function loadConfigFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(path, (err as NodeJS.ErrnoException).code, 'cannot read the config file');
  }
}
