/**
 * The one test that runs the real thing: `npx cdk synth` from the project root, offline, with cdk.json, real
 * esbuild bundling of the compute function and cdk-nag. Then the bundle itself is loaded by Node and invoked.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'pxe-synth-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const env = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', NO_COLOR: '1', CI: 'true' };

describe('npx cdk synth (offline, real bundling)', () => {
  it('-c sites=dc1,dc2 with dc2 not in infra/sites.json: refused, nothing synthesized (issue 14)', { timeout: 120_000 }, async () => {
    const o = join(out, 'refused.out');
    const r = await run('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', o, '-c', 'sites=dc1,dc2'], { cwd: root, env }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/context sites\[1\]: not a site of .*infra\/sites\.json \(it has dc1\): describe it there first: "dc2"/);
    expect(existsSync(join(o, 'PxeFilter.template.json'))).toBe(false);
  });

  it('writes the template, passes cdk-nag, and bundles a compute handler that loads and runs', { timeout: 240_000 }, async () => {
    // Two sites, both described in the deployment config (-c sites may only name described sites).
    const sites = JSON.parse(readFileSync(join(root, 'infra', 'sites.json'), 'utf8')) as { sites: { name: string }[] };
    const config = join(out, 'sites.json');
    writeFileSync(config, JSON.stringify({ ...sites, sites: [...sites.sites, { ...sites.sites[0]!, name: 'dc2' }] }));
    const r = await run('npx', ['cdk', 'synth', '--no-notices', '-q', '-o', join(out, 'cdk.out'), '-c', `config=${config}`, '-c', 'sites=dc1,dc2'], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 });
    expect(r.stderr).not.toMatch(/AwsSolutions-/);
    const template = JSON.parse(readFileSync(join(out, 'cdk.out', 'PxeFilter.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    expect(Object.values(template.Resources).filter((x) => x.Type === 'AWS::Lambda::Function').length).toBeGreaterThanOrEqual(2);
    const report = JSON.parse(readFileSync(join(out, 'cdk.out', 'validation-report.json'), 'utf8')) as { pluginReports: { conclusion: string }[] };
    expect(report.pluginReports.filter((p) => p.conclusion !== 'success')).toEqual([]);
    // cdk-nag ran: it copied every acknowledgement, each with its reason, into the template's metadata.
    const acks = Object.values(template.Resources).flatMap((x) => (x as { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }).Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(acks.map((a) => a.id)).toContain('AwsSolutions-IAM5[Resource::<Data666C94C7.Arn>/manifests/dc2/*]');
    expect(acks.every((a) => a.reason.length >= 40)).toBe(true);

    const assets = readdirSync(join(out, 'cdk.out')).filter((d) => d.startsWith('asset.') && existsSync(join(out, 'cdk.out', d, 'index.mjs')));
    // Two bundles of ours: the compute (both sites share it) and the signing key's PEM custom resource.
    expect(assets).toHaveLength(2);
    const assetOf = (pred: (env: Record<string, unknown>) => boolean) => {
      const fns = Object.values(template.Resources).filter((x) => x.Type === 'AWS::Lambda::Function') as unknown as { Properties: { Code: { S3Key?: string }; Environment?: { Variables: Record<string, unknown> } } }[];
      const keys = new Set(fns.filter((f) => pred(f.Properties.Environment?.Variables ?? {})).map((f) => String(f.Properties.Code.S3Key).replace(/\.zip$/, '')));
      expect(keys.size).toBe(1);
      return join(out, 'cdk.out', `asset.${[...keys][0]!}`, 'index.mjs');
    };
    const bundle = assetOf((e) => 'SITE' in e);
    expect(readFileSync(bundle, 'utf8').startsWith('import { createRequire')).toBe(true);
    const pemBundle = assets.map((a) => join(out, 'cdk.out', a, 'index.mjs')).find((b) => b !== bundle)!;
    // The PEM handler's bundle loads by itself and answers a Delete without calling KMS (nothing to undo).
    const pemProbe = join(out, 'pem-probe.mjs');
    writeFileSync(pemProbe, `const m = await import(${JSON.stringify(pemBundle)}); process.stdout.write('RESULT ' + JSON.stringify(await m.handler({ RequestType: 'Delete', PhysicalResourceId: 'arn:k', ResourceProperties: {} })) + '\\n');`);
    const pp = await run(process.execPath, [pemProbe], { env: { ...env, AWS_REGION: 'eu-west-1' } });
    expect(pp.stdout).toContain('RESULT {"PhysicalResourceId":"arn:k"}');

    // Load the ESM bundle in a fresh Node (as Lambda does) and hand it an event for another site: it must throw
    // the clear InputError (proving the bundle resolves all its modules), and emit its EMF line.
    const probe = join(out, 'probe.mjs');
    writeFileSync(
      probe,
      `const m = await import(${JSON.stringify(bundle)});
       try { await m.handler({ source: 'pxe-filter.schedule', site: 'dc2' }, { awsRequestId: 'r', functionName: 'f', getRemainingTimeInMillis: () => 1000 }); process.stdout.write('RESULT resolved\\n'); }
       catch (e) { process.stdout.write('RESULT ' + e.name + ': ' + e.message + '\\n'); }`,
    );
    const p = await run(process.execPath, [probe], { env: { ...env, SITE: 'dc1', BUCKET: 'pxe-filter-test', AWS_REGION: 'eu-west-1' } });
    expect(p.stdout).toContain('RESULT InputError: event.site: is not this function\'s site "dc1": "dc2"');
    expect(p.stdout).toMatch(/"_aws":\{.*"Namespace":"PxeFilter"/);
  });
});
