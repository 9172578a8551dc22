/**
 * What the policy takes from the ports alone, whoever is being inspected: every MAC once, sorted; which of them no
 * NIC can have; and each port's place in that list. The port list changes rarely and is large; who is being
 * inspected changes often and is small (a state export). Sorting every MAC is most of a compute, so it is done once
 * per port list a process holds (a warm Lambda keeps the parsed full export: control/export-cache.ts). Keyed by the
 * array itself: the same array is the same ports.
 */
import type { Port } from './ironic-exports.ts';
import { type Mac, isUnusableMac } from './mac.ts';
import { type MacKeys, macOrder } from './mac-sort.ts';

export interface Inventory {
  /** Every MAC once, sorted. */
  sorted: Mac[];
  /** MACs no NIC can have, sorted. */
  unusable: Mac[];
  /** 1 where `sorted[r]` is one of them. */
  unusableAt: Uint8Array;
  /** For each port (by index in the list), the index of its MAC in `sorted`. */
  rankOfPort: Uint32Array;
  /** The 48-bit value of each of `sorted` (`aa:bb:…` is 0xaabb…), when they were sorted on them (canonical MACs). */
  values?: Float64Array;
  portsWithoutNode: number;
}

const inventories = new WeakMap<readonly Port[], Inventory>();

/** The MACs' values of port lists whose maker read them while checking the MACs (core/ironic-fast.ts). */
const portMacKeys = new WeakMap<readonly Port[], MacKeys>();

/** Record the values of the ports' MACs, by port index: the inventory then does not read 100k strings again. */
export function recordPortMacKeys(ports: readonly Port[], keys: MacKeys): void {
  if (keys.hi.length !== ports.length || keys.lo.length !== ports.length) throw new Error('recordPortMacKeys: one key per port');
  portMacKeys.set(ports, keys);
}

export function inventoryOf(ports: readonly Port[]): Inventory {
  const known = inventories.get(ports);
  if (known) return known;
  const macs = new Array<Mac>(ports.length);
  let portsWithoutNode = 0;
  for (let i = 0; i < ports.length; i++) {
    macs[i] = ports[i]!.mac;
    if (ports[i]!.nodeUuid === null) portsWithoutNode++;
  }
  const inventory = { ...(rankByValue(macs, portMacKeys.get(ports)) ?? rankByString(macs)), portsWithoutNode };
  inventories.set(ports, inventory);
  return inventory;
}

type Ranked = Omit<Inventory, 'portsWithoutNode'>;

/**
 * Canonical MACs (all of them, from the parsers): radix-sorted on their values (core/mac-sort.ts), deduplicated
 * and classified on those values — equal values are equal strings, and the I/G bit of the first octet (multicast,
 * broadcast included) or an all-zero value is isUnusableMac — so no MAC string is read again after the sort.
 */
function rankByValue(macs: readonly Mac[], keys: MacKeys | undefined): Ranked | undefined {
  const values = macOrder(macs, keys);
  if (!values) return undefined;
  const { hi, lo, order } = values;
  const n = macs.length;
  const sorted: Mac[] = [];
  const unusable: Mac[] = [];
  const unusableAt = new Uint8Array(n);
  const rankOfPort = new Uint32Array(n);
  const sortedValues = new Float64Array(n);
  let rank = -1;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const previous = k > 0 ? order[k - 1]! : -1;
    if (previous < 0 || hi[i] !== hi[previous] || lo[i] !== lo[previous]) {
      rank = sorted.length;
      sorted.push(macs[i]!);
      sortedValues[rank] = hi[i]! * 0x1000000 + lo[i]!;
      if ((hi[i]! & 0x010000) !== 0 || (hi[i] === 0 && lo[i] === 0)) {
        unusable.push(macs[i]!);
        unusableAt[rank] = 1;
      }
    }
    rankOfPort[i] = rank;
  }
  return { sorted, unusable, unusableAt: unusableAt.subarray(0, sorted.length), rankOfPort, values: sortedValues.subarray(0, sorted.length) };
}

/** Anything else (a caller's own Port objects): the same by string sort and comparison. */
function rankByString(macs: readonly Mac[]): Ranked {
  const n = macs.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (macs[a]! < macs[b]! ? -1 : macs[a]! > macs[b]! ? 1 : 0));
  const sorted: Mac[] = [];
  const unusable: Mac[] = [];
  const unusableAt = new Uint8Array(n);
  const rankOfPort = new Uint32Array(n);
  let rank = -1;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    if (k === 0 || macs[i] !== macs[order[k - 1]!]) {
      rank = sorted.length;
      sorted.push(macs[i]!);
      if (isUnusableMac(macs[i]!)) {
        unusable.push(macs[i]!);
        unusableAt[rank] = 1;
      }
    }
    rankOfPort[i] = rank;
  }
  return { sorted, unusable, unusableAt: unusableAt.subarray(0, sorted.length), rankOfPort };
}
