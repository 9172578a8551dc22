/**
 * Which version runs where, and one log format (issue 14): the agent's first log line, its ack and status file,
 * `agent status`, the exporter's User-Agent and log lines, all from package.json; the same keys in agent and
 * exporter logs, `level` as a word, and a syslog priority prefix only on a stream connected to the journal.
 */
import { createServer } from 'node:http';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, isJournalStream, withPriorityPrefix } from '../../agent/log.ts';
import { VERSION } from '../../core/version.ts';
import { pxeFilter } from '../ironic/support/cli.ts';
import { REPO_ROOT, runCli, tempDir } from '../support/cli.ts';
import { type Rig, isApplied, killAll, makeRig, macs, policyOf, publish, startAgent } from './support.ts';

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const BASE_KEYS = ['level', 'time', 'site', 'host'];
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

describe('version', () => {
  it('core/version.ts is package.json\'s version', () => {
    expect(VERSION).toBe(version);
  });

  it('agent run: in the first log line, the ack, the status file and `agent status`', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(3), []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('first full sync done'));
    expect(agent.lines[0]).toMatchObject({ msg: 'agent starting', version });
    // The ack follows the first sync's log line: wait for it (bounded) rather than race it.
    let ackObject = await rig.store.getObject('acks/dc1/pxe-1.json');
    for (let i = 0; !ackObject && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      ackObject = await rig.store.getObject('acks/dc1/pxe-1.json');
    }
    const ack = JSON.parse(new TextDecoder().decode(ackObject!.bytes)) as Record<string, unknown>;
    expect(ack).toMatchObject({ version, generation: 1 });
    const status = JSON.parse(readFileSync(join(rig.root, 'state', 'status.json'), 'utf8')) as Record<string, unknown>;
    expect(status).toMatchObject({ version, generation: 1 });
    const r = await runCli(['agent', 'status', '--config', rig.configPath]);
    expect(r.stdout.split('\n')[0]).toContain(`host pxe-1 (pxe-filter ${version}): generation 1`);
  });

  it('the compute Lambda logs it with every line', async () => {
    // The module builds its handler at import, as Lambda loads it: give it a valid environment.
    vi.stubEnv('SITE', 'dc1');
    vi.stubEnv('BUCKET', 'pxe-filter-test');
    const { loggerFor } = await import('../../functions/compute-entry.ts');
    vi.unstubAllEnvs();
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      loggerFor('dc1').info('hello');
    } finally {
      spy.mockRestore();
    }
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['message'] === 'hello');
    expect(line).toMatchObject({ site: 'dc1', version });
  });
});

describe('one log format for agent and exporter', () => {
  it('the exporter: same keys as the agent, a retry is a warning, its User-Agent names the version', async () => {
    const agents: string[] = [];
    const server = createServer((req, res) => {
      agents.push(req.headers['user-agent'] ?? '');
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error_message":"busy"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const tmp = tempDir('export-log');
    try {
      const port = (server.address() as { port: number }).port;
      const r = await pxeFilter(['export', '--site', 'dc1', '--ironic-url', `http://127.0.0.1:${port}`, '--retries', '1', '--retry-delay', '1', '--out', tmp.path]);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const retry = lines.find((l) => l['msg'] === 'http.retry');
      expect(retry).toBeDefined();
      expect(Object.keys(retry!).slice(0, 4)).toEqual(BASE_KEYS);
      expect(retry).toMatchObject({ level: 'warn', site: 'dc1' });
      expect(Date.parse(retry!['time'] as string)).not.toBeNaN();
      expect(agents.length).toBeGreaterThanOrEqual(2);
      expect(new Set(agents)).toEqual(new Set([`pxe-filter/${version}`]));
    } finally {
      tmp.cleanup();
      server.close();
    }
  });

  it('the agent: the same keys, every level a word', async () => {
    rig = makeRig();
    await publish(rig.store, policyOf(macs(2), []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    for (const line of agent.lines) {
      expect(Object.keys(line).slice(0, 4)).toEqual(BASE_KEYS);
      expect(LEVELS).toContain(line.level);
      expect(typeof line.msg).toBe('string');
    }
  });
});

describe('journald priorities', () => {
  const tmp = tempDir('journal');
  afterAll(() => tmp.cleanup());

  it('on the stream systemd connected to the journal ($JOURNAL_STREAM): `<N>` prefixes journald understands', () => {
    const file = join(tmp.path, 'journal.log');
    const fd = openSync(file, 'w');
    try {
      const st = fstatSync(fd);
      const env = { JOURNAL_STREAM: `${st.dev}:${st.ino}` };
      expect(isJournalStream(env.JOURNAL_STREAM, fd)).toBe(true);
      const log = createLogger({ level: 'debug', site: 'dc1', host: 'h', destination: fd, env });
      log.fatal('f');
      log.error('e');
      log.warn('w');
      log.info('i');
      log.debug('d');
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<2>', '<3>', '<4>', '<6>', '<7>']);
    // What journald keeps once it strips the prefix is the same JSON line.
    expect(JSON.parse(lines[2]!.slice(3))).toMatchObject({ level: 'warn', msg: 'w', site: 'dc1', host: 'h' });
  });

  it('anywhere else (a terminal, a pipe, another file): plain JSON lines', () => {
    const file = join(tmp.path, 'plain.log');
    const other = openSync(join(tmp.path, 'other'), 'w');
    const fd = openSync(file, 'w');
    try {
      const st = fstatSync(other);
      expect(isJournalStream(`${st.dev}:${st.ino}`, fd)).toBe(false);
      expect(isJournalStream(undefined, fd)).toBe(false);
      createLogger({ level: 'info', site: 'dc1', host: 'h', destination: fd, env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` } }).warn('w');
    } finally {
      closeSync(fd);
      closeSync(other);
    }
    expect(readFileSync(file, 'utf8').startsWith('{"level":"warn"')).toBe(true);
  });

  it('maps every level, and an unknown one to info', () => {
    expect(withPriorityPrefix('{"level":"trace","msg":"x"}\n')).toBe('<7>{"level":"trace","msg":"x"}\n');
    expect(withPriorityPrefix('{"level":"verbose"}\n')).toBe('<6>{"level":"verbose"}\n');
  });
});
