/**
 * What the agent reports: the ack it puts into the store (core/ack.ts, the document) and the local status file read
 * by `agent status` (the same document plus its writer).
 */
import { z } from 'zod';
import { type AgentReport, AgentReportSchema } from '../core/ack.ts';
import { readJsonFileIfExists, writeFileAtomicSync } from '../store/files.ts';

export { ACK_SCHEMA, type AgentReport, AgentReportSchema, encodeReport } from '../core/ack.ts';

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
