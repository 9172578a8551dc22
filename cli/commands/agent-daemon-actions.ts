/** What `agent run|plan|status` do (their flags: agent-daemon.ts). */
import { InputError } from '../../core/errors.ts';
import { planSync } from '../../core/hostsdir-layout.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { AgentDaemon } from '../../agent/daemon.ts';
import { readDirectory } from '../../agent/hostsdir-io.ts';
import { resolveHostsdir } from '../../agent/hostsdir-path.ts';
import { acquireHostsdirLock, acquireLock, currentOwner } from '../../agent/lock.ts';
import { createLogger, errorText } from '../../agent/log.ts';
import { daemonHandlers, installProcessHandlers } from '../../agent/process-handlers.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { type StatusFile, readStatusFile } from '../../agent/report.ts';
import { assessStatus, gatherStatus } from '../../agent/status.ts';
import { serviceControl } from '../../agent/service.ts';
import { readAgentState } from '../../agent/state-file.ts';
import { openStore } from '../../store/open.ts';
import { trustStoreOf } from '../../core/signature.ts';
import { VERSION } from '../../core/version.ts';
export { loadConfig } from '../../agent/config.ts';

/** The config with its hosts directory resolved to the real path every write and the lock use (or refused). */
export async function checkHostsdir(config: AgentConfig): Promise<AgentConfig> {
  return { ...config, hostsdir: await resolveHostsdir(config.hostsdir, { field: 'hostsdir', allowUnsafe: config.allowUnsafeHostsdir }) };
}

/** Runs the daemon until SIGTERM/SIGINT (resolves) or a fatal error (rejects: exit 1). */
export async function runAgent(config: AgentConfig): Promise<void> {
  const log = createLogger({ level: config.logLevel, site: config.site, host: config.host });
  const store = await openStore(config.store, { region: config.region, fastPointer: config.fastPointer });
  const service = serviceControl(config.service);
  // The directory's lock first (any writer: `agent once`, another daemon with another state file), then the
  // state file's (another daemon on the same state file but another directory).
  const dirLock = await acquireHostsdirLock(config.hostsdir, 'agent run', new Date());
  const lock = await acquireLock(config.lockFile, currentOwner('agent run', new Date()), `state file ${config.stateFile}`).catch(async (err: unknown) => {
    await dirLock.release();
    throw err;
  });
  const controller = new AbortController();
  const daemon = new AgentDaemon({ config, store, service, log, signal: controller.signal });
  const exits = installProcessHandlers(daemonHandlers({ daemon, log, abort: (reason) => controller.abort(reason), exit: (code) => process.exit(code) }));
  log.info({ version: VERSION, hostsdir: config.hostsdir, store: store.description, service: service.description, purge: config.purge }, 'agent starting');
  try {
    await daemon.run();
    log.info({ stats: daemon.stats }, 'agent stopped');
  } catch (err) {
    log.fatal({ error: errorText(err), stats: daemon.stats }, 'agent failed');
    throw err;
  } finally {
    exits.uninstall();
    await lock.release();
    await dirLock.release();
  }
}

/** The plan as text or JSON, and whether anything is pending (for `--detailed-exitcode`). */
export async function planCommand(config: AgentConfig, json: boolean): Promise<{ text: string; pending: boolean }> {
  const store = await openStore(config.store, { region: config.region, fastPointer: config.fastPointer });
  const applied = await readAgentState(config.stateFile);
  const current = await new ManifestSource(store, config.site, trustStoreOf(config.trust.publicKeys)).current(applied);
  if (!current) throw new InputError('pointer', config.site, 'no manifest published for this site');
  const { manifest } = current;
  const plan = planSync(config.layout, manifest.policy, await readDirectory(config.hostsdir));
  const byReason = (items: { reason: string }[]) => items.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.reason]: (acc[i.reason] ?? 0) + 1 }), {});
  const doc = {
    site: config.site,
    layout: config.layout,
    appliedGeneration: applied?.generation ?? null,
    generation: manifest.generation,
    writes: plan.writes.length,
    deletes: plan.deletes.length,
    writesByReason: byReason(plan.writes),
    deletesByReason: byReason(plan.deletes),
    reloadNeeded: plan.reloadNeeded,
    counts: plan.counts,
    foreign: plan.foreign,
    sample: plan.writes.slice(0, 20).map((w) => ({ name: w.name, content: w.content.trimEnd(), reason: w.reason })),
  };
  const inSync = plan.writes.length === 0 && plan.deletes.length === 0 && !plan.reloadNeeded;
  if (json) return { text: `${JSON.stringify({ ...doc, inSync, more: plan.writes.length - doc.sample.length })}\n`, pending: !inSync };
  const lines = [
    `site ${config.site}: applied generation ${doc.appliedGeneration ?? 'none'}, published generation ${doc.generation}; layout ${config.layout.kind === 'sharded' ? `sharded (${config.layout.shards} shards)` : 'per-mac'}`,
    `would write ${doc.writes} file(s) ${JSON.stringify(doc.writesByReason)}, delete ${doc.deletes} ${JSON.stringify(doc.deletesByReason)}; reload ${doc.reloadNeeded ? 'yes' : 'no'}`,
    `policy: allow ${plan.counts.allow}, deny ${plan.counts.deny}, removed ${plan.counts.removed}`,
    ...(plan.foreign.length ? [`foreign entries (left alone): ${plan.foreign.map((f) => `${f.name} (${f.reason})`).join(', ')}`] : []),
    ...doc.sample.map((w) => `  ${w.name} <- ${w.content} (${w.reason})`),
    ...(plan.writes.length > doc.sample.length ? [`  … and ${plan.writes.length - doc.sample.length} more`] : []),
  ];
  return { text: `${lines.join('\n')}\n`, pending: !inSync };
}

export async function statusCommand(config: AgentConfig, now: Date): Promise<{ healthy: boolean; problems: string[]; status: StatusFile | null; ageSeconds: number | null; text: string }> {
  const status = await readStatusFile(config.statusFile).catch((err: unknown) => {
    throw new InputError('statusFile', config.statusFile, `unreadable (${errorText(err)})`);
  });
  const service = serviceControl(config.service);
  const facts = await gatherStatus(status, {
    serviceActive: () => service.isRunning(),
    published: async () => {
      const store = await openStore(config.store, { region: config.region, fastPointer: config.fastPointer });
      const read = await new ManifestSource(store, config.site, trustStoreOf(config.trust.publicKeys)).readPointer();
      if (read.kind === 'unpublished') return undefined;
      if (read.kind !== 'pointer') throw new Error(read.kind === 'refused' ? `pointer refused: ${read.reason}` : read.error);
      const { pointer } = read;
      const version = (await store.listVersions(pointer.key)).find((v) => v.versionId === pointer.versionId);
      return version ? { generation: pointer.generation, at: version.lastModified } : undefined;
    },
  });
  const a = assessStatus(facts, config, now);
  const published = facts.published === undefined ? 'none' : 'error' in facts.published ? `unknown (${facts.published.error})` : `generation ${facts.published.generation}`;
  const running = facts.serviceActive === undefined ? (status?.serviceRunning ? 'running' : 'stopped') + ' (as the agent recorded it)' : facts.serviceActive ? 'running' : 'not running';
  const text = status
    ? [
        `site ${status.site}, host ${status.host}${status.version ? ` (pxe-filter ${status.version})` : ''}: generation ${status.generation ?? 'none'} applied ${a.ageSeconds === null ? 'never' : `${a.ageSeconds} s ago`}; published: ${published}`,
        `files ${status.counts.files} (allow ${status.counts.allow}, deny ${status.counts.deny}, removed ${status.counts.removed}); last apply ${status.counts.writes} written, ${status.counts.deletes} deleted in ${status.durationMs ?? '-'} ms; reloads ${status.reloads}`,
        `agent ${status.owner ? `pid ${status.owner.pid} ${facts.ownerAlive ? 'running' : 'gone'}` : 'unknown'}; dnsmasq ${running}; last contact ${a.contactAgeSeconds === null ? 'never' : `${a.contactAgeSeconds} s ago`}; ${a.stale ? 'STALE' : 'fresh'}`,
        ...a.problems.map((p) => `problem: ${p}`),
      ].join('\n') + '\n'
    : `${a.problems.join('\n')}\n`;
  return { healthy: a.healthy, problems: a.problems, status: status ?? null, ageSeconds: a.ageSeconds, text };
}
