"""wan_world.py: simulated clouds joined over a WAN, and cuts in it, for the
suites and benchmarks that exercise inter-cloud tunnels and their failover
(tests/integration/test_wan_status.py, bench/wan.py).

A world is a list of clouds, one gateway host each (tools/cloudsim.py:
every host an Open vSwitch in its own namespace, the gateways' public
addresses 198.19.0.N on one WAN bridge), the cloud-link costs that shape
the tunnel tree, and VMs on those gateways in two tenants, red
(mac-prefix) and blue (rewrite), each with one network "prod" and one
switch "s".  A cut drops the underlay packets between two gateways on one
of them, below Open vSwitch (drop flows on its br-wan): the carrier stays
up, so only BFD can tell; probe_cut() measures what a flow of datagrams
across the cut loses.

Nothing here asserts: the callers decide what must hold.
"""

import os
import sys
import time

from conftest import ROOT, ok
from udpprobe import Echo, Sender

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402


def public_ip(i):
    """The WAN address of the i-th cloud's gateway."""
    return f"198.19.0.{i + 1}"


def wan_port(peer_ip):
    """The name of a gateway's tunnel port toward the gateway at peer_ip
    (core/netmodel.c's netmodel_tunnel_name)."""
    a, b, c, d = (int(x) for x in peer_ip.split("."))
    return "svw%08x" % (a << 24 | b << 16 | c << 8 | d)


def spec(prefix, clouds, vms):
    """The cloudsim spec: clouds[i] gets gateway "<cloud>-gw"; vms maps a
    name to (host, mac, ip, tenant)."""
    return {"prefix": prefix,
            "clouds": [{"name": c, "hosts": [{"name": f"{c}-gw",
                                              "tunnel_ip": f"198.18.{i + 1}.1",
                                              "public_ip": public_ip(i)}]}
                       for i, c in enumerate(clouds)],
            "vms": [{"name": k, "host": v[0], "iface": k, "mac": v[1], "ip": v[2]}
                    for k, v in vms.items()]}


def populate(api, sim, clouds, costs, vms):
    """Declares the world through the API: clouds, their hosts, the
    cloud-link costs ({(a, b): cost}), both tenants and the VMs."""
    for c in clouds:
        ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r1",
                                   "jurisdiction": "DE", "kind": "public"}))
    for cloud in sim.spec["clouds"]:
        for h in cloud["hosts"]:
            ok(api.post("/v1/hosts", sim.host_body(h, cloud["name"])))
    for (a, b), cost in costs.items():
        ok(api.request("PUT", f"/v1/cloud-links/{a}/{b}", {"cost": cost}))
    for t, tagging in (("red", "mac-prefix"), ("blue", "rewrite")):
        ok(api.post("/v1/tenants", {"name": t}))
        ok(api.post(f"/v1/tenants/{t}/networks",
                    {"name": "prod", "subnet": "10.0.0.0/24", "tagging": tagging}))
        ok(api.post(f"/v1/tenants/{t}/networks/prod/switches", {"name": "s"}))
    for name, (host, mac, ip, tenant) in vms.items():
        ok(api.post(f"/v1/tenants/{tenant}/networks/prod/vms",
                    {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
                     "placement": {"host": host}}))


def wait_for(what, pred, timeout=30, step=0.05):
    """pred()'s first true value, polled every 'step' s; AssertionError
    naming 'what' after 'timeout' s."""
    deadline = time.time() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def inter(api):
    """The inter-cloud tunnels of GET /v1/topology by their pair of hosts."""
    topo = ok(api.get("/v1/topology"))
    return {frozenset((t["a"], t["b"])): t for t in topo["tunnels"]
            if t["kind"] == "inter-cloud"}


def pair(a, b):
    """The key of inter() for the tunnel between clouds a and b."""
    return frozenset((f"{a}-gw", f"{b}-gw"))


def all_up(api, n):
    """Whether the n inter-cloud tunnels are all up."""
    t = inter(api)
    return len(t) == n and all(x["state"] == "up" for x in t.values())


def metrics(api, prefix="skyvisor_reconciler_"):
    """The metrics named prefix..., the prefix dropped."""
    st, _, text = api.get("/metrics", token=None)
    assert st == 200
    return {line.split()[0][len(prefix):]: float(line.split()[1])
            for line in text.splitlines() if line.startswith(prefix)}


def cut(sim, host, peer_ip, on=True):
    """Drops (or lets through again) the underlay packets between 'host''s
    WAN address and peer_ip on its br-wan: below Open vSwitch's tunnel, the
    carrier stays up."""
    ns = sim.host_ns(host)
    ctl = ["ovs-ofctl", "-O", "OpenFlow13"]
    br = f"unix:{sim.hdir(host)}/br-wan.mgmt"
    if on:
        for f in (f"priority=100,ip,nw_dst={peer_ip},actions=drop",
                  f"priority=100,ip,nw_src={peer_ip},actions=drop"):
            cloudsim.sh(*ctl, "add-flow", br, f, ns=ns)
    else:
        for f in (f"ip,nw_dst={peer_ip}", f"ip,nw_src={peer_ip}"):
            cloudsim.sh(*ctl, "del-flows", "--strict", br, f"priority=100,{f}", ns=ns)


def probe_cut(api, sim, key, host, peer_ip, src_ns, dst_ns, dst_ip, port=7001, hold=1.0):
    """The VM namespaces src_ns and dst_ns exchange 1000 datagrams a second
    (tools/udpprobe) while the tunnel 'key' (pair()) is cut at 'host' toward
    peer_ip: for 'hold' s after the API shows it down, then healed until
    the API shows it up, and then the hold-down before traffic returns to
    it (skyvisord --wan-holddown-ms, 1000 ms by default) and a second more,
    so the last window holds the return.  Returns the probe's windows:
    before, during the cut, after the repair (each with max_gap_ms, lost,
    sent)."""
    to = f"{dst_ip}:{port}"
    with Echo(dst_ns, to):
        with Sender(src_ns, to) as probe:
            time.sleep(1.0)
            probe.mark()
            cut(sim, host, peer_ip)
            try:
                wait_for(f"{sorted(key)} down", lambda: inter(api)[key]["state"] == "down",
                         timeout=15)
                time.sleep(hold)
            finally:
                probe.mark()
                cut(sim, host, peer_ip, on=False)
            wait_for(f"{sorted(key)} up", lambda: inter(api)[key]["state"] == "up", timeout=20)
            time.sleep(2.0)
    return probe.result["windows"]
