/**
 * The agent's report, one document in two places: the ack it puts into the store (`acks/<site>/<host>.json`, read
 * by `fleet status`, the control plane's lag metric and monitoring) and the local status file (agent/report.ts).
 * Here, in core/, because the agent writes it and the control plane reads it.
 */
import { z } from 'zod';

export const ACK_SCHEMA = 'pxe-filter/ack@1';

export const AgentReportSchema = z.strictObject({
  schema: z.literal(ACK_SCHEMA),
  site: z.string(),
  host: z.string(),
  /** The agent's version (core/version.ts); absent in reports written before it was added. */
  version: z.string().optional(),
  /** Applied generation (null until the first apply). */
  generation: z.number().int().min(1).nullable(),
  sha256: z.string().nullable(),
  appliedAt: z.iso.datetime().nullable(),
  /** Last successful read of the pointer. */
  lastContactAt: z.iso.datetime().nullable(),
  reportedAt: z.iso.datetime(),
  /** The policy in force on this host, and what the last apply did. */
  counts: z.strictObject({
    allow: z.number().int(),
    deny: z.number().int(),
    removed: z.number().int(),
    files: z.number().int(),
    foreign: z.number().int(),
    writes: z.number().int(),
    deletes: z.number().int(),
  }),
  durationMs: z.number().int().nullable(),
  reloads: z.number().int(),
  serviceRunning: z.boolean(),
  stale: z.boolean(),
  lastError: z.strictObject({ message: z.string(), at: z.iso.datetime(), generation: z.number().int().nullable() }).nullable(),
  /** The hosts-directory layout ("per-mac", "sharded/256"); absent in older acks. */
  layout: z.string().optional(),
});
export type AgentReport = z.output<typeof AgentReportSchema>;

export function encodeReport(report: AgentReport): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(report)}\n`);
}
