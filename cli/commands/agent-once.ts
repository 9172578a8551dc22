/*
 * Only what every apply needs is imported here. The store, the manifest source and the state file (`--config`), and
 * the signature code (trusted keys) are loaded when used: a first fill from a manifest file pays for none of them
 * (their modules, and the logger and lock-file libraries they pull in, are a measurable share of a short run).
 * Nor for zod: a manifest file as `compute` writes it is read by core/manifest-bytes.ts, and only another form
 * (or a refusal, whose message the schema words) loads core/manifest.ts and its schema.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../../core/errors.ts';
import type { Manifest } from '../../core/manifest.ts';
import { sha256 } from '../../core/canonical-policy.ts';
import { readCanonicalManifest } from '../../core/manifest-bytes.ts';
import type { Signature } from '../../core/signature.ts';
import type { AgentState } from '../../agent/state-file.ts';
import { type ServiceConfig, serviceControl } from '../../agent/service.ts';
import { syncDirectory } from '../../agent/sync.ts';
import { resolveHostsdir } from '../../agent/hostsdir-path.ts';
import { acquireHostsdirLock } from '../../agent/lock.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { type Layout, PER_MAC } from '../../core/hostsdir-layout.ts';
import { RELOAD_ABOVE_OPERATIONS } from '../../agent/apply-defaults.ts';

export interface AgentOnceOptions {
  /** A manifest file (from `compute`), or the one the store's pointer names for the config's site (like the daemon). */
  manifest: { file: string } | { config: AgentConfig };
  hostsdir: string;
  /** Accept a hosts directory reached through a symlink or writable by another user (agent/hostsdir-path.ts). */
  allowUnsafeHostsdir?: boolean;
  purge: boolean;
  compact?: boolean;
  /** Default per-MAC; another layout's files are migrated (a reload follows when dnsmasq may hold their records). */
  layout?: Layout;
  service: ServiceConfig;
  /** `--trust-key` files: when any is given, the manifest must carry a valid signature by one of them. */
  trustKeys?: string[];
  /** The detached signature document; default `<manifest>.sig`. */
  signature?: string;
}

/** `pxe-filter agent once`: verify a manifest, (purge,) sync the directory, start dnsmasq. */
export async function agentOnceCommand(o: AgentOnceOptions) {
  const { manifest, applied } = await readManifest(o);
  const hostsdir = await resolveHostsdir(o.hostsdir, { field: '--hostsdir', allowUnsafe: o.allowUnsafeHostsdir ?? false });
  const service = serviceControl(o.service);
  // One writer per directory: a daemon or another `agent once` holding it makes this one exit 1 at once.
  const lock = await acquireHostsdirLock(hostsdir, 'agent once', new Date());
  try {
    const result = await syncDirectory(hostsdir, manifest, { purge: o.purge, compactRemoved: o.compact ?? false, layout: o.layout ?? PER_MAC });
    // Without a purge dnsmasq may be running: records dropped need a SIGHUP, and so does a burst that may have
    // overflowed its inotify queue (lost events are silent) — the same rule as the daemon's.
    const ops = result.plan.writes.length + result.plan.deletes.length;
    if (!o.purge && (result.plan.reloadNeeded || ops > RELOAD_ABOVE_OPERATIONS)) await service.reload();
    await service.start();
    // From the store: the state file records it, as the daemon does, so replays stay refused across both.
    if ('config' in o.manifest && applied) await (await import('../../agent/state-file.ts')).writeAgentState(o.manifest.config.stateFile, applied);
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

async function readTrustKey(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new InputError('--trust-key', path, `cannot read the public key file (${err.code ?? 'error'})`);
  });
}

/** The signature file; absent = unsigned (refused by the caller when keys are trusted). */
async function readSignatureFile(path: string, option: string, parseSignature: (doc: unknown, label: string) => Signature): Promise<Signature | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && option === '--manifest') return undefined;
    throw new InputError(option === '--manifest' ? path : option, path, `cannot read the signature file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `${text.length} chars`, `not JSON (${(err as Error).message}); truncated?`);
  }
  return parseSignature(doc, path);
}

/** The manifest to apply, verified: a file (with its detached signature when keys are trusted), or the store's. */
async function readManifest(o: AgentOnceOptions): Promise<{ manifest: Manifest; applied?: AgentState }> {
  const from = o.manifest;
  if ('file' in from) {
    const bytes = await readFile(from.file).catch(() => {
      throw new InputError('--manifest', from.file, 'cannot read file');
    });
    if ((o.trustKeys ?? []).length > 0) {
      const { parseSignature, trustStoreFromPems, verifyManifestSignature } = await import('../../core/signature.ts');
      const trust = trustStoreFromPems(await Promise.all((o.trustKeys ?? []).map(async (f) => ({ label: f, pem: await readTrustKey(f) }))));
      const sigPath = o.signature ?? `${from.file}.sig`;
      const signature = await readSignatureFile(sigPath, o.signature === undefined ? '--manifest' : '--signature', parseSignature);
      verifyManifestSignature(sha256(bytes), signature, trust, sigPath);
    }
    // A manifest as `compute` writes it is read without the schema; anything else (and every refusal, worded by
    // the schema) takes the full path, which loads zod.
    return { manifest: readCanonicalManifest(bytes) ?? (await import('../../core/manifest.ts')).parseManifestBytes(bytes, from.file) };
  }
  const { config } = from;
  const [{ ManifestSource }, { openStore }, { trustStoreOf }, { readAgentState }] = await Promise.all([
    import('../../agent/manifest-source.ts'),
    import('../../store/open.ts'),
    import('../../core/signature.ts'),
    import('../../agent/state-file.ts'),
  ]);
  // The config's trusted keys (--trust-key replaces them, as for the daemon): the pointer's signature is checked.
  const source = new ManifestSource(await openStore(config.store, { region: config.region, fastPointer: config.fastPointer }), config.site, trustStoreOf(config.trust.publicKeys));
  const current = await source.current(await readAgentState(config.stateFile));
  if (!current) throw new InputError('pointer', config.site, `no manifest published for this site in ${config.store}`);
  const applied = { site: config.site, generation: current.manifest.generation, sha256: current.pointer.sha256, appliedAt: new Date().toISOString() };
  return { manifest: current.manifest, applied };
}
