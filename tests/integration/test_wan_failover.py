"""A WAN that survives a cut: backup tunnels and their liveness.

Four simulated clouds, each one gateway (tools/cloudsim.py: every host an
Open vSwitch in its own namespace, the gateways' public addresses on one
WAN), laid out mst+backup (the default): the cloud-link costs make the
tree the path wa - wb - wc - wd and its cheapest backup wa - wd, so the
detour of wa - wb is three hops long (wa - wd - wc - wb).  Every tunnel
between gateways, backups included, runs BFD (skyvisord --bfd-ms, 100 ms
here); GET /v1/topology reports each tunnel's role and state.  Backups are
ports, not paths: no flow of the tree's forwarding names them, and a red
VM in wa reaches one in wc over the tree.

A cut is made below Open vSwitch, without carrier loss: drop flows for the
peer's address on one gateway's underlay bridge br-wan (the carrier of its
WAN port stays up).  The tunnel goes down in the API, the failover counter
moves, and when the drop flows go the tunnel comes back up.
"""

import os
import sys
import time

import pytest

from conftest import ROOT, Skyvisord, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUDS = ["wa", "wb", "wc", "wd"]
# name: (host, mac, ip)
VMS = {"ra": ("wa-gw", "02:00:00:00:00:0a", "10.0.0.1"),
       "rc": ("wc-gw", "02:00:00:00:00:0c", "10.0.0.3")}
BFD_MS = 100


def public_ip(i):
    return f"198.19.0.{i + 1}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svf{os.getpid() % 1000}",
            "clouds": [{"name": c, "hosts": [{"name": f"{c}-gw", "tunnel_ip": f"198.18.{i + 1}.1",
                                              "public_ip": public_ip(i)}]}
                       for i, c in enumerate(CLOUDS)],
            "vms": [{"name": k, "host": v[0], "iface": k, "mac": v[1], "ip": v[2]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


@pytest.fixture(scope="module")
def world(pg, sim):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--bfd-ms", str(BFD_MS)))
    d.start()
    api = d.api()
    try:
        for c in CLOUDS:
            ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
        for cloud in sim.spec["clouds"]:
            for h in cloud["hosts"]:
                ok(api.post("/v1/hosts", sim.host_body(h, cloud["name"])))
        for (a, b), cost in COSTS.items():
            ok(api.request("PUT", f"/v1/cloud-links/{a}/{b}", {"cost": cost}))
        ok(api.post("/v1/tenants", {"name": "red"}))
        base = "/v1/tenants/red/networks"
        ok(api.post(base, {"name": "prod", "subnet": "10.0.0.0/24"}))
        ok(api.post(f"{base}/prod/switches", {"name": "s"}))
        for name, (host, mac, ip) in VMS.items():
            ok(api.post(f"{base}/prod/vms", {"name": name, "mac": mac, "ip": ip, "switch": "s",
                                             "iface": name, "placement": {"host": host}}))
        yield d, api, sim
    finally:
        d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])


# The tree wa - wb - wc - wd; wa - wd is the cheapest way to close it.
COSTS = {("wa", "wb"): 1, ("wb", "wc"): 1, ("wc", "wd"): 1, ("wa", "wd"): 5,
         ("wa", "wc"): 9, ("wb", "wd"): 9}


def wait_for(what, pred, timeout=30, step=0.05):
    deadline = time.time() + timeout
    while True:
        got = pred()
        if got:
            return got
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def inter(api):
    topo = ok(api.get("/v1/topology"))
    return {frozenset((t["a"], t["b"])): t for t in topo["tunnels"] if t["kind"] == "inter-cloud"}


def counters(api):
    st, _, text = api.get("/metrics", token=None)
    assert st == 200
    out = {}
    for line in text.splitlines():
        if line.startswith("skyvisor_reconciler_tunnel_"):
            name, value = line.split()
            out[name] = float(value)
    return out


def iface_bfd(sim, host, port):
    p = sim.vsctl(host, "--bare", "get", "Interface", port, "bfd")
    return p.stdout.strip()


def cut(sim, host, peer_ip, on=True):
    """Drops (or lets through again) the underlay packets between 'host''s
    WAN address and peer_ip on its br-wan: below Open vSwitch's tunnel, the
    carrier stays up."""
    ns = sim.host_ns(host)
    ctl = ["ovs-ofctl", "-O", "OpenFlow13"]
    env_br = f"unix:{sim.hdir(host)}/br-wan.mgmt"
    if on:
        for f in (f"priority=100,ip,nw_dst={peer_ip},actions=drop",
                  f"priority=100,ip,nw_src={peer_ip},actions=drop"):
            cloudsim.sh(*ctl, "add-flow", env_br, f, ns=ns)
    else:
        for f in (f"ip,nw_dst={peer_ip}", f"ip,nw_src={peer_ip}"):
            cloudsim.sh(*ctl, "del-flows", "--strict", env_br, f"priority=100,{f}", ns=ns)


def pair(a, b):
    return frozenset((f"{a}-gw", f"{b}-gw"))


AB, BC, CD, AD = pair("wa", "wb"), pair("wb", "wc"), pair("wc", "wd"), pair("wa", "wd")


def all_up(api):
    t = inter(api)
    return len(t) == 4 and all(x["state"] == "up" for x in t.values())


def wan_port(sim, gw, peer_index):
    """The name of gw's tunnel toward the gateway of CLOUDS[peer_index]."""
    ip = public_ip(peer_index).split(".")
    return "svw%08x" % (int(ip[0]) << 24 | int(ip[1]) << 16 | int(ip[2]) << 8 | int(ip[3]))


def ofport(sim, gw, port):
    return int(sim.vsctl(gw, "get", "Interface", port, "ofport").stdout.strip())


def flows(sim, gw):
    p = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-names", "--no-stats", "dump-flows",
                    f"unix:{sim.hdir(gw)}/br-sky.mgmt", ns=sim.host_ns(gw))
    return p.stdout


def test_tree_and_backup_run_bfd_and_come_up(world):
    _, api, sim = world
    wait_for("four inter-cloud tunnels up", lambda: all_up(api), timeout=60)
    tunnels = inter(api)
    assert {k: t["role"] for k, t in tunnels.items()} == {
        AB: "tree", BC: "tree", CD: "tree", AD: "backup"}
    assert ok(api.get("/v1/topology"))["layout"] == "mst+backup"
    # Both ends configured alike, the interval in both directions, the
    # backup included.
    for g, peer in (("wa-gw", 1), ("wb-gw", 0), ("wa-gw", 3), ("wd-gw", 0)):
        bfd = iface_bfd(sim, g, wan_port(sim, g, peer))
        assert 'enable="true"' in bfd and f'min_rx="{BFD_MS}"' in bfd \
            and f'min_tx="{BFD_MS}"' in bfd, bfd


def test_traffic_follows_the_tree_not_the_backup(world):
    _, api, sim = world
    wait_for("four inter-cloud tunnels up", lambda: all_up(api), timeout=60)
    wait_for("ra reaches rc", lambda: sim.ping("ra", VMS["rc"][2], count=3, wait=1), timeout=30,
             step=0.5)
    for g, peer in (("wa-gw", 3), ("wd-gw", 0)):
        backup = ofport(sim, g, wan_port(sim, g, peer))
        tree = ofport(sim, g, wan_port(sim, g, 1 if g == "wa-gw" else 2))
        f = flows(sim, g)
        assert f"output:{tree}" in f or f"in_port={tree}" in f, f
        assert f"output:{backup}" not in f and f"in_port={backup}," not in f, f


def test_underlay_cut_is_seen_and_heals(world):
    _, api, sim = world
    wait_for("tunnels up", lambda: all_up(api), timeout=60)
    before = counters(api)
    cut(sim, "wa-gw", public_ip(1))             # wa -- wb
    try:
        t0 = time.time()
        wait_for("wa--wb down", lambda: inter(api)[AB]["state"] == "down", timeout=10)
        seen = time.time() - t0
        print(f"cut seen in the API after {seen * 1000:.0f} ms (BFD at {BFD_MS} ms)")
        # the other tunnels are untouched
        assert all(inter(api)[k]["state"] == "up" for k in (BC, CD, AD))
        after = wait_for("both ends counted", lambda: (
            c := counters(api))["skyvisor_reconciler_tunnel_failovers_total"]
            >= before["skyvisor_reconciler_tunnel_failovers_total"] + 2 and c, timeout=10)
        assert after["skyvisor_reconciler_tunnel_recoveries_total"] \
            == before["skyvisor_reconciler_tunnel_recoveries_total"]
    finally:
        cut(sim, "wa-gw", public_ip(1), on=False)
    t0 = time.time()
    wait_for("wa--wb up again", lambda: inter(api)[AB]["state"] == "up", timeout=15)
    print(f"healed in the API after {(time.time() - t0) * 1000:.0f} ms")
    wait_for("both ends' recoveries counted", lambda: counters(api)[
        "skyvisor_reconciler_tunnel_recoveries_total"]
        >= before["skyvisor_reconciler_tunnel_recoveries_total"] + 2, timeout=10)
