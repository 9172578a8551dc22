/**
 * The 27 unit tests of ironic's `ironic-pxe-filter` (ironic/tests/unit/pxe_filter/test_dnsmasq.py: 22,
 * test_service.py: 5; ironic-pxe-filter-semantics.md §2.5), each mapped to our equivalent through our real modules
 * on real temp directories. ironic passes `allow_unknown` as a boolean; our equivalent is an explicit Policy
 * (unknownHosts / removed verdicts). Titles start with the reference name; "→ DIFFERENT" marks a deliberate
 * difference. docs/reference-acceptance.md has the table.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import { UNKNOWN_HOSTS_FILE, classifyEntry, type Plan } from '../../core/hostsdir.ts';
import type { Node } from '../../core/ironic-exports.ts';
import { parseNodes, parsePorts } from '../../core/ironic-exports.ts';
import { computePolicy, type Policy } from '../../core/policy.ts';
import { applyPlanToDirectory, readDirectory } from '../../agent/hostsdir-io.ts';
import { FIXTURES, readFlat, runCli, snapshotDir, stderrLines, tempDir } from '../support/cli.ts';
import { M, allowText, dashed, denyText, ironicPolicy, seed, syncOnce, writeRecord, written } from '../support/hostsdir.ts';
import { writeSite } from '../support/exports.ts';
import { diffDirectory } from '../../core/hostsdir.ts';

let tmp: { path: string; cleanup: () => void };
let dir: string;
beforeEach(() => {
  tmp = tempDir('ironic');
  dir = join(tmp.path, 'hostsdir');
  mkdirSync(dir);
});
afterEach(() => tmp.cleanup());

const policy = (p: Partial<Policy>): Policy => ({ unknownHosts: 'deny', removed: 'deny', allow: [], deny: [], ...p });
/** ironic's sync(allow, deny, allow_unknown): unknown hosts and removed MACs share the one flag. */
const sync = (allow: ReturnType<typeof M>[], deny: ReturnType<typeof M>[], allowUnknown: boolean) =>
  policy({ allow, deny, unknownHosts: allowUnknown ? 'allow' : 'deny', removed: allowUnknown ? 'allow' : 'deny' });
const macWrites = (plan: Plan) => plan.writes.filter((w) => w.name !== UNKNOWN_HOSTS_FILE).map((w) => [w.name, w.reason]).sort();
const inode = (name: string) => statSync(join(dir, name)).ino;
const [mac1, mac2, mac3] = [M(1), M(2), M(3)];

describe('ironic TestExclusiveWriteOrPass (flock + truncate in place → hidden temp + rename)', () => {
  it('TestExclusiveWriteOrPass.test_write → DIFFERENT: a rewrite replaces the file by rename (new inode, dnsmasq sees IN_MOVED_TO with the whole record), the old content is never truncated', async () => {
    seed(dir, { [dashed(mac1)]: denyText(mac1) });
    const before = inode(dashed(mac1));
    await writeRecord(dir, dashed(mac1), allowText(mac1));
    expect(inode(dashed(mac1))).not.toBe(before);
    expect(readFileSync(join(dir, dashed(mac1)), 'utf8')).toBe(allowText(mac1));
    expect(statSync(join(dir, dashed(mac1))).mode & 0o777).toBe(0o644);
  });

  it('TestExclusiveWriteOrPass.test_write_would_block → DIFFERENT: a temp file left by a crashed writer is hidden from dnsmasq (dot name) and removed by the next sync', async () => {
    seed(dir, { '.pxe-filter-52-54-00-00-00-01.123.abc.tmp': '52:54:00:00:00:0' });
    const plan = await syncOnce(dir, sync([mac1], [], true));
    expect(plan.deletes).toEqual([{ name: '.pxe-filter-52-54-00-00-00-01.123.abc.tmp', reason: 'stale-temp' }]);
    expect(readdirSync(dir).sort()).toEqual([dashed(mac1), UNKNOWN_HOSTS_FILE]);
  });

  it('TestExclusiveWriteOrPass.test_write_would_block_too_many_times → DIFFERENT: an apply that fails part-way leaves every file either old or new and complete (never truncated), no temp file, and rejects', async () => {
    seed(dir, { [dashed(mac1)]: allowText(mac1), [dashed(mac2)]: allowText(mac2) });
    mkdirSync(join(dir, dashed(mac3))); // the write of mac3 cannot land
    const plan = diffDirectory(sync([], [mac1, mac2, mac3], false), await readDirectory(dir));
    await expect(applyPlanToDirectory(dir, plan)).rejects.toThrow();
    const files = readFlat(dir);
    for (const mac of [mac1, mac2]) expect([allowText(mac), denyText(mac)]).toContain(files[dashed(mac)]);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('TestExclusiveWriteOrPass.test_write_custom_ioerror → a name that is not a plain file name ("../x", NUL) is refused before any I/O, with the field and value', async () => {
    await expect(writeRecord(dir, '../escape', 'x')).rejects.toBeInstanceOf(InputError);
    await expect(writeRecord(dir, 'a\0b', 'x')).rejects.toThrow(/file name/);
    expect(existsSync(join(tmp.path, 'escape'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('ironic TestHelpers (same helpers as inspector; here through reference colon-named files we adopt)', () => {
  it('TestHelpers.test__allowlist_unknown_hosts: allow_unknown=True → "*:*:*:*:*:*\\n"', async () => {
    await syncOnce(dir, policy({ unknownHosts: 'allow' }));
    expect(readFlat(dir)).toEqual({ [UNKNOWN_HOSTS_FILE]: '*:*:*:*:*:*\n' });
  });

  it('TestHelpers.test__denylist_unknown_hosts: allow_unknown=False → "*:*:*:*:*:*,ignore\\n"', async () => {
    await syncOnce(dir, policy({ unknownHosts: 'deny' }));
    expect(readFlat(dir)).toEqual({ [UNKNOWN_HOSTS_FILE]: '*:*:*:*:*:*,ignore\n' });
  });

  it('TestHelpers.test__configure_removedlist_allowlist: a deny file of a removed MAC with allowed=True is rewritten "<mac>\\n" (a colon-named one left by ironic is adopted: ours written, theirs deleted)', async () => {
    seed(dir, { '52:54:00:00:00:01': denyText(mac1) });
    const plan = await syncOnce(dir, policy({ removed: 'allow', unknownHosts: 'allow' }));
    expect(readFlat(dir)).toEqual({ [dashed(mac1)]: allowText(mac1), [UNKNOWN_HOSTS_FILE]: '*:*:*:*:*:*\n' });
    expect(plan.deletes).toEqual([{ name: '52:54:00:00:00:01', reason: 'adopted' }]);
  });

  it('TestHelpers.test__configure_removedlist_denylist: an allow file of a removed MAC with allowed=False is rewritten "<mac>,ignore\\n"', async () => {
    seed(dir, { [dashed(mac1)]: allowText(mac1) });
    await syncOnce(dir, policy({ removed: 'deny' }));
    expect(readFileSync(join(dir, dashed(mac1)), 'utf8')).toBe(denyText(mac1));
  });

  it('TestHelpers.test__allowlist_mac: an allowed MAC is written "<mac>\\n"; a colon-named deny file is first made to agree, so no moment has two disagreeing files', async () => {
    seed(dir, { '52:54:00:00:00:01': denyText(mac1) });
    const plan = await syncOnce(dir, policy({ allow: [mac1] }));
    expect(plan.writes.filter((w) => w.name !== UNKNOWN_HOSTS_FILE).map((w) => [w.name, w.content])).toEqual([
      ['52:54:00:00:00:01', allowText(mac1)],
      [dashed(mac1), allowText(mac1)],
    ]);
    expect(readFileSync(join(dir, dashed(mac1)), 'utf8')).toBe(allowText(mac1));
  });

  it('TestHelpers.test__denylist_mac: a denied MAC is written "<mac>,ignore\\n"', async () => {
    await syncOnce(dir, policy({ deny: [mac2] }));
    expect(readFileSync(join(dir, dashed(mac2)), 'utf8')).toBe(denyText(mac2));
  });

  it('TestHelpers.test__get_denylist: a colon-named deny record (left by ironic) is read as deny', async () => {
    seed(dir, { '52:54:00:00:00:01': denyText(mac1) });
    const state = await readDirectory(dir);
    expect(classifyEntry('52:54:00:00:00:01', state.get('52:54:00:00:00:01')!)).toEqual({ kind: 'mac', name: '52:54:00:00:00:01', mac: mac1, style: 'colon', verdict: 'deny' });
  });

  it('TestHelpers.test__get_allowlist: a colon-named allow record is read as allow', async () => {
    seed(dir, { '52:54:00:00:00:02': allowText(mac2) });
    const state = await readDirectory(dir);
    expect(classifyEntry('52:54:00:00:00:02', state.get('52:54:00:00:00:02')!)).toMatchObject({ style: 'colon', verdict: 'allow' });
  });

  it('TestHelpers.test__get_no_denylist → DIFFERENT (content, not size): a file named after one MAC holding another MAC\'s 25-byte deny record is not a deny entry; it is rewritten', async () => {
    seed(dir, { [dashed(mac1)]: denyText(mac2) });
    const state = await readDirectory(dir);
    expect(classifyEntry(dashed(mac1), state.get(dashed(mac1))!)).toMatchObject({ verdict: undefined });
    await syncOnce(dir, policy({ deny: [mac1] }));
    expect(readFileSync(join(dir, dashed(mac1)), 'utf8')).toBe(denyText(mac1));
  });

  it('TestHelpers.test__get_no_allowlist → DIFFERENT (content, not size): an empty or oversized file is neither list; a huge file is not even read whole', async () => {
    seed(dir, { [dashed(mac1)]: '', [dashed(mac2)]: 'x'.repeat(100_000) });
    const state = await readDirectory(dir);
    expect(classifyEntry(dashed(mac1), state.get(dashed(mac1))!)).toMatchObject({ verdict: undefined });
    expect(state.get(dashed(mac2))!.length).toBeLessThan(100);
    expect(classifyEntry(dashed(mac2), state.get(dashed(mac2))!)).toMatchObject({ verdict: undefined });
  });
});

describe('ironic TestUpdate (update() has no production caller; ours: a diff that writes only what changed)', () => {
  it('TestUpdate.test_no_update: a directory that already matches → nothing written, the wildcard untouched (same inodes and mtimes)', async () => {
    await syncOnce(dir, sync([mac1], [mac2], true));
    const before = snapshotDir(dir);
    const plan = await syncOnce(dir, sync([mac1], [mac2], true));
    expect(plan.writes).toEqual([]);
    expect(snapshotDir(dir)).toEqual(before);
  });

  it('TestUpdate.test_only_allow: allowing mac1 and mac2 writes exactly those two and the wildcard (allow_unknown=True)', async () => {
    seed(dir, { [UNKNOWN_HOSTS_FILE]: '*:*:*:*:*:*,ignore\n' });
    const plan = await syncOnce(dir, sync([mac1, mac2], [], true));
    expect(written(plan)).toEqual([dashed(mac1), dashed(mac2), UNKNOWN_HOSTS_FILE].sort());
    expect(readFileSync(join(dir, UNKNOWN_HOSTS_FILE), 'utf8')).toBe('*:*:*:*:*:*\n');
  });

  it('TestUpdate.test_only_deny: denying mac1 and mac2 leaves a wildcard that already says deny untouched', async () => {
    seed(dir, { [UNKNOWN_HOSTS_FILE]: '*:*:*:*:*:*,ignore\n' });
    const ino = inode(UNKNOWN_HOSTS_FILE);
    const plan = await syncOnce(dir, sync([], [mac1, mac2], false));
    expect(written(plan)).toEqual([dashed(mac1), dashed(mac2)]);
    expect(inode(UNKNOWN_HOSTS_FILE)).toBe(ino);
  });
});

describe('ironic TestSync (dnsmasq.sync on a real directory)', () => {
  it('TestSync.test_no_macs: sync([],[],False) writes no MAC file, the deny wildcard, nothing removed', async () => {
    const plan = await syncOnce(dir, sync([], [], false));
    expect(macWrites(plan)).toEqual([]);
    expect(plan.counts.removed).toBe(0);
    expect(readFlat(dir)).toEqual({ [UNKNOWN_HOSTS_FILE]: '*:*:*:*:*:*,ignore\n' });
  });

  it('TestSync.test_only_new_macs: sync([allow1, allow2],[],True) allows both, unknown allowed', async () => {
    const plan = await syncOnce(dir, sync([mac1, mac2], [], true));
    expect(macWrites(plan)).toEqual([[dashed(mac1), 'allow'], [dashed(mac2), 'allow']]);
    expect(readFileSync(join(dir, UNKNOWN_HOSTS_FILE), 'utf8')).toBe('*:*:*:*:*:*\n');
  });

  it('TestSync.test_deny_macs: current allow={deny1, allow1}; sync([allow1],[deny1, deny2],False) denies deny1 and deny2, allows nothing new', async () => {
    const [allow1, deny1, deny2] = [M(0x11), M(0x21), M(0x22)];
    seed(dir, { [dashed(deny1)]: allowText(deny1), [dashed(allow1)]: allowText(allow1) });
    const plan = await syncOnce(dir, sync([allow1], [deny1, deny2], false));
    expect(macWrites(plan)).toEqual([[dashed(deny1), 'deny'], [dashed(deny2), 'deny']]);
  });

  it('TestSync.test_removed_nodes: current deny={mac1}, allow={mac2, mac3}; sync([mac2],[],True) → mac1 and mac3 are removed MACs set to allow; mac2 untouched', async () => {
    seed(dir, { [dashed(mac1)]: denyText(mac1), [dashed(mac2)]: allowText(mac2), [dashed(mac3)]: allowText(mac3) });
    const plan = await syncOnce(dir, sync([mac2], [], true));
    expect(plan.counts.removed).toBe(2);
    // mac3 already says allow: nothing to write; mac1 flips.
    expect(macWrites(plan)).toEqual([[dashed(mac1), 'removed']]);
    expect(readFlat(dir)).toMatchObject({ [dashed(mac1)]: allowText(mac1), [dashed(mac2)]: allowText(mac2), [dashed(mac3)]: allowText(mac3) });
  });

  it('TestSync.test_change_state: current deny={mac1}, allow={mac2, mac3}; sync([mac1],[mac2],False) allows mac1, denies mac2, mac3 removed → deny', async () => {
    seed(dir, { [dashed(mac1)]: denyText(mac1), [dashed(mac2)]: allowText(mac2), [dashed(mac3)]: allowText(mac3) });
    const plan = await syncOnce(dir, sync([mac1], [mac2], false));
    expect(macWrites(plan)).toEqual([[dashed(mac1), 'allow'], [dashed(mac2), 'deny'], [dashed(mac3), 'removed']]);
    expect(readFlat(dir)).toMatchObject({ [dashed(mac1)]: allowText(mac1), [dashed(mac2)]: denyText(mac2), [dashed(mac3)]: denyText(mac3) });
    // Deny before allow: the two denies are written before the allow.
    expect(plan.writes.map((w) => w.name).indexOf(dashed(mac1))).toBe(plan.writes.length - 1);
  });
});

const node = (uuid: string, provisionState: string, inspectInterface: string | null = 'agent'): Node => ({ uuid, provisionState, inspectInterface });

describe('ironic test_service TestSync / TestManager (policy from Ironic nodes)', () => {
  it('TestSync.test_no_nodes: no nodes, no ports → sync([],[],False)', () => {
    expect(ironicPolicy({ ports: [], nodes: [] })).toEqual(sync([], [], false));
  });

  it('TestSync.test_no_nodes_with_discovery: [auto_discovery]enabled → sync([],[],True)', () => {
    expect(ironicPolicy({ ports: [], nodes: [], discovery: true })).toEqual(sync([], [], true));
  });

  it('TestSync.test_sync: ports of nodes in "inspect wait"/"inspecting" with interface agent are allowed; active/available/"inspect failed" and an inspecting node with "no-inspect" are denied; unknown allowed', () => {
    const nodes = [
      node('wait', 'inspect wait'),
      node('ing', 'inspecting'),
      node('act', 'active'),
      node('avail', 'available'),
      node('failed', 'inspect failed'),
      node('noinsp', 'inspecting', 'no-inspect'),
    ];
    const ports: [ReturnType<typeof M>, string][] = nodes.map((n, i) => [M(i + 1), n.uuid]);
    const p = ironicPolicy({ ports, nodes });
    expect(p.allow).toEqual([M(1), M(2)]);
    expect(p.deny).toEqual([M(3), M(4), M(5), M(6)]);
    expect(p.unknownHosts).toBe('allow');
  });

  it('TestSync.test_sync (real Ironic samples): GET /v1/nodes?detail + /v1/ports?detail, node in "inspect wait" with inspect_interface "inspector" allowed when that interface is supported', () => {
    const read = (f: string) => JSON.parse(readFileSync(join(FIXTURES, 'ironic', f), 'utf8')) as unknown;
    const ports = parsePorts([{ label: 'ports', body: read('rest-ports-detail.json') }]);
    const nodes = parseNodes([{ label: 'nodes', body: read('rest-nodes-detail.json') }]);
    const run = (interfaces: string[]) => computePolicy({ ports, source: { kind: 'ironic', nodes, supportedInspectInterfaces: interfaces }, discovery: false, denyUnknownMacs: false }).policy;
    expect(run(['inspector'])).toMatchObject({ allow: ['52:54:00:00:04:00', '52:54:00:00:04:01'], unknownHosts: 'allow' });
    expect(run(['agent'])).toMatchObject({ allow: [], unknownHosts: 'deny' });
    expect(run(['agent']).deny).toHaveLength(10);
  });

  it('TestSync.test_nothing_on_inspection: ports but no node on inspection → sync([], denies, False)', () => {
    const p = ironicPolicy({ ports: [[mac1, 'a'], [mac2, 'b']], nodes: [node('a', 'active'), node('b', 'available')] });
    expect(p).toEqual(sync([], [mac1, mac2], false));
  });

  it('TestManager.test_init_and_run → DIFFERENT (one pass per `agent once`; the daemon loops): pass 1 ok, pass 2 fails (exit 2, nothing changed), pass 3 applies the next generation — a failure never stops later passes', async () => {
    const a = writeSite(tmp.path, 4, [0], 'a');
    const b = writeSite(tmp.path, 4, [1], 'b');
    const m1 = join(tmp.path, 'm1.json');
    const m2 = join(tmp.path, 'm2.json');
    expect((await runCli(['compute', '--site', 'ref', '--ports', a.ports, '--introspection', a.intro, '--out', m1])).code).toBe(0);
    expect((await runCli(['compute', '--site', 'ref', '--ports', b.ports, '--introspection', b.intro, '--previous', m1, '--out', m2])).code).toBe(0);
    const agent = (m: string) => runCli(['agent', 'once', '--manifest', m, '--hostsdir', dir, '--no-purge', '--service', 'none']);
    expect((await agent(m1)).code).toBe(0);
    const before = snapshotDir(dir);
    const broken = join(tmp.path, 'broken.json');
    writeFileSync(broken, '{"schema":');
    const r2 = await agent(broken);
    expect(r2.code).toBe(2);
    expect(stderrLines(r2)).toHaveLength(1);
    expect(snapshotDir(dir)).toEqual(before);
    const r3 = await agent(m2);
    expect(r3.code).toBe(0);
    expect(r3.stdout).toContain('applied generation 2');
    expect(readFileSync(join(dir, '52-54-00-00-00-01'), 'utf8')).toBe('52:54:00:00:00:01\n');
  });
});
