import { InputError } from '../../core/errors.ts';
import { type ParsedExport, parseExportBundle } from '../../core/export-bundle.ts';
import { parseIntrospections, parseNodes, parsePorts } from '../../core/ironic-exports.ts';
import { guardPolicy, nextManifest, parseManifestBytes, serializeManifest, sha256 } from '../../core/manifest.ts';
import { loadSigningKeyFile, signManifestDigest } from '../../control/signing.ts';
import { SiteNameSchema, SiteSettingsSchema } from '../../core/settings.ts';
import { parseWith } from '../../core/zod-errors.ts';
import { futureDating } from '../../control/newest-export.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { readDocuments } from '../io.ts';
import { writeFileAtomically } from '../../store/files.ts';
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
  const site = parseWith(SiteNameSchema, o.site, '--site');
  const signer = o.signKey !== undefined ? await loadSigningKeyFile(o.signKey) : undefined;
  const input = await readInput(o, site, now);
  const source = o.source ?? (input.parsed.introspections ? 'inspector' : input.parsed.nodes ? 'ironic' : undefined);
  if (!source) {
    throw o.export !== undefined
      ? new InputError(o.export, 'ports only', 'the export bundle has no nodes and no introspection list: nothing says which nodes are being inspected')
      : new InputError('--source', undefined, 'give --nodes (Ironic provision states) or --introspection (ironic-inspector)');
  }
  const settings = parseWith(
    SiteSettingsSchema,
    {
      source,
      discovery: o.discovery ?? false,
      denyUnknownMacs: o.denyUnknownMacs ?? false,
      ...(o.inspectInterfaces ? { supportedInspectInterfaces: o.inspectInterfaces } : {}),
      ...(o.maxChangeShare !== undefined ? { guard: { maxChangeShare: o.maxChangeShare } } : {}),
    },
    'settings',
  );
  const { policy, stats } = policyFromExport(input.parsed, settings);
  const previous = o.previous ? parseManifestBytes(await readFile(o.previous).catch(() => {
    throw new InputError('--previous', o.previous, 'cannot read file');
  }), o.previous) : undefined;
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
  const signature = signer ? await signManifestDigest(signer, sha256(bytes)) : undefined;
  const sigPath = `${o.out}.sig`;
  await writeFileAtomically(o.out, bytes);
  // A signature left from an earlier run would not match the new bytes: replaced, or removed when unsigned.
  if (signature) await writeFileAtomically(sigPath, new TextEncoder().encode(`${JSON.stringify(signature)}\n`));
  else await rm(sigPath, { force: true });
  return { status: 'written', ...summary, ...(signature ? { signature: sigPath } : {}) };
}

/** The parsed export and the input files' digests: from an export bundle, or from separate document files. */
async function readInput(o: ComputeOptions, site: string, now: Date): Promise<{ parsed: ParsedExport; inputs: { key: string; sha256: string }[] }> {
  const separate = [o.ports, o.nodes, o.introspection].some((l) => l !== undefined && l.length > 0);
  if (o.export !== undefined) {
    if (separate) throw new InputError('--export', o.export, 'give either an export bundle or --ports/--nodes/--introspection files, not both');
    const [doc] = (await readDocuments([o.export]))!;
    const parsed = parseExportBundle(doc!.body, o.export);
    if (parsed.site !== site) throw new InputError(`${o.export}.site`, parsed.site, `is not the site being computed ("${site}")`);
    const future = futureDating(new Date(parsed.createdAt), undefined, now);
    if (future) throw new InputError(`${o.export}.createdAt`, parsed.createdAt, future);
    return { parsed, inputs: [{ key: o.export, sha256: doc!.sha256 }] };
  }
  if (!o.ports || o.ports.length === 0) throw new InputError('--ports', undefined, 'give the Ironic port list (--ports FILE) or an export bundle (--export FILE)');
  const [portDocs, nodeDocs, introDocs] = await Promise.all([readDocuments(o.ports), readDocuments(o.nodes), readDocuments(o.introspection)]);
  const parsed: ParsedExport = {
    ports: parsePorts(portDocs ?? []),
    ...(nodeDocs ? { nodes: parseNodes(nodeDocs) } : {}),
    ...(introDocs ? { introspections: parseIntrospections(introDocs) } : {}),
  };
  const inputs = [...(portDocs ?? []), ...(nodeDocs ?? []), ...(introDocs ?? [])].map((d) => ({ key: d.label, sha256: d.sha256 }));
  return { parsed, inputs };
}
