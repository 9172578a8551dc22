/**
 * The CDK app (`cdk.json`: `npx tsx infra/app.ts`). Sites come from infra/sites.json (or `-c config=FILE`),
 * optionally narrowed with `-c sites=dc1,dc2`. cdk-nag's AwsSolutions pack runs on every synth.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, resolveConfig } from './config.ts';
import { PxeFilterStack } from './stack.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function buildApp(app: App = new App(), options: { nag?: boolean } = {}): { app: App; stack: PxeFilterStack } {
  const configPath = String(app.node.tryGetContext('config') ?? join(PROJECT_ROOT, 'infra/sites.json'));
  const config = resolveConfig(loadConfigFile(configPath), configPath, app.node.tryGetContext('sites'));
  const stackName = String(app.node.tryGetContext('stackName') ?? 'PxeFilter');
  const stack = new PxeFilterStack(app, stackName, {
    config,
    projectRoot: PROJECT_ROOT,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: 'pxe-filter control plane: versioned manifests in S3, SSM pointers, per-site compute and agent roles',
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
  return { app, stack };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildApp().app.synth();
}
