/** The agent config's `region` (issue 14): validated, and the s3:// store's S3 and SSM clients use it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../agent/config.ts';
import { openStore } from '../../store/open.ts';

const base = { site: 'dc1', store: 's3://pxe-filter-test-bucket', hostsdir: '/var/lib/hostsdir' };
type Clients = { s3: { config: { region: () => Promise<string> } }; ssm: { config: { region: () => Promise<string> } } };

describe('agent config: region', () => {
  it('is optional, and the sample (the stack\'s Region output) sets it', () => {
    expect(resolveConfig(base, {}, {}).region).toBeUndefined();
    expect(resolveConfig({ ...base, region: 'eu-central-1' }, {}, {}).region).toBe('eu-central-1');
    const sample = JSON.parse(readFileSync('agent/config.sample.json', 'utf8')) as unknown;
    expect(resolveConfig(sample, {}, {}).region).toBe('eu-west-1');
  });

  it('a bad region is refused naming the file\'s field and the value', () => {
    expect(() => resolveConfig({ ...base, region: 'Europe' }, {}, {}, '/etc/pxe-filter/agent.json')).toThrow(/region.*expected an AWS region such as eu-west-1.*Europe/);
  });

  it('the s3:// store\'s S3 and SSM clients are made for that region, whatever AWS_REGION says', async () => {
    const saved = process.env['AWS_REGION'];
    process.env['AWS_REGION'] = 'us-east-1';
    try {
      const store = (await openStore('s3://pxe-filter-test-bucket', { region: 'ap-southeast-2' })) as unknown as Clients;
      expect(await store.s3.config.region()).toBe('ap-southeast-2');
      expect(await store.ssm.config.region()).toBe('ap-southeast-2');
      const chain = (await openStore('s3://pxe-filter-test-bucket')) as unknown as Clients;
      expect(await chain.s3.config.region()).toBe('us-east-1');
    } finally {
      if (saved === undefined) delete process.env['AWS_REGION'];
      else process.env['AWS_REGION'] = saved;
    }
  });
});
