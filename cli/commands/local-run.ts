/**
 * The embedded local default, end to end (what `npm start` runs): put the sample export into a local store
 * (only when its content changed), compute and publish, then let the agent pull, verify and apply it to a
 * local hosts directory. No AWS account, no dnsmasq needed.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { EXPORT_SCHEMA, parseExportBundle, parseJsonText } from '../../core/export-bundle.ts';
import { isEmptyPlan } from '../../core/hostsdir.ts';
import { sha256 } from '../../core/manifest.ts';
import { SiteSettingsSchema } from '../../core/settings.ts';
import { parseWith } from '../../core/zod-errors.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { publishPolicy } from '../../control/publish.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { readAgentState, writeAgentState } from '../../agent/state-file.ts';
import { syncDirectory } from '../../agent/sync.ts';
import { ackKey, exportKey, exportsPrefix, settingsParameter } from '../../store/layout.ts';
import { LocalStore } from '../../store/local-store.ts';
import { readJsonFile } from '../io.ts';
import { existsSync } from 'node:fs';

export interface LocalRunOptions {
  example: string;
  dir: string;
  site: string;
  now?: Date;
}

export async function localRunCommand(o: LocalRunOptions) {
  const now = o.now ?? new Date();
  const root = resolve(o.dir);
  const store = new LocalStore(join(root, 'store'));
  const hostsdir = join(root, 'hostsdir');

  // 1. Site settings, as an operator would put them into SSM.
  const settingsPath = join(o.example, 'settings.json');
  const settings = parseWith(SiteSettingsSchema, await readJsonFile(settingsPath), settingsPath);

  // 2. The export, as `pxe-filter export` would upload it: one bundle object, new only when Ironic changed.
  const docs = async (name: string) => (existsSync(join(o.example, name)) ? [await readJsonFile(join(o.example, name))] : undefined);
  const [ports, nodes, introspection] = await Promise.all([docs('ports.json'), docs('nodes.json'), docs('introspection.json')]);
  const content = { ports: ports ?? [], ...(nodes ? { nodes } : {}), ...(introspection ? { introspection } : {}) };
  const digest = sha256(JSON.stringify(content));
  const existing = await store.listObjects(exportsPrefix(o.site));
  const latest = existing.at(-1);
  const latestObj = latest ? await store.getObject(latest.key) : undefined;
  const latestDigest = latestObj ? sha256(JSON.stringify(stripMeta(parseJsonText(new TextDecoder().decode(latestObj.bytes), latest!.key)))) : undefined;
  let exportObjectKey = latest?.key;
  let exportBytes = latestObj?.bytes;
  if (latestDigest !== digest) {
    exportObjectKey = exportKey(o.site, now);
    exportBytes = new TextEncoder().encode(JSON.stringify({ schema: EXPORT_SCHEMA, site: o.site, createdAt: now.toISOString(), ...content }));
  }

  // 3. Compute (what the Lambda does on the S3 event). Bad input is refused here, before anything is stored.
  const parsed = parseExportBundle(parseJsonText(new TextDecoder().decode(exportBytes!), exportObjectKey!), exportObjectKey!);
  const { policy, stats } = policyFromExport(parsed, settings);
  if (latestDigest !== digest) await store.putObject(exportObjectKey!, exportBytes!, { condition: { ifNoneMatch: '*' } });
  // Written only when it differs: a re-run with nothing new must not write a single file.
  const settingsValue = JSON.stringify(settings);
  if ((await store.getParameter(settingsParameter(o.site))) !== settingsValue) await store.putParameter(settingsParameter(o.site), settingsValue);
  const published = await publishPolicy({
    store,
    site: o.site,
    policy,
    inputs: [{ key: exportObjectKey!, sha256: sha256(exportBytes!) }],
    guard: settings.guard,
    force: false,
    now,
  });

  // 4. The agent: pointer → exact version → verify → diff → write only what changed → ack.
  const statePath = join(root, 'agent-state.json');
  const applied = await readAgentState(statePath);
  const pulled = await new ManifestSource(store, o.site).current(applied);
  await mkdir(hostsdir, { recursive: true });
  if (!pulled) throw new Error('no pointer after publish');
  const sync = await syncDirectory(hostsdir, pulled.manifest, { purge: false });
  const nothingNew = applied?.generation === pulled.manifest.generation && applied.sha256 === pulled.pointer.sha256 && isEmptyPlan(sync.plan);
  if (!nothingNew) {
    await writeAgentState(statePath, { site: o.site, generation: pulled.manifest.generation, sha256: pulled.pointer.sha256, appliedAt: now.toISOString() });
  }
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
  const ack = {
    site: o.site,
    host,
    generation: pulled.manifest.generation,
    at: now.toISOString(),
    writes: sync.plan.writes.length,
    deletes: sync.plan.deletes.length,
    durationMs: Math.round(sync.durationMs),
    foreign: sync.plan.foreign.length,
    lastError: null,
  };
  // The ack records a change of applied state; a re-run that changed nothing leaves the last ack standing.
  if (!nothingNew) await store.putObject(ackKey(o.site, host), new TextEncoder().encode(JSON.stringify(ack)));

  return { root, hostsdir, store: store.description, exportKey: exportObjectKey!, exportIsNew: latestDigest !== digest, published, stats, sync };
}

function stripMeta(doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null) return doc;
  const { schema: _s, site: _site, createdAt: _c, ...rest } = doc as Record<string, unknown>;
  return rest;
}
