/**
 * The manifest-signing key in the stack: an asymmetric P-256 SIGN_VERIFY key, kms:Sign only for the compute roles
 * (and the configured rollback principals) — granted by their policies, denied to everyone else by the key policy —
 * the key handed to each compute function, and the outputs operators pin the public key from.
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

  it('each compute function is told its key; the stack outputs the key and how to get its PEM', () => {
    const fns = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties).includes('SIGNING_KEY_ARN'));
    expect(fns).toHaveLength(2);
    for (const f of fns) expect((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.SIGNING_KEY_ARN).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.SigningKeyArn!.Value).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const command = resolve(outputs.SigningPublicKeyCommand!.Value, resources);
    expect(command).toBe(`aws kms get-public-key --key-id getatt:${keyId}.Arn --query PublicKey --output text | base64 -d | openssl pkey -pubin -inform DER -out pxe-filter-kms.pub`);
  });
});
