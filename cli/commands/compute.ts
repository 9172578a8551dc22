/**
 * `pxe-filter compute`. Only zod-free modules are imported up front: the schemas (and zod with them) are loaded when a
 * fast check refuses something, to word the error, or for the options that need them (--export, --introspection,
 * --previous, --sign-key). A good ports-and-nodes compute thus never loads them (~35 ms of start-up, issue #19).
 */
import { InputError } from '../../core/errors.ts';
import type { ParsedExport } from '../../core/export-bundle.ts';
import type { ExportDocument, Node, Port } from '../../core/ironic-exports.ts';
import { allFast, nodesFast, portsFast } from '../../core/ironic-fast.ts';
import { guardPolicy, nextManifest, serializeManifest, sha256 } from '../../core/manifest-build.ts';
import { isSiteName, siteSettingsFast } from '../../core/settings-fast.ts';
import { parseWith } from '../../core/zod-errors.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { INSPECTING_STATES } from '../../core/policy.ts';
import { readDocuments } from '../io.ts';
import { writeFileAtomically } from '../../store/files.ts';
import { unlinkSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';

export interface ComputeOptions {
  site: string;
  ports?: string[];
  /** An export bundle (`pxe-filter export --out DIR`), instead of ports/nodes/introspection files. */
  export?: string;
  nodes?: string[];
  introspection?: string[];
  source?: 'inspector' | 'ironic';
  inspectInterfaces?: string[];
  discovery?: boolean;
  denyUnknownMacs?: boolean;
  previous?: string;
  force?: boolean;
  maxChangeShare?: number;
  /** A private key file (`pxe-filter keygen`): the detached signature goes to `<out>.sig`. */
  signKey?: string;
  out: string;
}

export interface ComputeOutcome {
  status: 'written' | 'unchanged';
  generation: number;
  allow: number;
  deny: number;
  unknownHosts: string;
  out: string;
  /** MACs no NIC can have (multicast, broadcast, all-zero): denied, reported with the first few. */
  unusableMacs: { count: number; first: string[] };
  /** Where the signature was written (with --sign-key). */
  signature?: string;
}

/** `pxe-filter compute`: exports → manifest file. Everything is validated before the one write. */
export async function computeCommand(o: ComputeOptions, now = new Date()): Promise<ComputeOutcome> {
  const site = isSiteName(o.site) ? o.site : parseWith((await import('../../core/settings.ts')).SiteNameSchema, o.site, '--site');
  const signing = o.signKey !== undefined ? await import('../../control/signing.ts') : undefined;
  const signer = signing && o.signKey !== undefined ? await signing.loadSigningKeyFile(o.signKey) : undefined;
  const input = await readInput(o, site, now);
  const source = o.source ?? (input.parsed.introspections ? 'inspector' : input.parsed.nodes ? 'ironic' : undefined);
  if (!source) {
    throw o.export !== undefined
      ? new InputError(o.export, 'ports only', 'the export bundle has no nodes and no introspection list: nothing says which nodes are being inspected')
      : new InputError('--source', undefined, 'give --nodes (Ironic provision states) or --introspection (ironic-inspector)');
  }
  const settingsInput = {
    source,
    discovery: o.discovery ?? false,
    denyUnknownMacs: o.denyUnknownMacs ?? false,
    ...(o.inspectInterfaces ? { supportedInspectInterfaces: o.inspectInterfaces } : {}),
    ...(o.maxChangeShare !== undefined ? { guard: { maxChangeShare: o.maxChangeShare } } : {}),
  };
  const settings = siteSettingsFast(settingsInput) ?? parseWith((await import('../../core/settings.ts')).SiteSettingsSchema, settingsInput, 'settings');
  const { policy, stats } = policyFromExport(input.parsed, settings);
  const previous = o.previous ? await readPrevious(o.previous) : undefined;
  const next = nextManifest(previous, { site, createdAt: now, inputs: input.inputs, policy });
  const summary = {
    generation: next.manifest.generation,
    allow: policy.allow.length,
    deny: policy.deny.length,
    unknownHosts: policy.unknownHosts,
    out: o.out,
    unusableMacs: { count: stats.unusableMacs, first: stats.unusableMacSamples },
  };
  if (next.status === 'unchanged') return { status: 'unchanged', ...summary };
  guardPolicy(previous?.policy, next.manifest.policy, settings.guard, o.force ?? false);
  const bytes = serializeManifest(next.manifest);
  const signature = signing && signer ? await signing.signManifestDigest(signer, sha256(bytes)) : undefined;
  const sigPath = `${o.out}.sig`;
  await writeFileAtomically(o.out, bytes);
  // A signature left from an earlier run would not match the new bytes: replaced, or removed when unsigned.
  if (signature) await writeFileAtomically(sigPath, new TextEncoder().encode(`${JSON.stringify(signature)}\n`));
  else await removeFile(sigPath);
  return { status: 'written', ...summary, ...(signature ? { signature: sigPath } : {}) };
}

/** The parsed export and the input files' digests: from an export bundle, or from separate document files. */
async function readInput(o: ComputeOptions, site: string, now: Date): Promise<{ parsed: ParsedExport; inputs: { key: string; sha256: string }[] }> {
  const separate = [o.ports, o.nodes, o.introspection].some((l) => l !== undefined && l.length > 0);
  if (o.export !== undefined) {
    if (separate) throw new InputError('--export', o.export, 'give either an export bundle or --ports/--nodes/--introspection files, not both');
    const [{ parseExportBundle }, { futureDating }] = await Promise.all([import('../../core/export-bundle.ts'), import('../../control/newest-export.ts')]);
    const [doc] = readDocuments([o.export])!;
    const parsed = parseExportBundle(doc!.body, o.export);
    if (parsed.site !== site) throw new InputError(`${o.export}.site`, parsed.site, `is not the site being computed ("${site}")`);
    const future = futureDating(new Date(parsed.createdAt), undefined, now);
    if (future) throw new InputError(`${o.export}.createdAt`, parsed.createdAt, future);
    return { parsed, inputs: [{ key: o.export, sha256: doc!.sha256 }] };
  }
  if (!o.ports || o.ports.length === 0) throw new InputError('--ports', undefined, 'give the Ironic port list (--ports FILE) or an export bundle (--export FILE)');
  const read = readSeparateDocuments(o.ports, o.nodes, o.introspection);
  const parsed: ParsedExport = {
    ports: read.ports.fast ?? (await schemas()).parsePorts(read.ports.docs),
    ...(read.nodes ? { nodes: read.nodes.fast ?? (await schemas()).parseNodes(read.nodes.docs) } : {}),
    ...(read.introspections ? { introspections: (await schemas()).parseIntrospections(read.introspections) } : {}),
  };
  return { parsed, inputs: read.inputs };
}

/** A list's rows from the fast path, or its documents for the schemas (which word why the fast path did not take them). */
type Taken<T> = { fast: T[]; docs?: undefined } | { fast?: undefined; docs: ExportDocument[] };

function taken<T>(docs: ExportDocument[], fast: T[] | undefined): Taken<T> {
  return fast ? { fast } : { docs };
}

/**
 * The separate document files, read (an error names the first bad file, ports then nodes then introspection) and
 * taken by the fast paths where they can be. Synchronous, and the parsed documents are returned only for a list the
 * fast path did not take: once it returns, nothing refers to the 100k rows of a list it took. Held in an async
 * function's state or a settled promise, objects that a minor GC of the policy's allocations finds in the old
 * generation, the rows would be taken as live by it, and copied by that minor GC and the next.
 */
function readSeparateDocuments(
  portFiles: readonly string[],
  nodeFiles: readonly string[] | undefined,
  introFiles: readonly string[] | undefined,
): { ports: Taken<Port>; nodes?: Taken<Node>; introspections?: ExportDocument[]; inputs: { key: string; sha256: string }[] } {
  const portDocs = readDocuments(portFiles)!;
  const nodeDocs = readDocuments(nodeFiles);
  const introDocs = readDocuments(introFiles);
  return {
    ports: taken(portDocs, allFast(portDocs, portsFast)),
    // Only the nodes being inspected matter to the policy (the schema path, for what the fast one does not take, keeps all).
    ...(nodeDocs ? { nodes: taken(nodeDocs, allFast(nodeDocs, (doc) => nodesFast(doc, isInspecting))) } : {}),
    ...(introDocs ? { introspections: introDocs } : {}),
    inputs: [...portDocs, ...(nodeDocs ?? []), ...(introDocs ?? [])].map((d) => ({ key: d.label, sha256: d.sha256 })),
  };
}

const isInspecting = (provisionState: string) => INSPECTING_STATES.has(provisionState);

/** The Ironic document schemas: for what the fast paths (core/ironic-fast.ts) do not take, and for their errors. */
function schemas(): Promise<typeof import('../../core/ironic-exports.ts')> {
  return import('../../core/ironic-exports.ts');
}

/**
 * rm(path, { force: true }) of a file: one unlink, where rm loads a module of its own on first use; anything but an
 * absent file goes through rm itself, so an error is rm's.
 */
async function removeFile(path: string): Promise<void> {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await rm(path, { force: true });
  }
}

/** The manifest given as --previous, read and validated (by the manifest schema, loaded here). */
async function readPrevious(path: string) {
  const { parseManifestBytes } = await import('../../core/manifest.ts');
  const bytes = await readFile(path).catch(() => {
    throw new InputError('--previous', path, 'cannot read file');
  });
  return parseManifestBytes(bytes, path);
}
