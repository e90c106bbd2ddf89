"""Installed flows on real Open vSwitch: what skyvisord believes each bridge
holds, how drift is found and repaired, and in which order changes go in.

One simulated cloud (tools/cloudsim.py): a gateway and a worker host, each
an Open vSwitch in its own namespace; red (mac-prefix) has f-peer on the
worker and f-old on the gateway; f-new (gateway), f-late and f-extra
(worker) exist as namespaces only, declared by the tests.  skyvisord runs with a short
audit interval.  The scenarios:
- an ordinary change is diffed against the installed-flow tables: no
  bridge is read back for it (only the audits read bridges back);
- a flow deleted behind skyvisord's back comes back within seconds (the
  bridge's flow-removed notification, not the next audit);
- a flow of skyvisord's cookie added behind its back is found by the audit,
  counted as drift and removed;
- a VM's port deleted behind skyvisord's back is put back, its flows
  following its new OpenFlow number, its neighbour's port untouched;
- make before break: a VM added while a peer sends to it at 1 000
  datagrams/s loses nothing once its first datagram was answered, and no
  frame of that flow reaches the controller after that answer (the
  reactive path is not what carries it);
- a restarted skyvisord that cannot reach one bridge's OVSDB server yet
  plans no bridge until it can (or the start hold ends): the bridges of a
  change that spans them go in one pass, in order.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from conftest import ROOT, Skyvisord, ok
from udpprobe import Echo

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUD = "fs1"
HOSTS = [{"name": "fs1-gw", "tunnel_ip": "198.18.3.1", "public_ip": "198.19.3.1"},
         {"name": "fs1-h1", "tunnel_ip": "198.18.3.2"}]
# name: (host, mac, ip); the first two are declared by the fixture.
VMS = {
    "f-peer": ("fs1-h1", "02:00:00:00:03:01", "10.3.0.1"),
    "f-old": ("fs1-gw", "02:00:00:00:03:02", "10.3.0.2"),
    "f-new": ("fs1-gw", "02:00:00:00:03:03", "10.3.0.3"),
    "f-late": ("fs1-h1", "02:00:00:00:03:04", "10.3.0.4"),
    "f-extra": ("fs1-h1", "02:00:00:00:03:05", "10.3.0.5"),
}
AUDIT_S = 2
NET = "/v1/tenants/red/networks/prod"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"sfs{os.getpid() % 1000}",
            "clouds": [{"name": CLOUD, "hosts": HOSTS}],
            "vms": [{"name": k, "host": v[0], "iface": k, "mac": v[1], "ip": v[2]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


def vm_body(name):
    host, mac, ip = VMS[name]
    return {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
            "placement": {"host": host}}


def declare_vm(api, name):
    return ok(api.post(f"{NET}/vms", vm_body(name)))


def wait_realized(api, names, timeout=30):
    deadline = time.time() + timeout
    while True:
        states = {o["name"]: o["status"]["state"]
                  for o in ok(api.get(f"{NET}/vms"))["items"]}
        if all(states.get(n) == "realized" for n in names):
            return
        assert time.time() < deadline, f"not realized: {states}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def world(pg, sim):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--log-level", "debug", "--audit-interval", str(AUDIT_S)))
    d.start()
    api = d.api()
    try:
        ok(api.post("/v1/clouds", {"name": CLOUD, "provider": "aws", "region": "r1",
                                   "jurisdiction": "DE", "kind": "public"}))
        for h in HOSTS:
            ok(api.post("/v1/hosts", sim.host_body(h, CLOUD)))
        ok(api.post("/v1/tenants", {"name": "red"}))
        ok(api.post("/v1/tenants/red/networks", {"name": "prod", "subnet": "10.3.0.0/24"}))
        ok(api.post(f"{NET}/switches", {"name": "s"}))
        for name in ("f-peer", "f-old"):
            declare_vm(api, name)
        wait_realized(api, ["f-peer", "f-old"], timeout=60)
        yield d, api, sim
    finally:
        d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])


def metric(api, name):
    st, _, text = api.get("/metrics", token=None)
    assert st == 200
    prefix = f"skyvisor_reconciler_{name} "
    return float(next(l for l in text.splitlines() if l.startswith(prefix)).split()[1])


def ofctl(sim, host, *args):
    return cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", *args[:1],
                       f"unix:{sim.hdir(host)}/br-sky.mgmt", *args[1:])


def flows(sim, host, spec):
    return [l.strip() for l in ofctl(sim, host, "dump-flows", spec).stdout.splitlines()
            if "cookie=" in l]


def wait_for(what, cond, timeout):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_an_ordinary_change_reads_no_bridge_back(world):
    d, api, sim = world
    # Between two audits (each reads both bridges back), a change is diffed
    # against the tables alone.
    wait_for("an audit", lambda: metric(api, "audits_total") >= 1, 3 * AUDIT_S)
    audits, readbacks = metric(api, "audits_total"), metric(api, "readbacks_total")
    added = metric(api, "flows_added_total")
    declare_vm(api, "f-extra")
    wait_realized(api, ["f-extra"])
    wait_for("f-extra's flows", lambda: metric(api, "flows_added_total") > added, 5)
    new_audits = metric(api, "audits_total") - audits
    assert metric(api, "readbacks_total") - readbacks == len(HOSTS) * new_audits


def test_a_flow_deleted_behind_our_back_comes_back(world):
    d, api, sim = world
    spec = "table=40"
    before = flows(sim, "fs1-gw", spec)
    assert before
    found, repaired = metric(api, "drift_found_total"), metric(api, "drift_repaired_total")
    audits = metric(api, "audits_total")
    ofctl(sim, "fs1-gw", "del-flows", spec)
    assert not flows(sim, "fs1-gw", spec)
    # Well within one audit interval: the flow-removed notification did it.
    wait_for(f"{spec} restored", lambda: len(flows(sim, "fs1-gw", spec)) == len(before),
             AUDIT_S * 0.9)
    assert metric(api, "drift_found_total") >= found + len(before)
    wait_for("drift repaired",
             lambda: metric(api, "drift_repaired_total") >= repaired + len(before), 5)
    assert metric(api, "audits_total") - audits <= 1


def ofport(sim, host, iface):
    out = sim.vsctl(host, "--if-exists", "get", "Interface", iface, "ofport").stdout.strip()
    return int(out) if out.lstrip("-").isdigit() else 0


def port_uuid(sim, host, name):
    return sim.vsctl(host, "--if-exists", "get", "Port", name, "_uuid").stdout.strip()


def test_a_port_deleted_behind_our_back_comes_back(world):
    """A VM port is checked again when its host's OVSDB reports a change of a
    row of its name: deleted with ovs-vsctl, it is put back (a new Port row
    and a new Interface), the VM's delivery flow outputs to its number, and
    its neighbour's port, which nothing touched, stays the same row."""
    d, api, sim = world
    if not any(o["name"] == "f-extra" for o in ok(api.get(f"{NET}/vms"))["items"]):
        declare_vm(api, "f-extra")              # a neighbour on the same bridge
    wait_realized(api, ["f-peer", "f-extra"])
    was, neighbour = port_uuid(sim, "fs1-h1", "f-peer"), port_uuid(sim, "fs1-h1", "f-extra")
    assert was and neighbour
    sim.vsctl("fs1-h1", "del-port", "br-sky", "f-peer")
    wait_for("f-peer's port back as a new row",
             lambda: port_uuid(sim, "fs1-h1", "f-peer") not in ("", was), 10)
    assert "f-peer" in sim.vsctl("fs1-h1", "list-ports", "br-sky").stdout.split()
    wait_for("f-peer numbered", lambda: ofport(sim, "fs1-h1", "f-peer") > 0, 10)
    new = ofport(sim, "fs1-h1", "f-peer")
    wait_for(f"f-peer's delivery to port {new}",
             lambda: any(f"output:{new}" in l for l in flows(sim, "fs1-h1", "table=40")),
             10)
    wait_realized(api, ["f-peer", "f-extra"])
    assert port_uuid(sim, "fs1-h1", "f-extra") == neighbour


def test_the_audit_removes_a_flow_added_behind_our_back(world):
    d, api, sim = world
    stray = "table=40,priority=1,cookie=0xa100000000000099,actions=drop"
    found = metric(api, "drift_found_total")
    ofctl(sim, "fs1-h1", "add-flow", stray)
    assert flows(sim, "fs1-h1", "table=40,cookie=0xa100000000000099/-1")
    wait_for("the stray flow removed",
             lambda: not flows(sim, "fs1-h1", "table=40,cookie=0xa100000000000099/-1"),
             3 * AUDIT_S)
    assert metric(api, "drift_found_total") >= found + 1


PEER_SCRIPT = r"""
import json, socket, struct, sys, time
dst, port, rate, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
run = 0x1f2e3d4c
got = {}
sent = 0
print("ready", flush=True)
start = time.monotonic()
end = start + duration
while True:
    now = time.monotonic()
    due = min(int((now - start) * rate) + 1, int(duration * rate))
    while sent < due:
        try:
            s.sendto(struct.pack(">IIQq", 0x534b5950, run, sent, 0) + bytes(40), (dst, port))
        except OSError:
            pass
        sent += 1
    try:
        while True:
            data = s.recv(2048)
            magic, r, seq, _ = struct.unpack(">IIQq", data[:24])
            if magic == 0x534b5950 and r == run and seq not in got:
                got[seq] = time.time()
    except BlockingIOError:
        pass
    if now > end + 0.5:
        break
    time.sleep(0.0002)
first = min(got, key=got.get) if got else None
print(json.dumps({"sent": sent, "received": len(got), "first_seq": first,
                  "first_at": got[first] if got else None,
                  "lost_after": sum(1 for q in range(first, sent) if q not in got)
                  if got else None}), flush=True)
"""


def tenant_flow_packets(sim, host, cookie):
    """Packets counted by the tenant-table flows of 'cookie' on 'host'."""
    return sum(int(re.search(r"n_packets=(\d+)", l).group(1))
               for l in flows(sim, host, f"table=10,cookie={cookie}/-1"))


def wait_stable(read, timeout=10):
    """read() once two reads 0.6 s apart agree (Open vSwitch folds datapath
    statistics into its flows' counters every half second or so)."""
    deadline = time.time() + timeout
    prev = read()
    while True:
        time.sleep(0.6)
        cur = read()
        if cur == prev or time.time() > deadline:
            return cur
        prev = cur


def log_time(line):
    """The wall-clock time of a log line, in seconds."""
    stamp = line.split(" ", 1)[0]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def test_make_before_break(world):
    """Two VMs added in one batch, one on each bridge, each while a peer on
    the other bridge sends to it: whichever bridge goes first, a peer's
    ingress rule is confirmed only after the flows it leads to on both
    bridges, and a VM answers only once every rule towards it is in.  A pass
    that finished one bridge before starting the other would let that
    bridge's new VM answer while the other bridge still sent its frames to
    the controller."""
    d, api, sim = world
    pairs = (("f-peer", "f-new"), ("f-old", "f-late"))
    # Each peer knows its VM's address already: its frames reach its bridge
    # from the first datagram on and miss there until the flows are in.  The
    # VM knows its peer's too, so its answers never wait for ARP.
    for peer, new in pairs:
        for a, b in ((peer, new), (new, peer)):
            cloudsim.sh("ip", "neigh", "replace", VMS[b][2], "lladdr", VMS[b][1],
                        "dev", "eth0", "nud", "permanent", ns=sim.vm_ns(a))
    forwarded = metric(api, "reactive_forwarded_total")
    echoes = [Echo(sim.vm_ns(new), f"{VMS[new][2]}:7001").start() for _, new in pairs]
    try:
        procs = []
        for peer, new in pairs:
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", sim.vm_ns(peer), sys.executable, "-c",
                 PEER_SCRIPT, VMS[new][2], "7001", "1000", "3"],
                stdout=subprocess.PIPE, text=True))
            assert procs[-1].stdout.readline().strip() == "ready"
        time.sleep(0.2)
        ok(api.post(f"{NET}/batch", {"operations": [
            {"op": "create", "kind": "vm", "body": vm_body(new)} for _, new in pairs]}))
        results = [json.loads(p.communicate(timeout=30)[0].strip().splitlines()[-1])
                   for p in procs]
    finally:
        for e in echoes:
            e.finish(signal.SIGTERM)
    log = d.read_log().splitlines()
    tag = ok(api.get("/v1/tenants/red"))["tag"]
    forwarded_log = 0
    for (peer, new), res in zip(pairs, results):
        print(f"make before break {peer} -> {new}: {res}")
        assert res["received"] > 0, res
        assert res["first_seq"] > 0, res    # it started before the VM existed
        assert res["lost_after"] == 0, res
        # Every frame of this flow that reached the controller did so
        # before the first answer.
        host = VMS[peer][0]
        mac = VMS[new][1].replace(":", "")
        decisions = [l for l in log if f"reactive: host {host}: {peer} -> " in l
                     and (f"-> {new} " in l or mac in l)]
        late = [l for l in decisions if log_time(l) > res["first_at"]]
        assert not late, late[:5]
        forwarded_pair = sum(1 for l in decisions if "forwarded" in l)
        forwarded_log += forwarded_pair
        # Every answered datagram crossed the peer's bridge by the
        # tenant-table flow towards the VM, but those the controller
        # forwarded before the first answer (a packet-out still on its way
        # when the VM came up is answered too).
        cookie = "0xa2%04x%010x" % (tag, int(mac, 16) & 0xffffffff)
        through = wait_stable(lambda: tenant_flow_packets(sim, host, cookie))
        assert through + forwarded_pair >= res["received"], (through, forwarded_pair, res)
    # The metrics agree with the log: the reactive path forwarded no more
    # of these flows than the log shows before the first answers.
    assert metric(api, "reactive_forwarded_total") - forwarded >= forwarded_log


def test_a_restart_plans_no_bridge_before_every_replica_is_read(world):
    """skyvisord restarts while it cannot reach the gateway's OVSDB server
    (its socket moved aside; the gateway's ovs-vswitchd keeps its own
    session and its OpenFlow socket answers).  The worker's bridge, fully
    reachable, is not planned meanwhile: planned alone, a change spanning
    both bridges could reach the worker's ingress rules before the
    gateway's flows they lead to.  Once the gateway's replica is read, both
    are realized."""
    d, api, sim = world
    sock = os.path.join(sim.hdir("fs1-gw"), "db.sock")
    held = "waiting for every bridge to connect before the first plan"

    def status(host):
        return ok(api.get(f"/v1/hosts/{host}"))["status"]

    d.stop()
    os.rename(sock, sock + ".away")
    try:
        d.start()
        wait_for("the worker held", lambda: status("fs1-h1").get("detail") == held, 2.5)
        gw = status("fs1-gw")
        assert gw["state"] == "pending" and "OVSDB" in gw["detail"], gw
        assert status("fs1-h1")["state"] == "pending"
    finally:
        os.rename(sock + ".away", sock)
    wait_for("both hosts realized",
             lambda: all(status(h)["state"] == "realized" for h in ("fs1-gw", "fs1-h1")), 20)
    wait_realized(api, ["f-peer", "f-old"])
