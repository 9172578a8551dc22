/** `pxe-filter rollback --site S --to-generation N --store local:DIR|s3://BUCKET` */
import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { InputError } from '../../core/errors.ts';

const generation = (value: string) => {
  if (!/^[1-9][0-9]{0,14}$/.test(value)) throw new InvalidArgumentError('expected a generation number (1, 2, …)');
  return Number(value);
};

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description("publish an earlier generation's policy as a new generation (agents then apply it like any change)")
    .requiredOption('--site <site>', 'site name')
    .requiredOption('--to-generation <n>', 'the generation whose policy to restore', generation)
    .requiredOption('--store <spec>', 'local:<dir> or s3://<bucket> (SSM in the same region)')
    .option('--sign-key <file>', 'sign the new generation with this private key (from `pxe-filter keygen`)')
    .option('--sign-kms-key <arn>', 'sign the new generation with this AWS KMS key (the stack\'s SigningKeyArn output)')
    .action(async (o) => {
      const [{ SiteNameSchema }, { parseWith }] = await Promise.all([import('../../core/settings.ts'), import('../../core/zod-errors.ts')]);
      const site = parseWith(SiteNameSchema, o.site, '--site');
      if (o.signKey !== undefined && o.signKmsKey !== undefined) throw new InputError('--sign-kms-key', o.signKmsKey, 'give --sign-key or --sign-kms-key, not both');
      const [{ rollbackSite }, { openStore }] = await Promise.all([import('../../control/rollback.ts'), import('../../store/open.ts')]);
      const signer =
        o.signKey !== undefined
          ? await (await import('../../control/signing.ts')).loadSigningKeyFile(o.signKey)
          : o.signKmsKey !== undefined
            ? await (await import('../../control/kms-signer.ts')).kmsSigner(o.signKmsKey)
            : undefined;
      const store = await openStore(o.store);
      const r = await rollbackSite({ store, site, toGeneration: o.toGeneration, now: new Date(), ...(signer ? { signer } : {}) });
      const m = r.published.manifest;
      const what =
        r.published.status === 'published'
          ? `published generation ${m.generation} with the policy of generation ${r.from.generation}`
          : `generation ${m.generation} already has the policy of generation ${r.from.generation}; nothing published`;
      process.stdout.write(`${what} (allow ${m.policy.allow.length}, deny ${m.policy.deny.length}, unknown hosts ${m.policy.unknownHosts}) in ${store.description}\n`);
      const fast = r.published.fastPointer;
      if (fast && !fast.written && fast.reason === 'error') {
        process.stderr.write(`warning: fast pointer not written (${fast.error}); agents see generation ${m.generation} at their next SSM pointer read (fastPointer.ssmIntervalSeconds)\n`);
      }
    });
}
