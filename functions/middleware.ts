/** The middy middlewares of the compute pipeline: event parsing (zod) and failure reporting. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import { ConfigError, GuardError, InputError } from '../core/errors.ts';
import { NoUsableExportError, type RefusedExport } from '../control/newest-export.ts';
import { PreconditionFailedError } from '../store/store.ts';
import { type ComputeTrigger, parseComputeEvent } from './events.ts';
import { Metric } from './names.ts';

/** Replace the raw S3/EventBridge event with a validated ComputeTrigger, or fail with the field named. */
export function parseEvent(site: string, bucket: string): MiddlewareObj<unknown> {
  return {
    name: 'parseEvent',
    before: (request) => {
      request.event = parseComputeEvent(request.event, site, bucket) satisfies ComputeTrigger;
    },
  };
}

/**
 * Log and count every failure by kind, then let it propagate: middy rethrows when no middleware sets a
 * response, so Lambda sees a failed invocation (retries, then the on-failure destination). Must be used
 * after logMetrics so that its metrics are still flushed (middy runs onError in reverse order).
 */
export function reportFailures(logger: Logger, metrics: Metrics): MiddlewareObj<unknown> {
  const started = new WeakMap<object, number>();
  return {
    name: 'reportFailures',
    before: (request) => {
      started.set(request, performance.now());
    },
    onError: (request) => {
      const err = request.error;
      const durationMs = Math.round(performance.now() - (started.get(request) ?? performance.now()));
      metrics.addMetric(Metric.DurationMs, MetricUnit.Milliseconds, durationMs);
      if (err instanceof GuardError) {
        metrics.addMetric(Metric.GuardRefusals, MetricUnit.Count, 1);
        logger.error('guard refused to publish; the current manifest stays in force', { reason: err.message, ...err.details, durationMs });
      } else if (err instanceof NoUsableExportError) {
        reportRefusedExports(logger, metrics, err.refused);
        logger.error('refused: no usable export; the current manifest stays in force', { error: err.message, durationMs });
      } else if (err instanceof PreconditionFailedError) {
        logger.warn('another compute published first; failing so that the retry computes on top of it', { key: err.key, durationMs });
      } else if (err instanceof InputError) {
        logger.error('refused: bad input', { error: err.message, field: err.field, durationMs });
      } else if (err instanceof ConfigError) {
        logger.error('refused: bad settings', { error: err.message, durationMs });
      } else {
        logger.error('compute failed', { error: err ?? undefined, durationMs });
      }
    },
  };
}

/**
 * Each refused export is one error line naming the key and why, and future-dated ones are counted (the
 * FutureExports alarm): a wrong exporter clock must be seen, not silently skipped.
 */
export function reportRefusedExports(logger: Logger, metrics: Metrics, refused: readonly RefusedExport[]): void {
  const future = refused.filter((r) => r.kind === 'future').length;
  metrics.addMetric(Metric.FutureExports, MetricUnit.Count, future);
  for (const r of refused) {
    const fields = { exportKey: r.key, ...(r.createdAt ? { createdAt: r.createdAt } : {}), reason: r.reason };
    if (r.kind === 'future') logger.error('export refused: dated in the future', fields);
    else logger.warn('export skipped: unreadable, and a newer upload is valid', fields);
  }
}
