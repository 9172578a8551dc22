/**
 * The file protocol of dnsmasq's `--dhcp-hostsdir` (docs/design.md §3) and the diff from a directory to a policy.
 * Pure: a directory is a Map of file name to content; I/O lives in agent/hostsdir-io.ts.
 */
import { type Mac, compareMacs, isCanonicalMac, macFileName } from './mac.ts';
import { type ListChanges, isCanonicalLists, recordedChanges } from './canonical-policy.ts';
import type { Policy, Verdict } from './policy.ts';
import { indexOfValue } from './sorted-values.ts';

export const UNKNOWN_HOSTS_FILE = 'unknown_hosts_filter';
export const WILDCARD_MAC = '*:*:*:*:*:*';
/** Our own temp files: hidden (dnsmasq skips names starting with "."), so a crash leaves nothing it reads. */
export const TEMP_PREFIX = '.pxe-filter-';
export const TEMP_SUFFIX = '.tmp';

/** File name → content; `null` for an entry that is not a readable regular file (a directory, a socket…). */
export type DirectoryState = Map<string, string | null>;

export function recordText(mac: Mac, verdict: Verdict): string {
  return verdict === 'allow' ? `${mac}\n` : `${mac},ignore\n`;
}
export function wildcardText(verdict: Verdict): string {
  return verdict === 'allow' ? `${WILDCARD_MAC}\n` : `${WILDCARD_MAC},ignore\n`;
}
export function verdictOfText(text: string): Verdict {
  return text.endsWith(',ignore\n') ? 'deny' : 'allow';
}
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
}

export type Entry =
  /** A per-MAC file; `verdict` undefined when its content is not exactly one of our two records. */
  | { kind: 'mac'; name: string; mac: Mac; style: 'dashed' | 'colon'; verdict: Verdict | undefined }
  | { kind: 'wildcard'; name: string; verdict: Verdict | undefined }
  | { kind: 'temp'; name: string }
  | { kind: 'foreign'; name: string; reason: string };

export function classifyEntry(name: string, content: string | null): Entry {
  if (isTempName(name)) return { kind: 'temp', name };
  if (name === UNKNOWN_HOSTS_FILE) {
    if (content === null) return { kind: 'foreign', name, reason: 'not a regular file' };
    const verdict = content === wildcardText('allow') ? 'allow' : content === wildcardText('deny') ? 'deny' : undefined;
    return { kind: 'wildcard', name, verdict };
  }
  // Same answers as macFromFileName, without a regex and a second string per entry (this runs per file at 100k).
  const style = macNameStyle(name);
  if (!style) return { kind: 'foreign', name, reason: 'name is not a MAC address' };
  if (content === null) return { kind: 'foreign', name, reason: 'not a regular file' };
  const mac = (style === 'colon' ? name : name.replaceAll('-', ':')) as Mac;
  return { kind: 'mac', name, mac, style, verdict: recordVerdict(name, content) };
}

/** Would classifyEntry(name, content) say 'mac'? Without building the entry (counting 100k files). */
export function isMacFile(name: string, content: string | null): boolean {
  return content !== null && macNameStyle(name) !== undefined;
}

/** 'dashed' / 'colon' for the names macFromFileName accepts (six lower-case hex octets joined by - or :). */
function macNameStyle(name: string): 'dashed' | 'colon' | undefined {
  if (name.length !== 17) return undefined;
  const sep = name.charCodeAt(2);
  if (sep !== 45 && sep !== 58) return undefined;
  for (let i = 0; i < 17; i++) {
    const c = name.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== sep) return undefined;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
  }
  return sep === 45 ? 'dashed' : 'colon';
}

/** The verdict of `content` when it is exactly recordText(mac of `name`, verdict); compared in place. */
function recordVerdict(name: string, content: string): Verdict | undefined {
  const deny = content.length === 25 && content.endsWith(',ignore\n');
  if (!deny && !(content.length === 18 && content.charCodeAt(17) === 10)) return undefined;
  for (let i = 0; i < 17; i++) {
    if (content.charCodeAt(i) !== (i % 3 === 2 ? 58 : name.charCodeAt(i))) return undefined;
  }
  return deny ? 'deny' : 'allow';
}

export type WriteReason = 'allow' | 'deny' | 'unknown-hosts' | 'removed' | 'adopt' | 'shard';
export interface FileWrite {
  name: string;
  content: string;
  reason: WriteReason;
  /** The content's bytes, when the planner made them (a sharded first fill): the writer writes these. */
  readonly bytes?: Uint8Array;
}
export type DeleteReason = 'adopted' | 'stale-temp' | 'compacted';
export interface FileDelete {
  name: string;
  reason: DeleteReason;
}
export interface Plan {
  /** In order: every write that denies comes before any write that allows (fail closed mid-apply). */
  writes: FileWrite[];
  /** Done after all writes. */
  deletes: FileDelete[];
  foreign: { name: string; reason: string }[];
  /** dnsmasq must re-read the directory (SIGHUP) after the deletes, because they drop records it still holds. */
  reloadNeeded: boolean;
  counts: PlanCounts;
}

/**
 * The policy against the directory, with one meaning on every path (per-MAC or sharded layout, full or incremental
 * diff), as the daemon's "applied" log and `agent plan` print it: `allow` and `deny` are the MACs the policy allows
 * and denies; `removed` the MACs it no longer names that have a record in the directory (the compaction pile) —
 * which a plan keeps with the removed verdict, or deletes when it compacts.
 */
export interface PlanCounts {
  allow: number;
  deny: number;
  removed: number;
}

export interface DiffOptions {
  /**
   * Delete the files of MACs Ironic no longer knows instead of rewriting them. Their records then fall to the
   * wildcard (which always has the removed verdict), but dnsmasq keeps the old record until a reload.
   */
  compactRemoved?: boolean;
}

/** Records of a multi-record (shard) file; `ok` false when a line is not exactly one of our records. */
export function parseRecords(content: string): Map<Mac, Verdict> {
  const records = new Map<Mac, Verdict>();
  for (const line of content.split('\n')) {
    if (line === '') continue;
    const deny = line.endsWith(',ignore');
    const mac = deny ? line.slice(0, -',ignore'.length) : line;
    if (isCanonicalMac(mac) && !records.has(mac)) records.set(mac, deny ? 'deny' : 'allow');
  }
  return records;
}

export function recordsText(records: Iterable<readonly [Mac, Verdict]>): string {
  return [...records]
    .sort((a, b) => compareMacs(a[0], b[0]))
    .map(([mac, v]) => recordText(mac, v))
    .join('');
}

/** Shard files of the sharded layout (core/sharded.ts); in the per-MAC layout they are migrated away. */
export const SHARD_NAME = /^shard-(\d{4})$/;

/**
 * The exact file operations that turn `dir` into the policy (per-MAC layout). Nothing else is touched: foreign
 * files are reported, never changed; removed MACs are rewritten (or, when compacting, deleted with a reload).
 * Files of another layout (the reference's colon-named files, shard files) are adopted: first made to agree with
 * the policy, then our files are written, then they are deleted — so no two files ever disagree about a MAC.
 * `writes` is in apply order (the agent applies it sequentially): every adoption before any of our files (the
 * no-disagreement rule needs that across multi-record files), revoking ones first; then every deny, then every
 * allow, so an apply cut short never opened more than needed.
 */
export function diffDirectory(policy: Policy, dir: DirectoryState, options: DiffOptions = {}): Plan {
  const dashed = new Map<Mac, Verdict | undefined>();
  const present = new Set<Mac>();
  const legacy: { name: string; content: string; records: Map<Mac, Verdict | undefined> }[] = [];
  const plan: Plan = { writes: [], deletes: [], foreign: [], reloadNeeded: false, counts: { allow: 0, deny: 0, removed: 0 } };
  let wildcard: Verdict | undefined;
  // forEach, not for-of with destructuring: in cold code (once per apply) the latter pays the iterator protocol per entry.
  dir.forEach((content, name) => {
    if (content !== null && SHARD_NAME.test(name)) {
      const records = parseRecords(content);
      for (const mac of records.keys()) present.add(mac);
      legacy.push({ name, content, records });
      return;
    }
    const entry = classifyEntry(name, content);
    if (entry.kind === 'mac') {
      present.add(entry.mac);
      if (entry.style === 'dashed') dashed.set(entry.mac, entry.verdict);
      else legacy.push({ name, content: content!, records: new Map([[entry.mac, entry.verdict]]) });
    } else if (entry.kind === 'wildcard') wildcard = entry.verdict;
    else if (entry.kind === 'temp') plan.deletes.push({ name, reason: 'stale-temp' });
    else plan.foreign.push({ name: entry.name, reason: entry.reason });
  });

  // A manifest's policy is canonical (sorted, unique, disjoint): on an empty directory (a first fill) its lists are
  // walked as they are, without a map of every MAC (100k entries) or a pass to put the denies first.
  const canonical = isCanonicalLists(policy);
  let want: Map<Mac, Verdict> | undefined;
  if (!canonical || present.size > 0 || legacy.length > 0) {
    want = new Map<Mac, Verdict>();
    for (const mac of policy.allow) want.set(mac, 'allow');
    for (const mac of policy.deny) want.set(mac, 'deny');
  }
  const desired = (mac: Mac): Verdict | undefined => want?.get(mac) ?? (options.compactRemoved ? undefined : policy.removed);
  const adoptRevoking: FileWrite[] = [];
  const adoptGranting: FileWrite[] = [];
  for (const l of legacy) {
    const aligned: [Mac, Verdict][] = [...l.records].map(([mac, v]) => [mac, desired(mac) ?? v ?? policy.removed]);
    const content = l.records.size === 1 && !SHARD_NAME.test(l.name) ? recordText(aligned[0]![0], aligned[0]![1]) : recordsText(aligned);
    if (content !== l.content) (revokes(l.records, aligned) ? adoptRevoking : adoptGranting).push({ name: l.name, content, reason: 'adopt' });
    plan.deletes.push({ name: l.name, reason: 'adopted' });
  }

  // Every deny before any allow (fail closed mid-apply); within each, the order of the policy, then the wildcard,
  // then removed MACs.
  const writes = { deny: [] as FileWrite[], allow: [] as FileWrite[] };
  const settle = (mac: Mac, verdict: Verdict, reason: WriteReason) => {
    if (dashed.get(mac) !== verdict) writes[verdict].push({ name: macFileName(mac), content: recordText(mac, verdict), reason });
  };
  if (want) {
    want.forEach((verdict, mac) => settle(mac, verdict, verdict));
  } else {
    for (const mac of policy.allow) settle(mac, 'allow', 'allow');
    for (const mac of policy.deny) settle(mac, 'deny', 'deny');
  }
  plan.counts.allow = want ? 0 : policy.allow.length;
  plan.counts.deny = want ? 0 : policy.deny.length;
  if (want) for (const verdict of want.values()) plan.counts[verdict]++;
  if (wildcard !== policy.unknownHosts) {
    writes[policy.unknownHosts].push({ name: UNKNOWN_HOSTS_FILE, content: wildcardText(policy.unknownHosts), reason: 'unknown-hosts' });
  }
  for (const mac of present) {
    if (want!.has(mac)) continue;
    plan.counts.removed++;
    if (options.compactRemoved) {
      if (dashed.has(mac)) plan.deletes.push({ name: macFileName(mac), reason: 'compacted' });
      plan.reloadNeeded = true;
    } else {
      settle(mac, policy.removed, 'removed');
    }
  }
  plan.writes = adoptRevoking.length + adoptGranting.length > 0 ? [...adoptRevoking, ...adoptGranting, ...writes.deny, ...writes.allow] : writes.deny.concat(writes.allow);
  return plan;
}

/**
 * The writes of a plan cut into phases that must complete one after the other (within a phase any order is fine):
 * adoptions of other layouts' files, then our revoking writes, then the rest. A multi-record (shard) write stays in
 * the last phase: the diff already ordered shard writes revoking-first, which is a preference, not a rule.
 */
export function writePhases(writes: readonly FileWrite[]): FileWrite[][] {
  const revokingOwn = (w: FileWrite) => w.reason !== 'adopt' && w.reason !== 'shard' && verdictOfText(w.content) === 'deny';
  const phases = [writes.filter((w) => w.reason === 'adopt'), writes.filter(revokingOwn), writes.filter((w) => w.reason !== 'adopt' && !revokingOwn(w))];
  return phases.filter((p) => p.length > 0);
}

/** Does replacing `before` by `after` turn any record into a deny? Such writes go first (fail closed mid-apply). */
export function revokes(before: ReadonlyMap<Mac, Verdict | undefined>, after: Iterable<readonly [Mac, Verdict]>): boolean {
  for (const [mac, v] of after) if (v === 'deny' && before.get(mac) !== 'deny') return true;
  return false;
}

/** The directory after a plan has been applied (what the agent keeps in memory instead of re-scanning). */
export function applyPlan(dir: DirectoryState, plan: Plan): DirectoryState {
  return applyPlanInPlace(new Map(dir), plan);
}

/**
 * applyPlan on the caller's own map (no copy of 100k entries when only a hundred change). `counts`, when given,
 * are countRecords(dir) before the plan and are kept equal to it, in O(plan) instead of a walk of the directory.
 */
export function applyPlanInPlace(dir: DirectoryState, plan: Plan, counts?: RecordCounts): DirectoryState {
  for (const w of plan.writes) {
    if (counts) countEntry(counts, w.name, dir.get(w.name), -1);
    dir.set(w.name, w.content);
    if (counts) countEntry(counts, w.name, w.content, 1);
  }
  for (const d of plan.deletes) {
    if (counts) countEntry(counts, d.name, dir.get(d.name), -1);
    dir.delete(d.name);
  }
  return dir;
}

/** Record files (per-MAC files and shard files) and the MAC records in them. */
export interface RecordCounts {
  files: number;
  records: number;
}

/** The removed-MAC records of a directory that is exactly what applying `policy` left: one record per MAC of it, the rest. */
export function removedRecords(policy: Policy, counts: RecordCounts): number {
  return counts.records - policy.allow.length - policy.deny.length;
}

export function countRecords(dir: DirectoryState): RecordCounts {
  const counts = { files: 0, records: 0 };
  dir.forEach((content, name) => countEntry(counts, name, content, 1));
  return counts;
}

function countEntry(counts: RecordCounts, name: string, content: string | null | undefined, sign: 1 | -1): void {
  if (content === null || content === undefined || name === UNKNOWN_HOSTS_FILE) return;
  if (isMacFile(name, content)) {
    counts.files += sign;
    counts.records += sign;
  } else if (SHARD_NAME.test(name)) {
    counts.files += sign;
    counts.records += sign * parseRecords(content).size;
  }
}

export function isEmptyPlan(plan: Plan): boolean {
  return plan.writes.length === 0 && plan.deletes.length === 0;
}

/** The 48-bit value of a MAC name or MAC (separator ignored), for names macNameStyle accepts. */
function macValue(s: string): number {
  let v = 0;
  for (let i = 0; i < 17; i++) {
    if (i % 3 === 2) continue;
    const c = s.charCodeAt(i);
    v = v * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return v;
}

/** The policy's MACs as sorted 48-bit values (a merge of the two lists when they are canonical, no sort). */
function sortedMacValues(policy: Policy): Float64Array {
  const { allow, deny } = policy;
  const out = new Float64Array(allow.length + deny.length);
  if (!isCanonicalLists(policy)) {
    let k = 0;
    for (const mac of allow) out[k++] = macValue(mac);
    for (const mac of deny) out[k++] = macValue(mac);
    return out.sort();
  }
  for (let i = 0, j = 0, k = 0; k < out.length; k++) {
    out[k] = j >= deny.length || (i < allow.length && allow[i]! < deny[j]!) ? macValue(allow[i++]!) : macValue(deny[j++]!);
  }
  return out;
}

/** macValue of a dashed MAC file name in one pass over it, -1 for any other name. */
function dashedMacValue(name: string): number {
  if (name.length !== 17) return -1;
  let v = 0;
  for (let i = 0; i < 17; i++) {
    const c = name.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== 45) return -1;
    } else if (c >= 48 && c <= 57) v = v * 16 + (c - 48);
    else if (c >= 97 && c <= 102) v = v * 16 + (c - 87);
    else return -1;
  }
  return v;
}


/**
 * How many MACs have a record in the directory but are no longer in the policy (the compaction pile).
 * MACs are compared as 48-bit numbers against the policy's sorted values: no string and no hash-set entry per
 * file, which matters because the daemon counts after every apply that removed a MAC.
 */
export function countRemovedMacs(policy: Policy, dir: DirectoryState): number {
  const known = sortedMacValues(policy);
  let n = 0;
  let others: Set<Mac> | undefined; // MACs of colon-named and shard files (another layout's leftovers)
  // forEach, not for-of over entries: this loop runs once per call, and for-of's iterator only gets fast once
  // optimised (an order of magnitude slower for 100k entries in a cold function).
  dir.forEach((content, name) => {
    if (content === null) return;
    const value = dashedMacValue(name);
    if (value >= 0) {
      if (indexOfValue(known, value) < 0) n++;
    } else if (macNameStyle(name) === 'colon') (others ??= new Set()).add(name as Mac);
    else if (SHARD_NAME.test(name)) for (const mac of parseRecords(content).keys()) (others ??= new Set()).add(mac);
  });
  // Counted once: not when a dashed file of the same MAC was counted above.
  if (others) for (const mac of others) if (indexOfValue(known, macValue(mac)) < 0 && typeof dir.get(macFileName(mac)) !== 'string') n++;
  return n;
}

/** MACs whose verdict differs between two policies; `undefined` = no longer an Ironic port. */
export function changedMacs(previous: Policy, next: Policy): Map<Mac, Verdict | undefined> {
  const fast = changedMacsSorted(previous, next);
  if (fast) return fast;
  const before = new Map<Mac, Verdict>();
  for (const mac of previous.allow) before.set(mac, 'allow');
  for (const mac of previous.deny) before.set(mac, 'deny');
  const changed = new Map<Mac, Verdict | undefined>();
  const visit = (macs: readonly Mac[], verdict: Verdict) => {
    for (const mac of macs) {
      if (before.get(mac) !== verdict) changed.set(mac, verdict);
      before.delete(mac);
    }
  };
  visit(next.allow, 'allow');
  visit(next.deny, 'deny');
  for (const mac of before.keys()) changed.set(mac, undefined);
  return changed;
}

/** Elements of sorted `a` missing from sorted `b` go to `onlyA`, and the other way round (one merge walk). */
function sortedDifference(a: readonly Mac[], b: readonly Mac[], onlyA: Mac[], onlyB: Mac[]): void {
  if (a === b) return;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      i++;
      j++;
    } else if (x < y) {
      onlyA.push(x);
      i++;
    } else {
      onlyB.push(y);
      j++;
    }
  }
  while (i < a.length) onlyA.push(a[i++]!);
  while (j < b.length) onlyB.push(b[j++]!);
}

/**
 * `changedMacs` for canonical policies (sorted, unique, allow and deny disjoint — every manifest's): merge walks
 * over the sorted lists instead of a hash map of every MAC (bench/run.ts measures the steady state), or no walk at
 * all when the reader of `next` recorded what changed since `previous` (core/canonical-policy.ts recordChanges: the
 * same four lists). Same entries in the same order (new allows, new denies, then the removed in previous
 * allow-then-deny order). Undefined when a list is not canonical.
 */
function changedMacsSorted(previous: Policy, next: Policy): Map<Mac, Verdict | undefined> | undefined {
  if (!isCanonicalLists(previous) || !isCanonicalLists(next)) return undefined;
  const { goneAllow, newAllow, goneDeny, newDeny } = recordedChanges(previous, next) ?? listChanges(previous, next);
  const changed = new Map<Mac, Verdict | undefined>();
  for (const mac of newAllow) changed.set(mac, 'allow');
  for (const mac of newDeny) changed.set(mac, 'deny');
  for (const mac of [...goneAllow, ...goneDeny]) if (!changed.has(mac)) changed.set(mac, undefined);
  return changed;
}

/** The MACs that entered and left each list, by merge walks over two canonical policies' sorted lists. */
export function listChanges(previous: Policy, next: Policy): ListChanges {
  const goneAllow: Mac[] = [];
  const newAllow: Mac[] = [];
  const goneDeny: Mac[] = [];
  const newDeny: Mac[] = [];
  sortedDifference(previous.allow, next.allow, goneAllow, newAllow);
  sortedDifference(previous.deny, next.deny, goneDeny, newDeny);
  return { goneAllow, newAllow, goneDeny, newDeny };
}

/**
 * The daemon's steady-state diff: `dir` is what applying `previous` left (held in memory), so only MACs whose
 * verdict changed can need a write. Same result as `diffDirectory(next, dir)` — it runs that very function on the
 * few affected entries — at the cost of a set comparison instead of a walk over every file.
 * When the removed-MAC verdict flips, every removed file may change, so it falls back to the full diff.
 * `previousRemoved`: the removed-MAC records `dir` holds against `previous` (the caller knows them: see
 * `removedAfter`); without it they are counted, a walk over the directory.
 */
export function diffPolicyChange(previous: Policy, next: Policy, dir: DirectoryState, options: DiffOptions & { previousRemoved?: number } = {}): Plan {
  if (previous.removed !== next.removed) return diffDirectory(next, dir, options);
  const changed = changedMacs(previous, next);
  const subDir: DirectoryState = new Map();
  const wildcard = dir.get(UNKNOWN_HOSTS_FILE);
  if (wildcard !== undefined) subDir.set(UNKNOWN_HOSTS_FILE, wildcard);
  const sub: Policy = { unknownHosts: next.unknownHosts, removed: next.removed, allow: [], deny: [] };
  let added = 0; // MACs the policy names now that had no record
  // forEach and two plain lookups: this runs once per poll, in cold code, where for-of with destructuring pays the
  // iterator protocol per entry (~1 ms for 100 changes).
  changed.forEach((verdict, mac) => {
    const name = macFileName(mac);
    const dashedContent = dir.get(name);
    if (dashedContent !== undefined) subDir.set(name, dashedContent);
    const colonContent = dir.get(mac);
    if (colonContent !== undefined) subDir.set(mac, colonContent);
    if (verdict) sub[verdict].push(mac);
    if (verdict && typeof dashedContent !== 'string' && typeof colonContent !== 'string') added++;
  });
  const plan = diffDirectory(sub, subDir, { compactRemoved: options.compactRemoved ?? false });
  const removed = options.previousRemoved === undefined ? countRemovedMacs(next, dir) : removedAfter(previous, next, options.previousRemoved, added);
  plan.counts = { allow: next.allow.length, deny: next.deny.length, removed };
  return plan;
}

/**
 * The removed-MAC records after an incremental change, from those before: in a directory that is exactly what
 * applying `previous` left, every MAC of `previous` has one record, so the records are the policy's MACs plus the
 * removed ones, and a change only adds the records of MACs that had none (`added`).
 */
export function removedAfter(previous: Policy, next: Policy, previousRemoved: number, added: number): number {
  return previousRemoved + previous.allow.length + previous.deny.length + added - next.allow.length - next.deny.length;
}
