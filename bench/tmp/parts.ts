import { verifyManifest, serializeManifest, sha256, validateManifest, policyDigest } from '../../core/manifest.ts';
import { diffPolicyChange, applyPlan, changedMacs, recordText } from '../../core/hostsdir.ts';
import { macFileName } from '../../core/mac.ts';
import { basePolicy, churnedPolicy, manifestFor } from '../data.ts';
const n = 100000;
const t = (label: string, fn: () => unknown) => { const t0 = performance.now(); const r = fn(); console.log(label, (performance.now() - t0).toFixed(1)); return r; };
const m1 = manifestFor('bench', 1, basePolicy(n));
const m2 = manifestFor('bench', 2, churnedPolicy(n));
const bytes = serializeManifest(m2);
const ptr = { site: 'bench', generation: 2, key: 'k', versionId: 'v', sha256: sha256(bytes) };
for (let k = 0; k < 3; k++) {
t('sha', () => sha256(bytes));
const doc = t('parse', () => JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
t('validate', () => validateManifest(doc));
t('digest', () => policyDigest(m2.policy));
t('verify', () => verifyManifest(bytes, ptr, { site: 'bench' }));
const dir = new Map<string, string | null>();
for (const mac of m1.policy.allow) dir.set(macFileName(mac), recordText(mac, 'allow'));
for (const mac of m1.policy.deny) dir.set(macFileName(mac), recordText(mac, 'deny'));
t('changed', () => changedMacs(m1.policy, m2.policy));
const plan = t('diffPolicyChange', () => diffPolicyChange(m1.policy, m2.policy, dir)) as ReturnType<typeof diffPolicyChange>;
t('applyPlan', () => applyPlan(dir, plan));
}
import { classifyEntry, countRemovedMacs, UNKNOWN_HOSTS_FILE } from '../../core/hostsdir.ts';
{
const dir = new Map<string, string | null>();
for (const mac of m1.policy.allow) dir.set(macFileName(mac), recordText(mac, 'allow'));
for (const mac of m1.policy.deny) dir.set(macFileName(mac), recordText(mac, 'deny'));
for (let k = 0; k < 3; k++) {
t('countPolicy-like', () => { let files = 0; for (const [name, content] of dir) if (name !== UNKNOWN_HOSTS_FILE && content !== null && classifyEntry(name, content).kind === 'mac') files++; return files; });
t('countRemovedMacs', () => countRemovedMacs(m2.policy, dir));
t('copy', () => new Map(dir));
}
}
