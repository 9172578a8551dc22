import { InputError } from './errors.ts';
import { sortMacStrings } from './mac-sort.ts';

/** A MAC address in canonical form: six lower-case hex octets joined by colons. */
export type Mac = string & { readonly __brand: 'Mac' };

const COLON_OR_DASH = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/;
const CISCO_DOTTED = /^([0-9a-fA-F]{4})\.([0-9a-fA-F]{4})\.([0-9a-fA-F]{4})$/;
const CANONICAL = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const DASHED_NAME = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/;

/**
 * Parse `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF` or `aabb.ccdd.eeff` (any case) into canonical form.
 * Anything else, including separators mixed within one address, is refused.
 */
export function tryParseMac(input: string): Mac | undefined {
  if (CANONICAL.test(input)) return input as Mac; // what Ironic returns: no copy, no join
  const sep = COLON_OR_DASH.exec(input);
  if (sep) {
    return [sep[1], sep[3], sep[4], sep[5], sep[6], sep[7]].join(':').toLowerCase() as Mac;
  }
  const dotted = CISCO_DOTTED.exec(input);
  if (dotted) {
    const hex = (dotted[1]! + dotted[2]! + dotted[3]!).toLowerCase();
    return hex.match(/../g)!.join(':') as Mac;
  }
  return undefined;
}

export function parseMac(input: unknown, field = 'mac'): Mac {
  if (typeof input !== 'string') throw new InputError(field, input, 'not a MAC address (expected a string)');
  const mac = tryParseMac(input);
  if (!mac) throw new InputError(field, input, 'not a MAC address (expected six hex octets like 52:54:00:12:34:56)');
  return mac;
}

const ODD_HEX: ReadonlySet<string> = new Set('13579bdf');

/**
 * A MAC no NIC has as its own address: multicast (the I/G bit, lowest bit of the first octet — broadcast
 * ff:ff:ff:ff:ff:ff is one) or all-zero. A port with one is a data-entry error or a spoofing attempt; DHCP clients
 * send their own unicast address, so allowing it could only ever serve an impostor.
 */
export function isUnusableMac(mac: Mac): boolean {
  return ODD_HEX.has(mac[1]!) || mac === '00:00:00:00:00:00';
}

export function isCanonicalMac(input: string): input is Mac {
  return CANONICAL.test(input);
}

/** The hosts-directory file name of a MAC (docs/design.md §3): lower case, dashes. */
export function macFileName(mac: Mac): string {
  return mac.replaceAll(':', '-');
}

/**
 * The MAC a hosts-directory file name stands for: our dashed names, and the colon names left by
 * ironic-inspector / ironic (which we adopt). Only canonical lower-case names count; anything else is foreign.
 */
export function macFromFileName(name: string): { mac: Mac; style: 'dashed' | 'colon' } | undefined {
  if (DASHED_NAME.test(name)) return { mac: name.replaceAll('-', ':') as Mac, style: 'dashed' };
  if (CANONICAL.test(name)) return { mac: name as Mac, style: 'colon' };
  return undefined;
}

/**
 * Sort in place in canonical order: the order of the default sort (UTF-16 code units), which for canonical MACs
 * (ASCII) is exactly `compareMacs`. Long lists are radix-sorted on the MACs' values (core/mac-sort.ts).
 */
export function sortMacs<T extends Mac>(list: T[]): T[] {
  return sortMacStrings(list);
}

export function compareMacs(a: Mac, b: Mac): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
