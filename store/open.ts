/**
 * Opens the store a command was told to use: `local:<dir>` (the embedded default).
 * The S3 + SSM store (`s3://<bucket>`) is added here by the cloud control plane.
 */
import { InputError } from '../core/errors.ts';
import { LocalStore } from './local-store.ts';
import type { Store } from './store.ts';

export async function openStore(spec: string): Promise<Store> {
  if (spec.startsWith('local:')) return new LocalStore(spec.slice('local:'.length));
  throw new InputError('--store', spec, 'expected local:<dir>');
}
