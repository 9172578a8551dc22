/**
 * `pxe-filter publish --site S --store STORE [--force] [--sign-key FILE]`: one compute-and-publish run on a store,
 * the Lambda's code path (control/compute-site.ts through control/publish-run.ts). Prints one JSON line in the
 * agent's log format (agent/log.ts) on stdout: msg "published" or "unchanged", with the generation.
 * Exit: 0 done; 2 bad input (nothing written); 3 refused by the publish guard (nothing published); 1 otherwise.
 */
import { hostname } from 'node:os';
import type { Command } from '@commander-js/extra-typings';

export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description("compute the site's policy from the newest export in the store and publish it (the Lambda's run, without AWS)")
    .requiredOption('--site <site>', 'site name (its settings are read from the store)')
    .requiredOption('--store <spec>', 'local:<dir> or s3://<bucket> (SSM in the same region)')
    .option('--force', 'publish even when the guard says the export looks broken')
    .option('--sign-key <file>', 'sign the manifest with this private key (from `pxe-filter keygen`)')
    .action(async (o) => {
      const [{ openPublisherStore, checkSite }, { publishRun, runFields }, { createLogger }, { publishLock }] = await Promise.all([
        import('./publisher-inputs.ts'),
        import('../../control/publish-run.ts'),
        import('../../agent/log.ts'),
        import('./control-locks.ts'),
      ]);
      const { store, root } = await openPublisherStore(o.store);
      const site = await checkSite(store, o.store, o.site);
      const signer = o.signKey !== undefined ? await (await import('../../control/signing.ts')).loadSigningKeyFile(o.signKey) : undefined;
      const r = await publishRun({
        store,
        site,
        force: o.force ?? false,
        ...(signer ? { signer } : {}),
        ...(root !== undefined ? { lock: publishLock(root, site, 'publish') } : {}),
      });
      const host = hostname();
      const warn = createLogger({ level: 'info', site, host, destination: 2 });
      for (const refused of r.refusedExports) warn.warn({ exportKey: refused.key, kind: refused.kind, reason: refused.reason }, 'export refused');
      const log = createLogger({ level: 'info', site, host, destination: 1 });
      log.info({ store: store.description, ...runFields(r) }, r.published.status);
    });
}
