/**
 * The Keystone v3 service catalogue (the `catalog` of a token) and how an endpoint is chosen from it, as
 * keystoneauth does: by service type, interface and, when given, region.
 */
import { z } from 'zod';
import type { Interface } from './cloud-config.ts';

const EndpointSchema = z.object({
  interface: z.string(),
  url: z.string(),
  region_id: z.string().nullish(),
  region: z.string().nullish(),
});
const ServiceSchema = z.object({ type: z.string(), name: z.string().optional(), endpoints: z.array(EndpointSchema) });
export const CatalogSchema = z.array(ServiceSchema);
export type Catalog = z.infer<typeof CatalogSchema>;

export const TokenBodySchema = z.object({
  token: z.object({ expires_at: z.string().optional(), catalog: CatalogSchema.optional() }),
});

export type EndpointChoice = { url: string } | { error: string };

/**
 * The one URL of `serviceType` at `iface` (in `region` if given). Several matches in different regions with
 * no region named is refused rather than guessed: the export would depend on the catalogue's order.
 */
export function findEndpoint(catalog: Catalog | undefined, serviceType: string, iface: Interface, region: string | undefined): EndpointChoice {
  const where = `interface "${iface}"${region !== undefined ? ` in region "${region}"` : ''}`;
  if (!catalog || catalog.length === 0) {
    return { error: `the Keystone token has no service catalogue (is it scoped to a project?), so no "${serviceType}" endpoint could be found` };
  }
  const services = catalog.filter((s) => s.type === serviceType);
  if (services.length === 0) {
    return { error: `the Keystone catalogue has no "${serviceType}" service (it has: ${[...new Set(catalog.map((s) => s.type))].sort().join(', ')})` };
  }
  const endpoints = services.flatMap((s) => s.endpoints).filter((e) => e.interface === iface && (region === undefined || e.region_id === region || e.region === region));
  const urls = [...new Set(endpoints.map((e) => e.url))];
  if (urls.length === 0) {
    const have = services.flatMap((s) => s.endpoints).map((e) => `${e.interface}${e.region_id ?? e.region ? `@${e.region_id ?? e.region}` : ''}`);
    return { error: `the Keystone catalogue has no "${serviceType}" endpoint with ${where} (it has: ${[...new Set(have)].sort().join(', ')})` };
  }
  if (urls.length > 1) {
    const regions = [...new Set(endpoints.map((e) => e.region_id ?? e.region ?? '(none)'))].sort();
    return { error: `the Keystone catalogue has ${urls.length} "${serviceType}" endpoints with ${where} (regions ${regions.join(', ')}): name one with --os-region-name / OS_REGION_NAME` };
  }
  return { url: urls[0]! };
}
