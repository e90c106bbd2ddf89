"""A WAN that survives a cut: liveness of the inter-cloud tunnels.

Three simulated clouds, each one gateway (tools/cloudsim.py: every host an
Open vSwitch in its own namespace, the gateways' public addresses on one
WAN).  Every tunnel between gateways runs BFD (skyvisord --bfd-ms, 100 ms
here); GET /v1/topology reports each tunnel's role and state.  A cut is
made below Open vSwitch, without carrier loss: drop flows for the peer's
address on one gateway's underlay bridge br-wan (the carrier of its WAN
port stays up).  The tunnel goes down in the API, the failover counter
moves, and when the drop flows go the tunnel comes back up.
"""

import os
import sys
import time

import pytest

from conftest import ROOT, Skyvisord, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUDS = ["wa", "wb", "wc"]
BFD_MS = 100


def public_ip(i):
    return f"198.19.0.{i + 1}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svf{os.getpid() % 1000}",
            "clouds": [{"name": c, "hosts": [{"name": f"{c}-gw", "tunnel_ip": f"198.18.{i + 1}.1",
                                              "public_ip": public_ip(i)}]}
                       for i, c in enumerate(CLOUDS)]}
    with cloudsim.Sim(spec, state) as s:
        yield s


@pytest.fixture(scope="module")
def world(pg, sim):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--tunnels", "mst", "--bfd-ms", str(BFD_MS)))
    d.start()
    api = d.api()
    try:
        for c in CLOUDS:
            ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
        for cloud in sim.spec["clouds"]:
            for h in cloud["hosts"]:
                ok(api.post("/v1/hosts", sim.host_body(h, cloud["name"])))
        # The tree: wa--wb and wa--wc.
        ok(api.request("PUT", "/v1/cloud-links/wa/wb", {"cost": 1}))
        ok(api.request("PUT", "/v1/cloud-links/wa/wc", {"cost": 1}))
        ok(api.request("PUT", "/v1/cloud-links/wb/wc", {"cost": 5}))
        yield d, api, sim
    finally:
        d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])


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


AB = frozenset(("wa-gw", "wb-gw"))
AC = frozenset(("wa-gw", "wc-gw"))


def test_tunnels_run_bfd_and_come_up(world):
    _, api, sim = world
    wait_for("two inter-cloud tunnels up",
             lambda: len(inter(api)) == 2 and all(t["state"] == "up" for t in inter(api).values()))
    tunnels = inter(api)
    assert set(tunnels) == {AB, AC}
    assert all(t["role"] == "tree" for t in tunnels.values())
    topo = ok(api.get("/v1/topology"))
    assert topo["layout"] == "mst"
    # Both ends configured alike, the interval in both directions.
    for g in ("wa-gw", "wb-gw"):
        bfd = iface_bfd(sim, g, [p for p in sim.vsctl(g, "--bare", "--columns=name", "find",
                                                        "Interface", "type=vxlan").stdout.split()
                                 if p.startswith("svw")][0])
        assert 'enable="true"' in bfd and f'min_rx="{BFD_MS}"' in bfd \
            and f'min_tx="{BFD_MS}"' in bfd, bfd


def test_underlay_cut_is_seen_and_heals(world):
    _, api, sim = world
    wait_for("tunnels up", lambda: all(t["state"] == "up" for t in inter(api).values())
             and len(inter(api)) == 2)
    before = counters(api)
    cut(sim, "wa-gw", public_ip(1))             # wa -- wb
    try:
        t0 = time.time()
        wait_for("wa--wb down", lambda: inter(api)[AB]["state"] == "down", timeout=10)
        seen = time.time() - t0
        print(f"cut seen in the API after {seen * 1000:.0f} ms (BFD at {BFD_MS} ms)")
        assert inter(api)[AC]["state"] == "up"  # the other tunnel is untouched
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
