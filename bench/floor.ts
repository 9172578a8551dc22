/**
 * The floor: the same file-system calls as the agent's writer and purge (agent/hostsdir-io.ts) for new files, in the same way
 * (synchronous, a turn of the event loop every 500), with no product logic: no manifest, no diff, no plan.
 */
import { closeSync, fchmodSync, constants as fsConstants, openSync, unlinkSync, writeSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { umaskMasks0644 } from '../store/files.ts';
import { recordText } from '../core/hostsdir.ts';
import { macFileName } from '../core/mac.ts';
import { macOf } from './data.ts';

const SLICE = 500;
const tick = () => new Promise((r) => setImmediate(r));

/** N MAC files + the wildcard file, each new file created in place (O_EXCL on its own name), as the writer does. */
export async function floorFill(dir: string, n: number): Promise<void> {
  for (let i = 0; i <= n; i++) {
    if (i > 0 && i % SLICE === 0) await tick();
    const mac = macOf(i);
    const fd = openSync(join(dir, macFileName(mac)), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
    if (umaskMasks0644()) fchmodSync(fd, 0o644);
    writeSync(fd, recordText(mac, 'deny'));
    closeSync(fd);
  }
}

export async function floorPurge(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % SLICE === 0) await tick();
    if (!entries[i]!.isDirectory()) unlinkSync(join(dir, entries[i]!.name));
  }
}
