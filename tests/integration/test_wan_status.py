"""What a user sees of a cut WAN tunnel, and the reactive path across one.

Three simulated clouds (tests/integration/wan_world.py), one gateway
each, laid out mst+backup: the costs make the tree wa - wb - wc and the
backup wa - wc.  Red has a VM on every gateway (two on wa), blue one VM
(rc's very addresses) alone on wc.  A cut of wa - wb below Open vSwitch (BFD at 100
ms) must show in the status detail of every red VM whose way crosses it
("path to cloud wb via backup: tunnel wa-gw--wb-gw down"), of red's
switch, network and tenant, not in blue's, and go away when the tunnel is
back up; meanwhile the red VMs still reach each other over the backup.
The reactive path during that cut: with wa-gw's tenant-table flows toward
rc gone, ra's frames to rc miss and reach skyvisord, whose packet-outs go
to the cut tunnel's fast-failover group, so they take the detour instead
of the dead tunnel.  And an audit (every 5 s here) that finds a VM's
rate meter gone from its bridge counts it as meter drift and puts it back,
and the plan of a changed VM alone deletes the rate meter it no longer
uses.
"""

import os

import pytest

from conftest import Skyvisord, ok
import wan_world as ww
from wan_world import cloudsim, pair, wait_for
from test_bandwidth import meters  # noqa: E402  ({id: (flags, kbps, burst)})

CLOUDS = ["wa", "wb", "wc"]
COSTS = {("wa", "wb"): 1, ("wb", "wc"): 1, ("wa", "wc"): 5}
VMS = {"ra": ("wa-gw", "02:00:00:00:00:0a", "10.0.0.1", "red"),
       "ra2": ("wa-gw", "02:00:00:00:00:1a", "10.0.0.11", "red"),
       "rb": ("wb-gw", "02:00:00:00:00:0b", "10.0.0.2", "red"),
       "rc": ("wc-gw", "02:00:00:00:00:0c", "10.0.0.3", "red"),
       "bc": ("wc-gw", "02:00:00:00:00:0c", "10.0.0.3", "blue")}
AB = pair("wa", "wb")
DOWN = "tunnel wa-gw--wb-gw down"


@pytest.fixture(scope="module")
def world(pg, tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    with cloudsim.Sim(ww.spec(f"svq{os.getpid() % 1000}", CLOUDS, VMS), state) as sim:
        d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                      extra=("--bfd-ms", "100", "--audit-interval", "5"))
        d.start()
        api = d.api()
        try:
            ww.populate(api, sim, CLOUDS, COSTS, VMS)
            wait_for("three tunnels up", lambda: ww.all_up(api, 3), timeout=60)
            yield d, api, sim
        finally:
            d.stop()
            print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])


def status(api, path):
    return ok(api.get(path))["status"]


def vm(api, name):
    return status(api, f"/v1/tenants/{VMS[name][3]}/networks/prod/vms/{name}")


def test_vm_status_names_the_down_tunnel_until_it_is_back(world):
    _, api, sim = world
    assert {k: t["role"] for k, t in ww.inter(api).items()} == {
        AB: "tree", pair("wb", "wc"): "tree", pair("wa", "wc"): "backup"}
    for v in VMS:
        wait_for(f"{v} realized", lambda: vm(api, v)["state"] == "realized", timeout=30)
    wait_for("ra reaches rc", lambda: sim.ping("ra", VMS["rc"][2], count=3, wait=1),
             timeout=30, step=0.5)
    assert vm(api, "ra")["detail"] is None
    ww.cut(sim, "wa-gw", ww.public_ip(1))
    try:
        wait_for("wa--wb down", lambda: ww.inter(api)[AB]["state"] == "down", timeout=10)
        want = {"ra": f"path to cloud wb via backup: {DOWN}; "
                      f"path to cloud wc via backup: {DOWN}",
                "ra2": f"path to cloud wb via backup: {DOWN}; "
                       f"path to cloud wc via backup: {DOWN}",
                "rb": f"path to cloud wa via backup: {DOWN}",
                "rc": f"path to cloud wa via backup: {DOWN}"}
        for v, detail in want.items():
            st = wait_for(f"{v}'s detail", lambda: (s := vm(api, v))["detail"] and s,
                          timeout=10)
            assert st == {**st, "state": "realized", "detail": detail}, st
        # Blue's VM is alone: nothing of its crosses the cut.
        assert vm(api, "bc") == {**vm(api, "bc"), "state": "realized", "detail": None}
        # Up the tree: the first red VM's note, named.
        sw = status(api, "/v1/tenants/red/networks/prod/switches/s")
        net = status(api, "/v1/tenants/red/networks/prod")
        ten = status(api, "/v1/tenants/red")
        assert sw["state"] == net["state"] == ten["state"] == "realized", (sw, net, ten)
        assert sw["detail"].startswith("vm r") and DOWN in sw["detail"], sw
        assert net["detail"] == f"switch s: {sw['detail']}", net
        assert ten["detail"] == f"network prod: {net['detail']}", ten
        assert status(api, "/v1/tenants/blue")["detail"] is None
        # The red VMs still reach each other, over the backup (once BFD
        # has seen the cut at both ends).
        for a, b in (("ra", "rb"), ("ra", "rc"), ("rb", "ra")):
            wait_for(f"{a} -> {b} during the cut",
                     lambda: sim.ping(a, VMS[b][2], count=1, wait=1), timeout=10, step=0.2)
    finally:
        ww.cut(sim, "wa-gw", ww.public_ip(1), on=False)
    wait_for("wa--wb up again", lambda: ww.inter(api)[AB]["state"] == "up", timeout=15)
    for v in ("ra", "ra2", "rb", "rc"):
        wait_for(f"{v}'s detail gone", lambda: vm(api, v)["detail"] is None, timeout=10)
    wait_for("red's tenant detail gone",
             lambda: status(api, "/v1/tenants/red")["detail"] is None, timeout=10)


def tenant_flows(sim, host, mac):
    """host's tenant-table (10) flows toward 'mac'."""
    p = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows",
                    f"unix:{sim.hdir(host)}/br-sky.mgmt", f"table=10,dl_dst={mac}",
                    ns=sim.host_ns(host))
    return [line for line in p.stdout.splitlines() if "table=10" in line]


def test_reactive_path_takes_the_detour_during_a_cut(world):
    _, api, sim = world
    wait_for("three tunnels up", lambda: ww.all_up(api, 3), timeout=30)
    wait_for("ra reaches rc", lambda: sim.ping("ra", VMS["rc"][2], count=3, wait=1),
             timeout=30, step=0.5)
    mac = VMS["rc"][1]
    assert tenant_flows(sim, "wa-gw", mac)
    ww.cut(sim, "wa-gw", ww.public_ip(1))
    try:
        wait_for("wa--wb down", lambda: ww.inter(api)[AB]["state"] == "down", timeout=10)
        # Both ends' BFD sessions down, so both gateways' groups have moved
        # (the API says down as soon as one end does).
        for g in ("wa-gw", "wb-gw"):
            wait_for(f"{g}'s end down", lambda: "tunnels down" in (
                status(api, f"/v1/hosts/{g}")["detail"] or ""), timeout=10)
        before = ww.metrics(api)
        # The flows a new VM would not have yet: ra's frames to rc miss
        # until the reconciler puts them back (its repair waits 500 ms after
        # the flow-removed messages), so the one echo request sent right
        # after goes by packet-out; its reply comes back by rc's gateway's
        # own group.
        p = cloudsim.sh("sh", "-c", f"ovs-ofctl -O OpenFlow13 del-flows "
                        f"unix:{sim.hdir('wa-gw')}/br-sky.mgmt table=10,dl_dst={mac} && "
                        f"ip netns exec {sim.vm_ns('ra')} ping -c 1 -W 2 {VMS['rc'][2]}",
                        ns=sim.host_ns("wa-gw"), check=False)
        after = ww.metrics(api)
        assert after["reactive_forwarded_total"] >= before["reactive_forwarded_total"] + 1, \
            (before, after, p.stdout)
        assert p.returncode == 0, \
            f"ra's echo request to rc, sent by packet-out during the cut, was lost: {p.stdout}"
    finally:
        ww.cut(sim, "wa-gw", ww.public_ip(1), on=False)
    wait_for("wa--wb up again", lambda: ww.inter(api)[AB]["state"] == "up", timeout=15)


def test_meter_drift_is_counted_and_repaired(world):
    _, api, sim = world
    base = "/v1/tenants/red/networks/prod/vms/ra"
    ok(api.patch(base, {"rate_mbps": 50}))
    got = wait_for("ra's meter on wa-gw", lambda: meters(sim, "wa-gw"), timeout=15)
    (mid, (_, kbps, _)), = got.items()
    assert kbps == 50000, got
    before = ww.metrics(api)
    cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "del-meter",
                f"unix:{sim.hdir('wa-gw')}/br-sky.mgmt", f"meter={mid}",
                ns=sim.host_ns("wa-gw"))
    assert mid not in meters(sim, "wa-gw")
    after = wait_for("the audit to count the meter", lambda: (
        m := ww.metrics(api))["meter_drift_found_total"]
        >= before["meter_drift_found_total"] + 1 and m, timeout=20, step=0.5)
    assert after["audits_total"] > before["audits_total"]
    wait_for("the meter back", lambda: mid in meters(sim, "wa-gw"), timeout=15)
    assert meters(sim, "wa-gw")[mid][1] == 50000
    ok(api.patch(base, {"rate_mbps": None}))
    wait_for("ra's meter gone", lambda: mid not in meters(sim, "wa-gw"), timeout=15)


def test_a_vm_change_deletes_the_meter_it_no_longer_uses(world):
    """The plan of a changed VM alone (not the whole bridge) deletes its
    rate meter once no flow names it: seen with no audit in between (an
    audit's whole plan would delete it too; a round with one is tried
    again)."""
    _, api, sim = world
    base = "/v1/tenants/red/networks/prod/vms/ra2"     # ra shares its bridge
    for attempt in range(3):
        ok(api.patch(base, {"rate_mbps": 40}))
        got = wait_for("ra2's meter", lambda: [k for k, v in meters(sim, "wa-gw").items()
                                              if v[1] == 40000], timeout=15)
        audits = ww.metrics(api)["audits_total"]
        ok(api.patch(base, {"rate_mbps": None}))
        wait_for("ra2's meter gone", lambda: got[0] not in meters(sim, "wa-gw"), timeout=15,
                 step=0.1)
        if ww.metrics(api)["audits_total"] == audits:
            break
    else:
        pytest.fail("an audit came between every change and its meter's deletion")
    assert sim.ping("ra2", VMS["rb"][2], count=2, wait=1)
