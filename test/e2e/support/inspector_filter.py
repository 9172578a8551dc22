#!/usr/bin/python3
"""ironic-inspector's real dnsmasq PXE filter (Debian python3-ironic-inspector), driven like the service drives it.

    /usr/bin/python3 inspector_filter.py

Reads one JSON command per line on stdin and answers one JSON line each on stdout:
    {"op": "configure", "conf": FILE}                      read inspector.conf (the same file `pxe-filter migrate
                                                           --from-inspector-conf` reads) and make a new filter
    {"op": "init", "ports": FILE, "introspection": FILE}   init_filter(): purge, sync, dnsmasq_start_command
    {"op": "sync", "ports": FILE, "introspection": FILE}   sync(): the periodic sync
    {"op": "teardown"}                                     tear_down_filter(): dnsmasq_stop_command, as at shutdown
Only its two data sources are stubbed, from the same documents `pxe-filter compute` reads: the Ironic port
listing (FILE: GET /v1/ports?detail=True) and the inspector node cache (FILE: GET /v1/introspection — a node
is being introspected while its entry is unfinished, and its ports' MACs are the cache's `mac` attributes).
"""
import json
import os
import sys

from ironic_inspector import node_cache
from ironic_inspector.common import ironic as ir_utils
from ironic_inspector.conf import opts as conf_opts
from ironic_inspector.pxe_filter import dnsmasq

# The benchmark's in-memory Ironic (a port listing the filter iterates), one definition for both.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'bench'))
from reference_filter import Ironic  # noqa: E402


def load(ports_file, introspection_file):
    with open(ports_file) as f:
        ports = json.load(f)['ports']
    with open(introspection_file) as f:
        unfinished = {i['uuid'] for i in json.load(f)['introspection'] if not i['finished']}
    active = {p['address'] for p in ports if p['node_uuid'] in unfinished}
    return Ironic([p['address'] for p in ports]), active, bool(unfinished)


def main():
    state = {}
    node_cache.active_macs = lambda: state['active']
    node_cache.introspection_active = lambda: state['introspecting']
    ir_utils.get_client = lambda *args, **kwargs: state['ironic']
    filt = None
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd['op'] == 'configure':
                # An explicit --config-file: oslo then reads no default file (/etc/ironic-inspector/...).
                # Calling CONF again clears what an earlier configure parsed.
                conf_opts.parse_args(['--config-file', cmd['conf']])
                filt = dnsmasq.DnsmasqFilter()
            elif cmd['op'] in ('init', 'sync'):
                state['ironic'], state['active'], state['introspecting'] = load(cmd['ports'], cmd['introspection'])
                if cmd['op'] == 'init':
                    filt.init_filter()
                else:
                    filt.sync(state['ironic'])
            elif cmd['op'] == 'teardown':
                filt.tear_down_filter()
            else:
                raise ValueError('unknown op %r' % cmd['op'])
            reply = {'ok': True, 'state': str(filt.state)}
        except Exception as e:  # the test shows it; the harness keeps serving
            reply = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
