/**
 * The sharded hosts-directory layout (scale mode): MACs grouped into a fixed number of shard files by a stable
 * hash, plus `unknown_hosts_filter`. dnsmasq's start-up/SIGHUP cost grows with the square of the number of
 * FILES (a linear scan of known paths per file), so its cost grows with the files, not the MACs (docs/scale-mode.md).
 * Every guarantee of the per-MAC layout holds: a MAC has exactly one record in the directory once a sync is
 * done, writes are atomic, removed MACs are rewritten (compaction drops them with a reload), and migration from
 * the per-MAC layout never leaves two files that disagree.
 */
import {
  type DirectoryState,
  type FileWrite,
  type Plan,
  SHARD_NAME,
  UNKNOWN_HOSTS_FILE,
  isTempName,
  parseRecords,
  recordText,
  recordsText,
  revokes,
  wildcardText,
} from './hostsdir.ts';
import type { Buffer } from 'node:buffer';
import { isCanonicalLists } from './canonical-policy.ts';
import { type ShardFill, shardFill } from './shard-fill.ts';
import { type Mac, macFromFileName, sortMacs } from './mac.ts';
import type { Policy, Verdict } from './policy.ts';

export const SHARD_PREFIX = 'shard-';
export { DEFAULT_SHARDS, MAX_SHARDS } from './shard-limits.ts';

/** FNV-1a over the canonical MAC: stable across versions and hosts, and spreads sequential MACs evenly. */
export function shardOf(mac: Mac, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < mac.length; i++) {
    h ^= mac.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

export function shardName(index: number): string {
  return `${SHARD_PREFIX}${index.toString().padStart(4, '0')}`;
}

export function shardIndexOf(name: string): number | undefined {
  const m = SHARD_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

export interface ShardDiffOptions {
  shards: number;
  /** Drop the records of MACs Ironic no longer knows (they fall to the wildcard, which has their verdict). */
  compactRemoved?: boolean;
  /** Only these shards can have changed (the daemon's incremental path); others are not looked at. */
  onlyShards?: ReadonlySet<number>;
}

/**
 * The exact file operations that turn `dir` into the policy in the sharded layout. Per-MAC files (ours or the
 * reference's colon-named ones) and shards beyond the shard count are migrated: first made to agree with the
 * policy, then the shards are written, then they are deleted — followed by a reload, which is cheap here.
 */
export function diffSharded(policy: Policy, dir: DirectoryState, options: ShardDiffOptions): Plan {
  const { shards } = options;
  const plan: Plan = { writes: [], deletes: [], foreign: [], reloadNeeded: false, counts: { allow: 0, deny: 0, removed: 0 } };

  const current = new Map<number, string>(); // shard index → content
  const present = new Map<Mac, Verdict | undefined>(); // every MAC some file has a record for
  const legacy: { name: string; records: Map<Mac, Verdict | undefined>; content: string }[] = [];
  const misplaced: { name: string; records: Map<Mac, Verdict>; content: string }[] = [];
  let wildcard: string | null | undefined;
  for (const [name, content] of dir) {
    if (isTempName(name)) {
      plan.deletes.push({ name, reason: 'stale-temp' });
      continue;
    }
    if (name === UNKNOWN_HOSTS_FILE) {
      wildcard = content;
      continue;
    }
    const index = shardIndexOf(name);
    const perMac = index === undefined ? macFromFileName(name) : undefined;
    if (content === null || (index === undefined && !perMac)) {
      plan.foreign.push({ name, reason: content === null ? 'not a regular file' : 'not a record file of this layout' });
      continue;
    }
    if (index !== undefined && index < shards) {
      if (options.onlyShards && !options.onlyShards.has(index)) continue;
      current.set(index, content);
      const records = parseRecords(content);
      for (const [mac, v] of records) present.set(mac, v);
      // After a change of shard count some MACs live in the wrong shard: align this file like a legacy one first.
      if ([...records.keys()].some((mac) => shardOf(mac, shards) !== index)) misplaced.push({ name, records, content });
      continue;
    }
    // A per-MAC file, or a shard beyond the shard count: migrate.
    const records = new Map<Mac, Verdict | undefined>();
    if (perMac) {
      const v = content === recordText(perMac.mac, 'allow') ? 'allow' : content === recordText(perMac.mac, 'deny') ? 'deny' : undefined;
      records.set(perMac.mac, v);
    } else {
      for (const [mac, v] of parseRecords(content)) records.set(mac, v);
    }
    for (const [mac, v] of records) if (!present.has(mac)) present.set(mac, v);
    legacy.push({ name, records, content });
  }

  // A manifest's policy is canonical (sorted, unique, disjoint) and a first fill finds nothing present: then each
  // shard's MACs are taken from the lists in order, without a 100k-entry map of the policy or a sort per shard —
  // and when the manifest's bytes are at hand, its files are made from them, without the MACs' strings.
  const canonical = isCanonicalLists(policy);
  const fill = canonical && present.size === 0 && current.size === 0 && !options.onlyShards ? shardFill(policy, shards) : undefined;
  if (fill) return firstFill(plan, policy, fill, wildcard);
  plan.counts.allow = policy.allow.length;
  plan.counts.deny = policy.deny.length;
  let want: Map<Mac, Verdict> | undefined;
  if (!canonical || present.size > 0) {
    want = new Map<Mac, Verdict>();
    for (const mac of policy.allow) want.set(mac, 'allow');
    for (const mac of policy.deny) want.set(mac, 'deny');
  }
  const desired = (mac: Mac): Verdict | undefined => want?.get(mac) ?? (options.compactRemoved ? undefined : policy.removed);
  // Home records per shard: its allow and deny MACs, each list in ascending order unless `unsorted`.
  const homes = Array.from({ length: shards }, () => ({ allow: [] as Mac[], deny: [] as Mac[], unsorted: !canonical }));
  const home = (mac: Mac, v: Verdict) => {
    const i = shardOf(mac, shards);
    if (options.onlyShards && !options.onlyShards.has(i)) return;
    homes[i]![v].push(mac);
  };
  if (canonical) {
    for (const mac of policy.allow) home(mac, 'allow');
    for (const mac of policy.deny) home(mac, 'deny');
  } else {
    for (const [mac, v] of want!) home(mac, v);
  }
  for (const mac of present.keys()) {
    if (want!.has(mac)) continue;
    plan.counts.removed++;
    const v = desired(mac);
    if (v) {
      home(mac, v);
      const h = homes[shardOf(mac, shards)];
      if (h) h.unsorted = true;
    } else plan.reloadNeeded = true; // a record dnsmasq holds is being dropped
  }

  // Apply order (sequential): every legacy file is made to agree before any shard is written (a shard holds many
  // MACs, so this is the only order in which two files never disagree), revoking writes first within each group.
  const adopt: { revoking: FileWrite[]; granting: FileWrite[] } = { revoking: [], granting: [] };
  const own: { revoking: FileWrite[]; granting: FileWrite[] } = { revoking: [], granting: [] };
  for (const l of legacy) {
    const aligned: [Mac, Verdict][] = [...l.records].map(([mac, v]) => [mac, desired(mac) ?? v ?? policy.removed]);
    const content = shardIdentity(l.name, aligned);
    if (content !== l.content) adopt[revokes(l.records, aligned) ? 'revoking' : 'granting'].push({ name: l.name, content, reason: 'adopt' });
    plan.deletes.push({ name: l.name, reason: 'adopted' });
  }
  for (const f of misplaced) {
    const aligned: [Mac, Verdict][] = [...f.records].map(([mac, v]) => [mac, desired(mac) ?? v]);
    const content = recordsText(aligned);
    if (content !== f.content) adopt[revokes(f.records, aligned) ? 'revoking' : 'granting'].push({ name: f.name, content, reason: 'adopt' });
    plan.reloadNeeded = true;
  }
  const indexes = options.onlyShards ? [...options.onlyShards] : Array.from({ length: shards }, (_, i) => i);
  for (const i of indexes) {
    const h = homes[i]!;
    if (h.unsorted) {
      sortMacs(h.allow);
      sortMacs(h.deny);
    }
    const content = mergedRecordsText(h.allow, h.deny);
    const before = current.get(i);
    if (before === content) continue;
    const old = before === undefined ? undefined : parseRecords(before);
    const revoking = h.deny.some((mac) => old?.get(mac) !== 'deny');
    own[revoking ? 'revoking' : 'granting'].push({ name: shardName(i), content, reason: 'shard' });
  }
  if (wildcard !== wildcardText(policy.unknownHosts)) {
    own[policy.unknownHosts === 'deny' ? 'revoking' : 'granting'].push({ name: UNKNOWN_HOSTS_FILE, content: wildcardText(policy.unknownHosts), reason: 'unknown-hosts' });
  }
  plan.writes = [...adopt.revoking, ...adopt.granting, ...own.revoking, ...own.granting];
  // Migrated files' records leave dnsmasq's memory only on a reload, which is cheap in this layout.
  if (legacy.length > 0) plan.reloadNeeded = true;
  return plan;
}

/** diffSharded's plan for a directory without records: every shard written (those with deny records first), then the wildcard. */
function firstFill(plan: Plan, policy: Policy, fill: ShardFill, wildcard: string | null | undefined): Plan {
  plan.counts.allow = fill.allow;
  plan.counts.deny = fill.deny;
  const revoking: FileWrite[] = [];
  const granting: FileWrite[] = [];
  fill.bytes.forEach((bytes, i) => (fill.denies[i] ? revoking : granting).push(bytesWrite(shardName(i), bytes)));
  if (wildcard !== wildcardText(policy.unknownHosts)) {
    (policy.unknownHosts === 'deny' ? revoking : granting).push({ name: UNKNOWN_HOSTS_FILE, content: wildcardText(policy.unknownHosts), reason: 'unknown-hosts' });
  }
  plan.writes = [...revoking, ...granting];
  return plan;
}

/** A shard write whose content is `bytes` (ASCII): the writer takes the bytes; the text is made only if read. */
function bytesWrite(name: string, bytes: Buffer): FileWrite {
  let text: string | undefined;
  const write = {
    name,
    get content(): string {
      return (text ??= bytes.toString('latin1'));
    },
    reason: 'shard' as const,
  };
  // Not enumerable: the plan is the same value (toEqual, JSON) as one planned from strings.
  return Object.defineProperty(write, 'bytes', { value: bytes, enumerable: false });
}

/**
 * recordsText of two ascending, disjoint lists of MACs (one merge, no sort). Each run of consecutive MACs with the
 * same verdict is one `join` — `mac\n` lines for allow, `mac,ignore\n` for deny: no string per record (100k short
 * strings at a 100k-MAC first fill, which cost their allocation and the collections after it).
 */
export function mergedRecordsText(allow: readonly Mac[], deny: readonly Mac[]): string {
  const parts: string[] = [];
  let i = 0;
  let j = 0;
  while (i < allow.length || j < deny.length) {
    if (j === deny.length || (i < allow.length && allow[i]! < deny[j]!)) {
      const from = i;
      while (i < allow.length && (j === deny.length || allow[i]! < deny[j]!)) i++;
      parts.push(`${allow.slice(from, i).join('\n')}\n`);
    } else {
      const from = j;
      while (j < deny.length && (i === allow.length || deny[j]! < allow[i]!)) j++;
      parts.push(`${deny.slice(from, j).join(',ignore\n')},ignore\n`);
    }
  }
  return parts.join('');
}

/** A migrated per-MAC file keeps its one-record form; a migrated shard keeps shard form. */
function shardIdentity(name: string, records: [Mac, Verdict][]): string {
  if (shardIndexOf(name) === undefined && records.length === 1) {
    const [mac, v] = records[0]!;
    if (macFromFileName(name)?.mac === mac) return recordText(mac, v);
  }
  return recordsText(records);
}

/** The shards a policy change touches (for `onlyShards`), or undefined when every shard may change. */
export function shardsTouched(previous: Policy, next: Policy, changed: Iterable<Mac>, shards: number): Set<number> | undefined {
  if (previous.removed !== next.removed) return undefined;
  const out = new Set<number>();
  for (const mac of changed) out.add(shardOf(mac, shards));
  return out;
}

