/**
 * The events that start a compute: an S3 ObjectCreated notification under `exports/<site>/`, or the
 * per-site EventBridge schedule. Validated with zod; anything else is refused with the offending field.
 */
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { SiteNameSchema } from '../core/settings.ts';
import { parseWith } from '../core/zod-errors.ts';
import { exportsPrefix } from '../store/keys.ts';
import { SCHEDULE_SOURCE } from './names.ts';

// S3 events carry many more fields; only these are relied on, the rest is tolerated.
const S3RecordSchema = z.looseObject({
  eventSource: z.literal('aws:s3'),
  eventName: z.string().startsWith('ObjectCreated:'),
  s3: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({ key: z.string().min(1) }),
  }),
});
export const S3NotificationSchema = z.looseObject({ Records: z.array(S3RecordSchema).min(1) });

export const ScheduleEventSchema = z.strictObject({
  source: z.literal(SCHEDULE_SOURCE),
  site: SiteNameSchema,
  /** Only for an operator's manual invoke: publish although the guard says the export looks broken. */
  force: z.boolean().default(false),
});

export type ComputeTrigger = { kind: 's3'; keys: string[] } | { kind: 'schedule'; force: boolean };

/** Keys in S3 notifications are URL-encoded with "+" for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replaceAll('+', ' '));
}

/** Parse an event for the function of `site` reading `bucket`; an event meant for another site or bucket is refused. */
export function parseComputeEvent(event: unknown, site: string, bucket: string): ComputeTrigger {
  if (typeof event === 'object' && event !== null && 'Records' in event) {
    const s3 = parseWith(S3NotificationSchema, event, 'event');
    const keys = s3.Records.map((r, i) => {
      if (r.s3.bucket.name !== bucket) throw new InputError(`event.Records[${i}].s3.bucket.name`, r.s3.bucket.name, `is not this function's bucket "${bucket}"`);
      const key = decodeS3Key(r.s3.object.key);
      if (!key.startsWith(exportsPrefix(site))) throw new InputError(`event.Records[${i}].s3.object.key`, key, `is not under ${exportsPrefix(site)}`);
      return key;
    });
    return { kind: 's3', keys };
  }
  const scheduled = parseWith(ScheduleEventSchema, event, 'event');
  if (scheduled.site !== site) throw new InputError('event.site', scheduled.site, `is not this function's site "${site}"`);
  return { kind: 'schedule', force: scheduled.force };
}
