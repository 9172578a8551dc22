/**
 * ironic-inspector's / ironic's PXE-filter options → the agent's config and the site settings, with a report
 * line for every relevant option: taken over (same meaning), translated (another form of the same intent), or
 * without an equivalent. Pure: the caller reads the files (oslo-ini.ts) and writes the results.
 *
 * Option names, types and defaults are those of ironic-inspector 11 (`ironic_inspector/conf/pxe_filter.py`,
 * `dnsmasq_pxe_filter.py`, `processing.py`) and of ironic's `[pxe_filter]` / `[auto_discovery]` groups.
 */
import { InputError } from '../core/errors.ts';
import type { OsloConfig, OsloValue } from './oslo-ini.ts';

export type Source = 'inspector' | 'ironic';
export type Verdict = 'taken over' | 'translated' | 'no equivalent';

export interface ReportLine {
  verdict: Verdict;
  /** `[section] option` */
  option: string;
  /** The value in force, and where it came from (`file:line`, or `default`). */
  value: string;
  from: string;
  /** What it became, or why nothing. */
  result: string;
}

/** The agent config document (input form of agent/config.ts's schema) and the site settings. */
export interface Migrated {
  config: Record<string, unknown>;
  settings: Record<string, unknown>;
  report: ReportLine[];
}

export interface MigrateBase {
  site: string;
  store: string;
  /** Overrides (or supplies) the hosts directory. */
  hostsdir?: string;
}

/** One option as oslo sees it: the value in force (last file wins) or the default. */
class Reader {
  constructor(private readonly conf: OsloConfig) {}
  get(section: string, option: string): OsloValue | undefined {
    return this.conf.get(section)?.get(option);
  }
  where(v: OsloValue | undefined): string {
    return v ? `${v.file}:${v.line}` : 'default';
  }
  /** oslo's Boolean: true/1/on/yes, false/0/off/no, any case. */
  bool(section: string, option: string, dflt: boolean): { value: boolean; raw?: OsloValue } {
    const raw = this.get(section, option);
    if (!raw) return { value: dflt };
    const v = raw.value.trim().toLowerCase();
    if (['true', '1', 'on', 'yes'].includes(v)) return { value: true, raw };
    if (['false', '0', 'off', 'no'].includes(v)) return { value: false, raw };
    throw bad(raw, section, option, 'expected a boolean (true/false, yes/no, on/off, 1/0)');
  }
  /** oslo's Integer; an empty value means "unset" (the default). */
  int(section: string, option: string, dflt: number, min?: number): { value: number; raw?: OsloValue } {
    const raw = this.get(section, option);
    if (!raw || raw.value.trim() === '') return { value: dflt };
    const s = raw.value.trim();
    if (!/^[+-]?\d+$/.test(s)) throw bad(raw, section, option, 'expected an integer');
    const n = Number(s);
    if (min !== undefined && n < min) throw bad(raw, section, option, `must be at least ${min}`);
    return { value: n, raw };
  }
  str(section: string, option: string, dflt: string | undefined): { value: string | undefined; raw?: OsloValue } {
    const raw = this.get(section, option);
    return raw ? { value: raw.value, raw } : { value: dflt };
  }
  /** oslo's List: comma-separated, blanks dropped. */
  list(section: string, option: string, dflt: string[]): { value: string[]; raw?: OsloValue } {
    const raw = this.get(section, option);
    if (!raw) return { value: dflt };
    return { value: raw.value.split(',').map((s) => s.trim()).filter(Boolean), raw };
  }
}

/** Exit 2 naming file, section and option. */
function bad(raw: OsloValue, section: string, option: string, reason: string): InputError {
  return new InputError(`${raw.file}:${raw.line}: [${section}] ${option}`, raw.value, reason);
}

/**
 * `systemctl start dnsmasq` / `sudo systemctl stop dnsmasq.service` → the unit; anything else → undefined.
 * Both commands must name the same unit for systemctl mode.
 */
export function systemctlUnit(command: string): string | undefined {
  const m = /^(?:sudo\s+(?:-n\s+)?)?(?:\/usr)?(?:\/s?bin\/)?systemctl\s+(?:--no-block\s+|-q\s+|--quiet\s+)*(start|stop|restart|reload-or-restart)\s+([A-Za-z0-9:_.@-]+)\s*$/.exec(command.trim());
  if (!m) return undefined;
  const unit = m[2]!;
  return /\.(service|socket|target)$/.test(unit) ? unit : `${unit}.service`;
}

export function translate(source: Source, conf: OsloConfig, base: MigrateBase): Migrated {
  return source === 'inspector' ? fromInspector(new Reader(conf), base) : fromIronic(new Reader(conf), base);
}

function fromInspector(r: Reader, base: MigrateBase): Migrated {
  const report: ReportLine[] = [];
  const line = (verdict: Verdict, option: string, value: string, raw: OsloValue | undefined, result: string) => report.push({ verdict, option, value, from: r.where(raw), result });
  const config: Record<string, unknown> = { site: base.site, store: base.store };
  const settings: Record<string, unknown> = { source: 'inspector' };

  const driver = r.str('pxe_filter', 'driver', 'iptables');
  const drv = driver.value ?? 'iptables';
  if (!['iptables', 'dnsmasq', 'noop'].includes(drv)) throw bad(driver.raw!, 'pxe_filter', 'driver', 'expected iptables, dnsmasq or noop');
  line(
    drv === 'dnsmasq' ? 'taken over' : 'no equivalent',
    '[pxe_filter] driver',
    drv,
    driver.raw,
    drv === 'dnsmasq'
      ? 'the agent replaces the dnsmasq driver; set driver = noop in ironic-inspector at cut-over (docs/migrate.md)'
      : drv === 'noop'
        ? 'the old filter is already off (noop): nothing to hand over but the settings below'
        : 'the iptables driver filters with iptables, not with a dhcp-hostsdir: dnsmasq must be started with --dhcp-hostsdir for the agent (docs/agent.md); remove the iptables rules at cut-over',
  );

  const sync = r.int('pxe_filter', 'sync_period', 15, 0);
  if (sync.value === 0) {
    line('no equivalent', '[pxe_filter] sync_period', '0', sync.raw, 'periodic sync disabled there; the agent always polls: pollIntervalSeconds keeps its default');
  } else {
    config['pollIntervalSeconds'] = sync.value;
    line('translated', '[pxe_filter] sync_period', String(sync.value), sync.raw, `pollIntervalSeconds = ${sync.value} (the exporter timer sets how often Ironic is read)`);
  }

  const deny = r.bool('pxe_filter', 'deny_unknown_macs', false);
  settings['denyUnknownMacs'] = deny.value;
  line('translated', '[pxe_filter] deny_unknown_macs', String(deny.value), deny.raw, `site settings: denyUnknownMacs = ${deny.value}`);

  const hostsdir = r.str('dnsmasq_pxe_filter', 'dhcp_hostsdir', '/var/lib/ironic-inspector/dhcp-hostsdir');
  config['hostsdir'] = base.hostsdir ?? hostsdir.value;
  line('taken over', '[dnsmasq_pxe_filter] dhcp_hostsdir', hostsdir.value!, hostsdir.raw, base.hostsdir !== undefined ? `hostsdir = ${base.hostsdir} (--hostsdir given)` : `hostsdir = ${hostsdir.value}`);

  const purge = r.bool('dnsmasq_pxe_filter', 'purge_dhcp_hostsdir', true);
  config['purge'] = purge.value;
  line('taken over', '[dnsmasq_pxe_filter] purge_dhcp_hostsdir', String(purge.value), purge.raw, `purge = ${purge.value}`);

  const start = r.str('dnsmasq_pxe_filter', 'dnsmasq_start_command', '');
  const stop = r.str('dnsmasq_pxe_filter', 'dnsmasq_stop_command', '');
  config['service'] = serviceFrom(start.value ?? '', stop.value ?? '', (verdict, result) => {
    line(verdict, '[dnsmasq_pxe_filter] dnsmasq_start_command', JSON.stringify(start.value ?? ''), start.raw, result);
    line(verdict, '[dnsmasq_pxe_filter] dnsmasq_stop_command', JSON.stringify(stop.value ?? ''), stop.raw, result);
  });

  const hook = r.str('processing', 'node_not_found_hook', undefined);
  const discovery = hook.value !== undefined && hook.value.trim() !== '';
  settings['discovery'] = discovery;
  line('translated', '[processing] node_not_found_hook', hook.value ?? '<None>', hook.raw, `site settings: discovery = ${discovery}${discovery ? ' (unknown MACs always allowed)' : ''}`);
  if (discovery && deny.value) {
    throw new InputError(`${r.where(deny.raw)}: [pxe_filter] deny_unknown_macs`, true, 'cannot be combined with [processing] node_not_found_hook (discovery): pxe-filter refuses this combination; unset one of them');
  }
  return { config, settings, report };
}

function fromIronic(r: Reader, base: MigrateBase): Migrated {
  const report: ReportLine[] = [];
  const line = (verdict: Verdict, option: string, value: string, raw: OsloValue | undefined, result: string) => report.push({ verdict, option, value, from: r.where(raw), result });
  const config: Record<string, unknown> = { site: base.site, store: base.store };
  const settings: Record<string, unknown> = { source: 'ironic' };

  const hostsdir = r.str('pxe_filter', 'dhcp_hostsdir', undefined);
  if (hostsdir.value === undefined || hostsdir.value.trim() === '') {
    if (base.hostsdir === undefined) {
      throw new InputError('[pxe_filter] dhcp_hostsdir', hostsdir.raw?.value ?? null, 'not set in the given ironic configuration, and ironic-pxe-filter has no default for it: set it there or give --hostsdir');
    }
    line('translated', '[pxe_filter] dhcp_hostsdir', '<None>', hostsdir.raw, `hostsdir = ${base.hostsdir} (--hostsdir given)`);
    config['hostsdir'] = base.hostsdir;
  } else {
    config['hostsdir'] = base.hostsdir ?? hostsdir.value;
    line('taken over', '[pxe_filter] dhcp_hostsdir', hostsdir.value, hostsdir.raw, `hostsdir = ${config['hostsdir'] as string}`);
  }
  // ironic-pxe-filter never purges ("must be purged by the operator"); the agent purges at start and rebuilds,
  // which is what makes a directory left by any writer safe to take over.
  config['purge'] = true;
  line('translated', '(ironic-pxe-filter does not purge)', '-', undefined, 'purge = true: the agent clears the directory at start and rebuilds it (colon-named files are replaced by its own)');

  const ifaces = r.list('pxe_filter', 'supported_inspect_interfaces', ['agent']);
  if (ifaces.value.length === 0) throw bad(ifaces.raw!, 'pxe_filter', 'supported_inspect_interfaces', 'an empty list would count no node as inspecting');
  settings['supportedInspectInterfaces'] = ifaces.value;
  line('translated', '[pxe_filter] supported_inspect_interfaces', ifaces.value.join(','), ifaces.raw, `site settings: supportedInspectInterfaces = ${JSON.stringify(ifaces.value)}`);

  const sync = r.int('pxe_filter', 'sync_period', 45, 1);
  config['pollIntervalSeconds'] = sync.value;
  line('translated', '[pxe_filter] sync_period', String(sync.value), sync.raw, `pollIntervalSeconds = ${sync.value} (the exporter timer sets how often Ironic is read)`);

  const disc = r.bool('auto_discovery', 'enabled', false);
  settings['discovery'] = disc.value;
  line('translated', '[auto_discovery] enabled', String(disc.value), disc.raw, `site settings: discovery = ${disc.value}`);

  config['service'] = { mode: 'none' };
  line('no equivalent', '(ironic-pxe-filter does not start or stop dnsmasq)', '-', undefined, 'service = none; prefer {"mode":"systemctl","unit":"<dnsmasq unit>"} so dnsmasq only serves a complete directory (fail closed)');
  return { config, settings, report };
}

type ServiceDoc = { mode: 'none' } | { mode: 'systemctl'; unit: string } | { mode: 'command'; start: string; stop: string; reload: string };

function serviceFrom(start: string, stop: string, say: (verdict: Verdict, result: string) => void): ServiceDoc {
  if (start.trim() === '' && stop.trim() === '') {
    say('translated', 'service = none: ironic-inspector did not start or stop dnsmasq either');
    return { mode: 'none' };
  }
  const a = systemctlUnit(start);
  const b = systemctlUnit(stop);
  if (a !== undefined && a === b) {
    say('translated', `service = systemctl, unit ${a}`);
    return { mode: 'systemctl', unit: a };
  }
  say('translated', 'service = command (run by /bin/sh -c, as ironic-inspector did); reload empty = stop + start');
  return { mode: 'command', start, stop, reload: '' };
}
