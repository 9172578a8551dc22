/**
 * docs/onprem.md's agent config is one the agent accepts as written — a local store and a 1 s poll — with only the
 * trusted key's path pointed at a key made here, and `agent plan` runs with it against a store `publish` signed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { resolveConfig } from '../../agent/config.ts';
import { REPO_ROOT, spawnCli, tempDir } from '../support/cli.ts';
import { putExport, siteStore } from '../support/control.ts';

const tmp = tempDir('onprem-docs');
afterAll(() => tmp.cleanup());

it('the agent config of docs/onprem.md: local store, 1 s poll, the signing key trusted', async () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'onprem.md'), 'utf8');
  const block = /### The agent on the same host[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block).toBeDefined();
  const keys = join(tmp.path, 'keys');
  const root = join(tmp.path, 'store');
  const hostsdir = join(tmp.path, 'hostsdir');
  for (const d of [keys, root, hostsdir]) mkdirSync(d);
  expect((await spawnCli(['keygen', '--out', keys])).code).toBe(0);
  const text = block!
    .replaceAll('/etc/pxe-filter/pxe-filter-sign.pub', join(keys, 'pxe-filter-sign.pub'))
    .replaceAll('/var/lib/pxe-filter/store', root)
    .replaceAll('/var/lib/ironic-inspector/dhcp-hostsdir', hostsdir);
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const config = resolveConfig(parsed, {}, {});
  expect(config).toMatchObject({ store: `local:${root}`, pollIntervalSeconds: 1 });
  expect(config.trust.publicKeys).toHaveLength(1);

  // The same config, with the state under the test's directory and no dnsmasq, reads what `publish --sign-key` wrote.
  const store = await siteStore(root, 'dc1');
  await putExport(store, 'dc1', { macs: 4, inspecting: [0] });
  expect((await spawnCli(['publish', '--site', 'dc1', '--store', `local:${root}`, '--sign-key', join(keys, 'pxe-filter-sign.key')])).code).toBe(0);
  const file = join(tmp.path, 'agent.json');
  writeFileSync(file, JSON.stringify({ ...parsed, stateFile: join(tmp.path, 'state', 'state.json'), service: { mode: 'none' } }));
  const plan = await spawnCli(['agent', 'plan', '--config', file]);
  expect(plan.code, plan.stderr).toBe(0);
  expect(plan.stdout).toMatch(/^site dc1: applied generation none, published generation 1;/);
});
