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
import { type Rig, fastTmp, isApplied, killAll, makeRig, macs, policyOf, publish, startAgent } from './support.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

const N = 3000;
const KILLS = 50;

describe('agent run: SIGKILL at random points of an apply', () => {
  it(`never leaves a partial or mixed file (${KILLS} kills), and a restart converges`, async () => {
    rig = makeRig({ purge: false }, fastTmp());
    const all = macs(N);
    // Two policies that disagree on every MAC and on the wildcard: every apply rewrites every file.
    const A = policyOf(all, [], true);
    const B = policyOf([], all, false);
    const valid = new Map<string, Set<string>>(all.map((m) => [macFileName(m), new Set([recordText(m, 'allow'), recordText(m, 'deny')])]));
    valid.set(UNKNOWN_HOSTS_FILE, new Set([wildcardText('allow'), wildcardText('deny')]));

    await publish(rig.store, A);
    const settle = await startAgent(['agent', 'run', '--config', rig.configPath]);
    const base = await settle.waitFor(isApplied(1));
    settle.kill('SIGKILL');
    await settle.exited;
    const applyMs = base.durationMs as number;

    let generation = 1;
    let midApply = 0;
    let tempsSeen = 0;
    for (let k = 0; k < KILLS; k++) {
      generation = (await publish(rig.store, generation % 2 === 1 ? B : A)).manifest.generation;
      const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
      await agent.waitFor((l) => l.msg === 'agent starting');
      // A random point from just before the apply to its expected end.
      await new Promise((r) => setTimeout(r, Math.random() * (applyMs + 40)));
      agent.kill('SIGKILL');
      const { signal } = await agent.exited;
      expect(signal).toBe('SIGKILL');

      let allowFiles = 0;
      let denyFiles = 0;
      for (const name of readdirSync(rig.hostsdir)) {
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
      if (allowFiles > 0 && denyFiles > 0) midApply++;
    }
    // The kills really landed inside applies, not only before or after them.
    expect(midApply).toBeGreaterThanOrEqual(10);

    const last = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await last.waitFor(isApplied(generation));
    const expected = generation % 2 === 1 ? A : B;
    const names = readdirSync(rig.hostsdir).sort();
    expect(names).toEqual([...all.map(macFileName), UNKNOWN_HOSTS_FILE].sort()); // temp files removed
    for (const m of all) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, expected.allow.length ? 'allow' : 'deny'));
    expect(readFileSync(join(rig.hostsdir, UNKNOWN_HOSTS_FILE), 'utf8')).toBe(wildcardText(expected.unknownHosts));
    console.log(`crash test: ${KILLS} kills, ${midApply} mid-apply, ${tempsSeen} leftover temp files seen, apply of ${N} files ≈ ${applyMs} ms`);
  }, 120_000);
});
