/**
 * The compute Lambda: a thin middy pipeline around control/compute-site.
 *   injectLambdaContext  structured JSON logs with the request id (site is a persistent key)
 *   logMetrics           EMF metrics flushed after success AND after failure (guard refusals are counted)
 *   reportFailures       logs and counts each failure by kind, then lets it propagate
 *   parseEvent           zod-validates the S3 notification or schedule event
 *   handler              computeSite → ack lag → log + metrics
 * Every failure is rethrown: Lambda then retries the async invocation and, when retries run out, sends it to
 * the on-failure destination. No error is ever turned into a successful result.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { measureAckLag } from '../control/ack-lag.ts';
import { computeSite, publishFields } from '../control/compute-site.ts';
import type { ManifestSigner } from '../control/signing.ts';
import type { Store } from '../store/store.ts';
import type { ComputeTrigger } from './events.ts';
import { parseEvent, reportFailures, reportRefusedExports } from './middleware.ts';
import { Metric } from './names.ts';

export interface ComputeDeps {
  store: Store;
  site: string;
  bucket: string;
  logger: Logger;
  metrics: Metrics;
  /** After a publish, agents have this long to ack before they count as behind. */
  ackGraceMs: number;
  now?: () => Date;
  /** Signs every publish (the stack's KMS key); asked at each run, so a cold start's failure is retried with the run. */
  signer?: () => Promise<ManifestSigner>;
}

export interface ComputeSummary {
  site: string;
  status: 'published' | 'unchanged';
  generation: number;
  versionId: string;
  exportKey: string;
  allow: number;
  deny: number;
  agentsBehind: number;
  /** Exports skipped (future-dated, or unreadable but superseded); each one is logged. */
  refusedExports: number;
  unusableMacs: number;
}

export function makeComputeHandler(deps: ComputeDeps) {
  const { logger, metrics, store, site } = deps;
  const now = deps.now ?? (() => new Date());

  const run = async (event: unknown): Promise<ComputeSummary> => {
    const started = performance.now();
    const trigger = event as ComputeTrigger; // parseEvent replaced the raw event before this runs
    const force = trigger.kind === 'schedule' && trigger.force;
    logger.info('compute started', { trigger: trigger.kind, ...(trigger.kind === 's3' ? { keys: trigger.keys } : {}), ...(force ? { force } : {}) });
    const at = now();
    const signer = deps.signer ? await deps.signer() : undefined;
    const r = await computeSite({ store, site, now: at, force, ...(signer ? { signer } : {}) });
    reportRefusedExports(logger, metrics, r.refusedExports);
    const m = r.published.manifest;
    const lag = await measureAckLag(store, site, new Date(m.createdAt), at, deps.ackGraceMs);
    const durationMs = Math.round(performance.now() - started);
    const published = r.published.status === 'published';
    metrics.addMetric(Metric.Computed, MetricUnit.Count, 1);
    metrics.addMetric(Metric.Ports, MetricUnit.Count, r.stats.ports);
    metrics.addMetric(Metric.Allowed, MetricUnit.Count, m.policy.allow.length);
    metrics.addMetric(Metric.Denied, MetricUnit.Count, m.policy.deny.length);
    metrics.addMetric(Metric.Published, MetricUnit.Count, published ? 1 : 0);
    metrics.addMetric(Metric.Unchanged, MetricUnit.Count, published ? 0 : 1);
    metrics.addMetric(Metric.Generation, MetricUnit.Count, m.generation);
    metrics.addMetric(Metric.Agents, MetricUnit.Count, lag.agents);
    metrics.addMetric(Metric.AgentsBehind, MetricUnit.Count, lag.behind);
    metrics.addMetric(Metric.DurationMs, MetricUnit.Milliseconds, durationMs);
    metrics.addMetric(Metric.UnusableMacs, MetricUnit.Count, r.stats.unusableMacs);
    if (r.stats.unusableMacs > 0) {
      logger.warn('ports with MACs no NIC can have (multicast, broadcast or all-zero): denied, never allowed', {
        unusableMacs: r.stats.unusableMacs,
        first: r.stats.unusableMacSamples,
        exportKey: r.exportKey,
      });
    }
    const fast = r.published.fastPointer;
    if (fast && !fast.written && fast.reason === 'error') {
      // The publish stands: agents see it at their next SSM read instead of their next poll.
      logger.warn('fast pointer not written; agents fall back to the SSM pointer', { generation: m.generation, error: fast.error });
    }
    logger.info(published ? 'published' : 'unchanged', {
      ...publishFields(r),
      fastPointer: fast ? (fast.written ? 'written' : fast.reason) : null,
      agents: lag.agents,
      agentsBehind: lag.behind,
      durationMs,
    });
    return {
      site,
      status: r.published.status,
      generation: m.generation,
      versionId: r.published.pointer.versionId,
      exportKey: r.exportKey,
      allow: m.policy.allow.length,
      deny: m.policy.deny.length,
      agentsBehind: lag.behind,
      refusedExports: r.refusedExports.length,
      unusableMacs: r.stats.unusableMacs,
    };
  };

  // before: in this order; onError: in reverse, so failures are counted before logMetrics flushes.
  return middy<unknown, ComputeSummary>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(reportFailures(logger, metrics))
    .use(parseEvent(site, deps.bucket))
    .handler(run);
}
