/**
 * `pxe-filter` command line (docs/design.md §7, a stable contract). Each command's code is imported when it runs, not
 * here: a cold `compute` then loads neither the agent nor the exporter, and the agent neither of them; `--help`
 * and `--version` load neither zod nor any command (test/cli/compiled.test.ts). Exit status: 0 success; 2 bad input or
 * configuration (one message on stderr, nothing written); 3 refused by the publish guard; 1 anything else.
 */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { ConfigError, GuardError, InputError } from '../core/errors.ts';
import { layoutOption, registerAgentDaemonCommands, shardCount, trustKeyOption } from './commands/agent-daemon.ts';
import { registerExportCommand } from './commands/export.ts';
import { registerMigrateCommand } from './commands/migrate.ts';
import { registerObserveCommands } from './commands/observe.ts';
import { registerPublishCommand } from './commands/publish.ts';
import { registerControlCommands } from './commands/control.ts';
import { registerRollback } from './commands/rollback.ts';
import type { ServiceConfig } from '../agent/service.ts';
import { VERSION } from '../core/version.ts';
import type { AgentOnceOptions } from './commands/agent-once.ts';
import type { Layout } from '../core/hostsdir-layout.ts';
import { DEFAULT_SHARDS } from '../core/shard-limits.ts';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const share = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
};

export function buildProgram(): Command {
  const program = new Command('pxe-filter')
    .description('MAC-address PXE filter for OpenStack Ironic (dnsmasq --dhcp-hostsdir)')
    .version(VERSION, '-V, --version', 'print the version and exit')
    // A usage error is bad input like any other: one line on stderr (no help dump), exit 2.
    .configureOutput({ outputError: (str, write) => write(`pxe-filter: ${str.trim()} (see --help)\n`) })
    .exitOverride();

  program
    .command('compute')
    .description('compute the filter policy from Ironic exports and write a manifest')
    .requiredOption('--site <site>', 'site name')
    .option('--ports <file>', 'Ironic GET /v1/ports?detail=True page, or `openstack baremetal port list --long -f json` (repeat for pages)', collect)
    .option('--nodes <file>', 'Ironic GET /v1/nodes?detail=True page, or `openstack baremetal node list --long -f json` (repeatable)', collect)
    .option('--introspection <file>', 'ironic-inspector GET /v1/introspection (repeatable)', collect)
    .option('--export <file>', 'an export bundle from `pxe-filter export --out DIR` (instead of --ports/--nodes/--introspection)')
    .addOption(new Option('--source <source>', 'what "inspecting" means (default: inspector if --introspection is given, else ironic)').choices(['inspector', 'ironic'] as const))
    .option('--inspect-interfaces <list>', 'ironic source: inspect interfaces that count (default: agent)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--discovery', 'discovery is on (node_not_found_hook / [auto_discovery]enabled): unknown MACs always allowed')
    .option('--deny-unknown-macs', 'never allow unknown or removed MACs (cannot be combined with --discovery)')
    .option('--previous <file>', 'the manifest currently published (its generation is continued; unchanged policy writes nothing)')
    .option('--force', 'publish even when the guard says the export looks broken')
    .option('--max-change-share <share>', 'guard: largest share of known MACs that may vanish or flip at once (default 0.5)', share)
    .option('--sign-key <file>', 'sign the manifest with this private key (from `pxe-filter keygen`): writes OUT.sig beside it')
    .requiredOption('--out <file>', 'where to write the manifest')
    .action(async (o) => {
      const { computeCommand } = await import('./commands/compute.ts');
      const r = await computeCommand(o);
      const what =
        r.status === 'unchanged'
          ? `unchanged: generation ${r.generation} still current, nothing written`
          : `wrote generation ${r.generation} to ${r.out}${r.signature ? ` and its signature to ${r.signature}` : ''}`;
      process.stdout.write(`${what} (allow ${r.allow}, deny ${r.deny}, unknown hosts ${r.unknownHosts})\n`);
      if (r.unusableMacs.count > 0) {
        const more = r.unusableMacs.count > r.unusableMacs.first.length ? `, … ${r.unusableMacs.count - r.unusableMacs.first.length} more` : '';
        process.stdout.write(`denied ${r.unusableMacs.count} MACs no NIC can have (multicast, broadcast or all-zero): ${r.unusableMacs.first.join(', ')}${more}\n`);
      }
    });

  registerExportCommand(program);

  program
    .command('keygen')
    .description('make an Ed25519 signing key pair: pxe-filter-sign.key (mode 0600, for publishers) and pxe-filter-sign.pub (for agents)')
    .requiredOption('--out <dir>', 'existing directory for the two files (an existing key is never overwritten)')
    .action(async (o) => {
      const { generateSigningKey } = await import('../control/signing.ts');
      const r = await generateSigningKey(o.out);
      process.stdout.write(`private key ${r.privateKey} (mode 0600: --sign-key)\npublic key  ${r.publicKey} (agents: --trust-key or trust.publicKeys)\nkey id      ${r.keyId}\n`);
    });

  const agent = program.command('agent').description('the PXE-host agent that keeps dnsmasq\'s hosts directory');
  agent
    .command('once')
    .description('apply one manifest (a file, or the published one with --config) to a hosts directory, then start dnsmasq')
    .option('--manifest <file>', 'manifest file (from `compute`)')
    .option('--config <file>', 'agent config file: site, store, hosts directory, layout and service from it, the manifest from the store (like `agent run`)')
    .option('--hostsdir <dir>', 'dnsmasq --dhcp-hostsdir directory (with --config: overrides hostsdir)')
    .option('--allow-unsafe-hostsdir', 'accept a hosts directory reached through a symlink or writable by another user')
    .option('--purge', 'remove every entry of the hosts directory first, as at agent start-up (default; with --config: the config\'s purge)')
    .option('--no-purge', 'keep the existing files (another layout\'s and ironic-inspector\'s colon-named files are adopted)')
    .option('--compact', 'delete files of MACs Ironic no longer knows and reload dnsmasq (instead of rewriting them)')
    .addOption(layoutOption())
    .option('--shards <n>', 'number of shard files with --layout sharded (default 256)', shardCount)
    .addOption(new Option('--service <mode>', 'how to control dnsmasq (default systemctl)').choices(['none', 'systemctl', 'command'] as const))
    .option('--unit <unit>', 'systemd unit of dnsmasq (service systemctl; default dnsmasq.service)')
    .option('--start-command <cmd>', 'shell command that starts dnsmasq (service command)', '')
    .option('--stop-command <cmd>', 'shell command that stops dnsmasq (service command)', '')
    .option('--reload-command <cmd>', 'shell command that makes dnsmasq re-read the directory (service command)', '')
    .addOption(trustKeyOption())
    .option('--signature <file>', 'the manifest\'s detached signature (default: MANIFEST.sig, as `compute --sign-key` writes it)')
    .action(async (o) => {
      if (o.manifest !== undefined && o.config !== undefined) throw new InputError('--manifest', o.manifest, 'give either --manifest or --config, not both');
      let run: Omit<AgentOnceOptions, 'compact'>;
      if (o.config !== undefined) {
        const { loadConfig } = await import('../agent/config.ts');
        const config = await loadConfig(o.config, process.env, {
          hostsdir: o.hostsdir, allowUnsafeHostsdir: o.allowUnsafeHostsdir, layout: o.layout, shards: o.shards, service: o.service, unit: o.unit, trustKeys: o.trustKey,
        });
        run = { manifest: { config }, hostsdir: config.hostsdir, allowUnsafeHostsdir: config.allowUnsafeHostsdir, layout: config.layout, service: config.service, purge: o.purge ?? config.purge };
      } else {
        if (o.manifest === undefined) throw new InputError('--manifest', undefined, 'missing: give --manifest FILE, or --config FILE to apply the published manifest');
        if (o.hostsdir === undefined) throw new InputError('--hostsdir', undefined, 'missing: the hosts directory to write (or give --config FILE)');
        const mode = o.service ?? 'systemctl';
        const service: ServiceConfig =
          mode === 'none'
            ? { mode: 'none' }
            : mode === 'systemctl'
              ? { mode: 'systemctl', unit: o.unit ?? 'dnsmasq.service' }
              : { mode: 'command', start: o.startCommand, stop: o.stopCommand, reload: o.reloadCommand };
        if (o.shards !== undefined && o.layout !== 'sharded') throw new InputError('--shards', o.shards, 'only applies to --layout sharded');
        // What LayoutSchema (core/layout-schema.ts) gives, without loading zod: --shards was checked while parsing
        // (shardCount: an integer from 1 to MAX_SHARDS) and the default is the schema's.
        const layout: Layout = o.layout === 'sharded' ? { kind: 'sharded', shards: o.shards ?? DEFAULT_SHARDS } : { kind: 'per-mac' };
        run = { manifest: { file: o.manifest }, hostsdir: o.hostsdir, allowUnsafeHostsdir: o.allowUnsafeHostsdir ?? false, layout, service, purge: o.purge ?? true };
      }
      const { agentOnceCommand } = await import('./commands/agent-once.ts');
      const r = await agentOnceCommand({
        ...run,
        compact: o.compact ?? false,
        trustKeys: o.trustKey ?? [],
        ...(o.signature !== undefined ? { signature: o.signature } : {}),
      });
      const p = r.result.plan;
      process.stdout.write(
        `applied generation ${r.manifest.generation} of site ${r.manifest.site} to ${run.hostsdir}: ` +
          `${p.writes.length} written, ${p.deletes.length} deleted, ${r.result.purged} purged, ${p.foreign.length} foreign` +
          `${p.foreign.length ? ` (${p.foreign.slice(0, 5).map((f) => f.name).join(', ')})` : ''}; service ${r.service}\n`,
      );
    });

  registerAgentDaemonCommands(agent);
  registerObserveCommands(program, agent);

  const local = program.command('local').description('the embedded local default: a directory plays S3 + SSM');
  local
    .command('run')
    .description('export → compute → publish → agent apply, all on this machine')
    .option('--example <dir>', 'directory with ports.json, nodes.json / introspection.json and settings.json', 'examples/dc1')
    .option('--dir <dir>', 'where the local store and hosts directory live', '.local')
    .option('--site <site>', 'site name', 'dc1')
    .action(async (o) => {
      const { localRunCommand } = await import('./commands/local-run.ts');
      const r = await localRunCommand(o);
      const p = r.sync.plan;
      const lines = [
        `pxe-filter local run — site ${o.site}`,
        `  export:    ${r.exportKey} (${r.exportIsNew ? 'new' : 'unchanged'}) — ${r.stats.ports} ports, ${r.stats.nodesInspecting} nodes inspecting`,
        `  publish:   ${r.published.status === 'published' ? `published generation ${r.published.manifest.generation}` : `nothing new, generation ${r.published.manifest.generation} is current`}` +
          ` (allow ${r.published.manifest.policy.allow.length}, deny ${r.published.manifest.policy.deny.length}, unknown hosts ${r.published.manifest.policy.unknownHosts})`,
        `  agent:     ${p.writes.length} files written, ${p.deletes.length} deleted, ${p.foreign.length} foreign (${Math.round(r.sync.durationMs)} ms)`,
        `  signing:   ${r.signingKey} (key id ${r.keyId.slice(0, 16)}…), verified by the agent`,
        `  hostsdir:  ${r.hostsdir}`,
        `  store:     ${r.root}/store (objects/ = S3, parameters/ = SSM)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      for (const refused of r.refusedExports) process.stderr.write(`pxe-filter: warning: export ${refused.kind === 'future' ? 'refused' : 'skipped'}: ${refused.reason}\n`);
      if (r.stats.unusableMacs > 0) {
        process.stderr.write(`pxe-filter: warning: denied ${r.stats.unusableMacs} MACs no NIC can have (multicast, broadcast or all-zero): ${r.stats.unusableMacSamples.join(', ')}\n`);
      }
    });

  registerPublishCommand(program);
  registerControlCommands(program);
  registerRollback(program);
  registerMigrateCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    // A command may report "done, but unhealthy" (agent status) without throwing.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  const e = err as { code?: string; exitCode?: number; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
    // Help and version are successes; commander already printed its usage error.
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
  }
  if (err instanceof InputError || err instanceof ConfigError) {
    process.stderr.write(`pxe-filter: ${err.message}\n`);
    return 2;
  }
  if (err instanceof GuardError) {
    process.stderr.write(`pxe-filter: ${err.message}\n`);
    return 3;
  }
  process.stderr.write(`pxe-filter: ${e.message ?? String(err)}\n`);
  return 1;
}
