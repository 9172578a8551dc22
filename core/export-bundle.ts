/**
 * An export bundle: everything one `pxe-filter export` run read from Ironic, in one document, so that it is
 * written whole or not at all (a single object put) and a compute never sees half an export.
 */
import { z } from 'zod';
import { type ExportDocument, type Introspection, type Node, type Port, parseIntrospections, parseNodes, parsePorts } from './ironic-exports.ts';
import { SiteNameSchema } from './settings.ts';
import { parseWith } from './zod-errors.ts';

export const EXPORT_SCHEMA = 'pxe-filter/export@1';

export const ExportBundleSchema = z.strictObject({
  schema: z.literal(EXPORT_SCHEMA),
  site: SiteNameSchema,
  createdAt: z.iso.datetime(),
  /** Raw Ironic documents, as received: API pages or CLI arrays. Parsed by core/ironic-exports. */
  ports: z.array(z.unknown()).min(1),
  nodes: z.array(z.unknown()).optional(),
  introspection: z.array(z.unknown()).optional(),
});
export type ExportBundle = z.output<typeof ExportBundleSchema>;

export interface ParsedExport {
  ports: Port[];
  nodes?: Node[];
  introspections?: Introspection[];
}

export function parseExportBundle(body: unknown, label: string): ParsedExport & { site: string; createdAt: string } {
  const bundle = parseWith(ExportBundleSchema, body, label);
  const docs = (list: unknown[], field: string): ExportDocument[] => list.map((b, i) => ({ label: `${label}.${field}[${i}]`, body: b }));
  return {
    site: bundle.site,
    createdAt: bundle.createdAt,
    ports: parsePorts(docs(bundle.ports, 'ports')),
    ...(bundle.nodes ? { nodes: parseNodes(docs(bundle.nodes, 'nodes')) } : {}),
    ...(bundle.introspection ? { introspections: parseIntrospections(docs(bundle.introspection, 'introspection')) } : {}),
  };
}

/** The strict JSON reader (core/json-text.ts), re-exported where callers have always found it. */
export { parseJsonText } from './json-text.ts';
