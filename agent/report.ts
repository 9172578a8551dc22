/**
 * What the agent reports: the ack it puts into the store (`acks/<site>/<host>.json`, read by monitoring and the
 * control plane) and the local status file read by `agent status`. Both are the same document.
 */
import { z } from 'zod';
import { readJsonFileIfExists, writeFileAtomicSync } from '../store/files.ts';

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

/**
 * The local status file: the report plus who wrote it (pid and kernel start time, as in the lock), so
 * `agent status` can tell a report of a running agent from the last words of a dead one.
 */
export const StatusFileSchema = AgentReportSchema.extend({
  owner: z.strictObject({ pid: z.number().int(), start: z.string(), command: z.string().optional(), since: z.string().optional() }).nullable().default(null),
});
export type StatusFile = z.output<typeof StatusFileSchema>;

/** Without an owner (a one-shot command, not a daemon), `agent status` judges the report alone. */
export async function writeStatusFile(path: string, status: AgentReport & { owner?: StatusFile['owner'] }): Promise<void> {
  writeFileAtomicSync(path, `${JSON.stringify({ owner: null, ...status })}\n`, { mkdir: true });
}

export async function readStatusFile(path: string): Promise<StatusFile | undefined> {
  return readJsonFileIfExists(path, StatusFileSchema);
}
