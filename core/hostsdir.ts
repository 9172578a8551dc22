/**
 * The file protocol of dnsmasq's `--dhcp-hostsdir` (design §3) and the diff from a directory to a policy.
 * Pure: a directory is a Map of file name to content; I/O lives in agent/hostsdir-io.ts.
 */
import { type Mac, macFileName, macFromFileName } from './mac.ts';
import type { Policy, Verdict } from './policy.ts';

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
  const parsed = macFromFileName(name);
  if (!parsed) return { kind: 'foreign', name, reason: 'name is not a MAC address' };
  if (content === null) return { kind: 'foreign', name, reason: 'not a regular file' };
  const verdict = content === recordText(parsed.mac, 'allow') ? 'allow' : content === recordText(parsed.mac, 'deny') ? 'deny' : undefined;
  return { kind: 'mac', name, mac: parsed.mac, style: parsed.style, verdict };
}

export type WriteReason = 'allow' | 'deny' | 'unknown-hosts' | 'removed' | 'adopt';
export interface FileWrite {
  name: string;
  content: string;
  reason: WriteReason;
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
  counts: { allow: number; deny: number; removed: number; adopted: number; unchanged: number };
}

export interface DiffOptions {
  /**
   * Delete the files of MACs Ironic no longer knows instead of rewriting them. Their records then fall to the
   * wildcard (which always has the removed verdict), but dnsmasq keeps the old record until a reload.
   */
  compactRemoved?: boolean;
}

/**
 * The exact file operations that turn `dir` into the policy. Nothing else is touched: foreign files are
 * reported, never changed; removed MACs are rewritten (or, when compacting, deleted with a reload).
 */
export function diffDirectory(policy: Policy, dir: DirectoryState, options: DiffOptions = {}): Plan {
  const want = new Map<Mac, Verdict>();
  for (const mac of policy.allow) want.set(mac, 'allow');
  for (const mac of policy.deny) want.set(mac, 'deny');

  const dashed = new Map<Mac, Entry & { kind: 'mac' }>();
  const colon = new Map<Mac, Entry & { kind: 'mac' }>();
  const plan: Plan = { writes: [], deletes: [], foreign: [], reloadNeeded: false, counts: { allow: 0, deny: 0, removed: 0, adopted: 0, unchanged: 0 } };
  let wildcard: (Entry & { kind: 'wildcard' }) | undefined;
  for (const [name, content] of dir) {
    const entry = classifyEntry(name, content);
    if (entry.kind === 'mac') (entry.style === 'dashed' ? dashed : colon).set(entry.mac, entry);
    else if (entry.kind === 'wildcard') wildcard = entry;
    else if (entry.kind === 'temp') plan.deletes.push({ name, reason: 'stale-temp' });
    else plan.foreign.push({ name: entry.name, reason: entry.reason });
  }

  const writes: FileWrite[] = [];
  const settle = (mac: Mac, verdict: Verdict, reason: WriteReason) => {
    const name = macFileName(mac);
    const content = recordText(mac, verdict);
    const old = colon.get(mac);
    if (old) {
      // Adopt a reference (colon-named) file: first make it agree, then write ours, then delete it, so
      // that at no moment two files for one MAC disagree (dnsmasq reads them in undefined order).
      if (old.verdict !== verdict) writes.push({ name: old.name, content, reason: 'adopt' });
      plan.deletes.push({ name: old.name, reason: 'adopted' });
      plan.counts.adopted++;
    }
    if (dashed.get(mac)?.verdict !== verdict) writes.push({ name, content, reason });
    else if (!old) plan.counts.unchanged++;
  };

  for (const [mac, verdict] of want) {
    settle(mac, verdict, verdict);
    plan.counts[verdict]++;
  }
  if (wildcard?.verdict !== policy.unknownHosts) {
    writes.push({ name: UNKNOWN_HOSTS_FILE, content: wildcardText(policy.unknownHosts), reason: 'unknown-hosts' });
  }
  for (const mac of new Set([...dashed.keys(), ...colon.keys()])) {
    if (want.has(mac)) continue;
    plan.counts.removed++;
    if (options.compactRemoved) {
      for (const e of [dashed.get(mac), colon.get(mac)]) if (e) plan.deletes.push({ name: e.name, reason: 'compacted' });
      plan.reloadNeeded = true;
    } else {
      settle(mac, policy.removed, 'removed');
    }
  }
  // Deny before allow, so an apply interrupted half-way never opened more than the old and new policies both allow.
  const denies = writes.filter((w) => verdictOfText(w.content) === 'deny');
  const allows = writes.filter((w) => verdictOfText(w.content) === 'allow');
  plan.writes = [...denies, ...allows];
  return plan;
}

/** The directory after a plan has been applied (what the agent keeps in memory instead of re-scanning). */
export function applyPlan(dir: DirectoryState, plan: Plan): DirectoryState {
  const next = new Map(dir);
  for (const w of plan.writes) next.set(w.name, w.content);
  for (const d of plan.deletes) next.delete(d.name);
  return next;
}

export function isEmptyPlan(plan: Plan): boolean {
  return plan.writes.length === 0 && plan.deletes.length === 0;
}

/** MACs whose verdict differs between two policies; `undefined` = no longer an Ironic port. */
export function changedMacs(previous: Policy, next: Policy): Map<Mac, Verdict | undefined> {
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

/**
 * The daemon's steady-state diff: `dir` is what applying `previous` left (held in memory), so only MACs whose
 * verdict changed can need a write. Same result as `diffDirectory(next, dir)` — it runs that very function on the
 * few affected entries — at the cost of a set comparison instead of a walk over every file.
 * When the removed-MAC verdict flips, every removed file may change, so it falls back to the full diff.
 */
export function diffPolicyChange(previous: Policy, next: Policy, dir: DirectoryState, options: DiffOptions = {}): Plan {
  if (previous.removed !== next.removed) return diffDirectory(next, dir, options);
  const changed = changedMacs(previous, next);
  const subDir: DirectoryState = new Map();
  const wildcard = dir.get(UNKNOWN_HOSTS_FILE);
  if (wildcard !== undefined) subDir.set(UNKNOWN_HOSTS_FILE, wildcard);
  const sub: Policy = { unknownHosts: next.unknownHosts, removed: next.removed, allow: [], deny: [] };
  for (const [mac, verdict] of changed) {
    for (const name of [macFileName(mac), mac as string]) {
      const content = dir.get(name);
      if (content !== undefined) subDir.set(name, content);
    }
    if (verdict) sub[verdict].push(mac);
  }
  return diffDirectory(sub, subDir, options);
}
