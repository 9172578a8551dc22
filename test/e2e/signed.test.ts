/**
 * Signed manifests end to end: the agent daemon (`pxe-filter agent run`, trusting one Ed25519 key from
 * `pxe-filter keygen`) manages a real dnsmasq in a network namespace. A manifest written to the store by someone
 * without the key — here one that would let a deployed machine PXE-boot — is refused: the directory is untouched
 * and the real dnsmasq keeps ignoring that machine's DHCPDISCOVERs. The same change, signed, is enforced.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publishPolicy } from '../../control/publish.ts';
import { type ManifestSigner, generateSigningKey, loadSigningKeyFile } from '../../control/signing.ts';
import { LocalStore } from '../../store/local-store.ts';
import { type AgentProcess, daemonConfig, launchAgentDaemon, policy, recordIn } from './support/agent.ts';
import { type DnsmasqRig, createDnsmasqRig, dnsmasqPid, ignoredCount } from './support/dnsmasq.ts';
import { describeE2E } from './support/describe-e2e.ts';
import { tearDownRig } from './support/teardown.ts';
import { type NetnsPair, createNetnsPair } from './support/netns.ts';
import { Prober } from './support/prober.ts';
import { sleep, waitFor } from './support/run.ts';

const SITE = 'e2e-signed';
const INSPECTING = '52:54:00:e2:18:01';
const DEPLOYED = '52:54:00:e2:18:02';
const LAYOUT = { kind: 'per-mac' } as const;

describeE2E('signed manifests with a real dnsmasq: an unsigned manifest changes nothing, a signed one is enforced', () => {
  let pair: NetnsPair | undefined;
  let rig: DnsmasqRig;
  let prober: Prober | undefined;
  let store: LocalStore;
  let signer: ManifestSigner;
  let publicKey: string;
  let agent: AgentProcess | undefined;

  const publish = (allow: string[], deny: string[], signed: boolean) =>
    publishPolicy({
      store,
      site: SITE,
      policy: policy({ allow, deny, unknownHosts: 'deny' }),
      inputs: [],
      guard: { maxChangeShare: 1, minChangesToGuard: 0 },
      force: true,
      now: new Date(),
      ...(signed ? { signer } : {}),
    });

  beforeAll(async () => {
    pair = await createNetnsPair('signed');
    rig = await createDnsmasqRig(pair);
    await mkdir(join(rig.runDir, 'store'));
    await mkdir(join(rig.runDir, 'keys'));
    const keys = await generateSigningKey(join(rig.runDir, 'keys'));
    signer = await loadSigningKeyFile(keys.privateKey);
    publicKey = keys.publicKey;
    store = new LocalStore(join(rig.runDir, 'store'));
    await publish([INSPECTING], [DEPLOYED], true);
    prober = await Prober.start(pair);
  });

  afterAll(async () => {
    if (agent && agent.child.exitCode === null) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    await tearDownRig({ prober, rig, pair });
  });

  it('the daemon applies the signed generation 1 and starts dnsmasq', async () => {
    const config = Object.assign(daemonConfig(rig, SITE, join(rig.runDir, 'store'), LAYOUT), { trust: { publicKeys: [publicKey] } });
    agent = await launchAgentDaemon(rig, config);
    await waitFor('dnsmasq started by the agent daemon', () => dnsmasqPid(rig), 30_000);
    await prober!.until(INSPECTING, 'offer', 15_000);
    expect((await prober!.probe(DEPLOYED, 1_000)).verdict).toBe('none');
  });

  it('an unsigned generation 2 that would open PXE for the deployed machine is refused; dnsmasq keeps ignoring it', async () => {
    const a = agent!;
    const before = recordIn(rig, LAYOUT, DEPLOYED);
    expect(before).toBe(`${DEPLOYED},ignore\n`);
    await publish([INSPECTING, DEPLOYED], [], false);
    await waitFor('the agent to refuse generation 2', () => (a.output().includes('unsigned manifest refused') ? true : undefined), 10_000);
    await sleep(1_500); // more polls: the refusal is remembered, nothing is applied later either
    expect(recordIn(rig, LAYOUT, DEPLOYED)).toBe(before);
    const ignoredBefore = await ignoredCount(rig, DEPLOYED);
    expect((await prober!.probe(DEPLOYED, 1_000)).verdict).toBe('none');
    await waitFor(`"ignored" for ${DEPLOYED}`, async () => ((await ignoredCount(rig, DEPLOYED)) > ignoredBefore ? true : undefined), 2_000);
    expect((await prober!.probe(INSPECTING, 1_000)).verdict).toBe('offer');
  });

  it('the same change, signed (generation 3), is enforced on the running dnsmasq', async () => {
    await publish([INSPECTING, DEPLOYED], ['52:54:00:e2:18:03'], true);
    await prober!.until(DEPLOYED, 'offer', 15_000);
    expect(recordIn(rig, LAYOUT, DEPLOYED)).toBe(`${DEPLOYED}\n`);
    const logs = agent!.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; generation?: number });
    expect(logs.filter((l) => l.msg === 'applied').map((l) => l.generation)).toEqual([1, 3]);
  });
});
