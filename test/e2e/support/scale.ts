/**
 * The 30,000-MAC case (issue item 6), shared by the `agent once` variant and the daemon variant: the MAC set,
 * and the three pieces of evidence that no record was lost — dnsmasq's own "read <file>" lines, real DISCOVERs
 * for a sample spread over the whole set, and "ignored" lines for the refused part of the sample — plus the
 * measurement of an incremental change.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type DnsmasqRig, ignoredCount, ignoredLine, readLog, readsOfHostsdir, verdictOf } from './dnsmasq.ts';
import type { Prober } from './prober.ts';

export const TOTAL = 30_000;
export const SAMPLE_PER_VERDICT = 150;

/** MAC number i, spread over 3 octets; even i are allowed, odd i denied, so both verdicts interleave. */
export const macOf = (i: number) => {
  const h = i.toString(16).padStart(6, '0');
  return `52:54:01:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
};
export const fileOf = (m: string) => m.replaceAll(':', '-');

export const ALL = Array.from({ length: TOTAL }, (_, i) => macOf(i));
export const ALLOW = ALL.filter((_, i) => i % 2 === 0);
export const DENY = ALL.filter((_, i) => i % 2 === 1);

/** `count` indices evenly spread over [0, TOTAL) with the given parity, so the sample covers the whole set. */
function spread(count: number, parity: 0 | 1): number[] {
  const step = Math.floor(TOTAL / count);
  return Array.from({ length: count }, (_, k) => {
    const i = k * step + ((k * 7919) % step); // a different position inside each stride
    return i - (i % 2) + parity;
  });
}
export const ALLOW_SAMPLE = spread(SAMPLE_PER_VERDICT, 0).map(macOf);
export const DENY_SAMPLE = spread(SAMPLE_PER_VERDICT, 1).map(macOf);

/** One allow→deny and one deny→allow change on top of the full set. */
export const FLIP_TO_DENY = ALLOW_SAMPLE[77]!;
export const FLIP_TO_ALLOW = DENY_SAMPLE[33]!;
export const ALLOW_AFTER_FLIP = ALLOW.filter((m) => m !== FLIP_TO_DENY).concat(FLIP_TO_ALLOW);
export const DENY_AFTER_FLIP = DENY.filter((m) => m !== FLIP_TO_ALLOW).concat(FLIP_TO_DENY);

/**
 * Every one of the 30,000 files was read by dnsmasq (since `logOffset`), and a sample of both verdicts gets the
 * right answer to real DISCOVERs, each refusal backed by an "ignored" line. `label` prefixes the printed numbers.
 */
export async function expectNoRecordLost(label: string, rig: DnsmasqRig, prober: Prober, logOffset: number): Promise<void> {
  const reads = await readsOfHostsdir(rig, logOffset);
  const missing = ALL.filter((m) => !reads.has(fileOf(m)));
  if (missing.length > 0) {
    // Not a logging artefact: the MACs whose files were never read really have the wrong verdict.
    const check = missing.slice(0, 100);
    const allowSet = new Set(ALLOW);
    const verdicts = await prober.probeMany(check, 1_000, 2);
    const wrong = verdicts.filter((r) => r.verdict !== (allowSet.has(r.mac) ? 'offer' : 'none')).length;
    console.log(`${label}: LOST ${missing.length} of ${TOTAL} files (never read by dnsmasq); of ${check.length} lost MACs probed, ${wrong} get the wrong verdict`);
  }
  expect(missing.length, `files dnsmasq never read (first: ${missing.slice(0, 5).join(', ')})`).toBe(0);

  const results = await prober.probeMany([...ALLOW_SAMPLE, ...DENY_SAMPLE], 2_000, 2);
  const wrong = results.filter((r, k) => r.verdict !== (k < ALLOW_SAMPLE.length ? 'offer' : 'none'));
  console.log(`${label}: sampled ${results.length} MACs (${ALLOW_SAMPLE.length} allow, ${DENY_SAMPLE.length} deny): ${wrong.length} wrong`);
  expect(wrong.map((r) => `${r.mac}=${r.verdict}`)).toEqual([]);
  const log = await readLog(rig);
  // A DISCOVER that met a full socket buffer while dnsmasq worked through the backlog gets no answer and no log
  // line: that is not evidence either way, so such MACs are asked again, one at a time, and must then be ignored.
  const unproven = DENY_SAMPLE.filter((m) => !ignoredLine(m).test(log));
  const notIgnored: string[] = [];
  for (const m of unproven) {
    let v = await verdictOf(rig, prober, m, 2_000);
    for (let attempt = 1; v === 'silent' && attempt < 3; attempt++) v = await verdictOf(rig, prober, m, 2_000);
    if (v !== 'ignored') notIgnored.push(`${m}=${v}`);
  }
  if (unproven.length > 0) console.log(`${label}: ${unproven.length} denied MACs had no "ignored" line after the first round; asked again: ${notIgnored.length} not ignored`);
  expect(notIgnored).toEqual([]);
}

/**
 * Probe until dnsmasq ignores `mac`. A probe without an answer counts only if dnsmasq logged "ignored" for
 * it: on a busy machine an OFFER can be late, and a late OFFER must not pass for a refusal.
 */
export async function untilIgnored(rig: DnsmasqRig, prober: Prober, mac: string, deadlineMs = 60_000): Promise<{ sentAt: number }> {
  const started = performance.now();
  while (performance.now() - started < deadlineMs) {
    const before = await ignoredCount(rig, mac);
    const sentAt = Date.now();
    const r = await prober.probe(mac, 300);
    if (r.verdict === 'none' && (await ignoredCount(rig, mac)) > before) return { sentAt };
  }
  throw new Error(`${mac} was not ignored within ${deadlineMs} ms`);
}

/**
 * Watch the flip while `change` runs (probes all the time, so the moment the new verdicts show is seen, not
 * guessed) and return, per MAC, the time from the agent writing its file to the first DISCOVER that got the new
 * verdict. A DISCOVER sent a little before the write but handled after it counts as zero.
 */
export async function measureFlip(rig: DnsmasqRig, prober: Prober, change: () => Promise<unknown>): Promise<number[]> {
  const watching = Promise.all([untilIgnored(rig, prober, FLIP_TO_DENY), prober.until(FLIP_TO_ALLOW, 'offer', 60_000, 50)]);
  await change();
  const [seenDeny, seenAllow] = await watching;
  const lag = (m: string, seen: { sentAt: number }) => Math.max(0, seen.sentAt - statSync(join(rig.hostsdir, fileOf(m))).mtimeMs);
  return [lag(FLIP_TO_DENY, seenDeny), lag(FLIP_TO_ALLOW, seenAllow)];
}
