/**
 * The on-premises chain on one host (docs/onprem.md), every part a real process: an export lands in the local store,
 * `control run` publishes it, and `agent run` — polling the store's pointer (a file read) every second — rewrites
 * the MAC's file in the hosts directory. The bound is generous (a regression catcher, not a benchmark).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../support/cli.ts';
import { mac } from '../support/exports.ts';
import { putExport, siteStore, spawnControlRun } from '../support/control.ts';

const tmp = tempDir('onprem-chain');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp.cleanup();
});

const fileOf = (hostsdir: string, i: number) => join(hostsdir, mac(i).replaceAll(':', '-'));
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

async function until(cond: () => boolean, what: string, ms: number) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('export → control run → agent run (1 s poll of the local pointer) → hosts directory, both ways', async () => {
  const root = join(tmp.path, 'store');
  const hostsdir = join(tmp.path, 'hostsdir');
  mkdirSync(root);
  mkdirSync(hostsdir);
  const store = await siteStore(root, 'dc1');
  await putExport(store, 'dc1', { macs: 10 });

  const control = spawnControlRun(['--store', `local:${root}`, '--site', 'dc1']);
  children.push(control.child);
  await control.waitFor((l) => l.msg === 'published', 'generation 1');

  const config = join(tmp.path, 'agent.json');
  writeFileSync(
    config,
    JSON.stringify({
      site: 'dc1',
      host: 'pxe-1',
      store: `local:${root}`,
      hostsdir,
      stateFile: join(tmp.path, 'state', 'state.json'),
      readyFile: join(tmp.path, 'state', 'ready'),
      pollIntervalSeconds: 1,
      service: { mode: 'none' },
    }),
  );
  const agent = spawn(process.execPath, [join(REPO_ROOT, 'cli', 'bin.js'), 'agent', 'run', '--config', config], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(agent);
  let agentErr = '';
  agent.stderr!.on('data', (c: Buffer) => (agentErr += c.toString()));
  agent.stdout!.resume();
  const target = fileOf(hostsdir, 3);
  await until(() => read(target) === `${mac(3)},ignore\n`, 'the first apply', 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; agent stderr: ${agentErr}`);
  });

  // Node 3 goes into inspection: its MAC must be allowed.
  await putExport(store, 'dc1', { macs: 10, inspecting: [3] });
  await until(() => read(target) === `${mac(3)}\n`, 'the allow of the inspected node', 15_000);
  // Inspection finished: ignored again.
  await putExport(store, 'dc1', { macs: 10 });
  await until(() => read(target) === `${mac(3)},ignore\n`, 'the deny after inspection', 15_000);
  expect(control.lines.filter((l) => l.msg === 'published').map((l) => [l.generation, l.trigger])).toEqual([
    [1, 'start'],
    [2, 'export'],
    [3, 'export'],
  ]);

  agent.kill('SIGTERM');
  expect((await control.stop()).code).toBe(0);
}, 90_000);
