import { readFile } from 'node:fs/promises';
import { InputError } from '../../core/errors.ts';
import { parseManifestBytes } from '../../core/manifest.ts';
import { type ServiceConfig, serviceControl } from '../../agent/service.ts';
import { syncDirectory } from '../../agent/sync.ts';
import { resolveHostsdir } from '../../agent/hostsdir-path.ts';
import { acquireHostsdirLock } from '../../agent/lock.ts';
import { ApplyConfigSchema } from '../../agent/config.ts';
import { type Layout, PER_MAC } from '../../core/layout.ts';

const BURST_OPERATIONS = ApplyConfigSchema.parse({}).reloadAboveOperations;

export interface AgentOnceOptions {
  manifest: string;
  hostsdir: string;
  /** Accept a hosts directory reached through a symlink or writable by another user (agent/hostsdir-path.ts). */
  allowUnsafeHostsdir?: boolean;
  purge: boolean;
  compact?: boolean;
  /** Default per-MAC; another layout's files are migrated (a reload follows when dnsmasq may hold their records). */
  layout?: Layout;
  service: ServiceConfig;
}

/** `pxe-filter agent once`: verify a manifest file, (purge,) sync the directory, start dnsmasq. */
export async function agentOnceCommand(o: AgentOnceOptions) {
  const bytes = await readFile(o.manifest).catch(() => {
    throw new InputError('--manifest', o.manifest, 'cannot read file');
  });
  const manifest = parseManifestBytes(bytes, o.manifest);
  const hostsdir = await resolveHostsdir(o.hostsdir, { field: '--hostsdir', allowUnsafe: o.allowUnsafeHostsdir ?? false });
  const service = serviceControl(o.service);
  // One writer per directory: a daemon or another `agent once` holding it makes this one exit 1 at once.
  const lock = await acquireHostsdirLock(hostsdir, 'agent once', new Date());
  try {
    const result = await syncDirectory(hostsdir, manifest, { purge: o.purge, compactRemoved: o.compact ?? false, layout: o.layout ?? PER_MAC });
    // Without a purge dnsmasq may be running: records dropped need a SIGHUP, and so does a burst that may have
    // overflowed its inotify queue (lost events are silent) — the same rule as the daemon's.
    const ops = result.plan.writes.length + result.plan.deletes.length;
    if (!o.purge && (result.plan.reloadNeeded || ops > BURST_OPERATIONS)) await service.reload();
    await service.start();
    return { manifest, result, service: service.description };
  } catch (err) {
    // Fail closed, like the reference's reset(): a directory we could not bring to the manifest must not be
    // served, so stop dnsmasq; a failing stop command must not hide the original error.
    await service.stop().catch(() => undefined);
    throw err;
  } finally {
    await lock.release();
  }
}
