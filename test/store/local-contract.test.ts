import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { LocalStore } from '../../store/local-store.ts';
import { storeContract } from './contract.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

storeContract('LocalStore (real directory)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pxe-store-'));
  dirs.push(dir);
  return new LocalStore(dir);
});
