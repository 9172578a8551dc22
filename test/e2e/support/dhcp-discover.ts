/**
 * DHCPDISCOVER packets and the OFFERs that answer them (RFC 2131/2132), as plain bytes. Pure: the socket
 * lives in dhcp-probe-server.ts. Only what a PXE ROM's first packet carries: op, htype, hlen, xid, the
 * broadcast flag, chaddr, the magic cookie, message type and a parameter request list.
 */
import { tryParseMac } from '../../../core/mac.ts';

const MAGIC_COOKIE = [99, 130, 83, 99];
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;

export function discoverPacket(mac: string, xid: number): Buffer {
  const canonical = tryParseMac(mac);
  if (!canonical) throw new Error(`not a MAC address: ${mac}`);
  const b = Buffer.alloc(300);
  b[0] = 1; // BOOTREQUEST
  b[1] = 1; // Ethernet
  b[2] = 6; // hardware address length
  b.writeUInt32BE(xid >>> 0, 4);
  b.writeUInt16BE(0x8000, 10); // broadcast flag: the client has no address yet, answer by broadcast
  Buffer.from(canonical.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  Buffer.from([...MAGIC_COOKIE, 53, 1, DHCPDISCOVER, 55, 3, 1, 3, 6, 255]).copy(b, 236);
  return b;
}

export interface Reply {
  xid: number;
  messageType: number | undefined;
  yiaddr: string;
}

/** A BOOTREPLY with the magic cookie, or undefined for anything else on port 68. */
export function parseReply(msg: Buffer): Reply | undefined {
  if (msg.length < 240 || msg[0] !== 2) return undefined;
  if (!MAGIC_COOKIE.every((v, i) => msg[236 + i] === v)) return undefined;
  let messageType: number | undefined;
  for (let i = 240; i < msg.length; ) {
    const code = msg[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = msg[i + 1] ?? 0;
    if (code === 53 && len >= 1) messageType = msg[i + 2];
    i += 2 + len;
  }
  return { xid: msg.readUInt32BE(4), messageType, yiaddr: [...msg.subarray(16, 20)].join('.') };
}
