/**
 * `publish` and `control run` on an s3:// store: the real AWS SDK in the spawned command, against the S3 + SSM wire
 * formats served on loopback (test/support/aws-http.ts; AWS_ENDPOINT_URL points the SDK there). An s3:// store has
 * no watch: `control run` publishes a new export on its schedule.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsHttp } from '../support/aws-http.ts';
import { type CliResult, REPO_ROOT } from '../support/cli.ts';
import { type Service, spawnControlRun } from '../support/control.ts';
import { exportBundle } from '../support/exports.ts';
import { FakeAws } from '../support/fake-aws.ts';
import { exportKey } from '../../store/keys.ts';

const fake = new FakeAws();
const http = new AwsHttp(fake, 'pxe-bucket');
let env: NodeJS.ProcessEnv;
const services: Service[] = [];
beforeAll(async () => {
  await http.start();
  env = { ...process.env, AWS_ENDPOINT_URL: http.endpoint, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDLOOPBACK', AWS_SECRET_ACCESS_KEY: 'loopback', AWS_EC2_METADATA_DISABLED: 'true' };
  fake.parameters.set('/pxe-filter/dc1/settings', JSON.stringify({ source: 'ironic' }));
});
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await http.stop();
});

const upload = (inspecting: number[]) => {
  const at = new Date();
  fake.put(exportKey('dc1', at), JSON.stringify(exportBundle('dc1', { macs: 10, inspecting, createdAt: at.toISOString() })), at);
};
/** The real executable, as `spawnCli` runs it, with the loopback AWS environment. */
const spawnWithEnv = (argv: string[]) =>
  new Promise<CliResult>((resolve) =>
    execFile(process.execPath, [join(REPO_ROOT, 'cli', 'bin.js'), ...argv], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
const pointer = () => JSON.parse(fake.parameters.get('/pxe-filter/dc1/current') ?? 'null') as { generation: number } | null;

describe('on an s3:// store', () => {
  it('publish: one run through S3 and SSM, the same JSON line', async () => {
    upload([1]);
    const r = await spawnWithEnv(['publish', '--site', 'dc1', '--store', 's3://pxe-bucket']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ msg: 'published', site: 'dc1', generation: 1, store: 's3://pxe-bucket + SSM + DynamoDB table PxeFilter-pointers', allow: 1 });
    expect(pointer()?.generation).toBe(1);
    expect(http.count('PutParameter')).toBe(1);
  });

  it('control run: no watch, the schedule publishes the next export; --site is required', async () => {
    const svc = spawnControlRun(['--store', 's3://pxe-bucket', '--site', 'dc1', '--schedule-seconds', '1'], env);
    services.push(svc);
    expect(await svc.waitFor((l) => l.msg === 'control starting', 'the start')).toMatchObject({ watch: false, sites: ['dc1'] });
    await svc.waitFor((l) => l.msg === 'unchanged' && l.trigger === 'start', 'the start-up run');
    upload([1, 2]);
    const published = await svc.waitFor((l) => l.msg === 'published', 'the scheduled publish');
    expect(published).toMatchObject({ generation: 2, trigger: 'schedule', allow: 2 });
    expect(pointer()?.generation).toBe(2);
    expect((await svc.stop()).code).toBe(0);

    const bare = spawnControlRun(['--store', 's3://pxe-bucket'], env);
    services.push(bare);
    expect((await bare.exited).code).toBe(2);
    expect(bare.stderr()).toContain('pxe-filter: --site: required with an s3:// store: name each site to publish\n');
  });
});
