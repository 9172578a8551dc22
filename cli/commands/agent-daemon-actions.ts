/** What `agent run|plan|status` do (their flags: agent-daemon.ts). */
import { stat } from 'node:fs/promises';
import { InputError } from '../../core/errors.ts';
import { planSync } from '../../core/layout.ts';
import { readPointer } from '../../control/publish.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { AgentDaemon } from '../../agent/daemon.ts';
import { readDirectory } from '../../agent/hostsdir-io.ts';
import { acquireLock } from '../../agent/lock.ts';
import { createLogger, errorText } from '../../agent/log.ts';
import { fetchVerified } from '../../agent/pull.ts';
import { type AgentReport, readStatusFile } from '../../agent/report.ts';
import { serviceControl } from '../../agent/service.ts';
import { readAgentState } from '../../agent/state-file.ts';
import { openStore } from '../../store/open.ts';
import { VERSION } from '../../core/version.ts';
export { loadConfig } from '../../agent/config.ts';

export async function checkHostsdir(config: AgentConfig): Promise<void> {
  const info = await stat(config.hostsdir).catch(() => undefined);
  if (!info?.isDirectory()) throw new InputError('hostsdir', config.hostsdir, 'not an existing directory');
}

/** Runs the daemon until SIGTERM/SIGINT (resolves) or a fatal error (rejects: exit 1). */
export async function runAgent(config: AgentConfig): Promise<void> {
  const log = createLogger({ level: config.logLevel, site: config.site, host: config.host });
  const store = await openStore(config.store, { region: config.region });
  const service = serviceControl(config.service);
  const lock = await acquireLock(config.lockFile);
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'stopping');
    controller.abort(new Error(sig));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const daemon = new AgentDaemon({ config, store, service, log, signal: controller.signal });
  // A bug that escapes every handler still must not leave dnsmasq serving without its agent.
  const onCrash = (err: unknown) => {
    log.fatal({ error: errorText(err) }, 'agent crashed');
    const stop = config.stopServiceOnExit ? service.stop() : Promise.resolve();
    void stop.catch(() => undefined).finally(() => process.exit(1));
  };
  process.once('uncaughtException', onCrash);
  process.once('unhandledRejection', onCrash);
  log.info({ version: VERSION, hostsdir: config.hostsdir, store: store.description, service: service.description, purge: config.purge }, 'agent starting');
  try {
    await daemon.run();
    log.info({ stats: daemon.stats }, 'agent stopped');
  } catch (err) {
    log.fatal({ error: errorText(err), stats: daemon.stats }, 'agent failed');
    throw err;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    await lock.release();
  }
}

export async function planCommand(config: AgentConfig, json: boolean): Promise<string> {
  const store = await openStore(config.store, { region: config.region });
  const applied = await readAgentState(config.stateFile);
  const pointer = await readPointer(store, config.site);
  if (!pointer) throw new InputError('pointer', config.site, 'no manifest published for this site');
  const manifest = await fetchVerified(store, config.site, pointer, applied?.generation);
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
  if (json) return `${JSON.stringify(doc)}\n`;
  const lines = [
    `site ${config.site}: applied generation ${doc.appliedGeneration ?? 'none'}, published generation ${doc.generation}; layout ${config.layout.kind === 'sharded' ? `sharded (${config.layout.shards} shards)` : 'per-mac'}`,
    `would write ${doc.writes} file(s) ${JSON.stringify(doc.writesByReason)}, delete ${doc.deletes} ${JSON.stringify(doc.deletesByReason)}; reload ${doc.reloadNeeded ? 'yes' : 'no'}`,
    `policy: allow ${plan.counts.allow}, deny ${plan.counts.deny}, removed ${plan.counts.removed}, unchanged ${plan.counts.unchanged}`,
    ...(plan.foreign.length ? [`foreign entries (left alone): ${plan.foreign.map((f) => `${f.name} (${f.reason})`).join(', ')}`] : []),
    ...doc.sample.map((w) => `  ${w.name} <- ${w.content} (${w.reason})`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function statusCommand(config: AgentConfig, now: Date): Promise<{ healthy: boolean; problems: string[]; status: AgentReport | null; ageSeconds: number | null; text: string }> {
  const status = (await readStatusFile(config.statusFile).catch((err: unknown) => {
    throw new InputError('statusFile', config.statusFile, `unreadable (${errorText(err)})`);
  })) ?? null;
  const problems: string[] = [];
  if (!status) problems.push(`no status file at ${config.statusFile} (agent never ran?)`);
  const age = (iso: string | null | undefined) => (iso ? Math.round((now.getTime() - Date.parse(iso)) / 1000) : null);
  const ageSeconds = age(status?.appliedAt);
  const contactAge = age(status?.lastContactAt);
  const stale = status ? status.stale || contactAge === null || contactAge > config.staleAfterSeconds : true;
  if (status && status.generation === null) problems.push('no manifest applied yet (dnsmasq kept stopped)');
  if (status && stale) problems.push(`stale: last contact with the store ${contactAge === null ? 'never' : `${contactAge} s ago`} (limit ${config.staleAfterSeconds} s)`);
  if (status?.lastError) problems.push(`last error (${status.lastError.at}): ${status.lastError.message}`);
  const text = status
    ? [
        `site ${status.site}, host ${status.host}${status.version ? ` (pxe-filter ${status.version})` : ''}: generation ${status.generation ?? 'none'} applied ${ageSeconds === null ? 'never' : `${ageSeconds} s ago`}`,
        `files ${status.counts.files} (allow ${status.counts.allow}, deny ${status.counts.deny}, removed ${status.counts.removed}); last apply ${status.counts.writes} written, ${status.counts.deletes} deleted in ${status.durationMs ?? '-'} ms; reloads ${status.reloads}`,
        `dnsmasq ${status.serviceRunning ? 'running' : 'stopped'}; last contact ${contactAge === null ? 'never' : `${contactAge} s ago`}; ${stale ? 'STALE' : 'fresh'}`,
        ...problems.map((p) => `problem: ${p}`),
      ].join('\n') + '\n'
    : `${problems.join('\n')}\n`;
  return { healthy: problems.length === 0, problems, status, ageSeconds, text };
}
