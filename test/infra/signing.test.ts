/**
 * The manifest-signing key in the stack: an asymmetric P-256 SIGN_VERIFY key, kms:Sign only for the compute roles
 * (and the configured rollback principals) — granted by their policies, denied to everyone else by the key policy —
 * the key handed to each compute function, and the PEM output operators pin (a provider-framework custom resource).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { allows, resolve, roleStatements } from './iam-eval.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const BREAK_GLASS = 'arn:aws:iam::123456789012:role/pxe-rollback';
const dir = mkdtempSync(join(tmpdir(), 'pxe-cdk-sign-'));
const cdkContext = JSON.parse(readFileSync('cdk.json', 'utf8')).context as Record<string, unknown>;
let template: Template;
let resources: Resources;
let keyId: string;
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/the-signing-key';

beforeAll(() => {
  writeFileSync(
    join(dir, 'sites.json'),
    JSON.stringify({ signerPrincipalArns: [BREAK_GLASS], sites: [{ name: 'dc1', settings: { source: 'ironic' } }, { name: 'dc2', settings: { source: 'inspector' } }] }),
  );
  const app = new App({ outdir: join(dir, 'out'), context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], config: join(dir, 'sites.json') } });
  template = Template.fromStack(buildApp(app, { nag: false }).stack);
  resources = template.toJSON().Resources as Resources;
  const keys = Object.keys(resources).filter((k) => resources[k]!.Type === 'AWS::KMS::Key' && k.startsWith('ManifestSigningKey'));
  expect(keys).toHaveLength(1);
  keyId = keys[0]!;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const roleId = (part: string) => Object.keys(resources).find((k) => resources[k]!.Type === 'AWS::IAM::Role' && k.includes(part))!;
/** Resolve the key's GetAtt Arn to a fixed ARN so the evaluator can match it. */
const statementsOf = (part: string) => JSON.parse(JSON.stringify(roleStatements(template.toJSON() as never, roleId(part))).replaceAll(`{"Fn::GetAtt":["${keyId}","Arn"]}`, JSON.stringify(KEY_ARN)));

describe('CDK stack: manifest signing key', () => {
  it('is an ECC_NIST_P256 SIGN_VERIFY key, retained when the stack goes', () => {
    expect(resources[keyId]).toMatchObject({ Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('the compute roles may sign and read the public key; agent and exporter roles may not', () => {
    for (const site of ['dc1', 'dc2']) {
      const compute = statementsOf(`${site}ComputeRole`);
      expect(allows(compute, resources, 'kms:Sign', KEY_ARN), site).toBe(true);
      expect(allows(compute, resources, 'kms:GetPublicKey', KEY_ARN), site).toBe(true);
      expect(allows(compute, resources, 'kms:Sign', 'arn:aws:kms:eu-west-1:123456789012:key/another'), site).toBe(false);
      for (const other of ['AgentRole', 'ExporterRole']) {
        expect(allows(statementsOf(`${site}${other}`), resources, 'kms:Sign', KEY_ARN), `${site} ${other}`).toBe(false);
      }
    }
  });

  it('the key policy denies kms:Sign to every principal but the compute roles and the configured rollback role', () => {
    const policy = resources[keyId]!.Properties.KeyPolicy as { Statement: { Sid?: string; Effect: string; Action: unknown; Principal: unknown; Condition?: Record<string, Record<string, unknown[]>> }[] };
    const deny = policy.Statement.filter((s) => s.Effect === 'Deny');
    expect(deny).toHaveLength(1);
    expect(deny[0]).toMatchObject({ Sid: 'OnlyPublishersSign', Action: 'kms:Sign', Principal: { AWS: '*' } });
    const except = deny[0]!.Condition!.ArnNotEquals!['aws:PrincipalArn']!.map((v) => resolve(v, resources));
    expect(except.sort()).toEqual([`getatt:${roleId('dc1ComputeRole')}.Arn`, `getatt:${roleId('dc2ComputeRole')}.Arn`, BREAK_GLASS].sort());
    // The Allow statements are the account's administration (CDK's default): no principal is granted Sign here.
    const allowsSign = policy.Statement.filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('kms:Sign'));
    expect(allowsSign).toEqual([]);
  });

  it('each compute function is told its key; the stack outputs the key ARN', () => {
    const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties).includes('SIGNING_KEY_ARN'));
    expect(fns).toHaveLength(2);
    for (const f of fns) expect((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.SIGNING_KEY_ARN).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.SigningKeyArn!.Value).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  });

  it('outputs the PEM public key (and its key id) from a provider-framework custom resource over this key', () => {
    const custom = Object.keys(resources).filter((k) => resources[k]!.Type === 'Custom::PxeFilterSigningPublicKey');
    expect(custom).toHaveLength(1);
    const cr = resources[custom[0]!]!;
    expect(cr.Properties.KeyArn).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.SigningPublicKeyPem!.Value).toEqual({ 'Fn::GetAtt': [custom[0], 'Pem'] });
    expect(outputs.SigningKeyId!.Value).toEqual({ 'Fn::GetAtt': [custom[0], 'KeyId'] });
    // The service token is the provider framework's function, which fronts our handler (not AwsCustomResource's
    // SDK call, which would decode the DER as UTF-8).
    const token = (cr.Properties.ServiceToken as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    const framework = resources[token[0]]!;
    expect(framework.Type).toBe('AWS::Lambda::Function');
    const handlerRef = JSON.stringify((framework.Properties.Environment as { Variables: Record<string, unknown> }).Variables.USER_ON_EVENT_FUNCTION_ARN);
    const handlerId = JSON.parse(handlerRef)['Fn::GetAtt'][0] as string;
    expect(resources[handlerId]).toMatchObject({ Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler', Runtime: 'nodejs24.x', Architectures: ['arm64'] } });
    expect(Object.keys(resources).filter((k) => resources[k]!.Type === 'AWS::CloudFormation::CustomResource' || resources[k]!.Type === 'Custom::AWS')).toEqual([]);
  });

  it("the handler's role may only kms:GetPublicKey on the signing key (and write its logs): not Sign, not other keys", () => {
    const statements = statementsOf('SigningPublicKeyRole');
    expect(allows(statements, resources, 'kms:GetPublicKey', KEY_ARN)).toBe(true);
    expect(allows(statements, resources, 'kms:GetPublicKey', 'arn:aws:kms:eu-west-1:123456789012:key/another')).toBe(false);
    expect(allows(statements, resources, 'kms:Sign', KEY_ARN)).toBe(false);
    expect(allows(statements, resources, 'kms:Decrypt', KEY_ARN)).toBe(false);
    const kmsActions = JSON.stringify(statements).match(/"kms:[A-Za-z*]+"/g);
    expect(kmsActions).toEqual(['"kms:GetPublicKey"']);
    // …and the key policy's Deny still names only the compute roles and the break-glass role as signers.
    const deny = (resources[keyId]!.Properties.KeyPolicy as { Statement: { Effect: string; Condition?: { ArnNotEquals: Record<string, unknown[]> } }[] }).Statement.find((s) => s.Effect === 'Deny')!;
    expect(JSON.stringify(deny.Condition)).not.toContain(roleId('SigningPublicKeyRole'));
  });

  it("cdk-nag: nothing unacknowledged, and the provider framework's findings are acknowledged by exact id", () => {
    const nagDir = mkdtempSync(join(tmpdir(), 'pxe-cdk-sign-nag-'));
    try {
      const app = new App({ outdir: nagDir, context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], config: join(dir, 'sites.json') } });
      const { stack } = buildApp(app, { nag: true });
      expect(() => app.synth()).not.toThrow();
      const t = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }> };
      const acks = Object.entries(t.Resources).flatMap(([id, r]) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((a) => ({ id, rule: a.id })));
      const ours = acks.filter((a) => a.id.startsWith('SigningPublicKey'));
      // Only the framework's role (and its policy) carries acknowledgements: none on our handler's role, which is exact.
      expect(ours.every((a) => a.id.includes('frameworkonEvent'))).toBe(true);
      expect([...new Set(ours.map((a) => a.rule))].sort()).toEqual([
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<SigningPublicKeyHandler[0-9A-F]+\.Arn>:\*\]$/),
      ]);
    } finally {
      rmSync(nagDir, { recursive: true, force: true });
    }
  });
});
