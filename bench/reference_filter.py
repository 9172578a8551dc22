#!/usr/bin/python3
"""Drive the real ironic-inspector dnsmasq PXE filter (python3-ironic-inspector) for one bench case.

Only its data sources are stubbed: the Ironic port listing and the inspector node cache, as in-memory sets,
so the figures are the filter's own file work (the real node cache makes one DB query per port on top).
Prints one JSON line like bench/case.ts: {case, n, wallMs, cpuMs, maxRssMb, writes}.
    /usr/bin/python3 bench/reference_filter.py <case> <n> <dir>
"""
import json
import os
import resource
import shutil
import sys
import time

from oslo_config import cfg

from ironic_inspector import node_cache
from ironic_inspector.common import ironic as ir_utils
from ironic_inspector.conf import opts as conf_opts
from ironic_inspector.pxe_filter import dnsmasq

CONF = cfg.CONF


def mac_of(i):
    return '52:54:' + ':'.join('%02x' % ((i >> s) & 0xff) for s in (24, 16, 8, 0))


class Port:
    __slots__ = ('address', 'extra')

    def __init__(self, address):
        self.address = address
        self.extra = {}


class Ironic:
    def __init__(self, macs):
        self._ports = [Port(m) for m in macs]

    def ports(self, **_kwargs):
        return iter(self._ports)


def inputs(n, churn):
    macs = [mac_of(i) for i in range(n)]
    active = {mac_of(i) for i in range(n) if i % 50 == 0}
    if churn:
        step = n // 50
        macs_set = set(macs)
        for k in range(50):
            mac = mac_of(k * step + 1)
            if mac in active:
                active.discard(mac)
            else:
                active.add(mac)
        for k in range(25):
            macs_set.discard(mac_of(k * step + 3))
            active.discard(mac_of(k * step + 3))
        for k in range(25):
            macs_set.add(mac_of(n + k))
        macs = sorted(macs_set)
    return macs, active


def main():
    case, n, hostsdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    conf_opts.parse_args([])
    CONF.set_override('dhcp_hostsdir', hostsdir, 'dnsmasq_pxe_filter')
    CONF.set_override('purge_dhcp_hostsdir', True, 'dnsmasq_pxe_filter')
    CONF.set_override('dnsmasq_start_command', '', 'dnsmasq_pxe_filter')
    CONF.set_override('dnsmasq_stop_command', '', 'dnsmasq_pxe_filter')
    shutil.rmtree(hostsdir, ignore_errors=True)
    os.makedirs(hostsdir)

    # Plain functions, not unittest.mock: a MagicMock records every call, and get_active_macs() calls
    # node_cache.active_macs() once per port (100k recorded calls per sync at 100k ports) while every write went
    # through a MagicMock too. Patched once, outside the timed region.
    written = [0]
    real_write = dnsmasq._exclusive_write_or_pass

    def counting_write(path, buf):
        written[0] += 1
        return real_write(path, buf)

    state = {}
    node_cache.active_macs = lambda: state['active']
    node_cache.introspection_active = lambda: bool(state['active'])
    ir_utils.get_client = lambda *args, **kwargs: state['ironic']
    dnsmasq._exclusive_write_or_pass = counting_write

    def run(filt, ironic, active, call):
        state['active'] = active
        state['ironic'] = ironic
        if call == 'init':
            filt.init_filter()
        else:
            filt.sync(ironic)

    macs, active = inputs(n, churn=False)
    ironic = Ironic(macs)
    filt = dnsmasq.DnsmasqFilter()
    measured_call = 'init' if case in ('first-fill', 'restart') else 'sync'
    if case != 'first-fill':
        run(filt, ironic, active, 'init')          # set-up: a full directory
        filt.reset()
    if case == 'churn':
        macs, active = inputs(n, churn=True)
        ironic = Ironic(macs)
    if measured_call == 'sync':
        filt.fsm.initialize(start_state=dnsmasq.pxe_filter.States.initialized)
    written[0] = 0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    run(filt, ironic, active, measured_call)
    wall = (time.perf_counter() - t0) * 1000
    cpu = (time.process_time() - cpu0) * 1000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'case': case, 'n': n, 'wallMs': wall, 'cpuMs': cpu, 'maxRssMb': rss, 'writes': written[0]}))


if __name__ == '__main__':
    main()
