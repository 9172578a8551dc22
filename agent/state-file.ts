/** What this host has applied, kept outside the hosts directory so replays can be refused across restarts. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../core/zod-errors.ts';

export const AgentStateSchema = z.strictObject({
  site: z.string(),
  generation: z.number().int().min(1),
  sha256: z.string(),
  appliedAt: z.iso.datetime(),
});
export type AgentState = z.output<typeof AgentStateSchema>;

export async function readAgentState(path: string): Promise<AgentState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseWith(AgentStateSchema, JSON.parse(text), path);
}

export async function writeAgentState(path: string, state: AgentState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(state)}\n`);
  await rename(tmp, path);
}
