/**
 * The operators' read-only questions: `explain`, `agent explain`, `fleet status`, `history`, `diff`.
 * Flags only here; the queries are control/ (store reads) and core/ (the words), loaded when a command runs.
 */
import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';

const generation = (value: string) => {
  if (!/^[1-9][0-9]{0,14}$/.test(value)) throw new InvalidArgumentError('expected a generation number (1, 2, …)');
  return Number(value);
};
const seconds = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds');
  return n;
};
const STORE_HELP = 'local:<dir> or s3://<bucket> (SSM in the same region)';

async function openSiteStore(o: { site: string; store: string }) {
  // Loaded here, not at the top: `--help` and `--version` load no zod (test/cli/compiled.test.ts).
  const [{ SiteNameSchema }, { parseWith }, { openStore }] = await Promise.all([
    import('../../core/settings.ts'),
    import('../../core/zod-errors.ts'),
    import('../../store/open.ts'),
  ]);
  const site = parseWith(SiteNameSchema, o.site, '--site');
  return { site, store: await openStore(o.store) };
}

const print = (text: string) => process.stdout.write(text);

export function registerObserveCommands(program: Command, agent: Command<[], Record<string, never>>): void {
  program
    .command('explain')
    .description('why each MAC gets its verdict: the rule, its Ironic port and node, the export and generation, which agents applied it')
    .argument('<mac...>', 'MAC addresses (aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF or aabb.ccdd.eeff)')
    .requiredOption('--site <site>', 'site name')
    .requiredOption('--store <spec>', STORE_HELP)
    .option('--generation <n>', 'explain an earlier generation still stored (default: the current one)', generation)
    .option('--json', 'print the explanation as JSON')
    .action(async (macs, o) => {
      const { store, site } = await openSiteStore(o);
      const [{ explainMacs }, text] = await Promise.all([import('../../control/explain.ts'), import('./observe-text.ts')]);
      const r = await explainMacs({ store, site, macs, ...(o.generation !== undefined ? { generation: o.generation } : {}) });
      print(o.json ? `${JSON.stringify(r)}\n` : text.explainText(r));
    });

  agent
    .command('explain')
    .description('explain on a PXE host: the verdict of the applied generation, and what the hosts directory holds for each MAC')
    .argument('<mac...>', 'MAC addresses')
    .requiredOption('--config <file>', 'agent config file (JSON; see agent/config.sample.json)')
    .option('--json', 'print the explanation as JSON')
    .action(async (macs, o) => {
      const [{ loadConfig }, { agentExplain }, text] = await Promise.all([import('../../agent/config.ts'), import('./agent-explain.ts'), import('./observe-text.ts')]);
      const config = await loadConfig(o.config, process.env, {});
      const r = await agentExplain(config, macs);
      print(o.json ? `${JSON.stringify(r)}\n` : text.agentExplainText(r));
      if (r.directory.some((d) => !d.record.matches)) process.exitCode = 1;
    });

  program
    .command('fleet')
    .description('the agent hosts of a site')
    .command('status')
    .description('one row per agent host: generation applied and lag, last apply, last error, version, layout, counts, staleness (exit 1 when a host is behind past the grace period or failing)')
    .requiredOption('--site <site>', 'site name')
    .requiredOption('--store <spec>', STORE_HELP)
    .option('--grace <seconds>', 'how long after a publish a host may still be behind (the stack\'s ackGraceMinutes)', seconds, 900)
    .option('--silent-after <seconds>', 'a host whose last report is older than this is stale (agents report at least every ackHeartbeatSeconds)', seconds, 900)
    .option('--json', 'print the rows as JSON')
    .action(async (o) => {
      const { store, site } = await openSiteStore(o);
      const [{ fleetStatus }, text] = await Promise.all([import('../../control/fleet.ts'), import('./observe-text.ts')]);
      const r = await fleetStatus({ store, site, now: new Date(), graceMs: o.grace * 1000, silentAfterMs: o.silentAfter * 1000 });
      print(o.json ? `${JSON.stringify(r)}\n` : text.fleetText(r));
      if (!r.healthy) process.exitCode = 1;
    });

  program
    .command('history')
    .description('the generations still stored: publish time, counts, and the export behind each')
    .requiredOption('--site <site>', 'site name')
    .requiredOption('--store <spec>', STORE_HELP)
    .option('--json', 'print the generations as JSON')
    .action(async (o) => {
      const { store, site } = await openSiteStore(o);
      const [{ readGenerations }, text] = await Promise.all([import('../../control/history.ts'), import('./observe-text.ts')]);
      const generations = (await readGenerations(store, site)).map((g) => g.summary);
      if (generations.length === 0) {
        const { InputError } = await import('../../core/errors.ts');
        throw new InputError('--site', site, `has no published manifest in ${store.description}`);
      }
      print(o.json ? `${JSON.stringify({ site, generations })}\n` : text.historyText(site, generations));
    });

  program
    .command('diff')
    .description('the MACs whose verdict changed between two stored generations, with the reason on each side')
    .requiredOption('--site <site>', 'site name')
    .requiredOption('--from <n>', 'older generation', generation)
    .requiredOption('--to <n>', 'newer generation', generation)
    .requiredOption('--store <spec>', STORE_HELP)
    .option('--json', 'print the changes as JSON')
    .action(async (o) => {
      const { store, site } = await openSiteStore(o);
      const [{ diffGenerations }, text] = await Promise.all([import('../../control/diff.ts'), import('./observe-text.ts')]);
      const r = await diffGenerations({ store, site, from: o.from, to: o.to });
      print(o.json ? `${JSON.stringify(r)}\n` : text.diffText(r));
    });
}
