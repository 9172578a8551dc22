/**
 * Signed manifests with the real agent process (the built bundle) on a local store: every bad signature is refused
 * with the directory byte-identical, reported in the ack and by `agent status`; a key rotation is accepted.
 * Keys are real Ed25519 keys from `pxe-filter keygen`'s code; signatures are made by the publishers' own code.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { PointerSchema, sha256 } from '../../core/manifest.ts';
import type { Policy } from '../../core/policy.ts';
import { publishPolicy } from '../../control/publish.ts';
import { type ManifestSigner, generateSigningKey, keySigner, loadSigningKeyFile, signManifestDigest } from '../../control/signing.ts';
import { pointerParameter } from '../../store/keys.ts';
import { loadConfig } from '../../agent/config.ts';
import { statusCommand } from '../../cli/commands/agent-daemon-actions.ts';
import type { LocalStore } from '../../store/local-store.ts';
import { type Rig, agentBundle, isApplied, killAll, makeRig, manifestBytes, macs, policyOf, publishRaw, rewriteConfig, snapshot, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

async function keyPair(rig: Rig, name: string): Promise<{ signer: ManifestSigner; pub: string }> {
  const dir = join(rig.root, name);
  mkdirSync(dir);
  const k = await generateSigningKey(dir);
  return { signer: await loadSigningKeyFile(k.privateKey), pub: k.publicKey };
}

const signedPublish = (store: LocalStore, policy: Policy, signer: ManifestSigner) =>
  publishPolicy({ store, site: 'dc1', policy, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date(), signer });

const readPointer = async (store: LocalStore) => PointerSchema.parse(JSON.parse((await store.getParameter(pointerParameter('dc1')))!));

async function agentStatus(rig: Rig): Promise<{ code: number; stdout: string }> {
  return promisify(execFile)(process.execPath, [await agentBundle(), 'agent', 'status', '--config', rig.configPath]).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );
}

describe('agent run with trusted keys', () => {
  it('refuses unsigned, other-bytes, untrusted, replayed and truncated signatures, each leaving the directory identical', async () => {
    rig = makeRig();
    const { signer, pub } = await keyPair(rig, 'keys');
    rewriteConfig(rig, { trust: { publicKeys: [pub] } });
    const all = macs(300);
    await signedPublish(rig.store, policyOf(all.slice(0, 10), all.slice(10)), signer); // generation 1
    const gen1Pointer = await readPointer(rig.store);
    await signedPublish(rig.store, policyOf(all.slice(0, 20), all.slice(20)), signer); // generation 2
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(2));
    const before = snapshot(rig.hostsdir);

    const gen3 = manifestBytes(policyOf(all, [], true), 3); // opens PXE for every machine: what an attacker wants
    const digest3 = sha256(gen3.bytes);
    const stranger = keySigner(generateKeyPairSync('ed25519').privateKey, 'stranger');
    const good3 = await signManifestDigest(signer, digest3);
    const raw = Buffer.from(good3.signature, 'base64');
    const cases: { name: string; signature?: object; pointer?: object; expect: RegExp }[] = [
      { name: 'unsigned', expect: /unsigned manifest refused/ },
      { name: 'signature over other bytes', signature: await signManifestDigest(signer, sha256(manifestBytes(policyOf(all.slice(0, 21), all.slice(21)), 3).bytes)), expect: /over other bytes/ },
      { name: 'signature by an untrusted key', signature: await signManifestDigest(stranger, digest3), expect: /does not trust/ },
      { name: 'truncated signature', signature: { ...good3, signature: raw.subarray(0, 48).toString('base64') }, expect: /truncated/ },
      { name: 'valid signature on a replayed older generation', pointer: gen1Pointer, expect: /replay refused/ },
    ];
    for (const [i, c] of cases.entries()) {
      const mark = agent.lines.length;
      if (c.pointer) await rig.store.putParameter(pointerParameter('dc1'), JSON.stringify(c.pointer));
      else await publishRaw(rig.store, gen3.bytes, { generation: 3, ...(c.signature ? { signature: c.signature as never } : {}) });
      const refused = await agent.waitFor((l) => l.msg.startsWith('manifest refused'), 10_000, mark);
      expect(String(refused.error), c.name).toMatch(c.expect);
      expect(refused.refusals, c.name).toBe(i + 1); // counted
      expect(snapshot(rig.hostsdir), c.name).toEqual(before);
      // Reported: the ack (still generation 2) and `agent status` (unhealthy) say why.
      const ack = async () => JSON.parse(new TextDecoder().decode((await rig!.store.getObject('acks/dc1/pxe-1.json'))!.bytes)) as { generation: number; lastError: { message: string } | null };
      await expect.poll(async () => (await ack()).lastError?.message ?? '', { timeout: 5000 }).toMatch(c.expect);
      expect((await ack()).generation, c.name).toBe(2);
      // `agent status`'s own code in-process per case (the spawned command is checked once below).
      const status = await statusCommand(await loadConfig(rig.configPath, {}, {}), new Date());
      expect(status.healthy, c.name).toBe(false);
      expect(status.text, c.name).toMatch(/problem: last error .*manifest refused/);
      expect(status.text, c.name).toMatch(c.expect);
      if (i === 0) expect((await agentStatus(rig)).stdout).toMatch(/problem: last error .*unsigned manifest refused/);
    }
    // The genuine generation 3, signed: applied.
    await publishRaw(rig.store, gen3.bytes, { generation: 3, signature: good3 });
    const applied = await agent.waitFor(isApplied(3));
    expect(applied.writes).toBe(280 + 1); // 280 deny → allow, the wildcard opened
    expect((await agentStatus(rig)).code).toBe(0);
  }, 90_000);

  it('a rotation: old and new keys trusted, both accepted; then only the new one — the old key\'s manifests are refused', async () => {
    rig = makeRig();
    const old = await keyPair(rig, 'old');
    const next = await keyPair(rig, 'new');
    const all = macs(100);
    rewriteConfig(rig, { trust: { publicKeys: [old.pub] } });
    await signedPublish(rig.store, policyOf(all.slice(0, 1), all.slice(1)), old.signer);
    let agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);

    // Step 1: agents trust both keys (flags replace the config's list: --trust-key twice).
    agent = await startAgent(['agent', 'run', '--config', rig.configPath, '--trust-key', old.pub, '--trust-key', next.pub]);
    await agent.waitFor(isApplied(1));
    // Step 2: the publisher switches to the new key. An unchanged policy is re-signed in place (same generation).
    const resigned = await signedPublish(rig.store, policyOf(all.slice(0, 1), all.slice(1)), next.signer);
    expect(resigned).toMatchObject({ status: 'unchanged', pointerRepaired: true, pointer: { generation: 1, signature: { keyId: next.signer.keyId } } });
    await signedPublish(rig.store, policyOf(all.slice(0, 2), all.slice(2)), next.signer);
    await agent.waitFor(isApplied(2));
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);

    // Step 3: only the new key. The restart verifies generation 2 (signed by the new key) again, and applies it.
    rewriteConfig(rig, { trust: { publicKeys: [next.pub] } });
    agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(2));
    const before = snapshot(rig.hostsdir);
    const mark = agent.lines.length;
    await signedPublish(rig.store, policyOf(all.slice(0, 3), all.slice(3)), old.signer); // a leaked old key
    const refused = await agent.waitFor((l) => l.msg.startsWith('manifest refused'), 10_000, mark);
    expect(String(refused.error)).toMatch(/does not trust/);
    expect(snapshot(rig.hostsdir)).toEqual(before);
    await signedPublish(rig.store, policyOf(all.slice(0, 4), all.slice(4)), next.signer);
    expect((await agent.waitFor(isApplied(4), 10_000, mark)).writes).toBe(2); // from generation 2's policy
  }, 60_000);

  it('a generation refused as unsigned is applied once the publisher signs it in place (same generation, new pointer)', async () => {
    rig = makeRig();
    const { signer, pub } = await keyPair(rig, 'keys');
    rewriteConfig(rig, { trust: { publicKeys: [pub] } });
    const all = macs(50);
    await signedPublish(rig.store, policyOf(all.slice(0, 1), all.slice(1)), signer);
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    // Generation 2 published by a publisher whose signing was not configured yet: refused.
    const policy2 = policyOf(all.slice(0, 2), all.slice(2));
    await publishPolicy({ store: rig.store, site: 'dc1', policy: policy2, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
    await agent.waitFor((l) => l.msg.startsWith('manifest refused') && /unsigned/.test(String(l.error)));
    // Its next run, signing: nothing changed, so the same generation is re-signed in place; the agent applies it.
    expect(await signedPublish(rig.store, policy2, signer)).toMatchObject({ status: 'unchanged', pointerRepaired: true, pointer: { generation: 2 } });
    expect((await agent.waitFor(isApplied(2))).writes).toBe(1);
  });

  it('a bad trusted key stops the start naming its file, before anything is touched', async () => {
    rig = makeRig();
    const bad = join(rig.root, 'bad.pub');
    writeFileSync(bad, 'not a key\n');
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath, '--trust-key', bad]);
    const exit = await agent.exited;
    expect(exit.code).toBe(2);
    expect(agent.stderr.trim().split('\n')).toEqual([expect.stringContaining(`${bad}: not a PEM public key`)]);
  });
});
