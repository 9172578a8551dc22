/**
 * The real agent process (`node dist-bundle agent run`) on real directories: a no-change poll writes and scans
 * nothing, 50 flips write exactly 50 files, and every tampered manifest is refused with the directory untouched.
 */
import { readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { macFileName } from '../../core/mac.ts';
import { recordText } from '../../core/hostsdir.ts';
import { PointerSchema } from '../../core/manifest.ts';
import { pointerParameter } from '../../store/keys.ts';
import { AGENT_NODE_FLAGS, LARGE_APPLY_OPERATIONS } from '../../agent/heap.ts';
import { type Rig, fastTmp, isApplied, killAll, makeRig, manifestBytes, macs, policyOf, publish, publishRaw, rewriteConfig, snapshot, startAgent } from './support.ts';
import { sha256 } from '../../core/manifest.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await killAll();
  rig?.cleanup();
  rig = undefined;
});

const N = 2000;

describe('agent run: incremental applies', () => {
  it('a no-change poll writes nothing and scans nothing; 50 flips write exactly 50 files', async () => {
    rig = makeRig();
    const all = macs(N);
    const allow = all.slice(0, 100);
    const deny = all.slice(100);
    await publish(rig.store, policyOf(allow, deny));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    const first = agent.lines.find(isApplied(1))!;
    expect(first.writes).toBe(N + 1); // every MAC + the wildcard

    // Watch the directory with inotify while the agent polls: a no-change poll must cause no event at all.
    const events: string[] = [];
    const watcher = watch(rig.hostsdir, (type, name) => events.push(`${type}:${name}`));
    try {
      const before = snapshot(rig.hostsdir);
      const mark = agent.lines.length;
      const noChange = (l: { msg: string }) => l.msg === 'poll: no change';
      await agent.waitFor(noChange, 5000, mark);
      const firstPoll = agent.lines.slice(mark).find(noChange)!;
      // Let at least 20 more polls happen.
      await agent.waitFor((l) => l.msg === 'poll: no change' && (l.polls as number) >= (firstPoll.polls as number) + 20, 10_000, mark);
      const lastPoll = agent.lines.filter(noChange).at(-1)!;
      expect(lastPoll.scans).toBe(firstPoll.scans); // no directory scan between them
      expect(lastPoll.writes).toBe(first.writes);
      expect(events).toEqual([]);
      expect(snapshot(rig.hostsdir)).toEqual(before);

      // 50 flips: 25 allow → deny, 25 deny → allow.
      const toDeny = allow.slice(0, 25);
      const toAllow = deny.slice(0, 25);
      const allow2 = [...allow.slice(25), ...toAllow];
      const deny2 = [...deny.slice(25), ...toDeny];
      await publish(rig.store, policyOf(allow2, deny2));
      const applied = await agent.waitFor(isApplied(2));
      expect(applied.writes).toBe(50);
      expect(applied.deletes).toBe(0);
      const after = snapshot(rig.hostsdir);
      const changed = [...after].filter(([name, v]) => before.get(name)?.ino !== v.ino).map(([name]) => name);
      expect(changed.sort()).toEqual([...toDeny, ...toAllow].map(macFileName).sort());
      for (const m of toDeny) expect(after.get(macFileName(m))?.content).toBe(recordText(m, 'deny'));
      for (const m of toAllow) expect(after.get(macFileName(m))?.content).toBe(recordText(m, 'allow'));
      expect([...after.values()].every((v) => v.mode === 0o644)).toBe(true);
      expect(after.size).toBe(before.size); // no temp file left, nothing deleted
      // inotify saw exactly 50 renames into place (plus the hidden temp files, which dnsmasq skips).
      const visible = new Set(events.map((e) => e.split(':')[1]!).filter((n) => !n.startsWith('.')));
      expect(visible.size).toBe(50);
    } finally {
      watcher.close();
    }
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('removed MACs are rewritten, never deleted; colon-named reference files are adopted; foreign files reported', async () => {
    rig = makeRig();
    const all = macs(30);
    const { writeFileSync, existsSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    // Left by ironic-inspector: a colon-named file that disagrees with the policy, and a stray foreign file.
    writeFileSync(join(rig.hostsdir, all[0]!), `${all[0]},ignore\n`);
    writeFileSync(join(rig.hostsdir, 'notes.txt'), 'hello\n');
    await publish(rig.store, policyOf([all[0]!], all.slice(1)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    expect(existsSync(join(rig.hostsdir, all[0]!))).toBe(false);
    expect(readFileSync(join(rig.hostsdir, macFileName(all[0]!)), 'utf8')).toBe(recordText(all[0]!, 'allow'));
    const foreign = await agent.waitFor((l) => l.msg.startsWith('foreign entries'));
    expect(JSON.stringify(foreign.foreign)).toContain('notes.txt');
    expect(readFileSync(join(rig.hostsdir, 'notes.txt'), 'utf8')).toBe('hello\n');

    // Ironic forgets 5 MACs (policy closed): rewritten as deny, never deleted (below the compaction threshold).
    await publish(rig.store, policyOf([all[0]!], all.slice(1, 25)));
    const applied = await agent.waitFor(isApplied(2));
    expect(applied.deletes).toBe(0);
    for (const m of all.slice(25)) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, 'deny'));
  });
});

describe('agent run: verification before any write', () => {
  it('refuses every tampered manifest and leaves the directory byte-identical', async () => {
    rig = makeRig();
    const all = macs(500);
    const good = policyOf(all.slice(0, 10), all.slice(10));
    await publish(rig.store, good); // generation 1
    await publish(rig.store, policyOf(all.slice(0, 20), all.slice(20))); // generation 2
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(2));
    const before = snapshot(rig.hostsdir);
    const flipAll = policyOf(all, []);
    const valid3 = manifestBytes(flipAll, 3);
    const otherSite = manifestBytes(flipAll, 3, 'dc2');
    const withMac = (bad: string) => {
      const doc = JSON.parse(new TextDecoder().decode(valid3.bytes)) as { policy: { allow: string[] } };
      doc.policy.allow[0] = bad;
      return new TextEncoder().encode(JSON.stringify(doc));
    };
    const junk = new Uint8Array(10 * 1024 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 2654435761) >>> 24;
    const gen2Pointer = PointerSchema.parse(JSON.parse((await rig.store.getParameter(pointerParameter('dc1')))!));
    const cases: { name: string; put: () => Promise<unknown>; expect: RegExp }[] = [
      { name: 'bytes differ from the pointer sha256', put: () => publishRaw(rig!.store, valid3.bytes, { generation: 3, sha256: 'a'.repeat(64) }), expect: /manifest.sha256/ },
      { name: 'truncated bytes', put: () => publishRaw(rig!.store, valid3.bytes.slice(0, 100), { generation: 3, sha256: 'b'.repeat(64) }), expect: /sha256/ },
      { name: 'lower generation (replay of generation 1)', put: async () => {
        const versions = await rig!.store.listVersions('manifests/dc1/manifest.json');
        const oldest = versions.at(-1)!;
        const bytes = (await rig!.store.getObject('manifests/dc1/manifest.json', oldest.versionId))!.bytes;
        await rig!.store.putParameter(pointerParameter('dc1'), JSON.stringify({ ...gen2Pointer, generation: 1, versionId: oldest.versionId, sha256: sha256(bytes) }));
      }, expect: /replay refused/ },
      { name: 'other site', put: () => publishRaw(rig!.store, otherSite.bytes, { generation: 3 }), expect: /manifest.site/ },
      { name: '../ in a MAC', put: () => publishRaw(rig!.store, withMac('../../etc/passwd'), { generation: 3 }), expect: /policy.allow\[0\]/ },
      { name: 'NUL in a MAC', put: () => publishRaw(rig!.store, withMac('52:54:00:00:00:0\u0000'), { generation: 3 }), expect: /policy.allow\[0\]/ },
      { name: 'pointer that is not JSON', put: () => rig!.store.putParameter(pointerParameter('dc1'), '{"site":"dc1",'), expect: /pointer is not JSON/ },
      { name: 'pointer to a version that does not exist', put: () => rig!.store.putParameter(pointerParameter('dc1'), JSON.stringify({ ...gen2Pointer, generation: 3, versionId: '000000000000001-aaaaaaaaaaaa' })), expect: /no such version/ },
      { name: '10 MB of junk', put: () => publishRaw(rig!.store, junk, { generation: 3 }), expect: /not valid (UTF-8|JSON)/ },
    ];
    let previous: string | undefined;
    for (const c of cases) {
      const mark = agent.lines.length;
      await c.put();
      // A pointer that is not JSON is refused at every poll: one of those may still land after the mark.
      const refused = await agent.waitFor((l) => /^(manifest|pointer) refused/.test(l.msg) && String(l.error) !== previous, 10_000, mark);
      previous = String(refused.error);
      expect(String(refused.error), c.name).toMatch(c.expect);
      expect(snapshot(rig.hostsdir), c.name).toEqual(before);
    }
    // The refusal is reported in the ack; a good manifest afterwards is applied normally.
    const ack = JSON.parse(new TextDecoder().decode((await rig.store.getObject('acks/dc1/pxe-1.json'))!.bytes)) as { generation: number; lastError: { message: string } | null };
    expect(ack.generation).toBe(2);
    expect(ack.lastError?.message).toMatch(/refused/);
    await publishRaw(rig.store, valid3.bytes, { generation: 3 }); // genuine generation 3
    const applied = await agent.waitFor(isApplied(3));
    expect(applied.writes).toBe(480);
  });
});

describe('agent run: memory after a large apply', () => {
  // The flags of the systemd unit: the daemon collects the first sync's garbage once, right after it (agent/heap.ts).
  it('with the unit\'s node flags, a 10k-MAC first sync is followed by one full GC that frees heap; none for small applies', async () => {
    rig = makeRig({ purge: true, pollIntervalSeconds: 0.2 }, fastTmp());
    const all = macs(LARGE_APPLY_OPERATIONS);
    await publish(rig.store, policyOf(all.slice(0, 200), all.slice(200)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath], {}, AGENT_NODE_FLAGS);
    const applied = await agent.waitFor(isApplied(1), 60_000);
    expect(applied.writes).toBe(LARGE_APPLY_OPERATIONS + 1);
    const gc = await agent.waitFor((l) => l.msg === 'collected the garbage of a large apply', 10_000);
    console.log(`first sync of ${LARGE_APPLY_OPERATIONS} MACs: heap ${String(gc.heapUsedBeforeMb)} → ${String(gc.heapUsedAfterMb)} MB`);
    expect(gc).toMatchObject({ generation: 1 });
    // The first sync's plan and manifest text are garbage by then, so the collection frees some heap. How much depends
    // on how many scavenges ran before it (a one-shot sync leaves little garbage); the agent's RSS is the bench's.
    expect(gc.heapUsedAfterMb as number).toBeLessThan(gc.heapUsedBeforeMb as number);
    // A small change afterwards: applied, then collected soon after, off the poll's path (the previous manifest).
    const mark = agent.lines.length;
    await publish(rig.store, policyOf(all.slice(0, 201), all.slice(201)));
    const applied2 = await agent.waitFor(isApplied(2), 30_000, mark);
    const soon = await agent.waitFor((l) => l.msg === 'collected the garbage of an apply', 10_000, mark);
    expect(agent.lines.indexOf(soon)).toBeGreaterThan(agent.lines.indexOf(applied2));
    expect(agent.lines.filter((l) => l.msg === 'collected the garbage of a large apply')).toHaveLength(1);
  });

  it('without --expose-gc the same applies work and log no collection', async () => {
    rig = makeRig({ purge: true, pollIntervalSeconds: 0.2 }, fastTmp());
    const all = macs(LARGE_APPLY_OPERATIONS);
    await publish(rig.store, policyOf(all.slice(0, 200), all.slice(200)));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1), 60_000);
    await publish(rig.store, policyOf(all.slice(0, 201), all.slice(201)));
    await agent.waitFor(isApplied(2), 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // past the deferred collection's delay
    expect(agent.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('collected the garbage'))).toBe(false);
  });
});

describe('agent run: a burst that finds drift', () => {
  it('repairs towards the manifest being applied, not the one before it', async () => {
    rig = makeRig({}, fastTmp());
    const all = macs(20);
    const drifted = join(rig.hostsdir, macFileName(all[7]!));
    // The reload (SIGHUP) after the burst is when the directory is verified: this one also plants a stale record.
    rewriteConfig(rig, {
      service: { mode: 'command', start: 'true', stop: 'true', reload: `printf '%s\\n' '${all[7]}' > '${drifted}'` },
      apply: { reloadAboveOperations: 5 },
    });
    await publish(rig.store, policyOf(all, []));
    const agent = await startAgent(['agent', 'run', '--config', rig.configPath]);
    await agent.waitFor(isApplied(1));
    const mark = agent.lines.length;
    await publish(rig.store, policyOf([], all)); // 20 flips: a burst, then the reload, then the check
    await agent.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('directory drifted'), 15_000, mark);
    await agent.waitFor((l) => l.msg === 'applied' && l.generation === 2 && l.reload === true, 15_000, mark);
    for (const m of all) expect(readFileSync(join(rig.hostsdir, macFileName(m)), 'utf8')).toBe(recordText(m, 'deny'));
    expect(agent.lines.slice(mark).filter((l) => l.msg === 'applied').map((l) => l.generation)).toEqual([2, 2]);
  });
});
