/** clouds.yaml / OS_* / option precedence, auth type inference, and endpoint choice from a catalogue: pure rules. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenRequest } from '../../exporter/auth.ts';
import { findEndpoint } from '../../exporter/catalog.ts';
import { type CloudEntry, resolveCloud } from '../../exporter/cloud-config.ts';
import { candidates, loadCloud } from '../../exporter/cloud-files.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pxe-filter-cloud-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cloud: CloudEntry = {
  auth_type: 'password',
  auth: { auth_url: 'https://ks.cloud:5000/v3', username: 'cloud-user', password: 'cloud-pw', project_name: 'cloud-project', user_domain_name: 'CloudDomain', project_domain_id: 'pd1' },
  region_name: 'RegionTwo',
  interface: 'internal',
  cacert: '/etc/cloud-ca.pem',
  baremetal_introspection_endpoint_override: 'https://inspector.cloud:5050',
};

describe('resolveCloud: option > OS_* > clouds.yaml > default', () => {
  it('takes everything from the cloud when nothing else is given', () => {
    const r = resolveCloud({}, {}, {}, cloud);
    expect(r).toEqual({
      auth: {
        type: 'password',
        authUrl: 'https://ks.cloud:5000/v3',
        user: { name: 'cloud-user', domain: { name: 'CloudDomain' } },
        password: 'cloud-pw',
        scope: { project: { name: 'cloud-project', domain: { id: 'pd1' } } },
      },
      regionName: 'RegionTwo',
      interface: 'internal',
      cacert: '/etc/cloud-ca.pem',
      insecure: false,
      inspectorUrl: 'https://inspector.cloud:5050',
      allowInsecureHttp: false,
      secrets: ['cloud-pw'],
    });
  });

  it('OS_* variables beat the cloud, options and secret files beat both', () => {
    const env = { OS_USERNAME: 'env-user', OS_PASSWORD: 'env-pw', OS_REGION_NAME: 'EnvRegion', OS_INTERFACE: 'adminURL', OS_CACERT: '/env-ca', OS_INSECURE: 'true' };
    const r = resolveCloud({ username: 'cli-user', interface: 'public' }, env, { password: 'file-pw' }, cloud);
    expect(r.auth).toMatchObject({ user: { name: 'cli-user' }, password: 'file-pw' });
    expect(r).toMatchObject({ regionName: 'EnvRegion', interface: 'public', cacert: '/env-ca', insecure: true });
    expect(resolveCloud({}, env, {}, cloud)).toMatchObject({ interface: 'admin', auth: { user: { name: 'env-user' }, password: 'env-pw' } });
  });

  it('the *_ID forms: user id needs no domain, project id no project domain', () => {
    const r = resolveCloud({}, { OS_AUTH_URL: 'https://ks', OS_USER_ID: 'u1', OS_PASSWORD: 'p', OS_PROJECT_ID: 'p1', OS_PROJECT_NAME: 'ignored' }, {}, undefined);
    expect(r.auth).toEqual({ type: 'password', authUrl: 'https://ks', user: { id: 'u1' }, password: 'p', scope: { project: { id: 'p1' } } });
    const d = resolveCloud({}, { OS_AUTH_URL: 'https://ks', OS_USERNAME: 'u', OS_USER_DOMAIN_ID: 'd9', OS_PASSWORD: 'p', OS_DOMAIN_NAME: 'Dom' }, {}, undefined);
    expect(d.auth).toMatchObject({ user: { name: 'u', domain: { id: 'd9' } }, scope: { domain: { name: 'Dom' } } });
  });

  it('auth types: v3applicationcredential by id or by name + user, v3token, admin_token, none', () => {
    const byId = resolveCloud({}, { OS_AUTH_TYPE: 'v3applicationcredential', OS_AUTH_URL: 'https://ks', OS_APPLICATION_CREDENTIAL_ID: 'ac1', OS_APPLICATION_CREDENTIAL_SECRET: 's3' }, {}, undefined);
    expect(byId.auth).toEqual({ type: 'applicationCredential', authUrl: 'https://ks', id: 'ac1', secret: 's3' });
    expect(byId.secrets).toEqual(['s3']);
    const inferred = resolveCloud({}, { OS_AUTH_URL: 'https://ks', OS_APPLICATION_CREDENTIAL_NAME: 'exp', OS_USERNAME: 'u', OS_APPLICATION_CREDENTIAL_SECRET: 's3' }, {}, undefined);
    expect(inferred.auth).toEqual({ type: 'applicationCredential', authUrl: 'https://ks', name: 'exp', user: { name: 'u', domain: { name: 'Default' } }, secret: 's3' });
    expect(tokenRequest(inferred.auth as never)).toEqual({ auth: { identity: { methods: ['application_credential'], application_credential: { name: 'exp', user: { name: 'u', domain: { name: 'Default' } }, secret: 's3' } } } });
    const v3token = resolveCloud({}, { OS_AUTH_TYPE: 'v3token', OS_AUTH_URL: 'https://ks', OS_TOKEN: 't', OS_PROJECT_NAME: 'p' }, {}, undefined);
    expect(tokenRequest(v3token.auth as never)).toEqual({ auth: { identity: { methods: ['token'], token: { id: 't' } }, scope: { project: { name: 'p', domain: { name: 'Default' } } } } });
    expect(resolveCloud({ ironicUrl: 'https://i' }, { OS_AUTH_TYPE: 'admin_token', OS_AUTH_URL: 'https://ks', OS_TOKEN: 't' }, {}, undefined).auth).toEqual({ type: 'token', token: 't' });
    expect(resolveCloud({}, {}, {}, { auth_type: 'none', baremetal_endpoint_override: 'https://i:6385' })).toMatchObject({ auth: { type: 'none' }, ironicUrl: 'https://i:6385' });
  });

  it('refuses what cannot work, naming what the user gave', () => {
    expect(() => resolveCloud({}, { OS_AUTH_TYPE: 'v2password' }, {}, undefined)).toThrow(/^OS_AUTH_TYPE: unknown auth type/);
    expect(() => resolveCloud({}, {}, {}, { auth_type: 'v2password' }, 'cloud "x"')).toThrow(/^cloud "x": auth_type: unknown auth type/);
    expect(() => resolveCloud({}, {}, {}, { identity_api_version: 2 })).toThrow(/identity_api_version: only Keystone v3/);
    expect(() => resolveCloud({}, {}, {}, undefined)).toThrow(/without Keystone .* give --ironic-url/);
    expect(() => resolveCloud({}, { OS_AUTH_URL: 'https://ks', OS_PASSWORD: 'p' }, {}, undefined)).toThrow(/password auth needs --username/);
    expect(() => resolveCloud({ ironicUrl: 'https://i' }, { OS_INTERFACE: 'private' }, {}, undefined)).toThrow(/^OS_INTERFACE: expected public, internal or admin/);
    expect(() => resolveCloud({ ironicUrl: 'https://i' }, { OS_INSECURE: 'maybe' }, {}, undefined)).toThrow(/^OS_INSECURE: expected true or false/);
  });

  it('allow_insecure_http and verify: false from the cloud', () => {
    expect(resolveCloud({ ironicUrl: 'https://i' }, {}, {}, { verify: false, allow_insecure_http: true })).toMatchObject({ insecure: true, allowInsecureHttp: true });
  });
});

describe('clouds.yaml and secure.yaml', () => {
  it('are found where openstacksdk looks, the first file wins, and secure.yaml merges over clouds.yaml', async () => {
    const home = join(dir, 'home');
    const cwd = join(dir, 'cwd');
    await mkdir(join(home, '.config', 'openstack'), { recursive: true });
    await mkdir(cwd, { recursive: true });
    const env = { HOME: home };
    expect(candidates('clouds', env, cwd).slice(0, 4)).toEqual([join(cwd, 'clouds.yaml'), join(cwd, 'clouds.yml'), join(cwd, 'clouds.json'), join(home, '.config/openstack/clouds.yaml')]);
    await writeFile(join(home, '.config/openstack/clouds.yaml'), 'clouds:\n  prod:\n    auth:\n      auth_url: https://home\n      username: u\n    region_name: R1\n');
    await writeFile(join(home, '.config/openstack/secure.yaml'), 'clouds:\n  prod:\n    auth:\n      password: "p: w#1"\n');
    expect(loadCloud('prod', env, cwd).entry).toEqual({ auth: { auth_url: 'https://home', username: 'u', password: 'p: w#1' }, region_name: 'R1' });
    await writeFile(join(cwd, 'clouds.yaml'), 'clouds:\n  prod:\n    auth:\n      auth_url: https://cwd\n    verify: false\n');
    expect(loadCloud('prod', env, cwd).entry).toEqual({ auth: { auth_url: 'https://cwd', password: 'p: w#1' }, verify: false });
    expect(() => loadCloud('other', env, cwd)).toThrow(/^--os-cloud: no such cloud in .*cwd\/clouds\.yaml \(it has: prod\): "other"$/);
    await writeFile(join(dir, 'explicit.yaml'), 'clouds:\n  e: {auth_type: none, baremetal_endpoint_override: "https://i"}\n');
    expect(loadCloud('e', { ...env, OS_CLIENT_CONFIG_FILE: join(dir, 'explicit.yaml') }, cwd).entry).toEqual({ auth_type: 'none', baremetal_endpoint_override: 'https://i' });
  });

  it('a broken file is refused naming it', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'clouds: [unclosed\n');
    expect(() => loadCloud('x', { OS_CLIENT_CONFIG_FILE: join(dir, 'bad.yaml'), HOME: join(dir, 'nohome') }, dir)).toThrow(/bad\.yaml: not valid YAML\/JSON/);
    await writeFile(join(dir, 'badtype.yaml'), 'clouds:\n  x:\n    region_name: [a, b]\n');
    expect(() => loadCloud('x', { OS_CLIENT_CONFIG_FILE: join(dir, 'badtype.yaml'), HOME: join(dir, 'nohome') }, dir)).toThrow(/^cloud "x" of .*badtype\.yaml: region_name: /);
  });
});

describe('findEndpoint: type, interface, region', () => {
  const catalog = [
    { type: 'identity', endpoints: [{ interface: 'public', url: 'https://ks', region_id: 'R1' }] },
    {
      type: 'baremetal',
      endpoints: [
        { interface: 'public', url: 'https://ironic.r1', region_id: 'R1' },
        { interface: 'internal', url: 'http://ironic.r1.internal', region_id: 'R1' },
        { interface: 'public', url: 'https://ironic.r2', region_id: 'R2' },
      ],
    },
  ];
  it('chooses by interface and region, refuses ambiguity and absence with what there is', () => {
    expect(findEndpoint(catalog, 'baremetal', 'public', 'R2')).toEqual({ url: 'https://ironic.r2' });
    expect(findEndpoint(catalog, 'baremetal', 'internal', undefined)).toEqual({ url: 'http://ironic.r1.internal' });
    expect(findEndpoint(catalog, 'baremetal', 'public', undefined)).toEqual({ error: expect.stringMatching(/2 "baremetal" endpoints .*regions R1, R2.*--os-region-name/) as unknown });
    expect(findEndpoint(catalog, 'baremetal', 'admin', 'R1')).toEqual({ error: 'the Keystone catalogue has no "baremetal" endpoint with interface "admin" in region "R1" (it has: internal@R1, public@R1, public@R2)' });
    expect(findEndpoint(catalog, 'baremetal-introspection', 'public', 'R1')).toEqual({ error: 'the Keystone catalogue has no "baremetal-introspection" service (it has: baremetal, identity)' });
    expect(findEndpoint([], 'baremetal', 'public', undefined)).toMatchObject({ error: expect.stringMatching(/no service catalogue/) as unknown });
  });
});
