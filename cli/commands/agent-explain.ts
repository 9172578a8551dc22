/**
 * `pxe-filter agent explain` on a PXE host: `explain` for the generation this host applied, plus what its hosts
 * directory holds for each MAC right now and whether that agrees with the applied manifest.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { type HostRecord, filesToRead, hostRecord } from '../../core/host-record.ts';
import { parseMac } from '../../core/mac.ts';
import { type ExplainResult, explainMacs, manifestAt } from '../../control/explain.ts';
import { readPointer } from '../../store/pointer.ts';
import { findGeneration } from '../../control/history.ts';
import { openStore } from '../../store/open.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { readAgentState } from '../../agent/state-file.ts';

export interface AgentExplainResult {
  host: string;
  hostsdir: string;
  appliedGeneration: number;
  explain: ExplainResult;
  directory: { mac: string; record: HostRecord }[];
}

export async function agentExplain(config: AgentConfig, inputs: readonly string[]): Promise<AgentExplainResult> {
  const macs = inputs.map((i) => parseMac(i, 'MAC'));
  const applied = await readAgentState(config.stateFile);
  if (!applied) throw new InputError('stateFile', config.stateFile, 'no generation applied on this host yet (is the agent running?)');
  const store = await openStore(config.store);
  // An agent's role reads the pointer and manifest versions, but may not list versions or acks.
  const explain = await explainMacs({ store, site: config.site, macs: inputs, generation: applied.generation, limited: true });
  const pointer = await readPointer(store, config.site);
  const manifest = pointer && pointer.generation === applied.generation ? await manifestAt(store, config.site, applied.generation, pointer) : (await findGeneration(store, config.site, applied.generation, 'stateFile')).manifest;
  const directory = [];
  for (const mac of macs) {
    const files = new Map<string, string | undefined>();
    for (const name of filesToRead(mac, config.layout)) files.set(name, await readFile(join(config.hostsdir, name), 'utf8').catch(() => undefined));
    directory.push({ mac, record: hostRecord(mac, config.layout, files, manifest) });
  }
  return { host: config.host, hostsdir: config.hostsdir, appliedGeneration: applied.generation, explain, directory };
}
