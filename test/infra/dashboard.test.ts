/**
 * The per-site CloudWatch dashboard in the synthesized template: one per site, named after it, graphing the
 * metrics the compute function really emits (functions/names.ts) for that site only, and the site's alarms.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, Metric } from '../../functions/names.ts';
import { dashboardName } from '../../infra/dashboard.ts';
import { buildApp } from '../../infra/app.ts';

const dir = mkdtempSync(join(tmpdir(), 'pxe-dash-'));
let template: Template;
let stack: Stack;

beforeAll(() => {
  const config = { noncurrentVersionDays: 30, exportRetentionDays: 7, sites: [{ name: 'dc1', scheduleMinutes: 10, settings: { source: 'ironic' } }, { name: 'dc2', settings: { source: 'inspector' } }] };
  writeFileSync(join(dir, 'sites.json'), JSON.stringify(config));
  const context = JSON.parse(readFileSync('cdk.json', 'utf8')).context as Record<string, unknown>;
  const app = new App({ outdir: join(dir, 'out'), context: { ...context, 'aws:cdk:bundling-stacks': [], config: join(dir, 'sites.json') } });
  stack = buildApp(app, { nag: false }).stack;
  template = Template.fromStack(stack);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The dashboard's body with CloudFormation's Fn::Join resolved into text (tokens left as their JSON). */
function body(site: string): string {
  const dashboards = template.findResources('AWS::CloudWatch::Dashboard', { Properties: { DashboardName: dashboardName(site) } });
  const [only] = Object.values(dashboards);
  expect(Object.keys(dashboards)).toHaveLength(1);
  const raw = only!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  return raw['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('');
}

describe('CDK stack: a dashboard per site', () => {
  it('one dashboard per site, and no other', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 2);
  });

  it('graphs compute duration, publishes, guard refusals, agents behind and errors of its own site', () => {
    const b = body('dc1');
    const metricRef = (name: string, site: string) => `"${METRICS_NAMESPACE}","${name}","service","${COMPUTE_SERVICE}","site","${site}"`;
    for (const name of [Metric.DurationMs, Metric.Published, Metric.Unchanged, Metric.GuardRefusals, Metric.Agents, Metric.AgentsBehind, Metric.Generation]) {
      expect(b, name).toContain(metricRef(name, 'dc1'));
      expect(b, name).not.toContain(metricRef(name, 'dc2'));
    }
    for (const title of ['Compute duration', 'Publishes', 'Guard refusals', 'Agents', 'Errors']) expect(b).toContain(`"title":"${title}"`);
    // The Lambda's own errors and duration, of this site's function.
    const computeFn = Object.keys(template.findResources('AWS::Lambda::Function')).find((id) => id.includes('dc1') && id.includes('Compute'))!;
    expect(b).toContain('"AWS/Lambda","Errors","FunctionName"');
    expect(b).toContain('"AWS/Lambda","Duration","FunctionName"');
    expect(b).toContain(`{"Ref":"${computeFn}"}`);
    // The graphs' period is the site's schedule (10 minutes for dc1).
    expect(b).toContain('"period":600');
  });

  it("shows the site's alarms", () => {
    const b = body('dc2');
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.includes('dc2'));
    expect(alarms.length).toBe(5);
    for (const id of alarms) expect(b).toContain(`{"Fn::GetAtt":["${id}","Arn"]}`);
  });
});
