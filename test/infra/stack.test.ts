import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, SCHEDULE_SOURCE } from '../../functions/names.ts';
import { BUCKET, REGION, ACCOUNT, allows, roleStatements } from './iam-eval.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

const dirs: string[] = [];
const cdkContext = JSON.parse(readFileSync('cdk.json', 'utf8')).context as Record<string, unknown>;

const config = {
  noncurrentVersionDays: 30,
  exportRetentionDays: 7,
  accessLogRetentionDays: 400,
  logRetentionDays: 60,
  alarmEmail: 'ops@example.com',
  sites: [
    { name: 'dc1', scheduleMinutes: 10, settings: { source: 'ironic', supportedInspectInterfaces: ['agent', 'redfish'] } },
    { name: 'dc2', settings: { source: 'inspector', discovery: true }, agentPrincipalArns: ['arn:aws:iam::123456789012:role/pxe-hosts-dc2'] },
  ],
};

/** Synthesize like `cdk synth` (cdk.json context, cdk-nag plugin), without bundling (tested in synth.test.ts). */
function synth(context: Record<string, unknown> = {}, nag = false) {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-cdk-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'sites.json'), JSON.stringify(config));
  const app = new App({ outdir: join(dir, 'out'), context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], config: join(dir, 'sites.json'), ...context } });
  const built = buildApp(app, { nag });
  return { ...built, dir };
}

let template: Template;
let resources: Resources;
const logicalId = (type: string, pathPart: string) => {
  const ids = Object.keys(resources).filter((k) => resources[k]!.Type === type && k.includes(pathPart));
  if (ids.length !== 1) throw new Error(`expected one ${type} matching ${pathPart}, got ${ids.join(', ')}`);
  return ids[0]!;
};

beforeAll(() => {
  const { stack } = synth();
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Resources;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('CDK stack: bucket', () => {
  it('is versioned, encrypted, TLS-only, private, access-logged, with a lifecycle that spares current manifests', () => {
    const data = logicalId('AWS::S3::Bucket', 'Data');
    const logs = logicalId('AWS::S3::Bucket', 'AccessLogs');
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: logs }, LogFilePrefix: 'data/' },
    });
    const rules = (resources[data]!.Properties.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toContainEqual(expect.objectContaining({ Id: 'expire-old-versions', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }));
    expect(rules).toContainEqual(expect.objectContaining({ Id: 'expire-exports', Prefix: 'exports/', ExpirationInDays: 7 }));
    // Nothing expires current objects outside exports/: the current manifest is never deleted by lifecycle.
    expect(rules.filter((r) => 'ExpirationInDays' in r).every((r) => r.Prefix === 'exports/')).toBe(true);
    expect(resources[data]!).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(resources[logs]!.Properties).toMatchObject({ LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 400 })] } });
  });

  it('denies plain HTTP and TLS below 1.2 on the data bucket', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId('AWS::S3::Bucket', 'Data') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });
});

describe('CDK stack: compute per site', () => {
  it('one function per site: Node 22+ on arm64, one concurrent run, explicit log retention, on-failure queue', () => {
    const fns = Object.entries(resources).filter(([k, r]) => r.Type === 'AWS::Lambda::Function' && k.includes('Compute'));
    expect(fns).toHaveLength(2);
    for (const [id, fn] of fns) {
      const site = id.includes('dc1') ? 'dc1' : 'dc2';
      const runtime = String(fn.Properties.Runtime);
      expect(runtime).toMatch(/^nodejs\d+\.x$/);
      expect(Number(runtime.match(/\d+/)![0])).toBeGreaterThanOrEqual(22);
      expect(fn.Properties).toMatchObject({
        Architectures: ['arm64'],
        ReservedConcurrentExecutions: 1,
        Environment: { Variables: { SITE: site, BUCKET: { Ref: logicalId('AWS::S3::Bucket', 'Data') }, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE } },
      });
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[logGroup]!.Properties.RetentionInDays).toBe(60);
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: id },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'FailedComputes'), 'Arn'] } } },
      });
    }
  });

  it('S3 ObjectCreated under exports/<site>/ triggers that site\'s function only', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: Match.arrayWith(
          ['dc1', 'dc2'].map((site) => ({
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: Match.arrayWith([{ Name: 'suffix', Value: '.json' }, { Name: 'prefix', Value: `exports/${site}/` }]) } },
            LambdaFunctionArn: { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', `${site}Compute`), 'Arn'] },
          })),
        ),
      },
    });
  });

  it('a schedule per site sends {source, site} to that site\'s function, with a DLQ', () => {
    for (const [site, minutes] of [['dc1', 10], ['dc2', 15]] as const) {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: `rate(${minutes} minutes)`,
        State: 'ENABLED',
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', `${site}Compute`), 'Arn'] },
            Input: JSON.stringify({ source: SCHEDULE_SOURCE, site }),
            RetryPolicy: { MaximumRetryAttempts: 2 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'FailedComputes'), 'Arn'] } },
          }),
        ],
      });
    }
  });

  it('settings parameters hold the validated settings (defaults filled in); the pointer is left to the first publish', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/pxe-filter/dc2/settings',
      Type: 'String',
      Value: JSON.stringify({ source: 'inspector', discovery: true, denyUnknownMacs: false, supportedInspectInterfaces: ['agent'], guard: { maxChangeShare: 0.5, minChangesToGuard: 20 } }),
    });
    const names = Object.values(resources).filter((r) => r.Type === 'AWS::SSM::Parameter').map((r) => r.Properties.Name);
    expect(names.sort()).toEqual(['/pxe-filter/dc1/settings', '/pxe-filter/dc2/settings']);
  });
});

describe('CDK stack: least privilege per site', () => {
  const obj = (key: string) => `arn:aws:s3:::${BUCKET}/${key}`;
  const param = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`;
  const statementsOf = (pathPart: string) => roleStatements(template.toJSON() as never, logicalId('AWS::IAM::Role', pathPart));

  it("an agent of site A reads A's pointer and manifest versions, writes A's acks — and nothing of site B", () => {
    const a = statementsOf('dc1AgentRole');
    const may = (action: string, resource: string) => allows(a, resources, action, resource);
    expect(may('ssm:GetParameter', param('/pxe-filter/dc1/current'))).toBe(true);
    expect(may('s3:GetObject', obj('manifests/dc1/manifest.json'))).toBe(true);
    expect(may('s3:GetObjectVersion', obj('manifests/dc1/manifest.json'))).toBe(true);
    expect(may('s3:PutObject', obj('acks/dc1/pxe-01.json'))).toBe(true);

    expect(may('ssm:GetParameter', param('/pxe-filter/dc2/current'))).toBe(false);
    expect(may('s3:GetObject', obj('manifests/dc2/manifest.json'))).toBe(false);
    expect(may('s3:GetObjectVersion', obj('manifests/dc2/manifest.json'))).toBe(false);
    expect(may('s3:PutObject', obj('acks/dc2/pxe-01.json'))).toBe(false);
    expect(may('s3:PutObject', obj('manifests/dc1/manifest.json'))).toBe(false);
    expect(may('s3:GetObject', obj('acks/dc1/pxe-02.json'))).toBe(false);
    expect(may('s3:GetObject', obj('exports/dc1/x.json'))).toBe(false);
    expect(may('ssm:PutParameter', param('/pxe-filter/dc1/current'))).toBe(false);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`)).toBe(false);
    // Exactly these actions: read the pointer and its fast copy (its site's item only: test/infra/fast-pointer.test.ts),
    // read manifests (2), write acks.
    expect(a.flatMap((s) => [s.Action].flat()).sort()).toEqual(['dynamodb:GetItem', 's3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 'ssm:GetParameter']);
  });

  it('the exporter of a site may put, list and read that site\'s exports, and nothing else', () => {
    const e = statementsOf('dc1ExporterRole');
    const may = (action: string, resource: string, ctx?: Record<string, string>) => allows(e, resources, action, resource, ctx);
    expect(may('s3:PutObject', obj('exports/dc1/20261125T200000-000Z.json'))).toBe(true);
    // Read back only to skip an export identical to the latest one (no compute triggered by an unchanged Ironic).
    expect(may('s3:GetObject', obj('exports/dc1/20261125T200000-000Z.json'))).toBe(true);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`, { 's3:prefix': 'exports/dc1/' })).toBe(true);

    expect(may('s3:PutObject', obj('exports/dc2/20261125T200000-000Z.json'))).toBe(false);
    expect(may('s3:GetObject', obj('exports/dc2/20261125T200000-000Z.json'))).toBe(false);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`, { 's3:prefix': 'exports/dc2/' })).toBe(false);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`)).toBe(false);
    expect(may('s3:PutObject', obj('manifests/dc1/manifest.json'))).toBe(false);
    expect(may('s3:GetObject', obj('manifests/dc1/manifest.json'))).toBe(false);
    expect(may('s3:GetObject', obj('acks/dc1/pxe-01.json'))).toBe(false);
    expect(e.flatMap((s) => [s.Action].flat()).sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
  });

  it('the compute of site A works on A only', () => {
    const c = statementsOf('dc1ComputeRole');
    const may = (action: string, resource: string, ctx?: Record<string, string>) => allows(c, resources, action, resource, ctx);
    expect(may('s3:GetObject', obj('exports/dc1/x.json'))).toBe(true);
    expect(may('s3:PutObject', obj('manifests/dc1/manifest.json'))).toBe(true);
    expect(may('s3:PutObject', obj('manifests/dc1/provenance.json'))).toBe(true);
    expect(may('s3:PutObject', obj('manifests/dc2/provenance.json'))).toBe(false);
    expect(may('ssm:PutParameter', param('/pxe-filter/dc1/current'))).toBe(true);
    expect(may('ssm:GetParameter', param('/pxe-filter/dc1/settings'))).toBe(true);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`, { 's3:prefix': 'exports/dc1/' })).toBe(true);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`, { 's3:prefix': 'acks/dc1/' })).toBe(true);

    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`, { 's3:prefix': 'exports/dc2/' })).toBe(false);
    expect(may('s3:ListBucket', `arn:aws:s3:::${BUCKET}`)).toBe(false);
    expect(may('s3:GetObject', obj('exports/dc2/x.json'))).toBe(false);
    expect(may('s3:PutObject', obj('manifests/dc2/manifest.json'))).toBe(false);
    expect(may('s3:PutObject', obj('exports/dc1/x.json'))).toBe(false);
    expect(may('ssm:PutParameter', param('/pxe-filter/dc1/settings'))).toBe(false);
    expect(may('ssm:PutParameter', param('/pxe-filter/dc2/current'))).toBe(false);
  });

  it('with an identity tag (IAM Roles Anywhere: the certificate CN), each agent may write its own ack only', () => {
    const tagged = {
      ...config,
      sites: [
        {
          name: 'dc3',
          settings: { source: 'ironic' },
          agentTrustAnchorArns: ['arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0f0e0d0c-0b0a-4909-8807-060504030201'],
          agentAckIdentityTag: 'x509Subject/CN',
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'pxe-cdk-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'tagged.json'), JSON.stringify(tagged));
    const app = new App({ outdir: join(dir, 'out'), context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], config: join(dir, 'tagged.json') } });
    const { stack } = buildApp(app, { nag: true });
    const t = Template.fromStack(stack).toJSON() as { Resources: Resources };
    const roleId = Object.keys(t.Resources).find((k) => t.Resources[k]!.Type === 'AWS::IAM::Role' && k.includes('dc3AgentRole'))!;
    const a = roleStatements(t as never, roleId);
    const cn = (host: string) => ({ 'aws:PrincipalTag/x509Subject/CN': host });
    const may = (resource: string, ctx: Record<string, string>) => allows(a, t.Resources, 's3:PutObject', obj(resource), ctx);
    expect(may('acks/dc3/pxe-01.json', cn('pxe-01'))).toBe(true);
    expect(may('acks/dc3/pxe-02.json', cn('pxe-01'))).toBe(false);
    expect(may('acks/dc3/pxe-01.json', cn('pxe-02'))).toBe(false);
    expect(may('acks/dc3/pxe-01.json', {})).toBe(false); // a session without the tag writes no ack at all
    expect(allows(a, t.Resources, 's3:GetObject', obj('manifests/dc3/manifest.json'), cn('pxe-01'))).toBe(true);
    // Trusted by Roles Anywhere for this trust anchor only, with the session tags it needs.
    const trust = t.Resources[roleId]!.Properties.AssumeRolePolicyDocument as { Statement: { Action: string | string[]; Principal: unknown; Condition?: unknown }[] };
    expect(trust.Statement.flatMap((st) => [st.Action].flat()).sort()).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
    for (const st of trust.Statement) {
      expect(st.Principal).toEqual({ Service: 'rolesanywhere.amazonaws.com' });
      expect(st.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': tagged.sites[0]!.agentTrustAnchorArns } });
    }
    // cdk-nag runs on this app too: nothing unacknowledged (the ack key has no wildcard left to acknowledge).
    expect(() => app.synth()).not.toThrow();
  });

  it('roles trust the account by default, or exactly the configured principals', () => {
    const trust = (id: string) => resources[logicalId('AWS::IAM::Role', id)]!.Properties.AssumeRolePolicyDocument;
    expect(JSON.stringify(trust('dc1AgentRole'))).toContain(':root');
    expect(trust('dc2AgentRole')).toMatchObject({ Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/pxe-hosts-dc2' } }] });
  });
});

describe('CDK stack: alarms', () => {
  const topic = () => ({ Ref: logicalId('AWS::SNS::Topic', 'Alarms') });
  it('per site: compute errors, guard refusals, future-dated exports, no compute for too long, agents behind — all to the alarm topic', () => {
    for (const site of ['dc1', 'dc2']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId('AWS::Lambda::Function', `${site}Compute`) } }],
        Threshold: 1,
        AlarmActions: [topic()],
      });
      const custom = (metric: string, more: Record<string, unknown>) =>
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Namespace: METRICS_NAMESPACE,
          Dimensions: Match.arrayWith([{ Name: 'service', Value: COMPUTE_SERVICE }, { Name: 'site', Value: site }]),
          AlarmActions: [topic()],
          ...more,
        });
      custom('GuardRefusals', { Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      custom('FutureExports', { Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Period: 300 });
      custom('Computed', { Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching', Period: site === 'dc1' ? 1800 : 2700 });
      custom('AgentsBehind', { Statistic: 'Maximum', Threshold: 1, EvaluationPeriods: 2 });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', AlarmActions: [topic()] });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });
});

describe('cdk-nag', () => {
  it('AwsSolutions finds nothing unacknowledged in the stack (the same app `cdk synth` builds)', () => {
    const { app } = synth({}, true);
    expect(() => app.synth()).not.toThrow(); // throws, listing them, on any unacknowledged finding
  });

  it('really runs: a violation fails synth and lands in the validation report', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'pxe-nag-')) });
    dirs.push(app.outdir);
    const stack = new Stack(app, 'Bad');
    new s3.Bucket(stack, 'Plain'); // no TLS enforcement, no access logs
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1\b/);
    const report = readFileSync(join(app.outdir, 'validation-report.json'), 'utf8');
    expect(report).toContain('"AwsSolutions-S1"');
    expect(report).toContain('"AwsSolutions-S10"');
  });
});

describe('outputs for the hosts (issue 14)', () => {
  it('the bucket name and the region the agents and the exporter are configured with', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs['BucketName']?.Value).toEqual({ Ref: logicalId('AWS::S3::Bucket', 'Data') });
    expect(outputs['Region']?.Value).toEqual({ Ref: 'AWS::Region' });
  });
});

describe('sites from context', () => {
  it('-c sites=dc1 deploys dc1 only; a site not in the file is refused', () => {
    const { stack } = synth({ sites: 'dc1' });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SSM::Parameter', 1);
    expect(() => synth({ sites: 'dc1,dc9' })).toThrow(/context sites\[1\]: not a site of .*sites\.json \(it has dc1, dc2\): describe it there first: "dc9"/);
    expect(() => synth({ sites: 'dc1,DC 2' })).toThrow(/context sites\[1\]/);
  });
});
