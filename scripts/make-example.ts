/**
 * Regenerates examples/dc1: a realistic site of 150 nodes × 2 ports in Ironic's REST API form, a few of
 * them being inspected. Deterministic, so the committed files only change when this script does.
 *   npx tsx scripts/make-example.ts examples/dc1
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2] ?? 'examples/dc1';
const NODES = 150;
const uuid = (n: number, kind: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const mac = (n: number, port: number) => `52:54:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}:${port.toString(16).padStart(2, '0')}`;

const stateOf = (n: number): [string, string] => {
  if (n % 50 === 7) return ['inspect wait', 'agent'];
  if (n % 50 === 8) return ['inspecting', 'agent'];
  if (n % 50 === 9) return ['inspect wait', 'no-inspect'];
  if (n % 10 === 0) return ['manageable', 'agent'];
  if (n % 10 === 1) return ['available', 'agent'];
  if (n % 25 === 3) return ['inspect failed', 'agent'];
  return ['active', 'agent'];
};

const nodes = Array.from({ length: NODES }, (_, n) => {
  const [provision_state, inspect_interface] = stateOf(n);
  return { uuid: uuid(n, 1), name: `dc1-node-${n.toString().padStart(3, '0')}`, provision_state, inspect_interface, driver: 'ipmi', maintenance: false };
});
const ports = nodes.flatMap((node, n) =>
  [0, 1].map((p) => ({ uuid: uuid(n * 2 + p, 2), address: mac(n, p), node_uuid: node.uuid, pxe_enabled: p === 0, extra: {} })),
);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'nodes.json'), `${JSON.stringify({ nodes }, null, 1)}\n`);
writeFileSync(join(out, 'ports.json'), `${JSON.stringify({ ports }, null, 1)}\n`);
writeFileSync(join(out, 'settings.json'), `${JSON.stringify({ source: 'ironic', discovery: false, denyUnknownMacs: false, supportedInspectInterfaces: ['agent'] }, null, 2)}\n`);
process.stdout.write(`wrote ${nodes.length} nodes, ${ports.length} ports to ${out}\n`);
