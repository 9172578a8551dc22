/**
 * How many agents of a site have not acknowledged the current generation. Agents write
 * `acks/<site>/<host>.json` after each applied generation, so an ack older than the publish of the current
 * manifest means that host has not applied it. A listing gives LastModified without reading any ack.
 */
import { acksPrefix } from '../store/keys.ts';
import type { Store } from '../store/store.ts';

export interface AckLag {
  agents: number;
  /** Agents whose last ack predates the current publish, once the grace period has passed; 0 before. */
  behind: number;
}

export async function measureAckLag(store: Store, site: string, publishedAt: Date, now: Date, graceMs: number): Promise<AckLag> {
  const acks = (await store.listObjects(acksPrefix(site))).filter((o) => o.key.endsWith('.json'));
  const late = now.getTime() - publishedAt.getTime() > graceMs;
  return { agents: acks.length, behind: late ? acks.filter((a) => a.lastModified.getTime() < publishedAt.getTime()).length : 0 };
}
