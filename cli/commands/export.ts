/**
 * `pxe-filter export`: read Ironic (and ironic-inspector) and publish one export bundle to a store or a
 * directory. Options follow the OpenStack client's names, OS_* environment variables and clouds.yaml, so the
 * same openrc or cloud works; secrets come only from files, the environment or clouds.yaml/secure.yaml,
 * never from the command line.
 */
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { InputError } from '../../core/errors.ts';
import type { LogFn } from '../../exporter/api-client.ts';
import type { CliCloudOptions, FileSecrets, ResolvedCloud } from '../../exporter/cloud-config.ts';
import type { ExportRunOptions, InspectorMode } from '../../exporter/run-export.ts';
import { WATCH_GAVE_UP_EXIT } from '../../exporter/watch-exit.ts';
import type { SecretRedactor } from '../../exporter/redact.ts';
import { DEFAULT_IRONIC_API_VERSION } from '../../exporter/defaults.ts';
import type { ExportTarget } from '../../exporter/write-export.ts';

const positiveInt = (what: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected ${what} from 1 to ${max}`);
  return n;
};
const seconds = (min: number, max: number, zero = false) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n > max || (n < min && !(zero && n === 0))) throw new InvalidArgumentError(`expected seconds from ${zero ? 0 : min} to ${max}`);
  return n;
};
const nonNegativeInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 20) throw new InvalidArgumentError('expected a whole number from 0 to 20');
  return n;
};

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('read Ironic ports + nodes (and ironic-inspector introspections) and publish one export')
    .requiredOption('--site <site>', 'site name')
    .option('--os-cloud <name>', 'cloud in clouds.yaml (+ secure.yaml) to take credentials and endpoints from (default: $OS_CLOUD)')
    .option('--ironic-url <url>', 'Ironic API root (default: OS_BAREMETAL_ENDPOINT_OVERRIDE, OS_ENDPOINT, baremetal_endpoint_override, then the catalogue\'s "baremetal")')
    .option('--inspector-url <url>', 'ironic-inspector API root (default: OS_BAREMETAL_INTROSPECTION_ENDPOINT_OVERRIDE, baremetal_introspection_endpoint_override, then the catalogue)')
    .addOption(new Option('--inspector <mode>', 'read ironic-inspector: auto (when its URL is given or in the catalogue), required, off').choices(['auto', 'required', 'off'] as const).default('auto' as const))
    .addOption(new Option('--to <store>', 'store to publish to: local:<dir> or s3://<bucket>').conflicts('out'))
    .addOption(new Option('--out <dir>', 'write the export file into this directory instead of a store').conflicts('to'))
    .option('--auth-type <type>', 'none | token | password | v3applicationcredential (also v3password, v3token, admin_token, noauth); default ($OS_AUTH_TYPE, auth_type): token if a token is given, application credential if its secret is, password if an auth URL is, else none')
    .option('--auth-url <url>', 'Keystone URL (OS_AUTH_URL)')
    .option('--username <name>', 'Keystone user name (OS_USERNAME)')
    .option('--user-id <id>', 'Keystone user id (OS_USER_ID)')
    .option('--user-domain-name <name>', 'user domain (OS_USER_DOMAIN_NAME; default Default)')
    .option('--user-domain-id <id>', 'user domain id (OS_USER_DOMAIN_ID)')
    .option('--project-name <name>', 'project to scope the token to (OS_PROJECT_NAME)')
    .option('--project-id <id>', 'project id to scope the token to (OS_PROJECT_ID)')
    .option('--project-domain-name <name>', 'project domain (OS_PROJECT_DOMAIN_NAME; default Default)')
    .option('--project-domain-id <id>', 'project domain id (OS_PROJECT_DOMAIN_ID)')
    .option('--domain-name <name>', 'domain to scope the token to, instead of a project (OS_DOMAIN_NAME)')
    .option('--domain-id <id>', 'domain id to scope the token to (OS_DOMAIN_ID)')
    .option('--password-file <file>', 'file holding the Keystone password (default: systemd credential os-password, then $OS_PASSWORD, then clouds.yaml/secure.yaml)')
    .option('--token-file <file>', 'file holding the token (default: systemd credential os-token, then $OS_TOKEN, then clouds.yaml)')
    .option('--application-credential-id <id>', 'application credential id (OS_APPLICATION_CREDENTIAL_ID)')
    .option('--application-credential-name <name>', 'application credential name, with --username/--user-id (OS_APPLICATION_CREDENTIAL_NAME)')
    .option('--application-credential-secret-file <file>', 'file holding the application credential secret (default: systemd credential os-application-credential-secret, then $OS_APPLICATION_CREDENTIAL_SECRET, then clouds.yaml/secure.yaml)')
    .option('--os-region-name <region>', 'region of the catalogue endpoints (OS_REGION_NAME, region_name)')
    .option('--os-interface <interface>', 'catalogue interface: public, internal or admin (OS_INTERFACE, interface; default public)')
    .option('--cacert <file>', 'PEM CA bundle for https URLs: Ironic, inspector, Keystone (OS_CACERT, cacert)')
    .option('--insecure', 'do not verify TLS certificates (OS_INSECURE, verify: false)')
    .option('--allow-insecure-http', 'send credentials (password, token, application credential secret) to http:// URLs too (clouds.yaml: allow_insecure_http); refused by default, as anyone on the path can read them')
    .option('--api-version <version>', 'X-OpenStack-Ironic-API-Version to request (>= 1.43)', DEFAULT_IRONIC_API_VERSION)
    .option('--page-size <n>', 'items per page (Ironic limit, inspector limit)', positiveInt('a page size', 1000), 500)
    .option('--timeout <seconds>', 'deadline for each HTTP request', positiveInt('seconds', 3600), 30)
    .option('--retries <n>', 'retries on connection errors, timeouts, 5xx and 429', nonNegativeInt, 4)
    .option('--retry-delay <ms>', 'first retry delay in ms (doubles each time, with jitter)', positiveInt('milliseconds', 60_000), 1000)
    .option('--quiet', 'no JSON log lines on stderr')
    .option('--watch', 'run as a service: every --interval read only who is being inspected and write a small state export when that changes; the full listing every --full-interval and whenever a node appears that it lacks')
    .option('--interval <seconds>', 'with --watch: seconds between fast readings', seconds(0.1, 3600), 2)
    .option('--full-interval <seconds>', 'with --watch: seconds between full listings (ports, nodes, introspections)', seconds(1, 86_400), 600)
    .option('--max-backoff <seconds>', 'with --watch: longest wait between attempts while Ironic or inspector fail (the wait doubles from --interval)', seconds(0.1, 3600), 60)
    .option('--give-up-after <seconds>', `with --watch: exit with status ${WATCH_GAVE_UP_EXIT} after failing continuously this long, for systemd to restart the service (0: never)`, seconds(0, 86_400, true), 600)
    .action(async (o) => {
      const { SecretRedactor } = await import('../../exporter/redact.ts');
      const redactor = new SecretRedactor();
      try {
        await exportAction(o, redactor);
      } catch (err) {
        // Whatever failed, and wherever the text came from: no known secret leaves in the message.
        if (err instanceof Error) err.message = redactor.redact(err.message);
        throw err;
      }
    });
}

type ExportCliOptions = AuthOptions & {
  site: string;
  inspector: InspectorMode;
  to?: string;
  out?: string;
  apiVersion: string;
  pageSize: number;
  timeout: number;
  retries: number;
  retryDelay: number;
  quiet?: boolean;
  watch?: boolean;
  interval: number;
  fullInterval: number;
  maxBackoff: number;
  giveUpAfter: number;
};

async function exportAction(o: ExportCliOptions, redactor: SecretRedactor): Promise<void> {
  if (o.to === undefined && o.out === undefined) throw new InputError('--to/--out', undefined, 'say where the export goes: --to <store> or --out <dir>');
  if (o.apiVersion !== 'latest' && !/^1\.\d+$/.test(o.apiVersion)) throw new InputError('--api-version', o.apiVersion, 'expected 1.N or latest');
  const cloud = await cloudFrom(o, process.env);
  for (const secret of cloud.secrets) redactor.add(secret);
  const ca = cloud.cacert !== undefined ? await readFile(cloud.cacert).catch((err: NodeJS.ErrnoException) => {
    throw new InputError('--cacert', cloud.cacert, `cannot read the CA bundle (${err.code ?? 'error'})`);
  }) : undefined;
  const { openStore } = await import('../../store/open.ts');
  const target: ExportTarget = o.to !== undefined ? { kind: 'store', store: await openStore(o.to) } : { kind: 'dir', dir: o.out! };
  const run = {
    site: o.site,
    ...(cloud.ironicUrl !== undefined ? { ironicUrl: cloud.ironicUrl } : {}),
    ...(cloud.inspectorUrl !== undefined ? { inspectorUrl: cloud.inspectorUrl } : {}),
    inspector: o.inspector,
    interface: cloud.interface,
    ...(cloud.regionName !== undefined ? { regionName: cloud.regionName } : {}),
    auth: cloud.auth,
    allowInsecureHttp: cloud.allowInsecureHttp,
    redactor,
    ...(ca !== undefined ? { ca } : {}),
    insecure: cloud.insecure,
    apiVersion: o.apiVersion,
    pageSize: o.pageSize,
    timeoutMs: o.timeout * 1000,
    retries: o.retries,
    retryDelayMs: o.retryDelay,
    target,
    log: o.quiet ? () => {} : await jsonLog(o.site, redactor),
  };
  if (o.watch) return watchAction(o, run);
  const { runExport } = await import('../../exporter/run-export.ts');
  const r = await runExport(run);
  const where = target.kind === 'store' ? `${target.store.description}: ${r.location}` : r.location;
  const counts = `${r.counts.ports} ports, ${r.counts.nodes} nodes${r.counts.introspection !== undefined ? `, ${r.counts.introspection} introspections` : ''}`;
  process.stdout.write(
    r.status === 'written'
      ? `wrote export ${where} (${counts}, ${r.bytes} bytes, ${r.durationMs} ms)\n`
      : `unchanged: Ironic says what the latest export ${where} says, nothing written (${counts}, ${r.durationMs} ms)\n`,
  );
}

/**
 * The watcher runs until SIGTERM/SIGINT (exit 0). Ironic or inspector failing longer than --give-up-after ends it
 * with status 75 (EX_TEMPFAIL), so systemd restarts it and `systemctl status` shows why; until then it retries.
 */
async function watchAction(o: ExportCliOptions, run: ExportRunOptions): Promise<void> {
  const { runWatch, WatchGaveUpError } = await import('../../exporter/run-watch.ts');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await runWatch({
      ...run,
      intervalMs: o.interval * 1000,
      fullIntervalMs: o.fullInterval * 1000,
      maxBackoffMs: o.maxBackoff * 1000,
      giveUpAfterMs: o.giveUpAfter * 1000,
      signal: stop.signal,
    });
  } catch (err) {
    if (!(err instanceof WatchGaveUpError)) throw err;
    process.stderr.write(`pxe-filter: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

export type AuthOptions = Omit<CliCloudOptions, 'interface' | 'regionName'> & {
  osInterface?: string;
  osRegionName?: string;
  tokenFile?: string;
  passwordFile?: string;
  applicationCredentialSecretFile?: string;
};

/**
 * Credentials and endpoints from the options, OS_* variables and clouds.yaml (precedence in that order;
 * docs/exporter.md). Secret files and systemd credentials are read here; the choice is exporter/cloud-config.ts.
 */
export async function cloudFrom(o: AuthOptions, env: NodeJS.ProcessEnv): Promise<ResolvedCloud> {
  const [{ readSecret }, { resolveCloud }, { loadCloud }] = await Promise.all([
    import('../../exporter/auth.ts'),
    import('../../exporter/cloud-config.ts'),
    import('../../exporter/cloud-files.ts'),
  ]);
  // Only the file / credential tier here: OS_* and clouds.yaml are ranked by resolveCloud.
  const noEnv = {};
  const creds = env['CREDENTIALS_DIRECTORY'] !== undefined ? { CREDENTIALS_DIRECTORY: env['CREDENTIALS_DIRECTORY'] } : noEnv;
  const files: FileSecrets = {};
  const password = await readSecret(o.passwordFile, 'OS_PASSWORD', creds, '--password-file', 'os-password');
  const token = await readSecret(o.tokenFile, 'OS_TOKEN', creds, '--token-file', 'os-token');
  const appSecret = await readSecret(o.applicationCredentialSecretFile, 'OS_APPLICATION_CREDENTIAL_SECRET', creds, '--application-credential-secret-file', 'os-application-credential-secret');
  if (password !== undefined) files.password = password;
  if (token !== undefined) files.token = token;
  if (appSecret !== undefined) files.applicationCredentialSecret = appSecret;
  const cloudName = o.osCloud ?? (env['OS_CLOUD']?.trim() || undefined);
  const found = cloudName !== undefined ? loadCloud(cloudName, env) : undefined;
  const { osInterface, osRegionName, tokenFile: _t, passwordFile: _p, applicationCredentialSecretFile: _a, ...rest } = o;
  const cli: CliCloudOptions = { ...rest, ...(osInterface !== undefined ? { interface: osInterface } : {}), ...(osRegionName !== undefined ? { regionName: osRegionName } : {}) };
  return resolveCloud(cli, env, files, found?.entry, found?.label);
}

/** Exporter events that mean "something is wrong, but the run goes on": logged as warnings (journalctl -p warning). */
const WARNING_EVENTS = new Set(['http.retry', 'export.restart', 'export.latest-unreadable', 'watch.failed', 'watch.full-listing-failed']);

/** The agent's log format (agent/log.ts) on stderr, the event name as `msg`, every field redacted; stdout keeps the summary. */
async function jsonLog(site: string, redactor: SecretRedactor): Promise<LogFn> {
  const [{ createLogger }, { hostname }] = await Promise.all([import('../../agent/log.ts'), import('node:os')]);
  const logger = createLogger({ level: 'info', site, host: hostname(), destination: 2 });
  return (event, fields) => {
    const safe = redactor.redactFields(fields);
    return WARNING_EVENTS.has(event) ? logger.warn(safe, event) : logger.info(safe, event);
  };
}
