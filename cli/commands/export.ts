/**
 * `pxe-filter export`: read Ironic (and ironic-inspector) and publish one export bundle to a store or a
 * directory. Options follow the OpenStack client's names and OS_* environment variables, so the same
 * openrc works; secrets come only from files or the environment, never from the command line.
 */
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { InputError } from '../../core/errors.ts';
import type { LogFn } from '../../exporter/api-client.ts';
import type { AuthConfig } from '../../exporter/auth.ts';
import { DEFAULT_IRONIC_API_VERSION } from '../../exporter/defaults.ts';
import type { ExportTarget } from '../../exporter/write-export.ts';

const positiveInt = (what: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected ${what} from 1 to ${max}`);
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
    .addOption(new Option('--ironic-url <url>', 'Ironic API root, e.g. https://ironic.example:6385').env('OS_ENDPOINT').makeOptionMandatory())
    .addOption(new Option('--inspector-url <url>', 'ironic-inspector API root (sites whose source is "inspector")'))
    .addOption(new Option('--to <store>', 'store to publish to: local:<dir> or s3://<bucket>').conflicts('out'))
    .addOption(new Option('--out <dir>', 'write the export file into this directory instead of a store').conflicts('to'))
    .addOption(
      new Option('--auth-type <type>', 'none | token | password (Keystone v3); default: token if a token is given, password if --auth-url is, else none')
        .choices(['none', 'token', 'password', 'v3password', 'v3token', 'admin_token', 'noauth'] as const)
        .env('OS_AUTH_TYPE'),
    )
    .option('--token-file <file>', 'file holding the token (default: systemd credential os-token, then $OS_TOKEN)')
    .addOption(new Option('--auth-url <url>', 'Keystone URL for password auth').env('OS_AUTH_URL'))
    .addOption(new Option('--username <name>', 'Keystone user').env('OS_USERNAME'))
    .option('--password-file <file>', 'file holding the Keystone password (default: systemd credential os-password, then $OS_PASSWORD)')
    .addOption(new Option('--user-domain-name <name>', 'Keystone user domain').env('OS_USER_DOMAIN_NAME').default('Default'))
    .addOption(new Option('--project-name <name>', 'Keystone project to scope the token to').env('OS_PROJECT_NAME'))
    .addOption(new Option('--project-domain-name <name>', 'Keystone project domain').env('OS_PROJECT_DOMAIN_NAME').default('Default'))
    .addOption(new Option('--cacert <file>', 'PEM CA bundle for https URLs (Ironic, inspector, Keystone)').env('OS_CACERT'))
    .option('--api-version <version>', 'X-OpenStack-Ironic-API-Version to request (>= 1.43)', DEFAULT_IRONIC_API_VERSION)
    .option('--page-size <n>', 'items per page (Ironic limit, inspector limit)', positiveInt('a page size', 1000), 500)
    .option('--timeout <seconds>', 'deadline for each HTTP request', positiveInt('seconds', 3600), 30)
    .option('--retries <n>', 'retries on connection errors, timeouts, 5xx and 429', nonNegativeInt, 4)
    .option('--retry-delay <ms>', 'first retry delay in ms (doubles each time, with jitter)', positiveInt('milliseconds', 60_000), 1000)
    .option('--quiet', 'no JSON log lines on stderr')
    .action(async (o) => {
      if (o.to === undefined && o.out === undefined) throw new InputError('--to/--out', undefined, 'say where the export goes: --to <store> or --out <dir>');
      if (o.apiVersion !== 'latest' && !/^1\.\d+$/.test(o.apiVersion)) throw new InputError('--api-version', o.apiVersion, 'expected 1.N or latest');
      const auth = await authFrom(o, process.env);
      const ca = o.cacert !== undefined ? await readFile(o.cacert).catch((err: NodeJS.ErrnoException) => {
        throw new InputError('--cacert', o.cacert, `cannot read the CA bundle (${err.code ?? 'error'})`);
      }) : undefined;
      const [{ runExport }, { openStore }] = await Promise.all([import('../../exporter/run-export.ts'), import('../../store/open.ts')]);
      const target: ExportTarget = o.to !== undefined ? { kind: 'store', store: await openStore(o.to) } : { kind: 'dir', dir: o.out! };
      const r = await runExport({
        site: o.site,
        ironicUrl: o.ironicUrl,
        ...(o.inspectorUrl !== undefined ? { inspectorUrl: o.inspectorUrl } : {}),
        auth,
        ...(ca !== undefined ? { ca } : {}),
        apiVersion: o.apiVersion,
        pageSize: o.pageSize,
        timeoutMs: o.timeout * 1000,
        retries: o.retries,
        retryDelayMs: o.retryDelay,
        target,
        log: o.quiet ? () => {} : await jsonLog(o.site),
      });
      const where = target.kind === 'store' ? `${target.store.description}: ${r.location}` : r.location;
      const counts = `${r.counts.ports} ports, ${r.counts.nodes} nodes${r.counts.introspection !== undefined ? `, ${r.counts.introspection} introspections` : ''}`;
      process.stdout.write(
        r.status === 'written'
          ? `wrote export ${where} (${counts}, ${r.bytes} bytes, ${r.durationMs} ms)\n`
          : `unchanged: Ironic says what the latest export ${where} says, nothing written (${counts}, ${r.durationMs} ms)\n`,
      );
    });
}

interface AuthOptions {
  authType?: string;
  tokenFile?: string;
  authUrl?: string;
  username?: string;
  passwordFile?: string;
  userDomainName: string;
  projectName?: string;
  projectDomainName: string;
}

export async function authFrom(o: AuthOptions, env: NodeJS.ProcessEnv): Promise<AuthConfig> {
  const { readSecret } = await import('../../exporter/auth.ts');
  const token = await readSecret(o.tokenFile, 'OS_TOKEN', env, '--token-file', 'os-token');
  const type =
    o.authType === undefined ? (token !== undefined ? 'token' : o.authUrl !== undefined ? 'password' : 'none')
    : o.authType === 'noauth' || o.authType === 'none' ? 'none'
    : o.authType.endsWith('password') ? 'password'
    : 'token';
  if (type === 'none') return { type };
  if (type === 'token') {
    if (token === undefined) throw new InputError('--token-file', undefined, 'token auth needs --token-file or OS_TOKEN');
    return { type, token };
  }
  if (o.authUrl === undefined) throw new InputError('--auth-url', undefined, 'password auth needs --auth-url or OS_AUTH_URL');
  if (o.username === undefined) throw new InputError('--username', undefined, 'password auth needs --username or OS_USERNAME');
  const password = await readSecret(o.passwordFile, 'OS_PASSWORD', env, '--password-file', 'os-password');
  if (password === undefined) throw new InputError('--password-file', undefined, 'password auth needs --password-file or OS_PASSWORD');
  return {
    type,
    authUrl: o.authUrl,
    username: o.username,
    password,
    userDomainName: o.userDomainName,
    ...(o.projectName !== undefined ? { projectName: o.projectName } : {}),
    projectDomainName: o.projectDomainName,
  };
}

/** Exporter events that mean "something is wrong, but the run goes on": logged as warnings (journalctl -p warning). */
const WARNING_EVENTS = new Set(['http.retry', 'export.restart', 'export.latest-unreadable']);

/** The agent's log format (agent/log.ts) on stderr, the event name as `msg`; stdout keeps the summary. */
async function jsonLog(site: string): Promise<LogFn> {
  const [{ createLogger }, { hostname }] = await Promise.all([import('../../agent/log.ts'), import('node:os')]);
  const logger = createLogger({ level: 'info', site, host: hostname(), destination: 2 });
  return (event, fields) => (WARNING_EVENTS.has(event) ? logger.warn(fields, event) : logger.info(fields, event));
}
