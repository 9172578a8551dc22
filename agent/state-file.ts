/** What this host has applied, kept outside the hosts directory so replays can be refused across restarts. */
import { z } from 'zod';
import { readJsonFileIfExists, writeFileAtomicSync } from '../store/files.ts';

export const AgentStateSchema = z.strictObject({
  site: z.string(),
  generation: z.number().int().min(1),
  sha256: z.string(),
  appliedAt: z.iso.datetime(),
});
export type AgentState = z.output<typeof AgentStateSchema>;

export async function readAgentState(path: string): Promise<AgentState | undefined> {
  return readJsonFileIfExists(path, AgentStateSchema);
}

export async function writeAgentState(path: string, state: AgentState): Promise<void> {
  writeFileAtomicSync(path, `${JSON.stringify(state)}\n`, { mkdir: true });
}
