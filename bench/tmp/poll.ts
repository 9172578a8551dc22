import { openSync } from 'node:fs';
import { rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveConfig } from '../../agent/config.ts';
import { AgentDaemon } from '../../agent/daemon.ts';
import { createLogger } from '../../agent/log.ts';
import { serviceControl } from '../../agent/service.ts';
import { publishPolicy } from '../../control/publish.ts';
import { LocalStore } from '../../store/local-store.ts';
import { basePolicy, churnedPolicy } from '../data.ts';
const n = Number(process.argv[2] ?? 100000);
const dir = '/dev/shm/bx/poll';
await rm('/dev/shm/bx', { recursive: true, force: true }); await mkdir(dir, { recursive: true });
const store = new LocalStore(`${dir}.store`);
const pub = (p: any) => publishPolicy({ store, site: 'bench', policy: p, inputs: [], guard: { maxChangeShare: 1, minChangesToGuard: 0 }, force: true, now: new Date() });
await pub(basePolicy(n));
const config = resolveConfig({ site: 'bench', host: 'bench', store: `local:${dir}.store`, hostsdir: dir, stateFile: join(`${dir}.state`, 'state.json'), readyFile: join(`${dir}.state`, 'ready'), service: { mode: 'none' } }, {}, {});
const d = new AgentDaemon({ config, store, service: serviceControl({ mode: 'none' }), log: createLogger({ level: 'info', site: 'bench', host: 'b', destination: openSync('/dev/null', 'w') }), signal: new AbortController().signal });
await d.init();
const wrap = (obj: any, name: string) => { const f = obj[name].bind(obj); obj[name] = async (...a: any[]) => { const t0 = performance.now(); try { return await f(...a); } finally { console.log(name, (performance.now() - t0).toFixed(1)); } }; };
for (const k of ['readPointerOrThrow', 'verify', 'apply', 'report']) wrap(d, k);
const st = store as any; for (const k of ['getObject', 'putObject', 'getParameter']) wrap(st, k);
for (let i = 0; i < 2; i++) {
  await pub(i % 2 ? basePolicy(n) : churnedPolicy(n));
  const t0 = performance.now(); await d.poll(); console.log('POLL', (performance.now() - t0).toFixed(1), JSON.stringify(d.stats));
}
