import { afterEach } from 'vitest';
import { AwsStore } from '../../store/aws-store.ts';
import { FakeAws } from '../support/fake-aws.ts';
import { storeContract } from './contract.ts';

let fakes: FakeAws[] = [];
afterEach(() => {
  for (const f of fakes) f.restore();
  fakes = [];
});

storeContract('AwsStore (S3 + SSM behind aws-sdk-client-mock)', async () => {
  const fake = new FakeAws();
  fakes.push(fake);
  return new AwsStore('pxe-filter-test', fake.s3, fake.ssm);
});
