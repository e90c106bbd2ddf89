"""The reactive path on real Open vSwitch: a frame that misses in the
tenant table is forwarded by the controller, and the pass restores the flow.

One simulated cloud (tools/cloudsim.py): a gateway and a worker host, each
an Open vSwitch in its own namespace.  Red (mac-prefix) has r-a and r-c on
the worker and r-b on the gateway; blue (rewrite) has b-x on the gateway.
Everything is declared through the public API.  The scenarios take away a
proactive flow on a bridge with ovs-ofctl, the way a flow is missing while
a pass is still running, and show that the very next frame still arrives,
that it went through the controller (the table-miss flow counted it and
the debug log names the decision), that the pass puts the flow back, and
that isolation holds on this path too (another tenant's MAC, broadcast).
"""

import os
import sys
import time

import pytest

from conftest import ROOT, Capture, Skyvisord, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUD = "rc1"
HOSTS = [{"name": "rc1-gw", "tunnel_ip": "198.18.1.1", "public_ip": "198.19.0.1"},
         {"name": "rc1-h1", "tunnel_ip": "198.18.1.2"}]
# name: (tenant, host, mac, ip)
VMS = {
    "r-a": ("red", "rc1-h1", "02:00:00:00:01:01", "10.0.0.1"),
    "r-b": ("red", "rc1-gw", "02:00:00:00:01:02", "10.0.0.2"),
    "r-c": ("red", "rc1-h1", "02:00:00:00:01:03", "10.0.0.3"),
    "b-x": ("blue", "rc1-gw", "02:00:00:00:01:09", "10.0.0.9"),
}
INFRA = "0xa100000000000000"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svr{os.getpid() % 1000}",
            "clouds": [{"name": CLOUD, "hosts": HOSTS}],
            "vms": [{"name": k, "host": v[1], "iface": k, "mac": v[2], "ip": v[3]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


@pytest.fixture(scope="module")
def world(pg, sim):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--log-level", "debug"))
    d.start()
    api = d.api()
    try:
        ok(api.post("/v1/clouds", {"name": CLOUD, "provider": "aws", "region": "r1",
                                   "jurisdiction": "DE", "kind": "public"}))
        for h in HOSTS:
            ok(api.post("/v1/hosts", sim.host_body(h, CLOUD)))
        for t, tagging in (("red", "mac-prefix"), ("blue", "rewrite")):
            ok(api.post("/v1/tenants", {"name": t}))
            base = f"/v1/tenants/{t}/networks"
            ok(api.post(base, {"name": "prod", "subnet": "10.0.0.0/24", "tagging": tagging}))
            ok(api.post(f"{base}/prod/switches", {"name": "s"}))
        for name, (t, host, mac, ip) in VMS.items():
            ok(api.post(f"/v1/tenants/{t}/networks/prod/vms",
                        {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
                         "placement": {"host": host}}))
        wait_realized(api)
        yield d, api, sim
    finally:
        d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])


def wait_realized(api, timeout=60):
    deadline = time.time() + timeout
    while True:
        bad = []
        for t in ("red", "blue"):
            for o in ok(api.get(f"/v1/tenants/{t}/networks/prod/vms"))["items"]:
                if o["status"]["state"] != "realized":
                    bad.append((o["name"], o["status"]))
        if not bad:
            return
        assert time.time() < deadline, f"not realized: {bad}"
        time.sleep(0.5)


def ofctl(sim, host, *args):
    return cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", *args[:1],
                       f"unix:{sim.hdir(host)}/br-sky.mgmt", *args[1:])


def flows(sim, host, spec):
    return [l.strip() for l in ofctl(sim, host, "dump-flows", spec).stdout.splitlines()
            if "cookie=" in l]


def decisions(d, text):
    """How many reactive decisions the controller logged containing 'text'
    (Open vSwitch does not credit a table-miss flow's statistics for
    packets it sends to the controller, so the log is the witness)."""
    return sum(1 for l in d.read_log().splitlines() if "reactive: " in l and text in l)


def vm_cookie(api, tenant, vm):
    """The cookie of a VM's flows: 0xA, kind 2, the tenant tag, wire_low
    (mac-prefix: the MAC's lower 32 bits)."""
    tag = ok(api.get(f"/v1/tenants/{tenant}"))["tag"]
    low = int(VMS[vm][2].replace(":", ""), 16) & 0xffffffff
    return "0xa2%04x%010x" % (tag, low)


def rx_packets(sim, vm):
    p = cloudsim.sh("cat", "/sys/class/net/eth0/statistics/rx_packets", ns=sim.vm_ns(vm))
    return int(p.stdout)


def ping1(sim, vm, ip, *extra):
    """Exactly one echo request: the frame that misses must itself arrive."""
    p = cloudsim.sh("ping", "-c", "1", "-W", "2", *extra, ip, ns=sim.vm_ns(vm), check=False)
    return p.returncode == 0


def warm(sim, a, b):
    for _ in range(10):
        if ping1(sim, a, VMS[b][3]):
            return
        time.sleep(0.3)
    pytest.fail(f"{a} -> {b} does not ping with every flow installed")


def take_away(sim, host, spec):
    """Deletes the flows matching 'spec' on 'host' and returns once they are
    gone (a resync pass may put them back at any moment: the caller
    checks the table-miss counter to know whether its frame missed)."""
    ofctl(sim, host, "del-flows", spec)
    assert not flows(sim, host, spec)


def wait_back(sim, host, spec, timeout=10):
    deadline = time.time() + timeout
    while not flows(sim, host, spec):
        assert time.time() < deadline, f"{spec} not restored on {host}"
        time.sleep(0.1)


def reactive_round(d, sim, host, spec, send, decision, attempts=3):
    """Takes the flows of 'spec' away and sends one frame; returns what
    send() returned, once the frame provably went through the controller
    (a new logged decision 'decision').  Retries when a periodic pass put
    the flow back before the frame was sent."""
    for _ in range(attempts):
        wait_back(sim, host, spec)
        before = decisions(d, decision)
        take_away(sim, host, spec)
        result = send()
        deadline = time.time() + 3
        while time.time() < deadline:
            if decisions(d, decision) > before:
                return result
            time.sleep(0.1)
    pytest.fail(f"no reactive decision '{decision}' on {host}: {flows(sim, host, 'table=10')}")


def reactive_metric(api, what):
    """skyvisor_reconciler_reactive_<what>_total from /metrics."""
    st, _, text = api.get("/metrics", token=None)
    assert st == 200
    name = f"skyvisor_reconciler_reactive_{what}_total "
    return int(next(l for l in text.splitlines() if l.startswith(name)).split()[1])


def test_unicast_across_hosts_via_controller(world):
    d, api, sim = world
    warm(sim, "r-a", "r-b")
    spec = f"table=10,cookie={vm_cookie(api, 'red', 'r-b')}/-1"
    before = rx_packets(sim, "r-b")
    forwarded = reactive_metric(api, "forwarded")
    assert reactive_round(d, sim, "rc1-h1", spec, lambda: ping1(sim, "r-a", VMS["r-b"][3]),
                          "host rc1-h1: r-a -> r-b forwarded")
    assert rx_packets(sim, "r-b") > before
    assert reactive_metric(api, "forwarded") > forwarded
    wait_back(sim, "rc1-h1", spec)          # the pass the miss asked for


def test_unicast_on_the_same_bridge_via_controller(world):
    d, api, sim = world
    warm(sim, "r-a", "r-c")
    spec = f"table=10,cookie={vm_cookie(api, 'red', 'r-c')}/-1"
    assert reactive_round(d, sim, "rc1-h1", spec, lambda: ping1(sim, "r-a", VMS["r-c"][3]),
                          "host rc1-h1: r-a -> r-c forwarded")
    wait_back(sim, "rc1-h1", spec)


def test_another_tenants_mac_is_dropped(world):
    d, api, sim = world
    ns = sim.vm_ns("r-a")
    # r-a believes blue's b-x is a neighbour: its frames carry b-x's MAC,
    # miss in red's tenant table and reach the controller, which drops them.
    cloudsim.sh("ip", "neigh", "replace", VMS["b-x"][3], "lladdr", VMS["b-x"][2],
                "dev", "eth0", "nud", "permanent", ns=ns)
    try:
        what = ("host rc1-h1: r-a -> 020000000109 dropped: "
                "destination not in the sender's component")
        before, dropped = decisions(d, what), reactive_metric(api, "dropped")
        with Capture(sim, "b-x") as bx:
            assert not ping1(sim, "r-a", VMS["b-x"][3])
        assert decisions(d, what) > before
        assert reactive_metric(api, "dropped") > dropped
        assert not bx.frames
    finally:
        cloudsim.sh("ip", "neigh", "del", VMS["b-x"][3], "dev", "eth0", ns=ns, check=False)


def test_broadcast_via_controller_stays_in_the_tenant(world):
    d, api, sim = world
    warm(sim, "r-a", "r-b")
    # r-a's own broadcast flow in the tenant table (priority 90, its cookie).
    spec = f"table=10,cookie={vm_cookie(api, 'red', 'r-a')}/-1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"
    with Capture(sim, "r-b") as rb, Capture(sim, "r-c") as rc, Capture(sim, "b-x") as bx:
        reactive_round(d, sim, "rc1-h1", spec,
                       lambda: cloudsim.sh("ping", "-b", "-c", "1", "-W", "1", "10.0.0.255",
                                           ns=sim.vm_ns("r-a"), check=False),
                       "host rc1-h1: r-a -> broadcast forwarded")
    assert any("10.0.0.1 > 10.0.0.255" in f for f in rb.frames), rb.frames
    assert any("10.0.0.1 > 10.0.0.255" in f for f in rc.frames), rc.frames
    assert not bx.frames, bx.frames
    wait_back(sim, "rc1-h1", spec)
