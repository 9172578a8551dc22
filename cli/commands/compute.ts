import { InputError } from '../../core/errors.ts';
import { parseIntrospections, parseNodes, parsePorts } from '../../core/ironic-exports.ts';
import { guardPolicy, nextManifest, parseManifestBytes, serializeManifest, sha256 } from '../../core/manifest.ts';
import { SiteNameSchema, SiteSettingsSchema } from '../../core/settings.ts';
import { parseWith } from '../../core/zod-errors.ts';
import { policyFromExport } from '../../control/policy-from-export.ts';
import { readDocuments, writeFileAtomically } from '../io.ts';
import { readFile } from 'node:fs/promises';

export interface ComputeOptions {
  site: string;
  ports: string[];
  nodes?: string[];
  introspection?: string[];
  source?: 'inspector' | 'ironic';
  inspectInterfaces?: string[];
  discovery?: boolean;
  denyUnknownMacs?: boolean;
  previous?: string;
  force?: boolean;
  maxChangeShare?: number;
  out: string;
}

export interface ComputeOutcome {
  status: 'written' | 'unchanged';
  generation: number;
  allow: number;
  deny: number;
  unknownHosts: string;
  out: string;
}

/** `pxe-filter compute`: exports → manifest file. Everything is validated before the one write. */
export async function computeCommand(o: ComputeOptions, now = new Date()): Promise<ComputeOutcome> {
  const site = parseWith(SiteNameSchema, o.site, '--site');
  const source = o.source ?? (o.introspection ? 'inspector' : o.nodes ? 'ironic' : undefined);
  if (!source) throw new InputError('--source', undefined, 'give --nodes (Ironic provision states) or --introspection (ironic-inspector)');
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
  const [portDocs, nodeDocs, introDocs] = await Promise.all([readDocuments(o.ports), readDocuments(o.nodes), readDocuments(o.introspection)]);
  const parsed = {
    ports: parsePorts(portDocs ?? []),
    ...(nodeDocs ? { nodes: parseNodes(nodeDocs) } : {}),
    ...(introDocs ? { introspections: parseIntrospections(introDocs) } : {}),
  };
  const { policy } = policyFromExport(parsed, settings);
  const previous = o.previous ? parseManifestBytes(await readFile(o.previous).catch(() => {
    throw new InputError('--previous', o.previous, 'cannot read file');
  }), o.previous) : undefined;
  const inputs = [...(portDocs ?? []), ...(nodeDocs ?? []), ...(introDocs ?? [])].map((d) => ({ key: d.label, sha256: d.sha256 ?? sha256(JSON.stringify(d.body)) }));
  const next = nextManifest(previous, { site, createdAt: now, inputs, policy });
  const summary = { generation: next.manifest.generation, allow: policy.allow.length, deny: policy.deny.length, unknownHosts: policy.unknownHosts, out: o.out };
  if (next.status === 'unchanged') return { status: 'unchanged', ...summary };
  guardPolicy(previous?.policy, next.manifest.policy, settings.guard, o.force ?? false);
  await writeFileAtomically(o.out, serializeManifest(next.manifest));
  return { status: 'written', ...summary };
}
