/** The compute Lambda's entry point (what NodejsFunction bundles): configuration from the environment. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { SiteNameSchema } from '../core/settings.ts';
import { VERSION } from '../core/version.ts';
import { parseWith } from '../core/zod-errors.ts';
import { AwsStore, makeS3Client, makeSsmClient } from '../store/aws-store.ts';
import { DynamoFastPointer } from '../store/fast-pointer.ts';
import { kmsSigner } from '../control/kms-signer.ts';
import { lazySigner } from '../control/signing.ts';
import { makeComputeHandler } from './compute.ts';
import { COMPUTE_SERVICE, METRICS_NAMESPACE } from './names.ts';

export const ComputeEnvSchema = z.looseObject({
  SITE: SiteNameSchema,
  BUCKET: z.string().min(3),
  ACK_GRACE_SECONDS: z.coerce.number().int().min(0).default(900),
  /** The stack's manifest-signing KMS key (ECC_NIST_P256). Unset: manifests are published unsigned. */
  SIGNING_KEY_ARN: z.string().min(1).optional(),
  /** The agents' fast pointer table (store/fast-pointer.ts), written after each SSM pointer. Unset: none. */
  FAST_POINTER_TABLE: z.string().min(3).optional(),
});

/** The Lambda's structured logs: every line carries the site and the version that wrote it. */
export function loggerFor(site: string): Logger {
  return new Logger({ serviceName: COMPUTE_SERVICE, persistentKeys: { site, version: VERSION } });
}

export function handlerFromEnv(env: NodeJS.ProcessEnv) {
  const cfg = parseWith(ComputeEnvSchema, env, 'environment');
  const logger = loggerFor(cfg.SITE);
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: COMPUTE_SERVICE, defaultDimensions: { site: cfg.SITE } });
  const keyArn = cfg.SIGNING_KEY_ARN;
  return makeComputeHandler({
    store: new AwsStore(cfg.BUCKET, makeS3Client(), makeSsmClient(), cfg.FAST_POINTER_TABLE ? new DynamoFastPointer(cfg.FAST_POINTER_TABLE) : undefined),
    site: cfg.SITE,
    bucket: cfg.BUCKET,
    logger,
    metrics,
    ackGraceMs: cfg.ACK_GRACE_SECONDS * 1000,
    ...(keyArn ? { signer: lazySigner(() => kmsSigner(keyArn)) } : {}),
  });
}

export const handler = handlerFromEnv(process.env);
