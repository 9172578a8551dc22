/** `pxe-filter control run`: the flags; the service is cli/commands/control-run.ts, loaded when it runs. */
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const bounded = (what: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected ${what} from ${min} to ${max}`);
  return n;
};

export function registerControlCommands(program: Command): void {
  const control = program.command('control').description('the control plane without AWS: compute and publish on a store');
  control
    .command('run')
    .description('service: publish each site as soon as a new export lands in the store (inotify on a local store), and on a schedule')
    .requiredOption('--store <spec>', 'local:<dir> (watched) or s3://<bucket> (schedule only)')
    .option('--site <site>', 'a site to publish (repeat for several; default with a local store: every site with settings in it)', collect)
    .option('--sign-key <file>', 'sign every manifest with this private key (from `pxe-filter keygen`)')
    .option('--schedule-seconds <n>', 'run every site this often even without a new export (the safety net)', bounded('seconds', 1, 86_400), 60)
    .option('--debounce-ms <n>', 'quiet time after a new export before the run (the file events of one upload make one run)', bounded('milliseconds', 0, 60_000), 200)
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const).default('info' as const))
    .action(async (o) => {
      const { controlRun } = await import('./control-run.ts');
      await controlRun({
        store: o.store,
        sites: o.site ?? [],
        ...(o.signKey !== undefined ? { signKey: o.signKey } : {}),
        scheduleSeconds: o.scheduleSeconds,
        debounceMs: o.debounceMs,
        logLevel: o.logLevel,
      });
    });
}
