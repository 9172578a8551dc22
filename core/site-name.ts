/**
 * Site names become S3 prefixes, SSM paths and IAM resource names: a safe alphabet. The pattern lives apart from
 * its schema (SiteNameSchema, core/settings.ts) so that the zod-free manifest reader (core/manifest-bytes.ts)
 * checks exactly the same thing.
 */
export const SITE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
