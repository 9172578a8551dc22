/**
 * How the exporter authenticates to Ironic / ironic-inspector: not at all (noauth deployments), with a
 * static token, or with a Keystone v3 password that is exchanged for a token once per run.
 * Secrets only ever live in memory and in the X-Auth-Token / request body; never in a message.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { type TransportOptions, requestJson } from './api-client.ts';
import { refuseClearCredentials } from './clear-text.ts';
import { UpstreamError } from './upstream-error.ts';

export type AuthConfig =
  | { type: 'none' }
  | { type: 'token'; token: string }
  | {
      type: 'password';
      authUrl: string;
      username: string;
      password: string;
      userDomainName: string;
      projectName?: string;
      projectDomainName: string;
    };

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

/** The token to send as X-Auth-Token, or undefined for noauth. */
export async function obtainToken(auth: AuthConfig, t: TransportOptions, allowInsecureHttp = false): Promise<string | undefined> {
  if (auth.type === 'none') return undefined;
  if (auth.type === 'token') return auth.token;
  refuseClearCredentials(auth.authUrl, '--auth-url', allowInsecureHttp);
  return keystonePasswordToken(auth, t);
}

/** Keystone v3 password authentication: POST /v3/auth/tokens; the token is the X-Subject-Token header. */
async function keystonePasswordToken(auth: Extract<AuthConfig, { type: 'password' }>, t: TransportOptions): Promise<string> {
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: auth.username, domain: { name: auth.userDomainName }, password: auth.password } },
      },
      ...(auth.projectName ? { scope: { project: { name: auth.projectName, domain: { name: auth.projectDomainName } } } } : {}),
    },
  };
  const url = `${keystoneV3Base(auth.authUrl)}/auth/tokens`;
  try {
    const res = await requestJson('Keystone', { method: 'POST', url, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }, t);
    const token = res.headers['x-subject-token'];
    if (typeof token !== 'string' || token.length === 0) {
      throw new UpstreamError(`Keystone POST ${url}: HTTP ${res.status} without an X-Subject-Token header`, false, res.status);
    }
    return token;
  } catch (err) {
    if (err instanceof UpstreamError && err.status === 401) {
      throw new UpstreamError(`Keystone refused the password of user "${auth.username}" (domain "${auth.userDomainName}"): HTTP 401`, false, 401);
    }
    throw err;
  }
}

/** OS_AUTH_URL is given as `https://keystone:5000`, `…/v3` or `…/v3/`; all mean the same v3 root. */
export function keystoneV3Base(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  return trimmed.endsWith('/v3') ? trimmed : `${trimmed}/v3`;
}
