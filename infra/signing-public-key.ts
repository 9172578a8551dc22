/**
 * The manifest-signing key's public half as PEM, for the stack's SigningPublicKeyPem output: a provider-framework
 * custom resource whose small Lambda (functions/public-key-pem.ts) calls kms:GetPublicKey at deploy time.
 * CloudFormation has no attribute for it, and AwsCustomResource would decode the binary DER as text.
 */
import { CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { COMPUTE_RUNTIME, LAMBDA_BUNDLING } from './site.ts';

export interface SigningPublicKeyProps {
  signingKey: kms.IKey;
  projectRoot: string;
  logRetentionDays: number;
}

export class SigningPublicKey extends Construct {
  /** The PEM (SPKI) public key, a deploy-time token. */
  readonly pem: string;
  /** sha256 of the DER public key: the keyId every signature names (core/signature.ts). */
  readonly keyId: string;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SigningPublicKeyProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetentionDays as logs.RetentionDays });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'pxe-filter: reads the manifest-signing key\'s public half at deploy time',
    });
    logGroup.grantWrite(this.role);
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadSigningPublicKey', actions: ['kms:GetPublicKey'], resources: [props.signingKey.keyArn] }));

    const fn = new nodejs.NodejsFunction(this, 'Handler', {
      description: 'pxe-filter: PEM of the manifest-signing key (custom resource)',
      entry: join(props.projectRoot, 'functions/public-key-pem-entry.ts'),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: COMPUTE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      role: this.role,
      logGroup,
      bundling: LAMBDA_BUNDLING,
    });

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: props.logRetentionDays as logs.RetentionDays }),
    });
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PxeFilterSigningPublicKey',
      properties: { KeyArn: props.signingKey.keyArn },
    });
    this.pem = resource.getAttString('Pem');
    this.keyId = resource.getAttString('KeyId');

    // The provider framework's own function (code and role from aws-cdk-lib): it only relays CloudFormation events
    // to the handler above, at deploy time.
    const framework = provider.node.findChild('framework-onEvent');
    const frameworkRole = framework.node.findChild('ServiceRole');
    const stack = Stack.of(this);
    const fnArn = `<${stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>`;
    Validations.of(frameworkRole).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'Role of the aws-cdk-lib custom-resource provider framework function (deploy time only); the managed policy only lets it write its own logs.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${fnArn}:*]`,
        reason: 'The aws-cdk-lib provider framework may invoke any version of the one handler function it fronts (the :* is its versions and aliases).',
      },
    );
  }
}
