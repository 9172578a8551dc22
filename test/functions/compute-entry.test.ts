import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { DEFAULT_MAX_ATTEMPTS, makeS3Client, makeSsmClient } from '../../store/aws-store.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('compute entry point', () => {
  it('builds the handler from the environment, and names the variable that is missing or bad', async () => {
    // The module builds its handler at import, as Lambda loads it: give it a valid environment.
    vi.stubEnv('SITE', 'dc1');
    vi.stubEnv('BUCKET', 'pxe-filter-test');
    const { handlerFromEnv } = await import('../../functions/compute-entry.ts');
    expect(typeof handlerFromEnv({ SITE: 'dc1', BUCKET: 'pxe-filter-test', ACK_GRACE_SECONDS: '60' })).toBe('function');
    expect(() => handlerFromEnv({ BUCKET: 'pxe-filter-test' })).toThrow(InputError);
    expect(() => handlerFromEnv({ BUCKET: 'pxe-filter-test' })).toThrow(/^environment\.SITE: /);
    expect(() => handlerFromEnv({ SITE: 'dc1', BUCKET: 'pxe-filter-test', ACK_GRACE_SECONDS: 'soon' })).toThrow(/^environment\.ACK_GRACE_SECONDS: /);
  });

  it('the AWS clients the Lambda uses retry throttling/5xx in standard mode with bounded attempts', async () => {
    for (const client of [makeS3Client({ region: 'eu-west-1' }), makeSsmClient({ region: 'eu-west-1' })]) {
      expect(await client.config.maxAttempts()).toBe(DEFAULT_MAX_ATTEMPTS);
      expect(client.config.retryMode).toBe('standard');
      const strategy = await (client.config.retryStrategy as unknown as () => Promise<{ mode: string }>)();
      expect(strategy.mode).toBe('standard');
    }
  });
});
