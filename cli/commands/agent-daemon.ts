/**
 * `pxe-filter agent run|plan|status`: the daemon and its two operator commands. Configuration precedence:
 * flag > PXE_FILTER_* environment variable > config file > default.
 * Only the flags live here; what the commands do is loaded when one runs (agent-daemon-actions.ts), so that
 * `compute`, `export` and `--help` do not load the agent.
 */
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { InputError } from '../../core/errors.ts';
import { MAX_SHARDS } from '../../core/shard-limits.ts';
import type { AgentOverrides } from '../../agent/config.ts';

const actions = () => import('./agent-daemon-actions.ts');

/** `--shards N`: an integer in the range the layout schema accepts (checked again there). */
export const shardCount = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) throw new InvalidArgumentError(`expected an integer from 1 to ${MAX_SHARDS}`);
  return n;
};

export const layoutOption = () =>
  new Option('--layout <layout>', 'hosts-directory layout: one file per MAC, or scale mode (config: layout.kind; default per-mac)').choices(['per-mac', 'sharded'] as const);

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** `--trust-key FILE`, repeatable: the public keys whose signatures the agent accepts. */
export const trustKeyOption = () =>
  new Option('--trust-key <file>', 'PEM public key whose signatures are accepted; repeat for a rotation (config: trust.publicKeys, which this replaces)').argParser(collect);

const seconds = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
};

/** The flags every agent subcommand takes: the config file, and the overrides of its fields. */
interface CommonFlags extends AgentOverrides {
  config?: string;
  trustKey?: string[];
}

function withCommonOptions<C extends Command<[], Record<string, never>>>(cmd: C) {
  return cmd
    .option('--config <file>', 'agent config file (JSON; see agent/config.sample.json)')
    .option('--site <site>', 'site name (config: site; env PXE_FILTER_SITE)')
    .option('--host <host>', 'this host\'s name in acks (config: host; default: hostname)')
    .option('--store <spec>', 'local:<dir> or s3://<bucket> (config: store; env PXE_FILTER_STORE)')
    .option('--hostsdir <dir>', 'dnsmasq --dhcp-hostsdir directory (config: hostsdir; env PXE_FILTER_HOSTSDIR)')
    .option('--allow-unsafe-hostsdir', 'accept a hosts directory reached through a symlink or writable by another user (config: allowUnsafeHostsdir)')
    .option('--state-file <file>', 'applied-generation state (config: stateFile; env PXE_FILTER_STATE_FILE)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (config: logLevel)')
    .addOption(layoutOption())
    .option('--shards <n>', 'number of shard files in the sharded layout (config: layout.shards; default 256)', shardCount)
    .addOption(trustKeyOption());
}

function overrides(o: CommonFlags): AgentOverrides {
  return {
    site: o.site,
    host: o.host,
    store: o.store,
    hostsdir: o.hostsdir,
    allowUnsafeHostsdir: o.allowUnsafeHostsdir,
    stateFile: o.stateFile,
    purge: o.purge,
    pollInterval: o.pollInterval,
    service: o.service,
    unit: o.unit,
    logLevel: o.logLevel,
    layout: o.layout,
    shards: o.shards,
    trustKeys: o.trustKey,
  };
}

export function registerAgentDaemonCommands(agent: Command<[], Record<string, never>>): void {
  withCommonOptions(agent.command('run').description('the daemon: keep the hosts directory in step with the published manifest'))
    .option('--purge', 'remove every entry of the hosts directory at start (default)')
    .option('--no-purge', 'keep the existing entries at start')
    .option('--poll-interval <seconds>', 'seconds between polls (config: pollIntervalSeconds)', seconds)
    .addOption(new Option('--service <mode>', 'how to control dnsmasq (config: service.mode)').choices(['none', 'systemctl', 'command'] as const))
    .option('--unit <unit>', 'systemd unit of dnsmasq (config: service.unit)')
    .action(async (o) => {
      const a = await actions();
      const config = await a.loadConfig(o.config, process.env, overrides(o)).catch((err: unknown) => {
        // Without a config file, a missing field most likely means the file was forgotten: say that first.
        if (o.config === undefined && err instanceof InputError) {
          throw new InputError('--config', undefined, `not given: agent run needs a config file (--config /etc/pxe-filter/agent.json), or every required field as flags or PXE_FILTER_* variables (${err.message})`);
        }
        throw err;
      });
      await a.runAgent(await a.checkHostsdir(config));
    });

  withCommonOptions(agent.command('plan').description('show what the next apply would change, without writing anything'))
    .option('--json', 'print the plan as JSON')
    .option('--detailed-exitcode', 'exit 0 when in sync, 2 when changes are pending, 1 on any error (as terraform plan)')
    .action(async (o) => {
      const a = await actions();
      try {
        const config = await a.checkHostsdir(await a.loadConfig(o.config, process.env, overrides(o)));
        const plan = await a.planCommand(config, o.json ?? false);
        process.stdout.write(plan.text);
        if (o.detailedExitcode && plan.pending) process.exitCode = 2;
      } catch (err) {
        if (!o.detailedExitcode) throw err;
        // 2 means "changes pending" here, so every error is 1.
        process.stderr.write(`pxe-filter: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    });

  withCommonOptions(agent.command('status').description('applied generation, age, counts, last error, staleness (exit 1 when unhealthy)'))
    .option('--json', 'print the status document as JSON')
    .action(async (o) => {
      const a = await actions();
      const config = await a.loadConfig(o.config, process.env, overrides(o));
      const r = await a.statusCommand(config, new Date());
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : r.text);
      if (!r.healthy) process.exitCode = 1;
    });
}

