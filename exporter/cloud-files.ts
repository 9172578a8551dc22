/**
 * clouds.yaml and secure.yaml where openstacksdk looks for them: $OS_CLIENT_CONFIG_FILE / $OS_CLIENT_SECURE_FILE
 * first, then the current directory, the user's config directory ($XDG_CONFIG_HOME/openstack or
 * ~/.config/openstack), /etc/xdg/openstack and /etc/openstack; `.yaml`, `.yml` or `.json`. The first file found
 * is the one used (files are not merged with each other); secure.yaml's cloud is merged over clouds.yaml's.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import type { CloudEntry } from './cloud-config.ts';

const SUFFIXES = ['.yaml', '.yml', '.json'];

export function searchPath(env: NodeJS.ProcessEnv, cwd: string, home = env['HOME'] || homedir()): string[] {
  const userConfig = env['XDG_CONFIG_HOME'] ? join(env['XDG_CONFIG_HOME'], 'openstack') : join(home, '.config', 'openstack');
  return [...new Set([cwd, userConfig, join(home, '.config', 'openstack'), '/etc/xdg/openstack', '/etc/openstack'])];
}

export function candidates(base: 'clouds' | 'secure', env: NodeJS.ProcessEnv, cwd: string): string[] {
  const override = env[base === 'clouds' ? 'OS_CLIENT_CONFIG_FILE' : 'OS_CLIENT_SECURE_FILE'];
  return [...(override ? [override] : []), ...searchPath(env, cwd).flatMap((d) => SUFFIXES.map((s) => join(d, `${base}${s}`)))];
}

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));
const boolish = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === 'True' || v === 'yes');
/** Only the keys we use are checked; the rest of openstacksdk's many keys pass through untouched. */
const CloudEntrySchema = z.looseObject({
  auth_type: z.string().optional(),
  auth: z.record(z.string(), scalar.optional()).optional(),
  region_name: z.string().optional(),
  interface: z.string().optional(),
  endpoint_type: z.string().optional(),
  cacert: z.string().optional(),
  verify: boolish.optional(),
  insecure: boolish.optional(),
  identity_api_version: scalar.optional(),
  baremetal_endpoint_override: z.string().optional(),
  baremetal_introspection_endpoint_override: z.string().optional(),
  allow_insecure_http: boolish.optional(),
});
const CloudsFileSchema = z.looseObject({ clouds: z.record(z.string(), z.record(z.string(), z.unknown())).optional() });

interface LoadedFile {
  path: string;
  clouds: Record<string, Record<string, unknown>>;
}

function loadFirst(paths: string[]): LoadedFile | undefined {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // openstacksdk skips a file it may not read, and one that is not there.
      if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') continue;
      throw new InputError(path, code ?? 'error', 'cannot read file');
    }
    let doc: unknown;
    try {
      doc = path.endsWith('.json') ? JSON.parse(text) : parse(text);
    } catch (err) {
      throw new InputError(path, (err as Error).message.split('\n')[0], 'not valid YAML/JSON');
    }
    const parsed = CloudsFileSchema.safeParse(doc ?? {});
    if (!parsed.success) throw new InputError(path, 'clouds', 'expected a mapping `clouds:` of cloud names to mappings');
    return { path, clouds: parsed.data.clouds ?? {} };
  }
  return undefined;
}

export interface FoundCloud {
  entry: CloudEntry;
  /** For messages: `clouds.yaml (/path) cloud "name"`. */
  label: string;
}

/** The named cloud, secure.yaml merged over clouds.yaml; an unknown name is an error listing the known ones. */
export function loadCloud(name: string, env: NodeJS.ProcessEnv, cwd = process.cwd()): FoundCloud {
  const clouds = loadFirst(candidates('clouds', env, cwd));
  const secure = loadFirst(candidates('secure', env, cwd));
  const base = clouds?.clouds[name];
  const extra = secure?.clouds[name];
  if (base === undefined && extra === undefined) {
    const known = Object.keys(clouds?.clouds ?? {}).sort();
    throw new InputError(
      '--os-cloud',
      name,
      clouds ? `no such cloud in ${clouds.path} (it has: ${known.join(', ') || 'none'})` : `no clouds.yaml found (looked in ${searchPath(env, cwd).join(', ')}, and $OS_CLIENT_CONFIG_FILE)`,
    );
  }
  const merged = deepMerge(base ?? {}, extra ?? {});
  const label = `cloud "${name}" of ${[clouds?.path, secure && extra ? secure.path : undefined].filter(Boolean).join(' + ')}`;
  const parsed = CloudEntrySchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${label}: ${issue.path.join('.')}`, undefined, issue.message);
  }
  return { entry: parsed.data as CloudEntry, label };
}

/** openstacksdk's merge_clouds: mappings merge key by key, anything else is replaced. */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isMapping(prev) && isMapping(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
