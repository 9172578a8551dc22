/**
 * `agent status`: is this host's filter healthy? The status file says what the agent last knew; the checks here
 * add what it cannot say about itself once it is gone: whether it still runs, whether dnsmasq runs, and whether the
 * published manifest has moved on without it. `assessStatus` is the rule (pure); `gatherStatus` reads the facts.
 */
import type { AgentConfig } from './config.ts';
import { isAlive } from './lock.ts';
import type { StatusFile } from './report.ts';

export interface StatusFacts {
  status: StatusFile | undefined;
  /** Is the process that wrote the status file still running? undefined: the file names no owner. */
  ownerAlive: boolean | undefined;
  /** Does dnsmasq run? undefined: the service cannot tell (mode none, no status command). */
  serviceActive: boolean | undefined;
  /** The published pointer's generation and when it was published; an error text when the store did not answer. */
  published: { generation: number; at: Date } | { error: string } | undefined;
}

export interface StatusAssessment {
  healthy: boolean;
  problems: string[];
  /** Seconds since the applied generation was applied, and since the last contact with the store. */
  ageSeconds: number | null;
  contactAgeSeconds: number | null;
  stale: boolean;
}

type Limits = Pick<AgentConfig, 'statusFile' | 'staleAfterSeconds' | 'behindAfterSeconds'>;

export function assessStatus(facts: StatusFacts, limits: Limits, now: Date): StatusAssessment {
  const { status } = facts;
  const age = (iso: string | null | undefined) => (iso ? Math.round((now.getTime() - Date.parse(iso)) / 1000) : null);
  const ageSeconds = age(status?.appliedAt);
  const contactAgeSeconds = age(status?.lastContactAt);
  if (!status) return { healthy: false, problems: [`no status file at ${limits.statusFile} (agent never ran?)`], ageSeconds, contactAgeSeconds, stale: true };
  const problems: string[] = [];
  const stale = status.stale || contactAgeSeconds === null || contactAgeSeconds > limits.staleAfterSeconds;
  if (facts.ownerAlive === false) problems.push(`the agent is not running (pid ${status.owner!.pid}, ${status.owner!.command ?? 'agent'} since ${status.owner!.since ?? '?'}, is gone)`);
  if (status.generation === null) problems.push('no manifest applied yet (dnsmasq kept stopped)');
  if (stale) problems.push(`stale: last contact with the store ${contactAgeSeconds === null ? 'never' : `${contactAgeSeconds} s ago`} (limit ${limits.staleAfterSeconds} s)`);
  if (status.lastError) problems.push(`last error (${status.lastError.at}): ${status.lastError.message}`);
  // dnsmasq should run once a generation is applied by a running agent.
  const shouldRun = status.generation !== null && facts.ownerAlive !== false;
  if (shouldRun && facts.serviceActive === false) problems.push('dnsmasq is not running, but the agent has applied a policy and should have it running');
  else if (shouldRun && facts.ownerAlive === true && !status.serviceRunning) problems.push('dnsmasq is not running (the agent recorded it stopped)');
  const published = facts.published;
  if (published && 'generation' in published && (status.generation === null || published.generation > status.generation)) {
    const behind = Math.round((now.getTime() - published.at.getTime()) / 1000);
    if (behind > limits.behindAfterSeconds) {
      problems.push(`behind: generation ${published.generation} was published ${behind} s ago, generation ${status.generation ?? 'none'} is applied (limit ${limits.behindAfterSeconds} s)`);
    }
  }
  return { healthy: problems.length === 0, problems, ageSeconds, contactAgeSeconds, stale };
}

/** The facts for assessStatus: the owner's process, dnsmasq, and the pointer (errors there are facts, not failures). */
export async function gatherStatus(
  status: StatusFile | undefined,
  probes: { serviceActive(): Promise<boolean | undefined>; published(): Promise<{ generation: number; at: Date } | undefined> },
): Promise<StatusFacts> {
  const ownerAlive = status?.owner ? isAlive(status.owner) : undefined;
  const [serviceActive, published] = await Promise.all([
    probes.serviceActive().catch(() => undefined),
    probes.published().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })),
  ]);
  return { status, ownerAlive, serviceActive, published };
}
