/**
 * Runs INSIDE the client namespace (`ip netns exec CLI node --import tsx dhcp-probe-server.ts`): sends a
 * real DHCPDISCOVER for any chaddr MAC and reports whether an OFFER came back. Many probes can be in flight
 * at once (replies are matched by xid), so a few hundred "no answer" verdicts cost one timeout, not hundreds.
 * Sends no REQUEST, so dnsmasq creates no lease and earlier probes never change later ones.
 *
 * stdin, one JSON per line:  {"id":1,"mac":"52:54:00:00:00:01","timeoutMs":500}
 * stdout, one JSON per line: {"ready":true} once, then {"id":1,"mac":"…","verdict":"offer","ip":"198.18…","ms":1.9}
 *                            or {"id":1,"mac":"…","verdict":"none","ms":500}
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { DHCPOFFER, discoverPacket, parseReply } from './dhcp-discover.ts';

interface Pending {
  id: number;
  mac: string;
  sentAt: number;
  timer: NodeJS.Timeout;
}

const pending = new Map<number, Pending>();
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg) => {
  const reply = parseReply(msg);
  if (!reply || reply.messageType !== DHCPOFFER) return;
  const p = pending.get(reply.xid);
  if (!p) return;
  pending.delete(reply.xid);
  clearTimeout(p.timer);
  out({ id: p.id, mac: p.mac, verdict: 'offer', ip: reply.yiaddr, ms: +(performance.now() - p.sentAt).toFixed(2) });
});
socket.on('error', (err) => {
  process.stderr.write(`probe server: ${err.message}\n`);
  process.exit(1);
});

function probe(id: number, mac: string, timeoutMs: number) {
  let xid: number;
  do xid = randomBytes(4).readUInt32BE(0);
  while (pending.has(xid));
  const sentAt = performance.now();
  const timer = setTimeout(() => {
    pending.delete(xid);
    out({ id, mac, verdict: 'none', ms: +(performance.now() - sentAt).toFixed(2) });
  }, timeoutMs);
  pending.set(xid, { id, mac, sentAt, timer });
  socket.send(discoverPacket(mac, xid), 67, '255.255.255.255', (err) => {
    if (!err) return;
    pending.delete(xid);
    clearTimeout(timer);
    out({ id, mac, verdict: 'error', error: err.message });
  });
}

socket.bind(68, () => {
  socket.setBroadcast(true);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    try {
      const req = JSON.parse(line) as { id: number; mac: string; timeoutMs: number };
      probe(req.id, req.mac, req.timeoutMs);
    } catch (err) {
      process.stderr.write(`probe server: bad request ${line}: ${(err as Error).message}\n`);
    }
  });
  // stdin closed: the harness is done with us.
  lines.on('close', () => {
    socket.close();
    process.exit(0);
  });
  out({ ready: true });
});
