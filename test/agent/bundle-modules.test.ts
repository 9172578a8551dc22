/**
 * What a short `agent once` of the agent bundle loads: node's child_process (and net, dgram, streams behind it) only
 * when a service command runs. commander required it at load for executable subcommands, which this program has
 * none of (scripts/esbuild-plugins.mjs commanderLazyChildProcess), and the service module imported it eagerly.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildManifest, serializeManifest } from '../../core/manifest-build.ts';
import { agentBundle, macs } from './support.ts';

const exec = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'pxe-bundle-modules-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A preload that writes, at exit, every built-in module the process loaded. */
const preload = join(root, 'modules.cjs');
writeFileSync(preload, "process.on('exit', () => require('fs').writeFileSync(process.env.MODULES_OUT, process.moduleLoadList.join('\\n')));\n");

async function loadedBuiltins(args: string[]): Promise<{ modules: string[]; stdout: string }> {
  const out = join(root, `modules-${Math.random().toString(16).slice(2)}.txt`);
  const { stdout } = await exec(process.execPath, ['--require', preload, await agentBundle(), ...args], { env: { ...process.env, MODULES_OUT: out } });
  return { modules: readFileSync(out, 'utf8').split('\n'), stdout };
}

describe('the agent bundle loads child_process only to run a command', () => {
  const manifest = join(root, 'manifest.json');
  writeFileSync(manifest, serializeManifest(buildManifest({ site: 'dc1', generation: 1, createdAt: new Date(0), inputs: [], policy: { unknownHosts: 'deny', removed: 'deny', allow: macs(3), deny: macs(5, 3) } })));

  it('agent once --service none: written, without child_process', async () => {
    const hostsdir = join(root, 'none');
    mkdirSync(hostsdir);
    const { modules, stdout } = await loadedBuiltins(['agent', 'once', '--manifest', manifest, '--hostsdir', hostsdir, '--service', 'none', '--layout', 'sharded']);
    expect(stdout).toContain('257 written');
    expect(readdirSync(hostsdir).filter((n) => n.startsWith('shard-'))).toHaveLength(256);
    expect(modules).not.toContain('NativeModule child_process');
  }, 60_000);

  it('agent once with service commands: they run (child_process loaded then)', async () => {
    const hostsdir = join(root, 'command');
    mkdirSync(hostsdir);
    const started = join(root, 'started');
    const { modules } = await loadedBuiltins([
      'agent', 'once', '--manifest', manifest, '--hostsdir', hostsdir,
      '--service', 'command', '--start-command', `touch ${started}`, '--stop-command', 'true', '--reload-command', 'true',
    ]);
    expect(readFileSync(started, 'utf8')).toBe('');
    expect(modules).toContain('NativeModule child_process');
  }, 60_000);
});
