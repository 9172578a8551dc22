/**
 * `pxe-filter migrate`: read ironic-inspector's or ironic's configuration files (oslo INI) and print the agent
 * config that does what their PXE filter did, plus a report on stderr of every relevant option (docs/migrate.md).
 */
import { readFileSync } from 'node:fs';
import type { Command } from '@commander-js/extra-typings';
import { InputError } from '../../core/errors.ts';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('turn ironic-inspector / ironic PXE-filter configuration into an agent config (report on stderr)')
    .option('--from-inspector-conf <file>', 'ironic-inspector configuration file (repeatable; later files override earlier ones, as oslo does)', collect)
    .option('--from-ironic-conf <file>', 'ironic configuration file with [pxe_filter] / [auto_discovery] (repeatable)', collect)
    .requiredOption('--site <site>', 'site name for the agent config')
    .requiredOption('--store <store>', 'store the agent reads: local:<dir> or s3://<bucket>')
    .option('--hostsdir <dir>', 'hosts directory (overrides dhcp_hostsdir; needed when ironic\'s is not set)')
    .option('--out <file>', 'write the agent config here instead of stdout')
    .option('--settings-out <file>', 'also write the site settings (source, discovery, denyUnknownMacs, …) as JSON')
    .action(async (o) => {
      const inspector = o.fromInspectorConf ?? [];
      const ironic = o.fromIronicConf ?? [];
      if (inspector.length > 0 && ironic.length > 0) throw new InputError('--from-inspector-conf/--from-ironic-conf', undefined, 'migrate from one of them at a time');
      if (inspector.length === 0 && ironic.length === 0) throw new InputError('--from-inspector-conf/--from-ironic-conf', undefined, 'name the configuration file(s) to migrate from');
      const r = await migrate(inspector.length > 0 ? 'inspector' : 'ironic', inspector.length > 0 ? inspector : ironic, o);
      process.stderr.write(r.reportText);
      const { writeFileAtomically } = await import('../../store/files.ts');
      if (o.settingsOut !== undefined) await writeFileAtomically(o.settingsOut, r.settingsJson, '--settings-out');
      if (o.out !== undefined) await writeFileAtomically(o.out, r.configJson, '--out');
      else process.stdout.write(r.configJson);
    });
}

export interface MigrateResult {
  configJson: string;
  settingsJson: string;
  reportText: string;
}

export async function migrate(source: 'inspector' | 'ironic', files: string[], o: { site: string; store: string; hostsdir?: string }): Promise<MigrateResult> {
  const [{ parseOsloIni, OsloIniError }, { translate }, { AgentConfigSchema }, { SiteSettingsSchema }] = await Promise.all([
    import('../../migrate/oslo-ini.ts'),
    import('../../migrate/translate.ts'),
    import('../../agent/config.ts'),
    import('../../core/settings.ts'),
  ]);
  const conf = new Map();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InputError(file, (err as NodeJS.ErrnoException).code ?? 'error', 'cannot read file');
    }
    try {
      parseOsloIni(text, file, conf);
    } catch (err) {
      if (err instanceof OsloIniError) throw new InputError(`${err.file}:${err.line}`, err.text, `not an oslo.config INI file: ${err.reason}`);
      throw err;
    }
  }
  const m = translate(source, conf, { site: o.site, store: o.store, ...(o.hostsdir !== undefined ? { hostsdir: o.hostsdir } : {}) });
  // The agent's own schema decides: a config migrate prints is one `agent run --config` accepts.
  const checked = AgentConfigSchema.safeParse(m.config);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path.join('.');
    const origin = m.report.find((l) => l.result.startsWith(`${field} =`));
    throw new InputError(origin ? `${origin.from}: ${origin.option}` : `agent config ${field}`, origin?.value ?? (m.config as Record<string, unknown>)[field], issue.message);
  }
  const settings = SiteSettingsSchema.safeParse(m.settings);
  if (!settings.success) throw new InputError('site settings', m.settings, settings.error.issues[0]!.message);
  const width = Math.max(...m.report.map((l) => l.verdict.length));
  const reportText =
    m.report.map((l) => `pxe-filter migrate: ${l.verdict.padEnd(width)}  ${l.option} = ${l.value} (${l.from}): ${l.result}\n`).join('') +
    `pxe-filter migrate: site settings for compute: ${JSON.stringify(m.settings)}\n`;
  return { configJson: `${JSON.stringify(m.config, null, 2)}\n`, settingsJson: `${JSON.stringify(m.settings, null, 2)}\n`, reportText };
}
