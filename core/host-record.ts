/**
 * What a PXE host's hosts directory holds for one MAC, and whether that agrees with the applied manifest. Pure:
 * the caller reads the few files `filesToRead` names (never the whole directory: 100k files at scale).
 */
import { listedVerdict } from './explain.ts';
import { UNKNOWN_HOSTS_FILE, parseRecords, verdictOfText } from './hostsdir.ts';
import type { Layout } from './hostsdir-layout.ts';
import { type Mac, macFileName } from './mac.ts';
import type { Manifest } from './manifest.ts';
import type { Verdict } from './policy.ts';
import { shardName, shardOf } from './sharded.ts';

/** The files that can hold the MAC's record in this layout (ironic-inspector's colon name is adopted, so looked at). */
export function filesToRead(mac: Mac, layout: Layout): string[] {
  const own = layout.kind === 'sharded' ? shardName(shardOf(mac, layout.shards)) : macFileName(mac);
  return [own, mac, UNKNOWN_HOSTS_FILE];
}

export interface HostRecord {
  layout: string;
  /** The file holding the MAC's record and the record line, or null when no file has one (the wildcard applies). */
  file: string | null;
  record: string | null;
  /** What dnsmasq reads for this MAC from the directory: the record's verdict, or the wildcard's. */
  effective: Verdict | null;
  wildcard: string | null;
  /** What the applied manifest says this MAC should get from the directory. */
  expected: Verdict;
  matches: boolean;
}

/** `files`: name → content (undefined: absent) for the names filesToRead gave. */
export function hostRecord(mac: Mac, layout: Layout, files: ReadonlyMap<string, string | undefined>, applied: Manifest): HostRecord {
  const [own, colon] = filesToRead(mac, layout);
  let file: string | null = null;
  let record: string | null = null;
  let recordVerdict: Verdict | null = null;
  for (const name of [own!, colon!]) {
    const content = files.get(name);
    if (content === undefined) continue;
    const records = parseRecords(content);
    const v = records.get(mac);
    if (v === undefined) continue;
    file = name;
    record = v === 'deny' ? `${mac},ignore` : mac;
    recordVerdict = v;
    break;
  }
  const wildcardText = files.get(UNKNOWN_HOSTS_FILE);
  const wildcardVerdict = wildcardText === undefined ? null : verdictOfText(wildcardText);
  const listed = listedVerdict(applied, mac);
  // A MAC the policy no longer names keeps its file with the removed verdict until compaction deletes it; then the
  // wildcard (which has the same verdict) applies.
  const expected = listed ?? (record !== null ? applied.policy.removed : applied.policy.unknownHosts);
  const effective = recordVerdict ?? wildcardVerdict;
  return {
    layout: layout.kind === 'sharded' ? `sharded/${layout.shards}` : 'per-mac',
    file,
    record,
    effective,
    wildcard: wildcardText === undefined ? null : wildcardText.trimEnd(),
    expected,
    matches: effective === expected && (wildcardVerdict === applied.policy.unknownHosts),
  };
}
