/**
 * The embedded local default, end to end (what `npm start` runs): put the sample export into a local store
 * (only when its content changed), compute and publish, then let the agent pull, verify and apply it to a
 * local hosts directory. No AWS account, no dnsmasq needed.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { isEmptyPlan } from '../../core/hostsdir.ts';
import { parseIntrospections, parseNodes, parsePorts } from '../../core/ironic-exports.ts';
import { SiteSettingsSchema } from '../../core/settings.ts';
import { parseWith } from '../../core/zod-errors.ts';
import { computeSite } from '../../control/compute-site.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, generateSigningKey, loadSigningKeyFile } from '../../control/signing.ts';
import { trustStoreFromPems } from '../../core/signature.ts';
import { ManifestSource } from '../../agent/manifest-source.ts';
import { ACK_SCHEMA, type AgentReport, encodeReport } from '../../agent/report.ts';
import { readAgentState, writeAgentState } from '../../agent/state-file.ts';
import { VERSION } from '../../core/version.ts';
import { syncDirectory } from '../../agent/sync.ts';
import { writeExport } from '../../exporter/write-export.ts';
import { ackKey, settingsParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { readDocuments } from '../io.ts';
import { readJsonFileWithDigest } from '../../store/files.ts';

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
  const settings = parseWith(SiteSettingsSchema, readJsonFileWithDigest(settingsPath).body, settingsPath);

  // 2. The Ironic documents, checked against the files they came from, so that a refusal names ports.json and the
  //    row (not a store key). Bad input is refused here, before anything is stored.
  const file = (name: string) => join(o.example, name);
  const given = (name: string) => (existsSync(file(name)) ? [file(name)] : undefined);
  const [portDocs, nodeDocs, introDocs] = [readDocuments(given('ports.json')), readDocuments(given('nodes.json')), readDocuments(given('introspection.json'))];
  if (!portDocs) throw new InputError(file('ports.json'), 'missing', 'the example has no Ironic port list');
  policyFromExport(
    { ports: parsePorts(portDocs), ...(nodeDocs ? { nodes: parseNodes(nodeDocs) } : {}), ...(introDocs ? { introspections: parseIntrospections(introDocs) } : {}) },
    settings,
  );

  // 3. The export, as `pxe-filter export` uploads it (the same writer): one bundle object, new only when Ironic changed.
  const bodies = (docs: { body: unknown }[] | undefined) => docs?.map((d) => d.body);
  const content = { ports: bodies(portDocs)!, ...(nodeDocs ? { nodes: bodies(nodeDocs)! } : {}), ...(introDocs ? { introspection: bodies(introDocs)! } : {}) };
  const written = await writeExport({ kind: 'store', store }, o.site, content, now, () => undefined);
  // Written only when it differs: a re-run with nothing new must not write a single file.
  const settingsValue = JSON.stringify(settings);
  if ((await store.getParameter(settingsParameter(o.site))) !== settingsValue) await store.putParameter(settingsParameter(o.site), settingsValue);
  // The default path signs, and its agent requires the signature: the same checks as a production host.
  const keys = await localSigningKey(join(root, 'keys'));

  // 4. Compute and publish: what the Lambda does on the S3 event, the same control/ code.
  const computed = await computeSite({ store, site: o.site, now, signer: keys.signer });
  const { published, stats } = computed;

  // 5. The agent: pointer → exact version → verify → diff → write only what changed → ack.
  const statePath = join(root, 'agent-state.json');
  const applied = await readAgentState(statePath);
  const pulled = await new ManifestSource(store, o.site, keys.trust).current(applied);
  await mkdir(hostsdir, { recursive: true });
  if (!pulled) throw new Error('no pointer after publish');
  const sync = await syncDirectory(hostsdir, pulled.manifest, { purge: false });
  const nothingNew = applied?.generation === pulled.manifest.generation && applied.sha256 === pulled.pointer.sha256 && isEmptyPlan(sync.plan);
  if (!nothingNew) {
    await writeAgentState(statePath, { site: o.site, generation: pulled.manifest.generation, sha256: pulled.pointer.sha256, appliedAt: now.toISOString() });
  }
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
  // The same report an agent daemon acks (agent/report.ts), so `pxe-filter fleet status` reads this host too.
  const ack: AgentReport = {
    schema: ACK_SCHEMA,
    site: o.site,
    host,
    generation: pulled.manifest.generation,
    sha256: pulled.pointer.sha256,
    appliedAt: now.toISOString(),
    lastContactAt: now.toISOString(),
    reportedAt: now.toISOString(),
    counts: {
      allow: pulled.manifest.policy.allow.length,
      deny: pulled.manifest.policy.deny.length,
      removed: sync.plan.counts.removed,
      files: sync.state.size,
      foreign: sync.plan.foreign.length,
      writes: sync.plan.writes.length,
      deletes: sync.plan.deletes.length,
    },
    durationMs: Math.round(sync.durationMs),
    reloads: 0,
    // `local run` manages no dnsmasq: nothing to run.
    serviceRunning: true,
    stale: false,
    lastError: null,
    version: VERSION,
    layout: 'per-mac',
  };
  // The ack records a change of applied state; a re-run that changed nothing leaves the last ack standing.
  if (!nothingNew) await store.putObject(ackKey(o.site, host), encodeReport(ack));

  return { root, hostsdir, store: store.description, exportKey: computed.exportKey, exportIsNew: written.status === 'written', refusedExports: computed.refusedExports, signingKey: keys.signer.description, keyId: keys.signer.keyId, published, stats, sync };
}

/** The local signing key pair under DIR/keys, made on the first run (`pxe-filter keygen`'s files). */
async function localSigningKey(dir: string) {
  const priv = join(dir, PRIVATE_KEY_FILE);
  if (!existsSync(priv)) {
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await generateSigningKey(dir);
  }
  const signer = await loadSigningKeyFile(priv, priv);
  const pub = join(dir, PUBLIC_KEY_FILE);
  const trust = trustStoreFromPems([{ pem: await readFile(pub, 'utf8'), label: pub }]);
  return { signer, trust };
}
