/**
 * How the exporter authenticates to Ironic / ironic-inspector: not at all (noauth deployments), with a
 * static token, or at Keystone v3 (password, token, application credential) once per run, which also gives
 * the service catalogue the endpoints are found in.
 * Secrets only ever live in memory and in the X-Auth-Token / request body; never in a message.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { type JsonResponse, type TransportOptions, requestJson } from './api-client.ts';
import { type Catalog, TokenBodySchema } from './catalog.ts';
import { refuseClearCredentials } from './clear-text.ts';
import { UpstreamError } from './upstream-error.ts';

export type DomainRef = { id: string } | { name: string };
export type UserRef = { id: string } | { name: string; domain: DomainRef };
export type Scope = { project: { id: string } | { name: string; domain: DomainRef } } | { domain: DomainRef } | { system: string };

export type AuthConfig =
  | { type: 'none' }
  /** With authUrl: exchanged at Keystone for a scoped token with a catalogue (v3token). Without: sent as is. */
  | { type: 'token'; token: string; authUrl?: string; scope?: Scope }
  | { type: 'password'; authUrl: string; user: UserRef; password: string; scope?: Scope }
  | { type: 'applicationCredential'; authUrl: string; id: string; secret: string }
  | { type: 'applicationCredential'; authUrl: string; name: string; user: UserRef; secret: string };

/**
 * Read a secret from, in this order: the file given on the command line; the systemd credential of that
 * name (`LoadCredential=<credential>:…` puts it in $CREDENTIALS_DIRECTORY, readable by the unit alone);
 * the environment variable. A file's first line is the secret.
 */
export async function readSecret(
  file: string | undefined,
  envName: string,
  env: NodeJS.ProcessEnv,
  field: string,
  credential?: string,
): Promise<string | undefined> {
  const credDir = env['CREDENTIALS_DIRECTORY'];
  if (file === undefined && credential !== undefined && credDir) {
    const candidate = join(credDir, credential);
    if (existsSync(candidate)) file = candidate;
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new InputError(field, file, `cannot read the secret file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const secret = text.split(/\r?\n/, 1)[0]!.trim();
    if (!secret) throw new InputError(field, file, 'the secret file is empty');
    return secret;
  }
  const value = env[envName]?.trim();
  return value ? value : undefined;
}

export interface Authenticated {
  /** X-Auth-Token for Ironic and inspector; undefined for noauth. */
  token?: string;
  /** The Keystone service catalogue that came with the token (undefined without Keystone). */
  catalog?: Catalog;
}

/** Authenticate once per run: Keystone v3 `POST /v3/auth/tokens` for every type that names a Keystone. */
export async function authenticate(auth: AuthConfig, t: TransportOptions, allowInsecureHttp = false): Promise<Authenticated> {
  if (auth.type === 'none') return {};
  if (auth.type === 'token' && auth.authUrl === undefined) return { token: auth.token };
  refuseClearCredentials(auth.authUrl!, '--auth-url', allowInsecureHttp);
  const url = `${keystoneV3Base(auth.authUrl!)}/auth/tokens`;
  let res: JsonResponse;
  try {
    res = await requestJson('Keystone', { method: 'POST', url, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(tokenRequest(auth)) }, t);
  } catch (err) {
    if (err instanceof UpstreamError && (err.status === 401 || (err.status === 404 && auth.type === 'token'))) {
      throw new UpstreamError(`Keystone refused ${whoOf(auth)}: HTTP ${err.status}`, false, err.status);
    }
    throw err;
  }
  const token = res.headers['x-subject-token'];
  if (typeof token !== 'string' || token.length === 0) {
    throw new UpstreamError(`Keystone POST ${url}: HTTP ${res.status} without an X-Subject-Token header`, false, res.status);
  }
  const parsed = TokenBodySchema.safeParse(res.body);
  if (!parsed.success) throw new UpstreamError(`Keystone POST ${url}: HTTP ${res.status} but the body is not a Keystone v3 token`, false, res.status);
  return { token, ...(parsed.data.token.catalog ? { catalog: parsed.data.token.catalog } : {}) };
}

/** The body of `POST /v3/auth/tokens` for one auth type (Keystone API v3 "Authentication and token management"). */
export function tokenRequest(auth: Exclude<AuthConfig, { type: 'none' }>): unknown {
  const scope = 'scope' in auth && auth.scope ? { scope: scopeBody(auth.scope) } : {};
  if (auth.type === 'password') return { auth: { identity: { methods: ['password'], password: { user: { ...userBody(auth.user), password: auth.password } } }, ...scope } };
  if (auth.type === 'token') return { auth: { identity: { methods: ['token'], token: { id: auth.token } }, ...scope } };
  // An application credential carries its own project scope; Keystone refuses one given here.
  const cred = 'id' in auth ? { id: auth.id, secret: auth.secret } : { name: auth.name, user: userBody(auth.user), secret: auth.secret };
  return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
}

function userBody(u: UserRef): Record<string, unknown> {
  return 'id' in u ? { id: u.id } : { name: u.name, domain: u.domain };
}

function scopeBody(s: Scope): unknown {
  if ('system' in s) return { system: { [s.system]: true } };
  if ('domain' in s) return { domain: s.domain };
  return { project: s.project };
}

/** Who was refused, in the user's words: never the secret. */
function whoOf(auth: Exclude<AuthConfig, { type: 'none' }>): string {
  const user = (u: UserRef) => ('id' in u ? `user id "${u.id}"` : `user "${u.name}" (domain ${'id' in u.domain ? `id "${u.domain.id}"` : `"${u.domain.name}"`})`);
  if (auth.type === 'password') return `the password of ${user(auth.user)}`;
  if (auth.type === 'token') return 'the token (expired, revoked or not valid)';
  return 'id' in auth ? `application credential "${auth.id}" (wrong secret, expired or deleted)` : `application credential "${auth.name}" of ${user(auth.user)} (wrong secret, expired or deleted)`;
}

/** OS_AUTH_URL is given as `https://keystone:5000`, `…/v3` or `…/v3/`; all mean the same v3 root. */
export function keystoneV3Base(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  return trimmed.endsWith('/v3') ? trimmed : `${trimmed}/v3`;
}
