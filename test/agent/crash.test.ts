/**
 * Crash safety: the real agent is SIGKILLed at random points of an apply, 50+ times. After every kill each file
 * is exactly one of the two valid records for its name (or a hidden temp file that the next run removes), and
 * a final restart converges to the manifest.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UNKNOWN_HOSTS_FILE, isTempName, recordText, wildcardText } from '../../core/hostsdir.ts';
import { macFileName } from '../../core/mac.ts';
import { isLockEntry } from '../../agent/lock.ts';
import { type Rig, fastTmp, isApplied, killAll, makeRig, macs, policyOf, publish, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

const N = 5000;
const KILLS = 50;

describe('agent run: SIGKILL at random points of an apply', () => {
  // Up to 150 agent processes started and killed: on a loaded 2-core machine that outlasts the default timeout.
  it(`never leaves a partial or mixed file (${KILLS} kills), and a restart converges`, { timeout: 360_000 }, async () => {
    rig = makeRig({ purge: false }, fastTmp());
    const all = macs(N);
    // Two policies that disagree on every MAC and on the wildcard: every apply rewrites every file.
    const A = policyOf(all, [], true);
    const B = policyOf([], all, false);
    const valid = new Map<string, Set<string>>(all.map((m) => [macFileName(m), new Set([recordText(m, 'allow'), recordText(m, 'deny')])]));
    valid.set(UNKNOWN_HOSTS_FILE, new Set([wildcardText('allow'), wildcardText('deny')]));

    // Two calibration runs (not killed mid-apply): the second one, like every later run, starts on a full directory.
    await publish(rig.store, A);
    const fill = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await fill.waitFor(isApplied(1));
    fill.kill('SIGKILL');
    await fill.exited;
    await publish(rig.store, B);
    const settle = await startAgent(['agent', 'run', '--config', rig.configPath]);
    const base = await settle.waitFor(isApplied(2));
    settle.kill('SIGKILL');
    await settle.exited;
    const applyMs = base.durationMs as number;
    // From the agent's first log line to the end of its apply: the kills aim at the apply inside that window.
    const startLine = settle.lines.find((l) => l.msg === 'agent starting')!;
    const windowMs = Date.parse(String(base.time)) - Date.parse(String(startLine.time));

    let generation = 2;
    let onDisk = B; // what (most of) the directory holds: B after the calibration runs
    let published = B;
    let kills = 0;
    let midApply = 0;
    let tempsSeen = 0;
    // Aim at the middle of the apply, and correct the aim after kills that landed before or after it.
    let center = windowMs - applyMs / 2;
    while (kills < KILLS || (midApply < KILLS / 2 && kills < 3 * KILLS)) {
      published = onDisk === A ? B : A; // the opposite of the directory: (nearly) every file changes
      generation = (await publish(rig.store, published)).manifest.generation;
      const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
      await agent.waitFor((l) => l.msg === 'agent starting');
      await new Promise((r) => setTimeout(r, Math.max(0, center + (Math.random() - 0.5) * applyMs)));
      agent.kill('SIGKILL');
      const { signal } = await agent.exited;
      expect(signal).toBe('SIGKILL');
      kills++;

      let allowFiles = 0;
      let denyFiles = 0;
      for (const name of readdirSync(rig.hostsdir)) {
        if (isLockEntry(name)) continue; // the killed agent's lock: taken over by the next one
        if (isTempName(name)) {
          tempsSeen++;
          continue;
        }
        const content = readFileSync(join(rig.hostsdir, name), 'utf8');
        expect(valid.get(name), `unexpected file ${name}`).toBeDefined();
        expect(valid.get(name)!.has(content), `${name} holds ${JSON.stringify(content)}`).toBe(true);
        if (name !== UNKNOWN_HOSTS_FILE) {
          if (content.endsWith(',ignore\n')) denyFiles++;
          else allowFiles++;
        }
      }
      expect(allowFiles + denyFiles).toBe(N); // nothing deleted (no purge)
      const wantAllow = published === A;
      if (allowFiles > 0 && denyFiles > 0) midApply++;
      else if ((allowFiles === N) === wantAllow) center -= applyMs / 4; // finished: kill earlier
      else center += applyMs / 4; // not started: kill later
      onDisk = allowFiles >= denyFiles ? A : B;
    }
    // The kills really landed inside applies, not only before or after them.
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(midApply).toBeGreaterThanOrEqual(KILLS / 2);

    const last = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await last.waitFor(isApplied(generation));
    const expected = published;
    const names = readdirSync(rig.hostsdir).filter((n) => !isLockEntry(n)).sort();
    expect(names).toEqual([...all.map(macFileName), UNKNOWN_HOSTS_FILE].sort()); // temp files removed
    for (const m of all) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, expected.allow.length ? 'allow' : 'deny'));
    expect(readFileSync(join(rig.hostsdir, UNKNOWN_HOSTS_FILE), 'utf8')).toBe(wildcardText(expected.unknownHosts));
    console.log(`crash test: ${kills} kills, ${midApply} mid-apply, ${tempsSeen} leftover temp files seen, apply of ${N} files ≈ ${applyMs} ms, window ${windowMs} ms`);
  });
});
