import { startRig, destroyRig } from '/work/wt/exporter/test/ironic/support/ironic-rig.ts';
import { enrollNode, macFor } from '/work/wt/exporter/test/ironic/support/enroll.ts';
const t0 = Date.now();
const rig = await startRig({ withInspector: true });
console.log('started', Date.now() - t0, rig.ironicUrl, rig.inspectorUrl);
try {
  const states = ['enroll','manageable','available','inspect wait via inspector','inspect wait via sql'] as const;
  for (let i = 0; i < 5; i++) console.log(await enrollNode(rig, { name: `n${i}`, macs: [macFor(i,0), macFor(i,1)], state: states[i]! }));
  console.log('enrolled', Date.now() - t0);
  const r = await fetch(`${rig.inspectorUrl}/v1/introspection?limit=2`, {headers: {'X-OpenStack-Ironic-Inspector-API-Version': '1.8'}});
  console.log(r.status, await r.text());
  const r2 = await fetch(`${rig.ironicUrl}/v1/ports?detail=True&limit=3`, {headers: {'X-OpenStack-Ironic-API-Version': '1.43'}});
  console.log(r2.status, (await r2.text()).slice(0, 600));
  const cli = await rig.openstack(['baremetal', 'port', 'list', '--long', '-f', 'json']);
  console.log('cli', cli.slice(0, 300), Date.now() - t0);
} finally { await destroyRig(rig); console.log('stopped', Date.now() - t0); }
