/**
 * Property: on a REAL directory holding anything (our files, reference colon-named files, junk contents, foreign
 * files, stale temps, a wrong wildcard), one diff + atomic apply leaves exactly the manifest: every policy MAC has
 * its record, the wildcard says unknownHosts, removed MACs say `removed`, foreign files are byte-identical, no
 * colon-named duplicates or temps remain, every written file is 0644, and a second diff is empty.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { UNKNOWN_HOSTS_FILE, diffDirectory, recordText, wildcardText } from '../../core/hostsdir.ts';
import { parsePorts } from '../../core/ironic-exports.ts';
import { type Mac, compareMacs, macFileName } from '../../core/mac.ts';
import type { Policy, Verdict } from '../../core/policy.ts';
import { applyPlanToDirectory, readDirectory } from '../../agent/hostsdir-io.ts';
import { tempDir } from '../support/cli.ts';
import { syncOnce } from '../support/hostsdir.ts';

const tmp = tempDir('prop');
afterAll(() => tmp.cleanup());
let run = 0;

const macArb = fc.integer({ min: 0, max: 23 }).map((n) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}` as Mac);
const verdictArb = fc.constantFrom<Verdict>('allow', 'deny');
const contentFor = (mac: Mac) => fc.oneof(verdictArb.map((v) => recordText(mac, v)), fc.constantFrom('', 'junk\n', `${mac},IGNORE\n`, `${mac},ignore`));
const entryArb = fc.oneof(
  macArb.chain((mac) => contentFor(mac).map((c) => [macFileName(mac), c] as const)),
  macArb.chain((mac) => contentFor(mac).map((c) => [mac as string, c] as const)), // left by ironic-inspector / ironic
  fc.constantFrom(['README', 'operator note\n'] as const, ['garbage', 'xxxxxxxxxxxxxxxxx\n'] as const, ['52-54-00-00-00-XX', 'x'] as const),
  fc.constantFrom(['.pxe-filter-52-54-00-00-00-01.1.a.tmp', '52:54'] as const),
  fc.constantFrom([UNKNOWN_HOSTS_FILE, wildcardText('allow')] as const, [UNKNOWN_HOSTS_FILE, wildcardText('deny')] as const, [UNKNOWN_HOSTS_FILE, '*'] as const),
);
const policyArb = fc
  .record({ allow: fc.uniqueArray(macArb, { maxLength: 8 }), deny: fc.uniqueArray(macArb, { maxLength: 12 }), open: fc.boolean() })
  .map(({ allow, deny, open }): Policy => {
    const a = [...allow].sort(compareMacs);
    return { unknownHosts: open ? 'allow' : 'deny', removed: open ? 'allow' : 'deny', allow: a, deny: deny.filter((m) => !a.includes(m)).sort(compareMacs) };
  });

describe('diff then apply = manifest, on real directories', () => {
  it('property (40 random directories × policies)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 30 }), policyArb, async (entries, policy) => {
        const dir = join(tmp.path, `d${run++}`);
        mkdirSync(dir);
        try {
          const seeded = new Map<string, string>(entries.map(([n, c]) => [n, c]));
          for (const [name, content] of seeded) writeFileSync(join(dir, name), content, { mode: 0o644 });
          await syncOnce(dir, policy);
          const after = await readDirectory(dir);

          const want = new Map<Mac, Verdict>([...policy.allow.map((m) => [m, 'allow'] as const), ...policy.deny.map((m) => [m, 'deny'] as const)]);
          for (const [mac, v] of want) expect(after.get(macFileName(mac))).toBe(recordText(mac, v));
          expect(after.get(UNKNOWN_HOSTS_FILE)).toBe(wildcardText(policy.unknownHosts));
          for (const [name, content] of seeded) {
            const isOurs = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/.test(name) || name === UNKNOWN_HOSTS_FILE || name.startsWith('.pxe-filter-');
            if (!isOurs) expect(after.get(name), name).toBe(content); // foreign: untouched
            if (/^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/.test(name) && !want.has(name.replaceAll('-', ':') as Mac)) {
              expect(after.get(name)).toBe(recordText(name.replaceAll('-', ':') as Mac, policy.removed)); // removed: rewritten, kept
            }
          }
          const names = readdirSync(dir);
          expect(names.filter((n) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(n))).toEqual([]); // colon files adopted
          expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
          for (const n of names) if (!seeded.has(n) || seeded.get(n) !== after.get(n)) expect(statSync(join(dir, n)).mode & 0o777).toBe(0o644);
          const again = diffDirectory(policy, after);
          expect([again.writes, again.deletes]).toEqual([[], []]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('the writer\'s record of the directory is only a hint', () => {
  it('property: with any `known` map (right, stale or made up), the apply leaves what it leaves without one', async () => {
    const knownArb = fc.array(fc.tuple(fc.oneof(macArb.map(macFileName), fc.constant(UNKNOWN_HOSTS_FILE)), fc.constantFrom<string | null>('x\n', null)), { maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 30 }), policyArb, knownArb, fc.boolean(), async (entries, policy, made, exact) => {
        const results: Map<string, string | null>[] = [];
        for (const hint of ['none', 'hint'] as const) {
          const dir = join(tmp.path, `k${run++}`);
          mkdirSync(dir);
          try {
            for (const [name, content] of entries) writeFileSync(join(dir, name), content, { mode: 0o644 });
            const before = await readDirectory(dir);
            const plan = diffDirectory(policy, before);
            const known = exact ? before : new Map(made);
            await applyPlanToDirectory(dir, plan, undefined, undefined, hint === 'hint' ? known : undefined);
            results.push(await readDirectory(dir));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }
        expect(results[1]).toEqual(results[0]);
      }),
      { numRuns: 30 },
    );
  });
});

describe('MAC parsing through the export parser', () => {
  const hex = fc.integer({ min: 0, max: 255 }).map((n) => n.toString(16).padStart(2, '0'));
  const octets = fc.array(hex, { minLength: 6, maxLength: 6 });

  it('property: any spelling (colon/dash/dotted, any case) of a port address parses to the canonical MAC', () => {
    fc.assert(
      fc.property(octets, fc.constantFrom(':', '-', '.'), fc.boolean(), (o, sep, upper) => {
        let s = sep === '.' ? `${o[0]}${o[1]}.${o[2]}${o[3]}.${o[4]}${o[5]}` : o.join(sep);
        if (upper) s = s.toUpperCase();
        expect(parsePorts([{ label: 'p', body: { ports: [{ address: s, node_uuid: 'n' }] } }])[0]!.mac).toBe(o.join(':'));
      }),
    );
  });

  it('property: a non-MAC address is refused with one InputError naming label.ports[i].address and the value', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 24 }).filter((s) => !/^([0-9a-fA-F]{2}([:-])){5}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(s)),
        fc.nat({ max: 3 }),
        (bad, i) => {
          const ports = Array.from({ length: 4 }, (_, k) => ({ address: k === i ? bad : `52:54:00:00:00:0${k}`, node_uuid: 'n' }));
          try {
            parsePorts([{ label: 'f.json', body: { ports } }]);
            expect.unreachable(`accepted ${JSON.stringify(bad)}`);
          } catch (err) {
            expect(err).toBeInstanceOf(InputError);
            expect((err as InputError).field).toBe(`f.json.ports[${i}].address`);
            expect((err as InputError).value).toBe(bad);
            expect((err as Error).message).not.toContain('\n');
          }
        },
      ),
    );
  });
});
