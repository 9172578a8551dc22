/**
 * The fast pointers in the stack (docs/deploy.md, "Fleet scale"): one on-demand DynamoDB table named after the stack;
 * each site's compute may write only its site's item, each site's agents may read only theirs; nobody else touches it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { DEFAULT_FAST_POINTER_TABLE } from '../../store/keys.ts';
import { AgentConfigSchema } from '../../agent/config.ts';
import { allows, roleStatements } from './iam-eval.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string }>;
const dir = mkdtempSync(join(tmpdir(), 'pxe-cdk-fast-'));
const cdkContext = JSON.parse(readFileSync('cdk.json', 'utf8')).context as Record<string, unknown>;
let template: Template;
let resources: Resources;
let tableId: string;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const synth = (context: Record<string, unknown> = {}, nag = false) => {
  const app = new App({ outdir: mkdtempSync(join(dir, 'out-')), context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], config: join(dir, 'sites.json'), ...context } });
  return buildApp(app, { nag });
};

beforeAll(() => {
  writeFileSync(join(dir, 'sites.json'), JSON.stringify({ sites: [{ name: 'dc1', settings: { source: 'ironic' } }, { name: 'dc2', settings: { source: 'inspector' } }] }));
  template = Template.fromStack(synth().stack);
  resources = template.toJSON().Resources as Resources;
  const ids = Object.keys(resources).filter((k) => resources[k]!.Type === 'AWS::DynamoDB::Table');
  expect(ids).toHaveLength(1);
  tableId = ids[0]!;
});

const roleId = (part: string) => Object.keys(resources).find((k) => resources[k]!.Type === 'AWS::IAM::Role' && k.includes(part))!;
const table = () => `getatt:${tableId}.Arn`;
const may = (role: string, action: string, site: string | undefined) =>
  allows(roleStatements(template.toJSON() as never, roleId(role)), resources, action, table(), site === undefined ? {} : { 'dynamodb:LeadingKeys': site });

describe('CDK stack: fast pointers', () => {
  it('one on-demand table keyed by site, named after the stack, which is the agents\' default', () => {
    expect(resources[tableId]!.Properties).toMatchObject({
      TableName: 'PxeFilter-pointers',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'site', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'site', AttributeType: 'S' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(AgentConfigSchema.parse({ site: 'dc1', store: 's3://b', hostsdir: '/h' }).fastPointer).toEqual({ table: DEFAULT_FAST_POINTER_TABLE, ssmIntervalSeconds: 300, ssmRetrySeconds: 30 });
    expect(DEFAULT_FAST_POINTER_TABLE).toBe('PxeFilter-pointers');
    const other = Template.fromStack(synth({ stackName: 'PxeStaging' }).stack).toJSON() as { Resources: Resources; Outputs: Record<string, { Value: unknown }> };
    expect(Object.values(other.Resources).find((r) => r.Type === 'AWS::DynamoDB::Table')!.Properties.TableName).toBe('PxeStaging-pointers');
    expect((template.toJSON().Outputs as Record<string, { Value: unknown }>).FastPointerTable!.Value).toEqual({ Ref: tableId });
  });

  it('each compute writes only its own site\'s item; each site\'s agents read only theirs; nothing else', () => {
    for (const [site, other] of [['dc1', 'dc2'], ['dc2', 'dc1']] as const) {
      expect(may(`${site}ComputeRole`, 'dynamodb:PutItem', site), site).toBe(true);
      expect(may(`${site}ComputeRole`, 'dynamodb:PutItem', other), site).toBe(false);
      expect(may(`${site}AgentRole`, 'dynamodb:GetItem', site), site).toBe(true);
      expect(may(`${site}AgentRole`, 'dynamodb:GetItem', other), site).toBe(false);
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan', 'dynamodb:Query']) {
        expect(may(`${site}AgentRole`, action, site), `${site} agent ${action}`).toBe(false);
      }
      for (const action of ['dynamodb:DeleteItem', 'dynamodb:Scan', 'dynamodb:UpdateItem']) expect(may(`${site}ComputeRole`, action, site)).toBe(false);
      for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem']) expect(may(`${site}ExporterRole`, action, site)).toBe(false);
    }
    // The compute function is told its table.
    const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties).includes('FAST_POINTER_TABLE'));
    expect(fns).toHaveLength(2);
    for (const f of fns) expect((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.FAST_POINTER_TABLE).toEqual({ Ref: tableId });
    // No statement grants DynamoDB without the site condition.
    const all = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy');
    const ddb = all.flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: unknown; Condition?: unknown }[] }).Statement).filter((st) => JSON.stringify(st.Action).includes('dynamodb:'));
    expect(ddb).toHaveLength(4);
    for (const st of ddb) expect(Object.keys(st.Condition as object)).toEqual(['ForAllValues:StringEquals']);
  });

  it('cdk-nag: nothing unacknowledged, no acknowledgement on the table or its grants', () => {
    const { app, stack } = synth({}, true);
    expect(() => app.synth()).not.toThrow();
    const t = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Metadata?: { cdk_nag?: { rules_to_suppress: { id: string }[] } } }> };
    const acks = Object.values(t.Resources).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((a) => a.id);
    expect(acks.filter((id) => /DDB|FastPointer/.test(id))).toEqual([]);
  });
});
