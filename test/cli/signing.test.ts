/**
 * The local signing path as an operator types it: `keygen`, `compute --sign-key`, `agent once --trust-key`,
 * `rollback --sign-key`. Real Ed25519 keys; every refusal exits 2 with one line and leaves the directory identical.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mac } from '../../core/mac.ts';
import { PointerSchema, sha256 } from '../../core/manifest.ts';
import { SignatureSchema, keyIdOf } from '../../core/signature.ts';
import { createPublicKey } from 'node:crypto';
import { pointerParameter } from '../../store/keys.ts';
import { LocalStore } from '../../store/local-store.ts';
import { publishPolicy } from '../../control/publish.ts';
import { loadSigningKeyFile } from '../../control/signing.ts';
import { runCli, snapshotDir, spawnCli, stderrLines, tempDir } from '../support/cli.ts';
import { writeSite } from '../support/exports.ts';

const tmp = tempDir('signing');
afterAll(() => tmp.cleanup());
const p = (name: string) => join(tmp.path, name);
let site: { ports: string; intro: string };
let keys: string;
let other: string;

beforeAll(async () => {
  site = writeSite(tmp.path, 40, [1, 2]);
  keys = p('keys');
  other = p('other-keys');
  mkdirSync(keys);
  mkdirSync(other);
  expect((await runCli(['keygen', '--out', other])).code).toBe(0);
});

describe('keygen', () => {
  it('writes an Ed25519 pair, the private key 0600, prints the key id; never overwrites', async () => {
    const r = await spawnCli(['keygen', '--out', keys]);
    expect(r.code, r.stderr).toBe(0);
    const priv = join(keys, 'pxe-filter-sign.key');
    const pub = join(keys, 'pxe-filter-sign.pub');
    expect(statSync(priv).mode & 0o777).toBe(0o600);
    expect(statSync(pub).mode & 0o777).toBe(0o644);
    const keyId = keyIdOf(createPublicKey(readFileSync(pub, 'utf8')));
    expect(r.stdout).toContain(`key id      ${keyId}`);
    expect((await loadSigningKeyFile(priv)).keyId).toBe(keyId);
    const before = snapshotDir(keys);
    const again = await runCli(['keygen', '--out', keys]);
    expect(again.code).toBe(2);
    expect(stderrLines(again)).toEqual([expect.stringContaining('refusing to overwrite a signing key')]);
    expect(snapshotDir(keys)).toEqual(before);
    expect((await runCli(['keygen', '--out', p('missing')])).code).toBe(2);
  });
});

describe('compute --sign-key → agent once --trust-key', () => {
  let manifest: string;
  let sig: string;
  const hostsdir = () => p('hostsdir');

  beforeAll(async () => {
    manifest = p('m.json');
    sig = `${manifest}.sig`;
    const r = await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--sign-key', join(keys, 'pxe-filter-sign.key'), '--out', manifest]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`and its signature to ${sig}`);
    mkdirSync(hostsdir());
  });

  it('the .sig beside the manifest is a signature document over its exact bytes', () => {
    const doc = SignatureSchema.parse(JSON.parse(readFileSync(sig, 'utf8')));
    expect(doc).toMatchObject({ algorithm: 'ed25519', sha256: sha256(readFileSync(manifest)) });
  });

  const once = (extra: string[], m = manifest) => runCli(['agent', 'once', '--manifest', m, '--hostsdir', hostsdir(), '--service', 'none', '--no-purge', ...extra]);

  it('refusals leave the hosts directory identical: unsigned, other bytes, untrusted key, truncated signature', async () => {
    const pub = join(keys, 'pxe-filter-sign.pub');
    // An older manifest of the same site, to take a genuine signature of other bytes from.
    const older = p('older.json');
    expect((await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--deny-unknown-macs', '--sign-key', join(keys, 'pxe-filter-sign.key'), '--out', older])).code).toBe(0);
    const unsigned = p('unsigned.json');
    copyFileSync(manifest, unsigned);
    const good = JSON.parse(readFileSync(sig, 'utf8')) as { signature: string };
    const truncatedSig = p('truncated.sig');
    writeFileSync(truncatedSig, JSON.stringify({ ...good, signature: good.signature.slice(0, 40) }));
    const cutJson = p('cut.sig');
    writeFileSync(cutJson, readFileSync(sig, 'utf8').slice(0, 60));
    const cases: [string, string[], string, RegExp][] = [
      ['unsigned (no .sig)', ['--trust-key', pub], unsigned, /unsigned manifest refused/],
      ['signature over other bytes', ['--trust-key', pub, '--signature', `${older}.sig`], manifest, /over other bytes/],
      ['signature by an untrusted key', ['--trust-key', join(other, 'pxe-filter-sign.pub')], manifest, /does not trust/],
      ['truncated signature', ['--trust-key', pub, '--signature', truncatedSig], manifest, /truncated/],
      ['truncated signature file', ['--trust-key', pub, '--signature', cutJson], manifest, /not JSON.*truncated/],
    ];
    writeFileSync(join(hostsdir(), 'keep-me'), 'x\n');
    const before = snapshotDir(hostsdir());
    for (const [name, extra, m, reason] of cases) {
      const r = await once(extra, m);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(stderrLines(r), name).toEqual([expect.stringMatching(reason)]);
      expect(snapshotDir(hostsdir()), name).toEqual(before);
    }
    // Accepted with the right key; without any trusted key nothing is checked (the pre-signing behaviour).
    const ok = await once(['--trust-key', pub]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('applied generation 1');
    expect((await once([], unsigned)).code).toBe(0);
  });

  it('a signing key readable by others is refused (as ssh refuses such keys); nothing written', async () => {
    const loose = p('loose.key');
    copyFileSync(join(keys, 'pxe-filter-sign.key'), loose);
    chmodSync(loose, 0o644);
    const out = p('loose-out.json');
    const r = await runCli(['compute', '--site', 'dc1', '--ports', site.ports, '--introspection', site.intro, '--sign-key', loose, '--out', out]);
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toEqual([expect.stringContaining(`--sign-key: the signing key is readable by others (mode 644); chmod 600 it: "${loose}"`)]);
    expect(existsSync(out)).toBe(false);
  });
});

describe('rollback --sign-key', () => {
  it('the rolled-back generation is signed by the given key', async () => {
    const dir = p('store');
    const store = new LocalStore(dir);
    const signer = await loadSigningKeyFile(join(keys, 'pxe-filter-sign.key'));
    const base = { store, site: 'dc1', inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, signer };
    await publishPolicy({ ...base, policy: { unknownHosts: 'deny', removed: 'deny', allow: [], deny: ['52:54:00:00:00:01' as Mac] }, now: new Date() });
    await publishPolicy({ ...base, policy: { unknownHosts: 'allow', removed: 'allow', allow: ['52:54:00:00:00:01' as Mac], deny: [] }, now: new Date() });
    const r = await runCli(['rollback', '--site', 'dc1', '--to-generation', '1', '--store', `local:${dir}`, '--sign-key', join(other, 'pxe-filter-sign.key')]);
    expect(r.code, r.stderr).toBe(0);
    const pointer = PointerSchema.parse(JSON.parse((await store.getParameter(pointerParameter('dc1')))!));
    expect(pointer.generation).toBe(3);
    expect(pointer.signature).toMatchObject({ keyId: (await loadSigningKeyFile(join(other, 'pxe-filter-sign.key'))).keyId, sha256: pointer.sha256 });
  });
});
