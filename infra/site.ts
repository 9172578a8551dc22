/** Everything that exists once per site. */
import { ArnFormat, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { COMPUTE_SERVICE, METRICS_NAMESPACE, Metric, SCHEDULE_SOURCE } from '../functions/names.ts';
import { acksPrefix, exportsPrefix, manifestKey, pointerParameter, provenanceKey, settingsParameter } from '../store/keys.ts';
import type { SiteConfig } from './config.ts';
import { SiteDashboard } from './dashboard.ts';

export interface PxeFilterSiteProps {
  site: SiteConfig;
  bucket: s3.IBucket;
  failures: sqs.IQueue;
  alarmAction: cloudwatch.IAlarmAction;
  logRetentionDays: number;
  projectRoot: string;
  /** Signs every manifest this site's compute publishes. */
  signingKey: kms.IKey;
  /** The fast pointers' table: this site's compute writes its item, its agents read it. */
  fastPointers: dynamodb.ITable;
}

/** The newest Node.js runtime aws-cdk-lib knows (cdk-nag AwsSolutions-L1 wants the latest). */
export const COMPUTE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** How every Lambda of the stack is bundled. */
export const LAMBDA_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  platform: 'node',
  minify: true,
  sourceMap: true,
  mainFields: ['module', 'main'],
  // Bundle the pinned SDK too: conditional writes need a recent client, whatever the runtime ships.
  externalModules: [],
  forceDockerBundling: false,
  // ESM bundles of CommonJS dependencies call require(); give them one.
  banner: "import { createRequire as __pxeCreateRequire } from 'node:module'; const require = __pxeCreateRequire(import.meta.url);",
};

export class PxeFilterSite extends Construct {
  readonly compute: nodejs.NodejsFunction;
  readonly computeRole: iam.Role;
  readonly agentRole: iam.Role;
  readonly agentPolicy: iam.ManagedPolicy;
  readonly exporterRole: iam.Role;
  readonly settings: ssm.StringParameter;
  readonly schedule: events.Rule;
  readonly alarms: Record<'computeErrors' | 'guardRefusals' | 'futureExports' | 'noCompute' | 'agentsBehind', cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: PxeFilterSiteProps) {
    super(scope, id);
    const { site, bucket } = props;
    const name = site.name;
    const stack = Stack.of(this);
    const objects = (prefix: string) => bucket.arnForObjects(`${prefix}*`);
    const parameterArn = (param: string) =>
      stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: param.replace(/^\//, ''), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const manifestsPrefix = manifestKey(name).slice(0, manifestKey(name).lastIndexOf('/') + 1);

    // Settings are configuration as code: validated at synth, changed by a deploy. The pointer parameter is NOT
    // created here: the first publish creates it, so that no deploy can ever reset it to a placeholder.
    this.settings = new ssm.StringParameter(this, 'Settings', {
      parameterName: settingsParameter(name),
      stringValue: JSON.stringify(site.settings),
      description: `pxe-filter settings of site ${name} (JSON, core/settings.ts SiteSettingsSchema)`,
      tier: ssm.ParameterTier.STANDARD,
    });

    const logGroup = new logs.LogGroup(this, 'ComputeLogs', { retention: props.logRetentionDays as logs.RetentionDays });
    const role = new iam.Role(this, 'ComputeRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `pxe-filter compute of site ${name}`,
    });
    logGroup.grantWrite(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListOwnPrefixes',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${exportsPrefix(name)}*`, `${acksPrefix(name)}*`, `${manifestsPrefix}*`] } },
      }),
    );
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadOwnExports', actions: ['s3:GetObject'], resources: [objects(exportsPrefix(name))] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteOwnManifest',
        actions: ['s3:GetObject', 's3:PutObject'],
        // The provenance (why each MAC has its verdict, core/provenance.ts) is written beside each new generation.
        resources: [bucket.arnForObjects(manifestKey(name)), bucket.arnForObjects(provenanceKey(name))],
      }),
    );
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadSettingsAndPointer', actions: ['ssm:GetParameter'], resources: [parameterArn(settingsParameter(name)), parameterArn(pointerParameter(name))] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'MovePointer', actions: ['ssm:PutParameter'], resources: [parameterArn(pointerParameter(name))] }));
    // Not key.grant(): that may also write the key policy, which names this role (a dependency cycle).
    role.addToPolicy(new iam.PolicyStatement({ sid: 'SignManifests', actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [props.signingKey.keyArn] }));
    role.addToPolicy(fastPointerStatement('WriteFastPointer', 'dynamodb:PutItem', props.fastPointers, name));
    this.computeRole = role;

    this.compute = new nodejs.NodejsFunction(this, 'Compute', {
      description: `pxe-filter compute + publish for site ${name}`,
      entry: join(props.projectRoot, 'functions/compute-entry.ts'),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: COMPUTE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(2),
      role,
      logGroup,
      // One compute at a time per site: two runs can never race to publish (the conditional write is the second line).
      reservedConcurrentExecutions: 1,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(props.failures),
      environment: {
        SITE: name,
        BUCKET: bucket.bucketName,
        ACK_GRACE_SECONDS: String(site.ackGraceMinutes * 60),
        SIGNING_KEY_ARN: props.signingKey.keyArn,
        FAST_POINTER_TABLE: props.fastPointers.tableName,
        POWERTOOLS_SERVICE_NAME: COMPUTE_SERVICE,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: LAMBDA_BUNDLING,
    });

    // Trigger 1: a new export object. Trigger 2: the schedule (missed events, heartbeat, ack-lag measurement).
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(this.compute), { prefix: exportsPrefix(name), suffix: '.json' });
    this.schedule = new events.Rule(this, 'Schedule', {
      description: `pxe-filter recompute of site ${name}`,
      schedule: events.Schedule.rate(Duration.minutes(site.scheduleMinutes)),
      targets: [
        new targets.LambdaFunction(this.compute, {
          event: events.RuleTargetInput.fromObject({ source: SCHEDULE_SOURCE, site: name }),
          retryAttempts: 2,
          deadLetterQueue: props.failures,
        }),
      ],
    });

    // Agents: read this site's pointer and manifest versions, write this site's acks. Nothing else.
    this.agentPolicy = new iam.ManagedPolicy(this, 'AgentPolicy', {
      description: `pxe-filter agents of site ${name}: read pointer + manifests, write own acks`,
      statements: [
        new iam.PolicyStatement({ sid: 'ReadPointer', actions: ['ssm:GetParameter'], resources: [parameterArn(pointerParameter(name))] }),
        fastPointerStatement('ReadFastPointer', 'dynamodb:GetItem', props.fastPointers, name),
        new iam.PolicyStatement({ sid: 'ReadManifests', actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [objects(manifestsPrefix)] }),
        // With an identity tag, each agent reaches its own ack only: the key is filled in by IAM from the session
        // (a session without the tag matches nothing), so one host cannot overwrite another's and hide it.
        site.agentAckIdentityTag
          ? new iam.PolicyStatement({ sid: 'WriteOwnAck', actions: ['s3:PutObject'], resources: [bucket.arnForObjects(`${acksPrefix(name)}\${aws:PrincipalTag/${site.agentAckIdentityTag}}.json`)] })
          : new iam.PolicyStatement({ sid: 'WriteAcks', actions: ['s3:PutObject'], resources: [objects(acksPrefix(name))] }),
      ],
    });
    this.agentRole = new iam.Role(this, 'AgentRole', {
      description: `pxe-filter agents of site ${name}`,
      assumedBy: site.agentTrustAnchorArns.length > 0 && site.agentPrincipalArns.length === 0 ? rolesAnywhere(site.agentTrustAnchorArns) : principals(site.agentPrincipalArns),
      managedPolicies: [this.agentPolicy],
      maxSessionDuration: Duration.hours(1),
    });
    if (site.agentTrustAnchorArns.length > 0) {
      // IAM Roles Anywhere's documented trust: it tags the session with the certificate's subject (TagSession) and
      // sets a source identity; only for this site's trust anchors.
      this.agentRole.assumeRolePolicy!.addStatements(
        new iam.PolicyStatement({
          actions: [...(site.agentPrincipalArns.length > 0 ? ['sts:AssumeRole'] : []), 'sts:TagSession', 'sts:SetSourceIdentity'],
          principals: [new iam.ServicePrincipal('rolesanywhere.amazonaws.com')],
          conditions: { ArnEquals: { 'aws:SourceArn': site.agentTrustAnchorArns } },
        }),
      );
    }

    // The exporter (pxe-filter export, next to Ironic): put this site's exports, and read them back only to skip an
    // export identical to the latest (exporter/write-export.ts), so an unchanged Ironic triggers no compute.
    const exporterPolicy = new iam.ManagedPolicy(this, 'ExporterPolicy', {
      description: `pxe-filter exporter of site ${name}: put exports, read its own latest export`,
      statements: [
        new iam.PolicyStatement({ sid: 'PutExports', actions: ['s3:PutObject'], resources: [objects(exportsPrefix(name))] }),
        new iam.PolicyStatement({ sid: 'ReadOwnExports', actions: ['s3:GetObject'], resources: [objects(exportsPrefix(name))] }),
        new iam.PolicyStatement({
          sid: 'ListOwnExports',
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${exportsPrefix(name)}*`] } },
        }),
      ],
    });
    this.exporterRole = new iam.Role(this, 'ExporterRole', {
      description: `pxe-filter exporter of site ${name}`,
      assumedBy: principals(site.exporterPrincipalArns),
      managedPolicies: [exporterPolicy],
      maxSessionDuration: Duration.hours(1),
    });

    const metric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: COMPUTE_SERVICE, site: name }, statistic, period });
    const alarm = (id: string, a: cloudwatch.AlarmProps) => {
      const al = new cloudwatch.Alarm(this, id, a);
      al.addAlarmAction(props.alarmAction);
      return al;
    };
    const heartbeat = Duration.minutes(Math.max(site.scheduleMinutes * 3, 15));
    this.alarms = {
      computeErrors: alarm('ComputeErrors', {
        alarmDescription: `pxe-filter ${name}: compute invocations failed (bad export or settings, conflict, AWS errors); see the function's logs`,
        metric: this.compute.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      guardRefusals: alarm('GuardRefusals', {
        alarmDescription: `pxe-filter ${name}: the publish guard refused an export that looks broken; the previous manifest stays in force`,
        metric: metric(Metric.GuardRefusals, 'Sum', Duration.minutes(5)),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      futureExports: alarm('FutureExports', {
        alarmDescription:
          `pxe-filter ${name}: an export dated more than 5 minutes in the future was refused (the exporter's clock is wrong, or someone ` +
          `wrote under exports/${name}/); the newest valid export is used. See the function's logs for the key`,
        metric: metric(Metric.FutureExports, 'Sum', Duration.minutes(5)),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      noCompute: alarm('NoCompute', {
        alarmDescription: `pxe-filter ${name}: no successful compute (publish or unchanged) for ${heartbeat.toMinutes()} minutes`,
        metric: metric(Metric.Computed, 'Sum', heartbeat),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
      agentsBehind: alarm('AgentsBehind', {
        alarmDescription: `pxe-filter ${name}: agents have not acked the current generation ${site.ackGraceMinutes} minutes after its publish`,
        metric: metric(Metric.AgentsBehind, 'Maximum', Duration.minutes(site.scheduleMinutes)),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };

    new SiteDashboard(this, 'Dashboard', { site: name, compute: this.compute, alarms: this.alarms, period: Duration.minutes(site.scheduleMinutes) });

    // cdk-nag IAM5 flags every "/*" in an object ARN. Each one left is a key prefix of this one site; S3 has no
    // way to name objects that do not exist yet other than a prefix wildcard. Acknowledged finding by finding.
    const bucketRef = `<${Stack.of(bucket).getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    const wildcard = (c: Construct, prefix: string, who: string) =>
      Validations.of(c).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${bucketRef}/${prefix}*]`,
        reason: `${who} must reach objects created later under ${prefix} (new exports, manifest versions, per-host acks); the wildcard is limited to this site's prefix`,
      });
    wildcard(role, exportsPrefix(name), `The compute of site ${name}`);
    wildcard(this.agentPolicy, manifestsPrefix, `The agents of site ${name}`);
    if (!site.agentAckIdentityTag) wildcard(this.agentPolicy, acksPrefix(name), `The agents of site ${name}`);
    wildcard(exporterPolicy, exportsPrefix(name), `The exporter of site ${name}`);

    new CfnOutput(this, 'AgentRoleArn', { value: this.agentRole.roleArn, description: `role for the agents of ${name}` });
    new CfnOutput(this, 'AgentPolicyArn', { value: this.agentPolicy.managedPolicyArn, description: `managed policy for the agents of ${name}` });
    new CfnOutput(this, 'ExporterRoleArn', { value: this.exporterRole.roleArn, description: `role for the exporter of ${name}` });
  }
}

/** One action on one site's item of the fast-pointer table: the partition key must be the site (LeadingKeys). */
function fastPointerStatement(sid: string, action: string, table: dynamodb.ITable, site: string): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid, actions: [action], resources: [table.tableArn], conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [site] } } });
}

function principals(arns: readonly string[]): iam.IPrincipal {
  if (arns.length === 0) return new iam.AccountRootPrincipal();
  return new iam.CompositePrincipal(...arns.map((a) => new iam.ArnPrincipal(a)));
}

function rolesAnywhere(trustAnchorArns: readonly string[]): iam.IPrincipal {
  return new iam.PrincipalWithConditions(new iam.ServicePrincipal('rolesanywhere.amazonaws.com'), { ArnEquals: { 'aws:SourceArn': [...trustAnchorArns] } });
}
