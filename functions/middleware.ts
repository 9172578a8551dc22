/** The middy middlewares of the compute pipeline: event parsing (zod) and failure reporting. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import { ConfigError, GuardError, InputError } from '../core/errors.ts';
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
