/**
 * `pxe-filter export` against a real Keystone (Debian `keystone`, SQLite, `keystone-manage bootstrap`) with a
 * real Ironic and ironic-inspector that validate tokens through keystonemiddleware and are registered in its
 * catalogue. The exporter is given no Ironic or inspector URL: it finds both in the catalogue, at the asked
 * interface and region (the other interface and region point at a dead port, so a wrong choice fails).
 * Keystone, Ironic and inspector start once for the file and are stopped by PID.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../store/local-store.ts';
import { pxeFilter } from './support/cli.ts';
import { enrollNode, macFor } from './support/enroll.ts';
import { IRONIC_BINARIES, type Rig, destroyRig, startRig } from './support/ironic-rig.ts';
import { KEYSTONE_BINARIES, type Keystone, registerService, startKeystone } from './support/keystone-rig.ts';

const SITE = 'ks';
/** Short, so that the expired-token case only waits for what is left of it at the end of the file. */
const TOKEN_LIFETIME_S = 90;
const DEAD = 'http://127.0.0.1:9';

let ks: Keystone | undefined;
let rig: Rig | undefined;
let work: string;
const exporter = { name: 'pxe-exporter', password: `pw-${Math.random().toString(36).slice(2)}`, project: 'baremetal' };
let expiring: { token: string; issuedAt: number };
let appCred: { id: string; secret: string };

beforeAll(async () => {
  const missing = [...IRONIC_BINARIES, ...KEYSTONE_BINARIES].filter((b) => !existsSync(b));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: install the packages listed in .ci/run`);
  work = await mkdtemp(join(tmpdir(), 'pxe-filter-export-keystone-'));
  ks = await startKeystone({ tokenExpirationSeconds: TOKEN_LIFETIME_S });
  const k = ks;
  // The exporter's own user and project; the services use the bootstrap admin as their service user.
  const { project } = await k.api<{ project: { id: string } }>('POST', '/projects', { project: { name: exporter.project, domain_id: 'default' } });
  const { user } = await k.api<{ user: { id: string } }>('POST', '/users', { user: { name: exporter.name, password: exporter.password, domain_id: 'default' } });
  const { roles } = await k.api<{ roles: { id: string }[] }>('GET', '/roles?name=admin');
  await k.api('PUT', `/projects/${project.id}/users/${user.id}/roles/${roles[0]!.id}`);
  rig = await startRig({ withInspector: true, keystone: { authUrl: k.url, username: 'admin', password: k.adminPassword, project: 'admin', token: () => k.adminToken() } });
  await registerService(k, 'baremetal', 'ironic', [
    { region: 'RegionOne', interface: 'internal', url: rig.ironicUrl },
    { region: 'RegionOne', interface: 'public', url: DEAD },
    { region: 'RegionTwo', interface: 'internal', url: DEAD },
  ]);
  await registerService(k, 'baremetal-introspection', 'ironic-inspector', [
    { region: 'RegionOne', interface: 'internal', url: rig.inspectorUrl! },
    { region: 'RegionOne', interface: 'public', url: DEAD },
    // A region where Ironic is missing from the catalogue.
    { region: 'RegionEmpty', interface: 'internal', url: rig.inspectorUrl! },
  ]);
  await enrollNode(rig, { name: 'k0', macs: [macFor(0, 0), macFor(0, 1)], state: 'manageable' });
  // Through SQLite rather than through inspector: with every call validated at a one-process Keystone, starting
  // a real introspection takes minutes on a busy machine. Inspector is still read (with the token) on every export.
  await enrollNode(rig, { name: 'k1', macs: [macFor(1, 0)], state: 'inspect wait via sql' });
  const userToken = await k.token(exporter);
  expiring = { token: userToken, issuedAt: Date.now() };
  // Application credentials are created by their user (Keystone's default policy).
  const res = await fetch(`${k.url}/users/${user.id}/application_credentials`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Auth-Token': userToken },
    body: JSON.stringify({ application_credential: { name: 'pxe-filter-export' } }),
  });
  if (res.status !== 201) throw new Error(`application credential: HTTP ${res.status}: ${await res.text()}`);
  appCred = ((await res.json()) as { application_credential: { id: string; secret: string } }).application_credential;
}, 900_000);

afterAll(async () => {
  await destroyRig(rig);
  await ks?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

let n = 0;
const newStore = () => join(work, `store-${++n}`);
const quick = ['--retries', '2', '--retry-delay', '100', '--timeout', '60'];
const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1) ?? '';
const events = (stderr: string) =>
  stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

/** A written export whose endpoints came from the catalogue, with both nodes' ports and inspector's (empty) list. */
async function expectCatalogueExport(res: { code: number; stdout: string; stderr: string }, store: string): Promise<void> {
  expect(res.code, res.stderr).toBe(0);
  expect(res.stdout).toMatch(/^wrote export .* \(3 ports, 2 nodes, 0 introspections, /);
  expect(events(res.stderr).find((e) => e['msg'] === 'export.endpoints')).toMatchObject({
    ironic: rig!.ironicUrl,
    ironicFrom: 'catalogue',
    inspector: rig!.inspectorUrl,
    inspectorFrom: 'catalogue',
  });
  expect(await new LocalStore(store).listObjects('exports/')).toHaveLength(1);
  for (const secret of [exporter.password, appCred.secret]) expect(res.stdout + res.stderr).not.toContain(secret);
}

describe('export with a real Keystone: endpoints from the catalogue', () => {
  it('Ironic and inspector really demand a Keystone token', async () => {
    expect((await fetch(`${rig!.ironicUrl}/v1/ports`)).status).toBe(401);
    expect((await fetch(`${rig!.inspectorUrl}/v1/introspection`)).status).toBe(401);
  });

  it('by OS_CLOUD: clouds.yaml in ~/.config/openstack, the password in secure.yaml', async () => {
    const home = join(work, 'home');
    await mkdir(join(home, '.config', 'openstack'), { recursive: true });
    await writeFile(
      join(home, '.config/openstack/clouds.yaml'),
      `clouds:
  undercloud:
    auth_type: password
    auth:
      auth_url: ${ks!.url}
      username: ${exporter.name}
      project_name: ${exporter.project}
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
    allow_insecure_http: true
`,
    );
    await writeFile(join(home, '.config/openstack/secure.yaml'), `clouds:\n  undercloud:\n    auth:\n      password: "${exporter.password}"\n`, { mode: 0o600 });
    const store = newStore();
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, ...quick], { HOME: home, OS_CLOUD: 'undercloud' });
    await expectCatalogueExport(res, store);
  });

  it('by openrc variables (the *_ID domain forms, OS_INTERFACE, OS_REGION_NAME)', async () => {
    const store = newStore();
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, '--allow-insecure-http', ...quick], {
      OS_AUTH_URL: ks!.url.replace(/\/v3$/, ''),
      OS_USERNAME: exporter.name,
      OS_PASSWORD: exporter.password,
      OS_PROJECT_NAME: exporter.project,
      OS_USER_DOMAIN_ID: 'default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_IDENTITY_API_VERSION: '3',
      OS_INTERFACE: 'internal',
      OS_REGION_NAME: 'RegionOne',
    });
    await expectCatalogueExport(res, store);
  });

  it('by an application credential (its secret from a file)', async () => {
    const store = newStore();
    const secretFile = join(work, 'app-secret');
    await writeFile(secretFile, `${appCred.secret}\n`, { mode: 0o600 });
    const res = await pxeFilter(
      ['export', '--site', SITE, '--to', `local:${store}`, '--application-credential-secret-file', secretFile, '--os-interface', 'internal', '--os-region-name', 'RegionOne', '--allow-insecure-http', ...quick],
      { OS_AUTH_TYPE: 'v3applicationcredential', OS_AUTH_URL: ks!.url, OS_APPLICATION_CREDENTIAL_ID: appCred.id },
    );
    await expectCatalogueExport(res, store);
  });

  it('by a token (v3token): exchanged at Keystone for a scoped one with the catalogue', async () => {
    const store = newStore();
    const token = await ks!.token(exporter);
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, '--allow-insecure-http', ...quick], {
      OS_AUTH_URL: ks!.url, OS_TOKEN: token, OS_PROJECT_NAME: exporter.project, OS_INTERFACE: 'internal', OS_REGION_NAME: 'RegionOne',
    });
    await expectCatalogueExport(res, store);
    expect(res.stdout + res.stderr).not.toContain(token);
  });
});

describe('export with a real Keystone: refusals publish nothing', () => {
  const openrc = (extra: NodeJS.ProcessEnv = {}) => ({ OS_AUTH_URL: ks!.url, OS_USERNAME: exporter.name, OS_PASSWORD: exporter.password, OS_PROJECT_NAME: exporter.project, OS_INTERFACE: 'internal', OS_REGION_NAME: 'RegionOne', ...extra });

  it('a wrong password: Keystone says 401, one line naming the user, the password never printed', async () => {
    const store = newStore();
    const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, '--allow-insecure-http', ...quick], openrc({ OS_PASSWORD: wrong }));
    expect(res.code).toBe(1);
    expect(lastLine(res.stderr)).toBe(`pxe-filter: Keystone refused the password of user "${exporter.name}" (domain "Default"): HTTP 401`);
    expect(res.stdout + res.stderr).not.toContain(wrong);
    expect(existsSync(store)).toBe(false);
  });

  it('a region where Ironic is missing from the catalogue: says what the catalogue has, nothing published', async () => {
    const store = newStore();
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, '--allow-insecure-http', ...quick], openrc({ OS_REGION_NAME: 'RegionEmpty' }));
    expect(res.code).toBe(1);
    expect(lastLine(res.stderr)).toBe(
      'pxe-filter: cannot find Ironic: the Keystone catalogue has no "baremetal" endpoint with interface "internal" in region "RegionEmpty" (it has: internal@RegionOne, internal@RegionTwo, public@RegionOne); register it in Keystone or give --ironic-url',
    );
    expect(existsSync(store)).toBe(false);
  });

  it('no region named while the catalogue has two: refused as ambiguous rather than guessed', async () => {
    const store = newStore();
    const env: NodeJS.ProcessEnv = openrc();
    delete env['OS_REGION_NAME'];
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, '--allow-insecure-http', ...quick], env);
    expect(res.code).toBe(1);
    expect(lastLine(res.stderr)).toMatch(/"baremetal" endpoints with interface "internal" \(regions RegionOne, RegionTwo\): name one with --os-region-name/);
    expect(existsSync(store)).toBe(false);
  });

  it('an expired token: Keystone refuses to exchange it, a clear line, nothing published', async () => {
    // Keystone issued this token at the start of the file; wait for what is left of its lifetime.
    const left = expiring.issuedAt + TOKEN_LIFETIME_S * 1000 + 2000 - Date.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const store = newStore();
    const res = await pxeFilter(['export', '--site', SITE, '--to', `local:${store}`, '--allow-insecure-http', ...quick], {
      OS_AUTH_TYPE: 'v3token',
      OS_AUTH_URL: ks!.url,
      OS_TOKEN: expiring.token,
      OS_PROJECT_NAME: exporter.project,
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_INTERFACE: 'internal',
      OS_REGION_NAME: 'RegionOne',
    });
    expect(res.code).toBe(1);
    expect(lastLine(res.stderr)).toMatch(/^pxe-filter: Keystone refused the token \(expired, revoked or not valid\): HTTP (401|404)$/);
    expect(res.stdout + res.stderr).not.toContain(expiring.token);
    expect(existsSync(store)).toBe(false);
  }, TOKEN_LIFETIME_S * 1000 + 60_000);
});
