"""A VM's lifecycle on real Open vSwitch: snapshots captured, stop and start
(on the same host and in another cloud), counters that continue, and
honest binding.

Two simulated clouds (tools/cloudsim.py), each host an Open vSwitch in its
own namespace: lc1 (gateway, h1, h2) and lc2 (gateway, h1).  Red's VMs:
`a` on lc1-h1 and `b` on lc2-h1 (bound by `iface`), and `u` on lc1-h2
declared without an interface: its hypervisor plugs one later, carrying
external_ids:skyvisor-vm-id.  Everything goes through the public API; the
assertions are on the switches' own flow tables and OVSDB, and on pings
between the VM namespaces.  The scenarios run in file order (one world);
the last one stops a host's switch for a while.
"""

import os
import sys
import time

import pytest

from conftest import ROOT, Skyvisord, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

HOSTS = {
    "lc1": [{"name": "lc1-gw", "tunnel_ip": "198.18.21.1", "public_ip": "198.19.2.1"},
            {"name": "lc1-h1", "tunnel_ip": "198.18.21.2"},
            {"name": "lc1-h2", "tunnel_ip": "198.18.21.3"}],
    "lc2": [{"name": "lc2-gw", "tunnel_ip": "198.18.22.1", "public_ip": "198.19.2.2"},
            {"name": "lc2-h1", "tunnel_ip": "198.18.22.2"}],
}
# name: (host, mac, ip, iface)
VMS = {
    "a": ("lc1-h1", "02:00:00:00:51:01", "10.51.0.1", "lca"),
    "b": ("lc2-h1", "02:00:00:00:51:02", "10.51.0.2", "lcb"),
    "u": ("lc1-h2", "02:00:00:00:51:03", "10.51.0.3", None),
}
N = "/v1/tenants/red/networks/n"
ALL_HOSTS = [h["name"] for hs in HOSTS.values() for h in hs]
# A stopped VM leaves the model once its stop snapshot has settled
# (db/state.c's VM queries; db/snapshots.c logs a change of the VM then),
# which is what removes its port and flows everywhere.
COUNTERS = ("rx_packets", "rx_bytes", "rx_dropped", "tx_packets", "tx_bytes", "tx_dropped")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svl{os.getpid() % 1000}",
            "clouds": [{"name": c, "hosts": hs} for c, hs in HOSTS.items()],
            "vms": [{"name": k, "host": v[0], "iface": v[3] or "lcutap", "mac": v[1],
                     "ip": v[2]} for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


@pytest.fixture(scope="module")
def world(pg, sim):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--log-level", "debug"))
    d.start()
    api = d.api()
    try:
        for c, hs in HOSTS.items():
            ok(api.post("/v1/clouds", {"name": c, "provider": "private", "region": "r1",
                                       "jurisdiction": "PT", "kind": "private"}))
            for h in hs:
                ok(api.post("/v1/hosts", sim.host_body(h, c)))
        ok(api.post("/v1/tenants", {"name": "red"}))
        ok(api.post("/v1/tenants/red/networks", {"name": "n", "subnet": "10.51.0.0/24",
                                                 "tagging": "mac-prefix"}))
        ok(api.post(f"{N}/switches", {"name": "s"}))
        ids = {}
        for name, (host, mac, ip, iface) in VMS.items():
            body = {"name": name, "mac": mac, "ip": ip, "switch": "s",
                    "placement": {"host": host}}
            if iface:
                body["iface"] = iface
            ids[name] = ok(api.post(f"{N}/vms", body))["id"]
        yield d, api, sim, ids
    finally:
        rc = d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])
    assert rc == 0, f"skyvisord exited {rc}"    # a sanitizer's report


def wait_for(what, pred, timeout=40):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def vm(api, name):
    return ok(api.get(f"{N}/vms/{name}"))


def realized(api, name):
    st = vm(api, name)["status"]
    return st["state"] == "realized" and st["observed_generation"] == st["generation"]


def ping(sim, src, ip):
    for _ in range(3):
        if sim.ping(src, ip, count=5, wait=1):
            return True
    return False


def flows(sim, host, cookie):
    """The flows of 'host''s bridge with exactly this cookie, as
    (table, priority, packets) in ovs-ofctl's own words."""
    p = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows",
                    f"unix:{sim.hdir(host)}/br-sky.mgmt", f"cookie={cookie}/-1")
    out = []
    for line in p.stdout.splitlines():
        if "cookie=" not in line:
            continue
        f = dict(kv.split("=", 1) for kv in line.replace(",", " ").split() if "=" in kv)
        out.append((int(f["table"]), int(f.get("priority", 32768)), int(f["n_packets"])))
    return sorted(out)


def ports(sim, host):
    return sim.vsctl(host, "list-ports", "br-sky").stdout.split()


def stats(api, name):
    return ok(api.get(f"{N}/vms/{name}/stats"))


def snapshot(api, name):
    st, hdrs, s = api.post(f"{N}/vms/{name}/snapshots", {})
    assert st == 202 and s["state"] == "pending", s
    return wait_for(f"snapshot of {name} ready",
                    lambda: (lambda g: g if g["state"] != "pending" else None)(
                        ok(api.get(hdrs["location"]))))


def test_unbound_vm_waits_for_its_interface(world):
    """A VM without `iface` is pending, naming its host, until an interface
    there carries its id; then it is realized and reachable."""
    _, api, sim, ids = world
    wait_for("a and b realized", lambda: realized(api, "a") and realized(api, "b"), 60)
    want = ("waiting for an interface on host lc1-h2 with "
            f"external_ids:skyvisor-vm-id={ids['u']}")
    st = wait_for("u's detail", lambda: (lambda s: s if s["detail"] == want else None)(
        vm(api, "u")["status"]))
    assert st["state"] == "pending"
    # Its interface waits in the host's namespace: skyvisor made no port.
    assert "lcutap" not in ports(sim, "lc1-h2") and ports(sim, "lc1-h2")
    # A snapshot meanwhile holds its flows elsewhere, and no port.
    snap = snapshot(api, "u")
    assert snap["state"] == "ready" and snap["content"]["port"] is None, snap
    assert snap["content"]["bridges"]
    assert vm(api, "u")["status"]["state"] == "pending"
    # The hypervisor plugs it with the VM's id: bound, realized, reachable.
    sim.vsctl("lc1-h2", "add-port", "br-sky", "lcutap", "--", "set", "interface", "lcutap",
              f"external_ids:skyvisor-vm-id={ids['u']}")
    wait_for("u realized", lambda: realized(api, "u"))
    assert ping(sim, "u", VMS["b"][2])


def test_snapshot_holds_the_flows_port_and_counters(world):
    _, api, sim, ids = world
    wait_for("a realized", lambda: realized(api, "a"), 60)
    assert ping(sim, "a", VMS["b"][2])
    snap = snapshot(api, "a")
    assert snap["state"] == "ready", snap
    c = snap["content"]
    assert snap["size_bytes"] > 0 and c["vm"]["id"] == ids["a"]
    cookie = c["vm"]["cookie"]
    # Every bridge that holds a flow of a's cookie is in the snapshot with
    # exactly those flows, and every one of them has its capture time.
    by_host = {br["host"]: br for br in c["bridges"]}
    for host in ALL_HOSTS:
        live = flows(sim, host, cookie)
        if not live:
            assert host not in by_host or not by_host[host]["flows"], host
            continue
        assert host in by_host, (host, live)
        got = sorted((f["table"], f["priority"]) for f in by_host[host]["flows"])
        assert got == [(t, p) for t, p, _ in live], host
        assert set(snap["capture_times"]) >= {host}
    # Its host, the gateways on the way and its peer's host.
    assert {"lc1-h1", "lc1-gw", "lc2-gw", "lc2-h1"} <= set(by_host)
    # Counters: the ping went through a's flows on its own host.
    assert sum(f["packets"] for f in by_host["lc1-h1"]["flows"]) > 0
    f0 = by_host["lc1-h1"]["flows"][0]
    assert {"match", "instructions", "cookie", "bytes", "duration_s", "idle_timeout",
            "hard_timeout"} <= set(f0) and f0["cookie"] == cookie
    # The port as OVSDB has it.
    port = c["port"]["interface"]
    assert port["name"] == "lca"
    assert port["ofport"] == int(sim.vsctl("lc1-h1", "get", "interface", "lca",
                                           "ofport").stdout)
    assert port["mac_in_use"] == sim.vsctl("lc1-h1", "get", "interface", "lca",
                                           "mac_in_use").stdout.strip().strip('"')
    assert port["external_ids"]["skyvisor-vm-id"] == ids["a"]
    assert "rx_packets" in port["statistics"] and "mtu" in port
    assert "qos" in c["port"]
    # The tunnels its host rests on.
    assert [t["peer"] for t in c["tunnels"]] == ["lc1-gw"] and c["tunnels"][0]["ofport"] > 0


def counted(api, name, more_than=None):
    s = stats(api, name)
    if s["as_of"] is None:
        return None
    if more_than and not all(s[k] >= more_than[k] for k in COUNTERS):
        return None
    if more_than and s["tx_packets"] <= more_than["tx_packets"]:
        return None
    return s


def assert_not_backwards(before, after):
    for k in COUNTERS:
        assert after[k] >= before[k], (k, before, after)


def test_stats_are_sampled(world):
    _, api, sim, _ = world
    assert ping(sim, "a", VMS["b"][2])
    # ovs-vswitchd refreshes an interface's statistics every 5 s.
    s1 = wait_for("a's pings counted", lambda: (lambda s: s if s and s["tx_packets"] > 0
                                                and s["rx_packets"] > 0 else None)(
        counted(api, "a")), 20)
    assert s1["tx_bytes"] > 0 and s1["rx_bytes"] > 0
    assert ping(sim, "a", VMS["b"][2])
    s2 = wait_for("a's counters to grow", lambda: counted(api, "a", s1), 20)
    assert s2["as_of"] > s1["as_of"]


def new_nic(sim, vm, host, iface):
    """The hypervisor's part: VM 'vm''s NIC now leads to 'iface' on 'host',
    a new interface (counting from zero); the old one is gone."""
    vns, hns = sim.vm_ns(vm), sim.host_ns(host)
    cloudsim.sh("ip", "-n", vns, "link", "del", "eth0")
    cloudsim.sh("ip", "link", "add", "eth0", "netns", vns, "mtu", "1400", "type", "veth",
                "peer", "name", iface, "netns", hns)
    cloudsim.sh("ip", "-n", vns, "link", "set", "eth0", "address", VMS[vm][1])
    cloudsim.sh("ip", "-n", vns, "addr", "add", f"{VMS[vm][2]}/24", "dev", "eth0")
    cloudsim.sh("ip", "-n", vns, "link", "set", "eth0", "up")
    cloudsim.sh("ip", "-n", hns, "link", "set", iface, "up")
    cloudsim.sh("ethtool", "-K", "eth0", "tx", "off", ns=vns, check=False)


def test_counters_continue_on_a_new_interface_and_across_a_restart(world):
    """A new interface counts from its own zero, the VM's totals do not; and
    a restarted skyvisord reads its offsets back, so it neither starts from
    the interface's count again nor loses what was counted."""
    d, api, sim, ids = world
    assert ping(sim, "u", VMS["b"][2])
    before = wait_for("u's pings counted", lambda: (
        lambda s: s if s and s["tx_packets"] > 0 else None)(counted(api, "u")), 20)
    sim.vsctl("lc1-h2", "del-port", "br-sky", "lcutap")
    new_nic(sim, "u", "lc1-h2", "lcutap")
    sim.vsctl("lc1-h2", "add-port", "br-sky", "lcutap", "--", "set", "interface", "lcutap",
              f"external_ids:skyvisor-vm-id={ids['u']}")
    wait_for("u realized again", lambda: realized(api, "u"))
    assert ping(sim, "u", VMS["b"][2])
    mid = wait_for("u's counters to continue", lambda: counted(api, "u", before), 20)
    assert_not_backwards(before, mid)
    d.stop()
    d.start()
    assert ping(sim, "u", VMS["b"][2])
    after = wait_for("u's counters to continue", lambda: counted(api, "u", mid), 20)
    assert_not_backwards(mid, after)


def test_a_port_changed_behind_its_back_is_put_right(world):
    """skyvisor made a's port: what an operator changes of it, or removes,
    is put back.  The reconciler does not check a port it found as wanted
    again until the switch's OVSDB reports a change of a row of its name
    (ctrl/recon_ovsdb.c), so each of these must reach it that way."""
    _, api, sim, ids = world
    wait_for("a realized", lambda: realized(api, "a"), 60)

    def eid(table, key):
        return sim.vsctl("lc1-h1", "--if-exists", "get", table, "lca",
                         f"external_ids:{key}").stdout.strip().strip('"')

    assert eid("Interface", "skyvisor-vm-id") == ids["a"] and eid("Port", "skyvisor") == "vm"
    sim.vsctl("lc1-h1", "set", "Interface", "lca", "external_ids:skyvisor-vm-id=someone")
    wait_for("the interface's VM id put back",
             lambda: eid("Interface", "skyvisor-vm-id") == ids["a"], 15)
    sim.vsctl("lc1-h1", "remove", "Port", "lca", "external_ids", "skyvisor")
    wait_for("the port's mark put back", lambda: eid("Port", "skyvisor") == "vm", 15)
    sim.vsctl("lc1-h1", "del-port", "br-sky", "lca")
    wait_for("the port back", lambda: "lca" in ports(sim, "lc1-h1"), 15)
    wait_for("a realized again", lambda: realized(api, "a"))
    assert ping(sim, "a", VMS["b"][2])


def stop(api, sim, name, host):
    iface = VMS[name][3]
    st, hdrs, body = api.post(f"{N}/vms/{name}/stop", None)
    assert st == 202, body
    snap = wait_for("the stop snapshot", lambda: (lambda g: g if g["state"] != "pending"
                                                  else None)(ok(api.get(hdrs["location"]))))
    assert snap["state"] == "ready" and snap["reason"] == "stop", snap
    cookie = snap["content"]["vm"]["cookie"]
    assert snap["content"]["bridges"]
    wait_for(f"{name}'s port removed", lambda: iface not in ports(sim, host), 15)
    wait_for(f"{name}'s flows removed",
             lambda: not any(flows(sim, h, cookie) for h in ALL_HOSTS))
    return snap


def test_stop_and_start_on_the_same_host(world):
    _, api, sim, _ = world
    assert ping(sim, "a", VMS["b"][2])
    before = wait_for("a sampled", lambda: counted(api, "a"))
    stop(api, sim, "a", "lc1-h1")
    assert not sim.ping("a", VMS["b"][2], count=2, wait=1)
    st, _, body = api.post(f"{N}/vms/a/start", None)
    assert st == 202, body
    wait_for("a realized again", lambda: realized(api, "a"))
    assert "lca" in ports(sim, "lc1-h1")
    assert ping(sim, "a", VMS["b"][2])
    after = wait_for("a's counters to continue", lambda: counted(api, "a", before), 20)
    assert_not_backwards(before, after)


def test_start_in_another_cloud(world):
    """Stopped on lc1-h1, started on lc2-h1: the VM's interface moves with
    it (the hypervisor's part), skyvisor re-maps its port and tunnels."""
    _, api, sim, _ = world
    assert ping(sim, "a", VMS["b"][2])
    before = wait_for("a sampled", lambda: counted(api, "a"))
    stop(api, sim, "a", "lc1-h1")
    # The compute side: a's NIC now leads to lc2-h1.
    new_nic(sim, "a", "lc2-h1", "lca")
    assert cloudsim.sh("ip", "-n", sim.host_ns("lc1-h1"), "link", "show", "lca",
                       check=False).returncode
    st, _, body = api.post(f"{N}/vms/a/start", {"placement": {"host": "lc2-h1"}})
    assert st == 202 and body["host"] == "lc2-h1", body
    wait_for("a realized on lc2-h1", lambda: realized(api, "a"))
    assert "lca" in ports(sim, "lc2-h1") and "lca" not in ports(sim, "lc1-h1")
    assert ping(sim, "a", VMS["b"][2]) and ping(sim, "a", VMS["u"][2])
    after = wait_for("a's counters to continue", lambda: counted(api, "a", before), 20)
    assert_not_backwards(before, after)
    snap = snapshot(api, "a")
    assert snap["content"]["vm"]["host"] == "lc2-h1"
    assert snap["content"]["counters"]["totals"]["tx_packets"] >= before["tx_packets"]


def test_snapshot_of_a_vm_whose_bridge_is_gone_fails_naming_it(world):
    """Its host's switch down: the snapshot waits, then settles in error
    with the host named; nothing is captured from the other bridges alone."""
    _, api, sim, _ = world
    sim.daemon_kill("lc1-h2", "ovs-vswitchd")
    try:
        st, hdrs, s = api.post(f"{N}/vms/u/snapshots", {})
        assert st == 202, s
        snap = wait_for("the snapshot to settle", lambda: (
            lambda g: g if g["state"] != "pending" else None)(ok(api.get(hdrs["location"]))))
        assert snap["state"] == "error" and snap["content"] is None, snap
        assert snap["detail"] == "host lc1-h2: its bridge br-sky is not reachable", snap
    finally:
        sim.daemon_start("lc1-h2", "ovs-vswitchd")
    wait_for("u realized again", lambda: realized(api, "u"), 60)
