/**
 * The shard files of a first fill (a directory with no records yet) written straight from the manifest's bytes.
 * A policy read by core/manifest-bytes.ts carries its bytes and each MAC's value; here each entry's 17 bytes are
 * hashed for its shard (the FNV-1a of core/sharded.ts shardOf, on the bytes of the same ASCII characters) and
 * copied into that shard's records, in ascending order of MAC across both lists. No string per MAC is made — at a
 * 100k-MAC first fill those strings, the per-shard arrays and the records' joins were most of a short
 * `agent once --layout sharded`, and the collections they caused. The files are byte-for-byte those
 * mergedRecordsText makes from the strings (test/core/shard-fill.property.test.ts).
 */
import { Buffer } from 'node:buffer';
import { policyListBytes } from './manifest-bytes.ts';
import type { Policy } from './policy.ts';

export interface ShardFill {
  /** Each shard's file content (ASCII), by shard index: written as they are, no string made of them. */
  bytes: Buffer[];
  /** 1 where the shard holds a deny record (its write revokes: it goes first). */
  denies: Uint8Array;
  allow: number;
  deny: number;
}

/** An entry: `"` + MAC + `"` + separator; the MAC's bytes start one in. */
const ENTRY = 20;
const MAC_LENGTH = 17;
const NEWLINE = 0x0a;
const DENY_SUFFIX = Buffer.from(',ignore\n');
const ALLOW_RECORD = MAC_LENGTH + 1;
const DENY_RECORD = MAC_LENGTH + DENY_SUFFIX.length;

/** The shard of each entry of a list (FNV-1a over the MAC's bytes, as shardOf over its characters), and each shard's bytes. */
function shardsOf(bytes: Uint8Array, start: number, count: number, shards: number, record: number, size: Uint32Array): Uint16Array {
  const out = new Uint16Array(count);
  for (let k = 0, p = start + 1; k < count; k++, p += ENTRY) {
    let h = 0x811c9dc5;
    for (let c = 0; c < MAC_LENGTH; c++) h = Math.imul(h ^ bytes[p + c]!, 0x01000193);
    const shard = (h >>> 0) % shards;
    out[k] = shard;
    size[shard]! += record;
  }
  return out;
}

/** Undefined for a policy that core/manifest-bytes.ts did not read (its lists are then only strings). */
export function shardFill(policy: Policy, shards: number): ShardFill | undefined {
  const lists = policyListBytes(policy);
  if (!lists) return undefined;
  const { bytes, allow, deny } = lists;
  const na = allow.values.length;
  const nd = deny.values.length;
  const size = new Uint32Array(shards);
  const allowShard = shardsOf(bytes, allow.start, na, shards, ALLOW_RECORD, size);
  const denyShard = shardsOf(bytes, deny.start, nd, shards, DENY_RECORD, size);
  const denies = new Uint8Array(shards);
  for (let k = 0; k < nd; k++) denies[denyShard[k]!] = 1;
  const from = new Uint32Array(shards);
  let total = 0;
  for (let s = 0; s < shards; s++) {
    from[s] = total;
    total += size[s]!;
  }
  const out = Buffer.allocUnsafe(total);
  const cursor = from.slice();
  // Records are copied four bytes at a time (17 = 4 × 4 + 1), through DataViews: a quarter of the element accesses
  // of a byte loop, in a loop that runs once per process and so mostly before the optimising compiler has it.
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dst = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const IGNO = DENY_SUFFIX.readUInt32BE(0);
  const RE_NL = DENY_SUFFIX.readUInt32BE(4);
  // Both lists ascend and share no MAC: one merge gives every shard its records in ascending order.
  const av = allow.values;
  const dv = deny.values;
  for (let i = 0, j = 0; i < na || j < nd; ) {
    const isAllow = j === nd || (i < na && av[i]! < dv[j]!);
    const shard = isAllow ? allowShard[i]! : denyShard[j]!;
    const p = isAllow ? allow.start + i * ENTRY + 1 : deny.start + j * ENTRY + 1;
    const w = cursor[shard]!;
    dst.setUint32(w, src.getUint32(p));
    dst.setUint32(w + 4, src.getUint32(p + 4));
    dst.setUint32(w + 8, src.getUint32(p + 8));
    dst.setUint32(w + 12, src.getUint32(p + 12));
    dst.setUint8(w + 16, src.getUint8(p + 16));
    if (isAllow) {
      dst.setUint8(w + MAC_LENGTH, NEWLINE);
      cursor[shard] = w + ALLOW_RECORD;
      i++;
    } else {
      dst.setUint32(w + MAC_LENGTH, IGNO);
      dst.setUint32(w + MAC_LENGTH + 4, RE_NL);
      cursor[shard] = w + DENY_RECORD;
      j++;
    }
  }
  return { bytes: Array.from({ length: shards }, (_, s) => out.subarray(from[s]!, from[s]! + size[s]!)), denies, allow: na, deny: nd };
}
