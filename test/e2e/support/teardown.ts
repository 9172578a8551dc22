/**
 * The end of every e2e file, in dependency order: the agents it launched (they stop dnsmasq when they can), the
 * prober, dnsmasq, then the namespaces. Each part may be missing (a beforeAll that failed half-way).
 */
import { killLaunchedAgents } from './agent.ts';
import { type DnsmasqRig, destroyDnsmasqRig } from './dnsmasq.ts';
import { type NetnsPair, destroyNetnsPair } from './netns.ts';
import type { Prober } from './prober.ts';

export async function tearDownRig(parts: { prober: Prober | undefined; rig: DnsmasqRig | undefined; pair: NetnsPair | undefined }): Promise<void> {
  await killLaunchedAgents();
  await parts.prober?.stop();
  await destroyDnsmasqRig(parts.rig);
  await destroyNetnsPair(parts.pair);
}
