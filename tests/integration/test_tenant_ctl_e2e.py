"""End to end: a tenant's own controller forwards its VMs' traffic across
two simulated clouds (tools/cloudsim.py), on real Open vSwitch.

Red's switch names Debian's ovs-testcontroller (OpenFlow 1.3, a learning
switch) as its controller, fail_mode secure; its VMs r-a and r-b sit in
two clouds.  Blue has the very same MACs and IPs on the same hosts and no
controller: the platform forwards for it as always.  What is shown:
  - before the controller runs, red's VMs do not reach each other (secure:
    no flow, no forwarding) while blue's do;
  - once it runs, red's VMs ping through it: its packet-ins and
    packet-outs go through skyvisord's agent, and the flows it installs are
    compiled into the bridges' tenant tables (ctrl/vtranslate.h) at both
    VMs' ingress bridges, so that once they are in, the pings cross the
    datapath without a frame reaching skyvisord (the physical flows'
    counters rise, the agent's frame counters do not);
  - when red's flows are deleted (by a controller of the test's on the
    same address, after ovs-testcontroller is gone) red's pings stop, and
    blue never noticed any of it;
  - audits read the translated flows back exactly as they were sent;
  - with fail_mode standalone, the platform forwards red while no
    controller is connected, the controller's flows while it is;
  - a live migration of a red VM to the other cloud keeps it reachable
    through the controller's flows, in dual and at its new place;
  - red's switch p, which the platform forwards for, is linked to s: its VM
    r-c reaches s's VMs only through s's flows, entering on s's end of the
    link, and is reached by them out of it.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ROOT, Skyvisord, free_port, ok
from test_vswitch_agent import (OFPT_FLOW_MOD, Ctl, apply_actions, flow_mod, match,
                                output, set_field)

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUDS = [("tc1", ["gw", "h1"]), ("tc2", ["gw", "h1"])]
VMS = {
    "r-a": ("red", "tc1-h1", "02:00:00:00:00:01", "10.0.0.1"),
    "r-b": ("red", "tc2-h1", "02:00:00:00:00:02", "10.0.0.2"),
    "b-a": ("blue", "tc1-h1", "02:00:00:00:00:01", "10.0.0.1"),
    "b-b": ("blue", "tc2-h1", "02:00:00:00:00:02", "10.0.0.2"),
    "r-c": ("red", "tc2-h1", "02:00:00:00:00:03", "10.0.0.3"),
}
# r-c sits on red's switch p, which the platform forwards for, linked to s.
SWITCH = {"r-c": "p"}


def host_spec():
    clouds = []
    for n, (name, hosts) in enumerate(CLOUDS, start=1):
        hs = []
        for i, h in enumerate(hosts, start=1):
            spec = {"name": f"{name}-{h}", "tunnel_ip": f"198.18.{n}.{i}"}
            if h == "gw":
                spec["public_ip"] = f"198.19.0.{n}"
            hs.append(spec)
        clouds.append({"name": name, "hosts": hs})
    return clouds


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svt{os.getpid() % 1000}", "clouds": host_spec(),
            "vms": [{"name": k, "host": v[1], "iface": k, "mac": v[2], "ip": v[3]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


@pytest.fixture(scope="module")
def world(pg, sim):
    # Audits every 2 s: a translated flow must read back as it was sent.
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--audit-interval", "2"))
    d.start()
    api = d.api()
    port = free_port()
    w = {"daemon": d, "api": api, "sim": sim, "port": port, "tc": None}
    try:
        for name, _ in CLOUDS:
            ok(api.post("/v1/clouds", {"name": name, "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
        for cloud in sim.spec["clouds"]:
            for h in cloud["hosts"]:
                ok(api.post("/v1/hosts", sim.host_body(h, cloud["name"])))
        ok(api.request("PUT", "/v1/cloud-links/tc1/tc2", {"cost": 1}))
        for t, tagging in (("red", "mac-prefix"), ("blue", "rewrite")):
            ok(api.post("/v1/tenants", {"name": t}))
            base = f"/v1/tenants/{t}/networks"
            ok(api.post(base, {"name": "prod", "subnet": "10.0.0.0/24", "tagging": tagging}))
        ok(api.patch("/v1/tenants/red", {"controller_allow": ["127.0.0.1/32"]}))
        ok(api.post("/v1/tenants/red/networks/prod/switches",
                    {"name": "s", "controller": f"tcp:127.0.0.1:{port}"}))
        ok(api.post("/v1/tenants/red/networks/prod/switches", {"name": "p"}))
        ok(api.post("/v1/tenants/red/networks/prod/links", {"name": "sp", "a": "s", "b": "p"}))
        ok(api.post("/v1/tenants/blue/networks/prod/switches", {"name": "s"}))
        for name, (t, host, mac, ip) in VMS.items():
            ok(api.post(f"/v1/tenants/{t}/networks/prod/vms",
                        {"name": name, "mac": mac, "ip": ip, "switch": SWITCH.get(name, "s"),
                         "iface": name,
                         "placement": {"host": host}}))
        wait_realized(api)
        yield w
    finally:
        stop_testcontroller(w)
        rc = d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])
    assert rc == 0, "skyvisord did not stop cleanly (a sanitizer's report?)"


def wait_realized(api, timeout=90):
    deadline = time.time() + timeout
    while True:
        bad = [(t, o["name"], o["status"]) for t in ("red", "blue")
               for o in ok(api.get(f"/v1/tenants/{t}/networks/prod/vms"))["items"]
               if o["status"]["state"] != "realized"]
        if not bad:
            return
        assert time.time() < deadline, f"not realized: {bad}"
        time.sleep(0.5)


def start_testcontroller(w):
    tmp = tempfile.mkdtemp(prefix="testctl-")
    w["tc"] = subprocess.Popen(["ovs-testcontroller", "-O", "OpenFlow13", "--no-chdir",
                                f"--unixctl={tmp}/ctl", f"--log-file={tmp}/log",
                                f"ptcp:{w['port']}:127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_testcontroller(w):
    if w["tc"] and w["tc"].poll() is None:
        w["tc"].send_signal(signal.SIGTERM)
        w["tc"].wait(10)


def pings(sim, vm, ip, tries=1):
    for _ in range(tries):
        if sim.ping(vm, ip, count=2, wait=1):
            return True
    return False


def test_secure_without_its_controller_nothing_passes(world):
    sim = world["sim"]
    assert pings(sim, "b-a", "10.0.0.2", tries=10)
    assert not pings(sim, "r-a", "10.0.0.2", tries=2)
    # Nor from red's platform-forwarded switch across the link into s.
    assert not pings(sim, "r-c", "10.0.0.1", tries=2)


def tenant_metrics(world, prefix="skyvisor_tenant_ctl_"):
    text = world["daemon"].api().get("/metrics", token=None)[2]
    return {k: float(v) for k, v in (l.rsplit(" ", 1) for l in text.splitlines()
                                     if l.startswith(prefix))}


def tenant_table_flows(sim, host):
    """The ICMP flows of the tenant tables (60 and up) on a host's bridge,
    as (table, n_packets) pairs."""
    out = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "dump-flows",
                      f"unix:{sim.hdir(host)}/br-sky.mgmt", ns=None).stdout
    flows = []
    for line in out.splitlines():
        fields = dict(f.split("=", 1) for f in line.replace(",", " ").split()
                      if "=" in f and f.split("=", 1)[0] in ("table", "n_packets"))
        if int(fields.get("table", 0)) >= 60 and "icmp" in line:
            flows.append((int(fields["table"]), int(fields["n_packets"])))
    return flows


def test_the_tenant_controller_forwards(world):
    sim = world["sim"]
    start_testcontroller(world)
    deadline = time.time() + 30
    while not pings(sim, "r-a", "10.0.0.2"):
        assert time.time() < deadline, world["daemon"].read_log()[-5000:]
    assert pings(sim, "r-b", "10.0.0.1", tries=3)
    assert pings(sim, "b-b", "10.0.0.1", tries=3)
    m = tenant_metrics(world)
    assert m["skyvisor_tenant_ctl_connected"] == 1
    assert m["skyvisor_tenant_ctl_packet_ins_total"] > 0
    # Its exact-match flows are in both ingress bridges' tenant tables.
    for host in ("tc1-h1", "tc2-h1"):
        assert tenant_table_flows(sim, host), host
    # Pings now cross the datapath alone: the physical flows count them,
    # and no frame of theirs reaches the agent.
    before = {h: sum(n for _, n in tenant_table_flows(sim, h)) for h in ("tc1-h1", "tc2-h1")}
    frames = (m["skyvisor_tenant_ctl_vm_frames_total"]
              + m["skyvisor_tenant_ctl_datapath_frames_total"])
    assert sim.ping("r-a", "10.0.0.2", count=10, wait=1)
    time.sleep(1.5)                 # the datapath's counters reach the flows
    after = {h: sum(n for _, n in tenant_table_flows(sim, h)) for h in ("tc1-h1", "tc2-h1")}
    assert after["tc1-h1"] - before["tc1-h1"] >= 10, (before, after)
    assert after["tc2-h1"] - before["tc2-h1"] >= 10, (before, after)
    m = tenant_metrics(world)
    assert (m["skyvisor_tenant_ctl_vm_frames_total"]
            + m["skyvisor_tenant_ctl_datapath_frames_total"]) - frames <= 2, m
    # Audits read the translated flows back exactly as they were sent
    # (Open vSwitch's clone and resubmit included): no drift.
    r = tenant_metrics(world, "skyvisor_reconciler_")
    deadline = time.time() + 20
    while tenant_metrics(world, "skyvisor_reconciler_")["skyvisor_reconciler_audits_total"] \
            < r["skyvisor_reconciler_audits_total"] + 2:
        assert time.time() < deadline
        time.sleep(0.5)
    assert tenant_metrics(world, "skyvisor_reconciler_")[
        "skyvisor_reconciler_drift_found_total"] == r["skyvisor_reconciler_drift_found_total"]


def test_a_linked_platform_switch_crosses_into_its_flows(world):
    """r-c, on red's switch p that the platform forwards for, reaches r-a on
    s across the virtual link s--p: into s's tables on s's end of the link
    (its controller learns r-c there), and back out of it into the
    platform; ARP across the link is answered as the platform answers it."""
    sim = world["sim"]
    deadline = time.time() + 30
    while not pings(sim, "r-c", "10.0.0.1"):
        assert time.time() < deadline, "r-c does not reach r-a across the link"
    assert pings(sim, "r-a", "10.0.0.3", tries=3)
    assert pings(sim, "b-a", "10.0.0.2", tries=3)


def test_without_flows_pings_stop(world):
    sim = world["sim"]
    stop_testcontroller(world)
    ctl = Ctl.__new__(Ctl)
    ctl.lsock = socket.socket()
    ctl.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ctl.lsock.bind(("127.0.0.1", world["port"]))
    ctl.lsock.listen(1)
    ctl.port, ctl.sock, ctl.buf, ctl.xid, ctl.pending = world["port"], None, b"", 100, []
    try:
        ctl.accept(timeout=30)
        # Secure: ovs-testcontroller's flows outlived it, until deleted, and
        # the pings went through them (their counters rose).
        flows = ctl.flows()
        assert any(f["priority"] > 0 and f["packets"] > 0 for f in flows), flows
        tables = ctl.table_stats()
        assert sorted(tables) == list(range(16))
        assert tables[0][0] == len(flows) and tables[0][2] > 0, tables
        assert all(v == (0, 0, 0) for t, v in tables.items() if t), tables
        ports = {p["name"]: no for no, p in ctl.ports().items()}
        # A VM port counts what its interface did, the frames the datapath
        # forwarded alone included (r-a sent and got at least the 10 pings
        # above); the interfaces' counters are refreshed every 5 s.
        deadline = time.time() + 20
        while True:
            stats = ctl.port_stats()
            if all(stats[ports[vm]]["rx_packets"] >= 10 and stats[ports[vm]]["tx_packets"] >= 10
                   for vm in ("r-a", "r-b")):
                break
            assert time.time() < deadline, stats
            time.sleep(1)
        # A flow the agent admits but Open vSwitch refuses (a set-field
        # whose prerequisite the match lacks): the bridges refuse it, the
        # reconciler leaves it out and counts it, and the bridges go on.
        bad = flow_mod(priority=4000, m=match(), insts=apply_actions(
            set_field(struct.pack("!II", 0x80001604, 0x0a000009)), output(ports["r-b"])))
        assert ctl.error_of(OFPT_FLOW_MOD, bad) is None
        api = world["api"]
        deadline = time.time() + 30
        while tenant_metrics(world, "skyvisor_reconciler_")[
                "skyvisor_reconciler_tenant_flows_rejected_total"] < 1 \
                or any(ok(api.get(f"/v1/hosts/{h}"))["status"]["state"] != "realized"
                       for h in ("tc1-h1", "tc2-h1")):
            assert time.time() < deadline, [ok(api.get(f"/v1/hosts/{h}"))["status"]
                                            for h in ("tc1-h1", "tc2-h1")]
            time.sleep(0.3)
        assert pings(sim, "b-a", "10.0.0.2", tries=3)
        # A barrier reply means the bridges hold what came before it: a
        # flow added right before one is in both ingress bridges' tables
        # when the reply comes.
        ip_only = match(struct.pack("!IH", 0x80000a02, 0x0800))
        fm = flow_mod(priority=4321, m=ip_only,
                      insts=apply_actions(output(ports["r-b"])))
        assert ctl.error_of(OFPT_FLOW_MOD, fm) is None
        for host in ("tc1-h1", "tc2-h1"):
            assert "priority=4321" in cloudsim.sh(
                "ovs-ofctl", "-O", "OpenFlow13", "dump-flows",
                f"unix:{sim.hdir(host)}/br-sky.mgmt", "table=60", ns=None).stdout, host
        assert ctl.error_of(OFPT_FLOW_MOD, flow_mod(command=3, table=0xff)) is None
        assert ctl.flows() == []
        assert not pings(sim, "r-a", "10.0.0.2", tries=2)
        assert not pings(sim, "r-c", "10.0.0.1", tries=2)
        assert pings(sim, "b-a", "10.0.0.2", tries=3)
    finally:
        ctl.close()
        ctl.lsock.close()


def test_standalone_forwards_by_the_platform_while_its_controller_is_away(world):
    """fail_mode standalone: the platform's own forwarding while no
    controller is connected, the tenant's flows while one is."""
    sim, api = world["sim"], world["api"]
    ok(api.patch("/v1/tenants/red/networks/prod/switches/s", {"fail_mode": "standalone"}))
    deadline = time.time() + 30
    while not pings(sim, "r-a", "10.0.0.2"):
        assert time.time() < deadline, "the platform did not take over"
    assert not tenant_table_flows(sim, "tc1-h1")
    start_testcontroller(world)
    deadline = time.time() + 30
    while not tenant_table_flows(sim, "tc1-h1") and pings(sim, "r-a", "10.0.0.2"):
        assert time.time() < deadline, "the controller's flows never came"
    assert tenant_metrics(world)["skyvisor_tenant_ctl_connected"] == 1
    assert pings(sim, "r-a", "10.0.0.2", tries=3)
    assert tenant_table_flows(sim, "tc1-h1")
    stop_testcontroller(world)
    deadline = time.time() + 30
    while tenant_metrics(world)["skyvisor_tenant_ctl_connected"]:
        assert time.time() < deadline
        time.sleep(0.2)
    deadline = time.time() + 30
    while not pings(sim, "r-a", "10.0.0.2"):
        assert time.time() < deadline, "the platform did not take over again"
    assert pings(sim, "b-a", "10.0.0.2", tries=3)


GARP = """
import socket, sys
mac = bytes.fromhex(sys.argv[2].replace(":", "")); ip = socket.inet_aton(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0))
arp = b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01" + mac + ip + b"\\x00" * 6 + ip
s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + arp + b"\\x00" * 18)
"""


def test_a_controlled_vm_migrates_under_its_tenants_flows(world):
    """r-b moves from tc2-h1 to tc1-h1 (live migration) while its switch is
    secure and ovs-testcontroller forwards: the translated flows follow each
    phase (ctrl/vtranslate.h: an output to r-b goes where the phase sends
    r-b's frames), and r-a reaches it at its new place through them."""
    sim, api = world["sim"], world["api"]
    red = "/v1/tenants/red/networks/prod"
    ok(api.patch(f"{red}/switches/s", {"fail_mode": "secure"}))
    start_testcontroller(world)
    deadline = time.time() + 30
    while not pings(sim, "r-a", "10.0.0.2"):
        assert time.time() < deadline, "the controller's flows never came"
    # The hypervisor's part: r-b's second NIC (same MAC and IP), its host
    # end on tc1-h1 under r-b's interface name.
    vns, hns = sim.vm_ns("r-b"), sim.host_ns("tc1-h1")
    _, _, mac, ip = VMS["r-b"]
    cloudsim.sh("ip", "link", "add", "eth1", "netns", vns, "mtu", "1400", "type", "veth",
                "peer", "name", "r-b", "netns", hns)
    cloudsim.sh("ip", "-n", vns, "link", "set", "eth1", "address", mac)
    cloudsim.sh("ip", "netns", "exec", vns, "sysctl", "-qw", "net.ipv4.conf.eth1.rp_filter=0")
    cloudsim.sh("ip", "-n", vns, "link", "set", "eth1", "up")
    cloudsim.sh("ip", "-n", hns, "link", "set", "r-b", "up")
    cloudsim.sh("ethtool", "-K", "eth1", "tx", "off", ns=vns, check=False)
    st, hdrs, m = api.post(f"{red}/vms/r-b/migrations", {"host": "tc1-h1"})
    assert st == 202, m
    loc = hdrs["location"]

    def phase():
        return ok(api.get(loc))["phase"]
    deadline = time.time() + 60
    while phase() not in ("dual", "done", "rolled-back", "failed"):
        assert time.time() < deadline, ok(api.get(loc))
        time.sleep(0.1)
    assert phase() == "dual", ok(api.get(loc))
    # In dual both places get r-a's frames: it still reaches r-b at tc2-h1.
    assert pings(sim, "r-a", "10.0.0.2", tries=3)
    # r-b resumes behind eth1: its address, route and a gratuitous ARP.
    cloudsim.sh("ip", "-n", vns, "addr", "del", f"{ip}/24", "dev", "eth0")
    cloudsim.sh("ip", "-n", vns, "addr", "add", f"{ip}/24", "dev", "eth1")
    f = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    f.write(GARP)
    f.close()
    subprocess.run(["ip", "netns", "exec", vns, sys.executable, f.name, "eth1", mac, ip],
                   check=True, timeout=10)
    deadline = time.time() + 60
    while phase() not in ("done", "rolled-back", "failed"):
        assert time.time() < deadline, ok(api.get(loc))
        time.sleep(0.1)
    assert phase() == "done", ok(api.get(loc))
    assert ok(api.get(f"{red}/vms/r-b"))["placement"]["host"] == "tc1-h1"
    # r-a reaches r-b at its new place through the tenant's flows, and r-b
    # answers from there: both ingress edges are now tc1-h1's tenant tables.
    before = sum(n for _, n in tenant_table_flows(sim, "tc1-h1"))
    deadline = time.time() + 30
    while not pings(sim, "r-a", "10.0.0.2"):
        assert time.time() < deadline, "r-b unreachable after the move"
    assert pings(sim, "r-b", "10.0.0.1", tries=3)
    time.sleep(1.5)                 # the datapath's counters reach the flows
    assert sum(n for _, n in tenant_table_flows(sim, "tc1-h1")) > before
    assert pings(sim, "b-a", "10.0.0.2", tries=3)   # blue never noticed
    # No VM of s is left on tc2-h1, yet r-c there still enters s's flows.
    deadline = time.time() + 30
    while not pings(sim, "r-c", "10.0.0.1"):
        assert time.time() < deadline, "r-c lost s when r-b left its host"
