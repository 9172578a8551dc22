/**
 * Which credentials and endpoints `pxe-filter export` uses, the way python-openstackclient / openstacksdk decide
 * it: a command-line option beats its OS_* variable, which beats the named cloud of clouds.yaml (with
 * secure.yaml merged over it), which beats the default. Pure: the files are read and the secret files opened
 * by the caller (cloud-files.ts, auth.ts); this module only chooses.
 */
import { ConfigError, InputError } from '../core/errors.ts';
import type { AuthConfig, DomainRef, Scope, UserRef } from './auth.ts';

export type Interface = 'public' | 'internal' | 'admin';

/** What the command line gave (secrets only as values already read from their files / systemd credentials). */
export interface CliCloudOptions {
  osCloud?: string;
  authType?: string;
  authUrl?: string;
  username?: string;
  userId?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  domainName?: string;
  domainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  regionName?: string;
  interface?: string;
  cacert?: string;
  insecure?: boolean;
  ironicUrl?: string;
  inspectorUrl?: string;
  allowInsecureHttp?: boolean;
}

/** Secrets from --*-file or the systemd credential (these beat OS_* and clouds.yaml). */
export interface FileSecrets {
  password?: string;
  token?: string;
  applicationCredentialSecret?: string;
}

/** One entry of `clouds:` after secure.yaml was merged over it (validated by cloud-files.ts). */
export interface CloudEntry {
  auth_type?: string;
  auth?: Record<string, string | undefined>;
  region_name?: string;
  interface?: string;
  endpoint_type?: string;
  cacert?: string;
  verify?: boolean;
  insecure?: boolean;
  identity_api_version?: string | number;
  baremetal_endpoint_override?: string;
  baremetal_introspection_endpoint_override?: string;
  allow_insecure_http?: boolean;
}

export interface ResolvedCloud {
  auth: AuthConfig;
  regionName?: string;
  interface: Interface;
  /** PEM bundle path, to be read by the caller. */
  cacert?: string;
  /** TLS certificates not verified (OS_INSECURE / verify: false). */
  insecure: boolean;
  /** An explicit Ironic endpoint; otherwise the Keystone catalogue's `baremetal`. */
  ironicUrl?: string;
  /** An explicit inspector endpoint; otherwise the catalogue's `baremetal-introspection`. */
  inspectorUrl?: string;
  allowInsecureHttp: boolean;
  /** Every secret in play, for the redactor. */
  secrets: string[];
}

/** Where a value came from, for messages that name what the user gave. */
type Source = { value: string; from: string };

const AUTH_TYPES: Record<string, AuthConfig['type']> = {
  none: 'none',
  noauth: 'none',
  password: 'password',
  v3password: 'password',
  token: 'token',
  v3token: 'token',
  admin_token: 'token',
  v3applicationcredential: 'applicationCredential',
  applicationcredential: 'applicationCredential',
};

export function resolveCloud(cli: CliCloudOptions, env: NodeJS.ProcessEnv, files: FileSecrets, cloud: CloudEntry | undefined, cloudLabel = 'clouds.yaml'): ResolvedCloud {
  const envOf = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  /** CLI option > OS_* variable(s) > clouds.yaml key: the first one set, with its source. */
  const pick = (cliValue: string | undefined, cliName: string | undefined, envNames: string[], cloudValue: string | undefined, cloudKey: string): Source | undefined => {
    if (cliValue !== undefined && cliValue !== '') return { value: cliValue, from: cliName ?? envNames[0]! };
    for (const n of envNames) {
      const v = envOf(n);
      if (v !== undefined) return { value: v, from: n };
    }
    if (cloudValue !== undefined && cloudValue !== '') return { value: String(cloudValue), from: `${cloudLabel}: ${cloudKey}` };
    return undefined;
  };
  const a = cloud?.auth ?? {};
  const authKey = (key: string, cliValue: string | undefined, cliName: string | undefined, envNames: string[]) => pick(cliValue, cliName, envNames, a[key], `auth.${key}`);

  if (cloud?.identity_api_version !== undefined && !['3', '3.0'].includes(String(cloud.identity_api_version))) {
    throw new InputError(`${cloudLabel}: identity_api_version`, cloud.identity_api_version, 'only Keystone v3 is supported');
  }
  const authUrl = authKey('auth_url', cli.authUrl, '--auth-url', ['OS_AUTH_URL']);
  const token = files.token ?? envOf('OS_TOKEN') ?? a['token'];
  const password = files.password ?? envOf('OS_PASSWORD') ?? a['password'];
  const appSecret = files.applicationCredentialSecret ?? envOf('OS_APPLICATION_CREDENTIAL_SECRET') ?? a['application_credential_secret'];
  const appId = authKey('application_credential_id', cli.applicationCredentialId, '--application-credential-id', ['OS_APPLICATION_CREDENTIAL_ID']);
  const appName = authKey('application_credential_name', cli.applicationCredentialName, '--application-credential-name', ['OS_APPLICATION_CREDENTIAL_NAME']);

  const typeSource = pick(cli.authType, '--auth-type', ['OS_AUTH_TYPE'], cloud?.auth_type, 'auth_type');
  let type: AuthConfig['type'];
  if (typeSource) {
    const t = AUTH_TYPES[typeSource.value.toLowerCase()];
    if (!t) throw new InputError(typeSource.from, typeSource.value, `unknown auth type (expected one of ${Object.keys(AUTH_TYPES).join(', ')})`);
    type = t;
  } else {
    // No auth type named: as openstacksdk, a token means token auth; an application credential secret
    // means that; an auth URL means password; nothing at all means noauth.
    type = token !== undefined ? 'token' : appSecret !== undefined ? 'applicationCredential' : authUrl !== undefined ? 'password' : 'none';
  }

  const userDomain = domainRef(authKey('user_domain_id', undefined, undefined, ['OS_USER_DOMAIN_ID']), authKey('user_domain_name', cli.userDomainName, '--user-domain-name', ['OS_USER_DOMAIN_NAME']), cli.userDomainId);
  const user = (): UserRef | undefined => {
    const id = authKey('user_id', cli.userId, '--user-id', ['OS_USER_ID']);
    if (id) return { id: id.value };
    const name = authKey('username', cli.username, '--username', ['OS_USERNAME']);
    if (name) return { name: name.value, domain: userDomain ?? { name: 'Default' } };
    return undefined;
  };
  const scope = (): Scope | undefined => {
    const projectId = authKey('project_id', cli.projectId, '--project-id', ['OS_PROJECT_ID', 'OS_TENANT_ID']);
    if (projectId) return { project: { id: projectId.value } };
    const projectName = authKey('project_name', cli.projectName, '--project-name', ['OS_PROJECT_NAME', 'OS_TENANT_NAME']);
    if (projectName) {
      const d = domainRef(authKey('project_domain_id', cli.projectDomainId, '--project-domain-id', ['OS_PROJECT_DOMAIN_ID']), authKey('project_domain_name', cli.projectDomainName, '--project-domain-name', ['OS_PROJECT_DOMAIN_NAME']));
      return { project: { name: projectName.value, domain: d ?? { name: 'Default' } } };
    }
    const domain = domainRef(authKey('domain_id', cli.domainId, '--domain-id', ['OS_DOMAIN_ID']), authKey('domain_name', cli.domainName, '--domain-name', ['OS_DOMAIN_NAME']));
    if (domain) return { domain };
    const system = authKey('system_scope', undefined, undefined, ['OS_SYSTEM_SCOPE']);
    if (system) return { system: system.value };
    return undefined;
  };
  const needUrl = (what: string): string => {
    if (!authUrl) throw new InputError('--auth-url', undefined, `${what} needs the Keystone URL: --auth-url, OS_AUTH_URL or auth.auth_url in clouds.yaml`);
    return authUrl.value;
  };

  let auth: AuthConfig;
  const secrets: string[] = [];
  if (type === 'none') {
    auth = { type };
  } else if (type === 'token') {
    if (token === undefined) throw new InputError('--token-file', undefined, 'token auth needs --token-file, OS_TOKEN or auth.token in clouds.yaml');
    secrets.push(token);
    // With a Keystone URL the token is exchanged for a scoped one with a catalogue (v3token); without, it is
    // sent as it is and the endpoints must be given (admin_token).
    const s = scope();
    auth = { type, token, ...(authUrl && typeSource?.value !== 'admin_token' ? { authUrl: authUrl.value } : {}), ...(s ? { scope: s } : {}) };
  } else if (type === 'password') {
    const url = needUrl('password auth');
    const u = user();
    if (!u) throw new InputError('--username', undefined, 'password auth needs --username / OS_USERNAME or --user-id / OS_USER_ID (or auth.username in clouds.yaml)');
    if (password === undefined) throw new InputError('--password-file', undefined, 'password auth needs --password-file, OS_PASSWORD or auth.password in clouds.yaml / secure.yaml');
    secrets.push(password);
    const s = scope();
    auth = { type, authUrl: url, user: u, password, ...(s ? { scope: s } : {}) };
  } else {
    const url = needUrl('application credential auth');
    if (appSecret === undefined) {
      throw new InputError('--application-credential-secret-file', undefined, 'application credential auth needs --application-credential-secret-file, OS_APPLICATION_CREDENTIAL_SECRET or auth.application_credential_secret');
    }
    secrets.push(appSecret);
    if (appId) {
      auth = { type, authUrl: url, id: appId.value, secret: appSecret };
    } else if (appName) {
      const u = user();
      if (!u) throw new InputError(appName.from, appName.value, 'an application credential named (not given by id) needs its user: --username / OS_USERNAME or --user-id / OS_USER_ID');
      auth = { type, authUrl: url, name: appName.value, user: u, secret: appSecret };
    } else {
      throw new InputError('--application-credential-id', undefined, 'application credential auth needs --application-credential-id / OS_APPLICATION_CREDENTIAL_ID (or its name and user)');
    }
  }

  const iface = pick(cli.interface, '--os-interface', ['OS_INTERFACE', 'OS_ENDPOINT_TYPE'], cloud?.interface ?? cloud?.endpoint_type, 'interface');
  const region = pick(cli.regionName, '--os-region-name', ['OS_REGION_NAME'], cloud?.region_name, 'region_name');
  const cacert = pick(cli.cacert, '--cacert', ['OS_CACERT'], cloud?.cacert, 'cacert');
  const insecure = cli.insecure === true || (envOf('OS_INSECURE') !== undefined ? boolEnv('OS_INSECURE', envOf('OS_INSECURE')!) : cloud?.insecure === true || cloud?.verify === false);
  const ironicUrl = pick(cli.ironicUrl, '--ironic-url', ['OS_BAREMETAL_ENDPOINT_OVERRIDE', 'OS_ENDPOINT'], cloud?.baremetal_endpoint_override, 'baremetal_endpoint_override');
  const inspectorUrl = pick(cli.inspectorUrl, '--inspector-url', ['OS_BAREMETAL_INTROSPECTION_ENDPOINT_OVERRIDE'], cloud?.baremetal_introspection_endpoint_override, 'baremetal_introspection_endpoint_override');
  if (!ironicUrl && (auth.type === 'none' || (auth.type === 'token' && auth.authUrl === undefined))) {
    throw new ConfigError(
      `without Keystone (auth type ${auth.type === 'none' ? 'none' : 'admin_token'}) there is no catalogue to find Ironic in: give --ironic-url (or OS_ENDPOINT, or baremetal_endpoint_override in clouds.yaml)`,
    );
  }
  return {
    auth,
    ...(region ? { regionName: region.value } : {}),
    interface: iface ? interfaceOf(iface) : 'public',
    ...(cacert ? { cacert: cacert.value } : {}),
    insecure,
    ...(ironicUrl ? { ironicUrl: ironicUrl.value } : {}),
    ...(inspectorUrl ? { inspectorUrl: inspectorUrl.value } : {}),
    allowInsecureHttp: cli.allowInsecureHttp === true || cloud?.allow_insecure_http === true,
    secrets,
  };
}

function domainRef(id: Source | undefined, name: Source | undefined, cliId?: string): DomainRef | undefined {
  if (cliId) return { id: cliId };
  // An explicit name on the command line beats an id from the environment, like every other option.
  if (name && name.from.startsWith('--')) return { name: name.value };
  if (id) return { id: id.value };
  if (name) return { name: name.value };
  return undefined;
}

/** keystoneauth accepts `publicURL` and friends (the v2 names) too. */
function interfaceOf(s: Source): Interface {
  const v = s.value.toLowerCase().replace(/url$/, '');
  if (v === 'public' || v === 'internal' || v === 'admin') return v;
  throw new InputError(s.from, s.value, 'expected public, internal or admin');
}

function boolEnv(name: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new InputError(name, value, 'expected true or false');
}
