/**
 * One CloudWatch dashboard per site: what the compute did (duration, publishes, guard refusals, errors) and where
 * the agents are (acked, behind). The metrics are the ones the compute function emits (functions/names.ts) and
 * its Lambda's own; the alarms of site.ts are drawn on the graphs they watch.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, Metric } from '../functions/names.ts';

export interface SiteDashboardProps {
  site: string;
  compute: lambda.IFunction;
  alarms: { computeErrors: cloudwatch.IAlarm; guardRefusals: cloudwatch.IAlarm; futureExports: cloudwatch.IAlarm; agentsBehind: cloudwatch.IAlarm; noCompute: cloudwatch.IAlarm };
  /** The graphs' period: the site's schedule, so each scheduled run is one point. */
  period: Duration;
}

/** The dashboard name of a site (what operators open, and what the template tests look for). */
export const dashboardName = (site: string) => `pxe-filter-${site}`;

export class SiteDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: SiteDashboardProps) {
    super(scope, id);
    const { site, period } = props;
    const metric = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: COMPUTE_SERVICE, site }, statistic, period, label });
    const alarmed = (title: string, alarm: cloudwatch.IAlarm) => new cloudwatch.AlarmStatusWidget({ title, alarms: [alarm], width: 5, height: 3 });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: dashboardName(site),
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new cloudwatch.TextWidget({
            markdown: `# pxe-filter ${site}\nWhy did a machine (not) boot? \`pxe-filter explain MAC --site ${site} --store s3://BUCKET\`; hosts: \`pxe-filter fleet status --site ${site} --store s3://BUCKET\`.`,
            width: 24,
            height: 2,
          }),
        ],
        [
          alarmed('Compute errors', props.alarms.computeErrors),
          alarmed('Guard refusals', props.alarms.guardRefusals),
          alarmed('Future-dated exports', props.alarms.futureExports),
          alarmed('No compute', props.alarms.noCompute),
          alarmed('Agents behind', props.alarms.agentsBehind),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Compute duration',
            left: [metric(Metric.DurationMs, 'p50', 'compute p50 (ms)'), metric(Metric.DurationMs, 'Maximum', 'compute max (ms)')],
            right: [props.compute.metricDuration({ period, statistic: 'Maximum', label: 'Lambda duration max (ms)' })],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Publishes',
            left: [metric(Metric.Published, 'Sum', 'published'), metric(Metric.Unchanged, 'Sum', 'unchanged')],
            right: [metric(Metric.Generation, 'Maximum', 'generation')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Guard refusals',
            left: [metric(Metric.GuardRefusals, 'Sum', 'guard refusals')],
            leftAnnotations: [{ value: 1, label: 'alarm', color: cloudwatch.Color.RED }],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Agents',
            left: [metric(Metric.Agents, 'Maximum', 'agents acking'), metric(Metric.AgentsBehind, 'Maximum', 'agents behind (past the grace period)')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Errors',
            left: [
              props.compute.metricErrors({ period, statistic: 'Sum', label: 'compute errors' }),
              props.compute.metricThrottles({ period, statistic: 'Sum', label: 'compute throttles' }),
            ],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Policy size',
            left: [metric(Metric.Allowed, 'Maximum', 'allowed MACs'), metric(Metric.Denied, 'Maximum', 'denied MACs'), metric(Metric.Ports, 'Maximum', 'Ironic ports')],
            width: 24,
          }),
        ],
      ],
    });
  }
}
