/**
 * Names shared by the functions and the CDK app, so that the alarms watch exactly the metrics the handler
 * emits (Powertools adds the `service` dimension to every metric).
 */
export const METRICS_NAMESPACE = 'PxeFilter';
export const COMPUTE_SERVICE = 'pxe-filter-compute';

/** Metric names emitted by the compute function, per site (dimensions: service, site). */
export const Metric = {
  Ports: 'Ports',
  Allowed: 'Allowed',
  Denied: 'Denied',
  Published: 'Published',
  Unchanged: 'Unchanged',
  /** 1 per successful run (published or unchanged): the heartbeat the "no compute for too long" alarm watches. */
  Computed: 'Computed',
  GuardRefusals: 'GuardRefusals',
  /** Exports refused because they are dated more than the tolerance in the future (a wrong exporter clock). */
  FutureExports: 'FutureExports',
  /** MACs no NIC can have (multicast, broadcast, all-zero) found among the ports: denied, never allowed. */
  UnusableMacs: 'UnusableMacs',
  Generation: 'Generation',
  Agents: 'Agents',
  AgentsBehind: 'AgentsBehind',
  DurationMs: 'DurationMs',
} as const;

/** The input the EventBridge schedule sends (RuleTargetInput), one rule per site. */
export const SCHEDULE_SOURCE = 'pxe-filter.schedule';
