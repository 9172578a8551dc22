/**
 * The control plane (docs/design.md §1): one versioned bucket, per site a compute function with its schedule, S3
 * trigger, settings parameter, agent and exporter roles, and alarms. Shared: the bucket and its access-log
 * bucket, the dead-letter queue of failed computes, the alarm topic.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { FAST_POINTER_KEY, fastPointerTable } from '../store/keys.ts';
import type { DeployConfig } from './config.ts';
import { SigningPublicKey } from './signing-public-key.ts';
import { PxeFilterSite } from './site.ts';

export interface PxeFilterStackProps extends StackProps {
  config: DeployConfig;
  /** Project root (where package-lock.json and functions/ live), for bundling. */
  projectRoot: string;
}

export class PxeFilterStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly failures: sqs.Queue;
  readonly alarmTopic: sns.Topic;
  readonly signingKey: kms.Key;
  readonly fastPointers: dynamodb.Table;
  readonly sites: PxeFilterSite[];

  constructor(scope: Construct, id: string, props: PxeFilterStackProps) {
    super(scope, id, props);
    const cfg = props.config;

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // S3 server access logging cannot write to SSE-KMS buckets
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(cfg.accessLogRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new s3.Bucket(this, 'Data', {
      versioned: true, // every manifest generation is kept; the SSM pointer names an exact versionId
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'data/',
      lifecycleRules: [
        // Only NON-current versions expire: the current manifest (what the pointer names) never does.
        { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(cfg.noncurrentVersionDays), abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-exports', prefix: 'exports/', expiration: Duration.days(cfg.exportRetentionDays) },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Async invocations (S3, schedule) that still fail after Lambda's retries land here, with the event.
    this.failures = new sqs.Queue(this, 'FailedComputes', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter (on-failure) destination of the compute functions and schedules; a DLQ behind a DLQ adds nothing.',
    });

    // CloudWatch must be allowed to use the key to publish alarms to an encrypted topic.
    const topicKey = new kms.Key(this, 'AlarmTopicKey', { enableKeyRotation: true, description: 'pxe-filter alarm topic' });
    topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new sns.Topic(this, 'Alarms', { masterKey: topicKey, enforceSSL: true });
    if (cfg.alarmEmail) this.alarmTopic.addSubscription(new subs.EmailSubscription(cfg.alarmEmail));
    const notify = new cwActions.SnsAction(this.alarmTopic);

    const failed = new cloudwatch.Alarm(this, 'FailedComputesAlarm', {
      alarmDescription: 'A compute invocation failed after all retries (see the FailedComputes queue for the event).',
      metric: this.failures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    failed.addAlarmAction(notify);

    // Manifest signing (docs/signing.md): an asymmetric key, so agents verify with a public key they pin and no
    // credential an agent or the exporter holds can produce a signature.
    this.signingKey = new kms.Key(this, 'ManifestSigningKey', {
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      description: 'pxe-filter manifest signing key (agents pin its public key)',
      // Deleting it would make every agent refuse every manifest until re-pinned: never removed with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The fast pointers (docs/deploy.md, "Fleet scale"): one item per site, a copy of its SSM pointer that agents
    // poll every few seconds (SSM's standard throughput cannot serve a fleet at that rate). On-demand: billed per
    // read, nothing when idle. Its name follows the stack's, so agents of the default stack need no setting.
    this.fastPointers = new dynamodb.Table(this, 'FastPointers', {
      tableName: fastPointerTable(this.stackName),
      partitionKey: { name: FAST_POINTER_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Only copies: every compute run rewrites its site's item from the SSM pointer.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.sites = cfg.sites.map(
      (site) =>
        new PxeFilterSite(this, `Site-${site.name}`, {
          site,
          bucket: this.bucket,
          failures: this.failures,
          alarmAction: notify,
          logRetentionDays: cfg.logRetentionDays,
          projectRoot: props.projectRoot,
          signingKey: this.signingKey,
          fastPointers: this.fastPointers,
        }),
    );

    // Only the compute functions (and the configured rollback principals) may sign: an explicit Deny in the key
    // policy wins over any Allow an IAM policy in this account grants, administrators' kms:* included.
    this.signingKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyPublishersSign',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': [...this.sites.map((s) => s.computeRole.roleArn), ...cfg.signerPrincipalArns] } },
      }),
    );
    new CfnOutput(this, 'SigningKeyArn', { value: this.signingKey.keyArn, description: 'KMS key that signs manifests (ECC_NIST_P256)' });
    // The PEM agents pin (trust.publicKeys / --trust-key): read from KMS at deploy time by a custom resource, since
    // AWS::KMS::Key has no attribute for it. Public, but pin it by configuration management, never fetch it at run time.
    const publicKey = new SigningPublicKey(this, 'SigningPublicKey', { signingKey: this.signingKey, projectRoot: props.projectRoot, logRetentionDays: cfg.logRetentionDays });
    new CfnOutput(this, 'SigningPublicKeyPem', { value: publicKey.pem, description: 'PEM public key of the signing key: what agents trust (trust.publicKeys / --trust-key)' });
    new CfnOutput(this, 'SigningKeyId', { value: publicKey.keyId, description: 'sha256 of the DER public key: the keyId in every pointer signature' });
    // What every agent's and exporter's settings name (docs/install.md): `store: s3://<BucketName>` and `region`.
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'the store: s3://<this> in /etc/pxe-filter/agent.json (store) and the exporter\'s --to' });
    new CfnOutput(this, 'FastPointerTable', { value: this.fastPointers.tableName, description: 'fastPointer.table in /etc/pxe-filter/agent.json (the default fits the default stack name)' });
    new CfnOutput(this, 'Region', { value: this.region, description: 'the store\'s region: region in /etc/pxe-filter/agent.json, AWS_REGION for the exporter' });

    // S3 notifications are set by a CDK-provided custom resource (a singleton Lambda) at deploy time.
    const notifications = this.node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
    if (notifications) {
      Validations.of(notifications).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'Role of the aws-cdk-lib BucketNotificationsHandler custom resource, which only runs during deployment to set the bucket notification configuration; its code and role are defined by aws-cdk-lib, the managed policy only lets it write its own logs.',
      });
    }
  }
}
