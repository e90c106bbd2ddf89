"""Live migration of a VM across clouds on real Open vSwitch, with the
traffic it carries counted throughout.

Three simulated clouds (tools/cloudsim.py), each a gateway and one host.
Red's VM `v` lives on mg1-h1; its peer `p` on mg3-h1 sends it
sequence-numbered UDP at 1 000 packets/s (tools/udpprobe), which `v`
echoes, and keeps a TCP connection to it carrying data.  Blue, another
tenant, has VMs with the very same MACs and IPs: `bv` on mg2-h1 (where `v`
goes) and `bp` beside `p`.

The move is what a cloud hypervisor does, done to the VM's namespace: a
second NIC with the same MAC and IP whose host end is plugged into the
target host (named as the VM's `iface`, so skyvisor plugs it into its
bridge when the migration clones the VM there); activation moves the VM's
route to that NIC and announces it with a gratuitous ARP; once the
migration is done, the old NIC is deleted.  Both NICs receive while the
migration duplicates traffic, so the echo answers some datagrams twice:
the probe reports those as duplicated, never as lost.

The WAN between the gateways is run at 0 ms and, through the userspace
delay relay of shared/machine (wandelay.py) on every gateway's WAN link,
at 50 ms round trip; skyvisord then sits in mg1 and reaches the hosts of
mg2 and mg3 (OVSDB and OpenFlow) over TCP through a proxy that delays
each direction by half the round trip, so its control channel feels the
WAN too.

Then what a migration must survive: a rollback asked for in dual (the
VM never stops answering at its source), a target host whose switch is
down (rolled back, the detail says why), and a skyvisord that dies in each
phase (SKYVISOR_FAILPOINT) and resumes when it comes back.
"""

import asyncio
import contextlib
import threading

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ROOT, SANITIZED, Capture, Skyvisord, ok
from udpprobe import Echo, Sender

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

WANDELAY = "/work/shared/machine/wandelay.py"
HOSTS = {
    "mg1": [{"name": "mg1-gw", "tunnel_ip": "198.18.31.1", "public_ip": "198.19.3.1"},
            {"name": "mg1-h1", "tunnel_ip": "198.18.31.2"},
            {"name": "mg1-h2", "tunnel_ip": "198.18.31.3"}],
    "mg2": [{"name": "mg2-gw", "tunnel_ip": "198.18.32.1", "public_ip": "198.19.3.2"},
            {"name": "mg2-h1", "tunnel_ip": "198.18.32.2"}],
    "mg3": [{"name": "mg3-gw", "tunnel_ip": "198.18.33.1", "public_ip": "198.19.3.3"},
            {"name": "mg3-h1", "tunnel_ip": "198.18.33.2"}],
}
MAC_V, IP_V = "02:00:00:00:61:01", "10.61.0.1"
MAC_P, IP_P = "02:00:00:00:61:02", "10.61.0.2"
# name: (tenant, host, mac, ip, iface)
VMS = {
    "v": ("red", "mg1-h1", MAC_V, IP_V, "mgv"),
    "p": ("red", "mg3-h1", MAC_P, IP_P, "mgp"),
    "bv": ("blue", "mg2-h1", MAC_V, IP_V, "mgbv"),
    "bp": ("blue", "mg3-h1", MAC_P, IP_P, "mgbp"),
}
RED = "/v1/tenants/red/networks/n"
# v's NIC in use and the number of NICs it has had (the scenarios after the
# first move take turns).
NIC = {"v": "eth1", "n": 1}
ALL_HOSTS = [h["name"] for hs in HOSTS.values() for h in hs]

# A TCP peer in one namespace and a client in another: the client writes a
# numbered line every 5 ms and checks that each comes back in order; on
# SIGTERM it prints what it sent and got back, and whether the connection
# broke.
TCP_SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7002)); s.listen(1); print("listening", flush=True)
c, _ = s.accept()
while True:
    b = c.recv(65536)
    if not b:
        break
    c.sendall(b)
"""
TCP_CLIENT = """
import json, signal, socket, sys, time
stop = False
def bye(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, bye)
c = socket.create_connection((sys.argv[1], 7002), timeout=30)
c.settimeout(30)
print("connected", flush=True)
sent = got = 0; err = None; buf = b""
while not stop:
    try:
        c.sendall(b"%08d\\n" % sent); sent += 1
        while not stop and b"\\n" not in buf:
            buf += c.recv(4096)
        while b"\\n" in buf:
            line, buf = buf.split(b"\\n", 1)
            if int(line) != got:
                err = "out of order: %s after %d" % (line, got); stop = True; break
            got += 1
    except OSError as e:
        err = str(e); break
    time.sleep(0.005)
print(json.dumps({"sent": sent, "got": got, "error": err}), flush=True)
"""
GARP = """
import socket, sys
mac = bytes.fromhex(sys.argv[2].replace(":", "")); ip = socket.inet_aton(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0))
arp = b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01" + mac + ip + b"\\x00" * 6 + ip
s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + arp + b"\\x00" * 18)
"""


def wait_for(what, pred, timeout=40, every=0.05):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


class DelayProxy:
    """TCP on 127.0.0.1 to Unix sockets, every chunk delivered 'delay_s'
    after it was read, in order: a WAN between skyvisord and a host."""

    def __init__(self, delay_s):
        self.delay = delay_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def forward(self, path):
        """A 'tcp:127.0.0.1:PORT' target that leads to Unix socket 'path'."""
        async def start():
            srv = await asyncio.start_server(lambda r, w: self._conn(r, w, path),
                                             "127.0.0.1", 0)
            return srv.sockets[0].getsockname()[1]
        port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        return f"tcp:127.0.0.1:{port}"

    async def _pump(self, reader, writer):
        q = asyncio.Queue()

        async def out():
            while True:
                due, data = await q.get()
                if data is None:
                    break
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                writer.write(data)
                await writer.drain()
            writer.close()
        task = asyncio.ensure_future(out())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                q.put_nowait((self.loop.time() + self.delay, data))
        except OSError:
            pass
        q.put_nowait((0, None))
        await task

    async def _conn(self, reader, writer, path):
        try:
            r2, w2 = await asyncio.open_unix_connection(path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, w2), self._pump(r2, writer),
                             return_exceptions=True)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def relay_wan(sim, one_way_ms):
    """Puts every gateway's WAN link behind a delay relay of half the
    one-way delay (a frame between two gateways crosses two relays)."""
    procs = []
    for ci, (cloud, hs) in enumerate(HOSTS.items()):
        for hi, h in enumerate(hs):
            if "public_ip" not in h:
                continue
            outer, a, b = f"w{ci}x{hi}", f"r{ci}x{hi}a", f"r{ci}x{hi}b"
            cloudsim.sh("ip", "-n", sim.fabric, "link", "set", outer, "nomaster")
            cloudsim.sh("ip", "-n", sim.fabric, "link", "add", a, "mtu", "1600", "type",
                        "veth", "peer", "name", b, "mtu", "1600")
            cloudsim.sh("ip", "-n", sim.fabric, "link", "set", b, "master", "wan", "up")
            cloudsim.sh("ip", "-n", sim.fabric, "link", "set", a, "up")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", sim.fabric, sys.executable, WANDELAY, outer, a,
                 str(one_way_ms / 2)]))
    return procs


@contextlib.contextmanager
def build_world(pg, state, rtt, prefix, show_log=True, leases=False):
    """The clouds of HOSTS with the VMs of VMS realized-to-be, the WAN at
    'rtt' ms (relays and the control-channel proxy), and a skyvisord on a
    fresh database (with 'leases', one that writes only the clouds whose
    lease it holds, --leases): yields {d, api, sim, ids, rtt}.
    bench/migration.py builds its worlds with it too."""
    spec = {"prefix": prefix,
            "clouds": [{"name": c, "hosts": hs} for c, hs in HOSTS.items()],
            "vms": [{"name": k, "host": v[1], "iface": v[4], "mac": v[2], "ip": v[3]}
                    for k, v in VMS.items()]}
    relays = []
    proxy = DelayProxy(rtt / 2000) if rtt else None
    with cloudsim.Sim(spec, state) as sim:
        if rtt:
            relays = relay_wan(sim, rtt / 2)
        extra = ("--log-level", "debug", "--migration-drain-ms", str(max(200, rtt)))
        if leases:
            extra += ("--leases", "--lease-ms", "1000", "--heartbeat-ms", "250")
        d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True, extra=extra)
        d.start()
        api = d.api()
        try:
            for c, hs in HOSTS.items():
                ok(api.post("/v1/clouds", {"name": c, "provider": "private", "region": "r1",
                                           "jurisdiction": "PT", "kind": "private"}))
                for h in hs:
                    body = sim.host_body(h, c)
                    if proxy and c != "mg1":
                        body["ovsdb"] = proxy.forward(body["ovsdb"][len("unix:"):])
                        body["openflow"] = proxy.forward(body["openflow"][len("unix:"):])
                    ok(api.post("/v1/hosts", body))
            for t in ("red", "blue"):
                ok(api.post("/v1/tenants", {"name": t}))
                ok(api.post(f"/v1/tenants/{t}/networks",
                            {"name": "n", "subnet": "10.61.0.0/24", "tagging": "mac-prefix"}))
                ok(api.post(f"/v1/tenants/{t}/networks/n/switches", {"name": "s"}))
            ids = {}
            for name, (t, host, mac, ip, iface) in VMS.items():
                ids[name] = ok(api.post(f"/v1/tenants/{t}/networks/n/vms",
                                        {"name": name, "mac": mac, "ip": ip, "switch": "s",
                                         "iface": iface, "placement": {"host": host}}))["id"]
            for name in VMS:
                vns = sim.vm_ns(name)
                for k in ("all", "default", "eth0"):
                    cloudsim.sh("ip", "netns", "exec", vns, "sysctl", "-qw",
                                f"net.ipv4.conf.{k}.rp_filter=0")
            yield {"d": d, "api": api, "sim": sim, "ids": ids, "rtt": rtt}
        finally:
            rc = d.stop()
            for p in relays:
                p.terminate()
                p.wait()
            if proxy:
                proxy.close()
            if show_log:
                print("\n".join(l for l in d.read_log().splitlines()
                                if " http" not in l)[-30000:])
        assert rc == 0, f"skyvisord exited {rc}"


# The WAN's round trip, and whether skyvisord runs with --leases (a
# restarted instance then takes its clouds over from its own former self).
@pytest.fixture(scope="module", params=[(0, False), (50, False), (0, True)],
                ids=["rtt0", "rtt50", "rtt0-leases"])
def world(request, pg, tmp_path_factory):
    rtt, leases = request.param
    with build_world(pg, str(tmp_path_factory.mktemp("cloudsim")), rtt,
                     f"svm{os.getpid() % 1000}{rtt}{'l' if leases else ''}",
                     leases=leases) as w:
        yield w


def realized(api, path):
    st = ok(api.get(path))["status"]
    return st["state"] == "realized" and st["observed_generation"] == st["generation"]


def flows(sim, host):
    """Every flow of 'host''s bridge, without counters or ages."""
    p = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-names", "--no-stats",
                    "dump-flows", f"unix:{sim.hdir(host)}/br-sky.mgmt")
    return sorted(l.strip() for l in p.stdout.splitlines() if "cookie=" in l)


def py(sim, vm, script, *args, **kw):
    f = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    f.write(script)
    f.close()
    return subprocess.Popen(["ip", "netns", "exec", sim.vm_ns(vm), sys.executable, f.name,
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def second_nic(sim, vm, host, iface):
    """The hypervisor's part before the move: VM 'vm''s second NIC (eth1,
    same MAC and IP) with its host end 'iface' in 'host''s namespace."""
    vns, hns = sim.vm_ns(vm), sim.host_ns(host)
    _, _, mac, ip, _ = VMS[vm]
    cloudsim.sh("ip", "link", "add", "eth1", "netns", vns, "mtu", "1400", "type", "veth",
                "peer", "name", iface, "netns", hns)
    cloudsim.sh("ip", "-n", vns, "link", "set", "eth1", "address", mac)
    cloudsim.sh("ip", "netns", "exec", vns, "sysctl", "-qw", "net.ipv4.conf.eth1.rp_filter=0")
    cloudsim.sh("ip", "-n", vns, "addr", "add", f"{ip}/32", "dev", "eth1")
    cloudsim.sh("ip", "-n", vns, "link", "set", "eth1", "up")
    cloudsim.sh("ip", "-n", hns, "link", "set", iface, "up")
    cloudsim.sh("ethtool", "-K", "eth1", "tx", "off", ns=vns, check=False)


def move_neighbours(vns, old, nic):
    """The VM's ARP cache moves with it (it is in its memory): the entries
    of 'old' are copied to 'nic' (stale: the kernel re-checks them)."""
    out = cloudsim.sh("ip", "-n", vns, "neigh", "show", "dev", old).stdout
    for line in out.splitlines():
        f = line.split()
        if "lladdr" in f:
            cloudsim.sh("ip", "-n", vns, "neigh", "replace", f[0], "lladdr",
                        f[f.index("lladdr") + 1], "dev", nic, "nud", "stale")


def activate_nic(sim, vm):
    """The VM resumes behind eth1: its route and ARP cache move there and
    it announces itself with a gratuitous ARP."""
    vns = sim.vm_ns(vm)
    _, _, mac, ip, _ = VMS[vm]
    move_neighbours(vns, "eth0", "eth1")
    cloudsim.sh("ip", "-n", vns, "route", "replace", "10.61.0.0/24", "dev", "eth1",
                "src", ip)
    p = py(sim, vm, GARP, "eth1", mac, ip)
    assert p.wait(10) == 0, p.stderr.read()


def reach(sim, src, ip):
    """Pings from VM 'src' to 'ip' answered (three tries of five)."""
    return any(sim.ping(src, ip, count=5, wait=1) for _ in range(3))


def migration(api, loc):
    return ok(api.get(loc))


def test_live_migration_loses_nothing(world):
    d, api, sim, ids, rtt = (world[k] for k in ("d", "api", "sim", "ids", "rtt"))
    NIC.update(v="eth1", n=1)
    for name, (t, *_rest) in VMS.items():
        wait_for(f"{name} realized",
                 lambda: realized(api, f"/v1/tenants/{t}/networks/n/vms/{name}"), 90, 0.3)
    assert reach(sim, "p", IP_V)

    srv = py(sim, "v", TCP_SERVER)
    assert srv.stdout.readline().strip() == "listening"
    cli = py(sim, "p", TCP_CLIENT, IP_V)
    assert cli.stdout.readline().strip() == "connected", cli.stderr.read()
    phases = {}
    with Capture(sim, "bv") as blue, Echo(sim.vm_ns("v"), f"{IP_V}:7001"), \
            Sender(sim.vm_ns("p"), f"{IP_V}:7001", "--rate", "1000",
                   "--linger", str(1000 + 4 * rtt)) as probe:
        time.sleep(1)
        second_nic(sim, "v", "mg2-h1", "mgv")
        probe.mark()                                    # window 1: the migration
        st, hdrs, m = api.post(f"{RED}/vms/v/migrations", {"host": "mg2-h1"})
        assert st == 202, m
        loc = hdrs["location"]
        assert m["phase"] == "prepare" and m["from_host"] == "mg1-h1" \
            and m["to_host"] == "mg2-h1", m
        wait_for("dual", lambda: migration(api, loc)["phase"] in ("dual", "done"), 60)
        probe.mark()                                    # window 2: dual
        # A VM added while both places receive is reachable from v's new
        # place once it moves.  (On a host of its own: adding a port to a
        # userspace datapath costs that host's traffic a few packets.)
        ok(api.post(f"{RED}/vms", {"name": "late", "mac": "02:00:00:00:61:09",
                                   "ip": "10.61.0.9", "switch": "s", "iface": "mgl",
                                   "placement": {"host": "mg1-h2"}}))
        late = {"name": "late", "host": "mg1-h2", "iface": "mgl",
                "mac": "02:00:00:00:61:09", "ip": "10.61.0.9"}
        sim.spec["vms"].append(late)            # torn down with the others
        sim.vm_up(late)
        wait_for("late realized", lambda: realized(api, f"{RED}/vms/late"), 60, 0.2)
        # The copies are counted while they flow.
        wait_for("copies counted", lambda: migration(api, loc)["counters"]["duplicated"] > 0,
                 10, 0.2)
        probe.mark()                                    # window 3: activation
        activate_nic(sim, "v")
        probe.mark()                                    # window 4: activate
        wait_for("cleanup", lambda: migration(api, loc)["phase"] in
                 ("cleanup", "done", "rolled-back", "failed"), 60, 0.02)
        probe.mark()                                    # window 5: cleanup
        m = wait_for("done", lambda: (lambda x: x if x["phase"] in
                                      ("done", "rolled-back", "failed") else None)(
            migration(api, loc)), 60, 0.02)
        assert m["phase"] == "done", m
        phases = m["phase_times"]
        probe.mark()                                    # window 6: after
        time.sleep(1)
        cloudsim.sh("ip", "-n", sim.vm_ns("v"), "link", "del", "eth0")
        time.sleep(1)
    r = probe.result
    cli.terminate()
    tcp = json.loads(cli.communicate(timeout=30)[0].strip().splitlines()[-1])
    srv.kill()
    print(f"\nmigration at rtt {rtt} ms: probe {json.dumps({k: r[k] for k in ('sent', 'received', 'lost', 'duplicated', 'reordered', 'max_gap_ms')})}"
          f" tcp {tcp} counters {m['counters']} phases {phases}")
    for w in r["windows"]:
        print("  window", json.dumps(w))
    assert r["sent"] > 1000 and r["lost"] == 0, r
    assert tcp["error"] is None and tcp["got"] >= tcp["sent"] - 1 and tcp["got"] > 20, tcp
    assert m["counters"]["flows_cloned"] > 0, m
    assert blue.frames == [], blue.frames[:5]
    # v lives at the target now: its host, its status, its reach.
    vm = ok(api.get(f"{RED}/vms/v"))
    assert vm["placement"] == {"host": "mg2-h1"} or vm.get("host") == "mg2-h1", vm
    wait_for("v realized", lambda: realized(api, f"{RED}/vms/v"), 30, 0.2)
    # Its counters: the copies of dual are reported apart.
    stats = wait_for("v's counters", lambda: (lambda x: x if x["as_of"] else None)(
        ok(api.get(f"{RED}/vms/v/stats"))), 20, 0.3)
    assert stats["duplicated"] == m["counters"]["duplicated"] > 0, (stats, m)
    assert stats["host"] == "mg2-h1" and stats["rx_packets"] > 0, stats
    assert reach(sim, "v", "10.61.0.9")
    assert reach(sim, "p", IP_V)
    # Nothing of v at the source (no other member of its network is there
    # now): no port, no flow; and nothing of the migration anywhere: no
    # second identity (tag bytes 00:00), no copy.
    assert "mgv" not in sim.vsctl("mg1-h1", "list-ports", "br-sky").stdout.split()
    st, hdrs, snap = api.post(f"{RED}/vms/v/snapshots", {})
    assert st == 202, snap
    snap = wait_for("snapshot", lambda: (lambda g: g if g["state"] != "pending" else None)(
        ok(api.get(hdrs["location"]))), 30, 0.2)
    cookie = snap["content"]["vm"]["cookie"]
    p = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows",
                    f"unix:{sim.hdir('mg1-h1')}/br-sky.mgmt", f"cookie={cookie}/-1")
    left = sorted((int(f["table"]), int(f["priority"])) for f in (
        dict(kv.split("=", 1) for kv in l.replace(",", " ").split() if "=" in kv)
        for l in p.stdout.splitlines() if "cookie=" in l))
    assert left == [], p.stdout
    after = {h: flows(sim, h) for h in ALL_HOSTS}
    for h, fl in after.items():
        for line in fl:
            assert "resubmit" not in line and "=00:00:" not in line \
                and "set_field:00:00:" not in line, (h, line)
    # The target's flows are those of a VM placed there afresh: deleted
    # behind skyvisor's back, they come back exactly the same.
    cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "del-flows",
                f"unix:{sim.hdir('mg2-h1')}/br-sky.mgmt")
    wait_for("mg2-h1 repaired", lambda: flows(sim, "mg2-h1") == after["mg2-h1"], 30, 0.3)


# -- after the first move: v lives on mg2-h1 behind eth1 ---------------------

def plug(sim, to_host):
    """A new NIC of v whose host end (v's iface) is on 'to_host'; its name."""
    NIC["n"] += 1
    nic = f"eth{NIC['n']}"
    vns, hns = sim.vm_ns("v"), sim.host_ns(to_host)
    cloudsim.sh("ip", "link", "add", nic, "netns", vns, "mtu", "1400", "type", "veth",
                "peer", "name", "mgv", "netns", hns)
    cloudsim.sh("ip", "-n", vns, "link", "set", nic, "address", MAC_V)
    cloudsim.sh("ip", "netns", "exec", vns, "sysctl", "-qw",
                f"net.ipv4.conf.{nic}.rp_filter=0")
    cloudsim.sh("ip", "-n", vns, "addr", "add", f"{IP_V}/32", "dev", nic)
    cloudsim.sh("ip", "-n", vns, "link", "set", nic, "up")
    cloudsim.sh("ip", "-n", hns, "link", "set", "mgv", "up")
    cloudsim.sh("ethtool", "-K", nic, "tx", "off", ns=vns, check=False)
    return nic


def resume_on(sim, nic, old):
    """v resumes behind 'nic': ARP cache, route, gratuitous ARP; 'old' stays
    for now."""
    vns = sim.vm_ns("v")
    move_neighbours(vns, old, nic)
    cloudsim.sh("ip", "-n", vns, "route", "replace", "10.61.0.0/24", "dev", nic,
                "src", IP_V)
    p = py(sim, "v", GARP, nic, MAC_V, IP_V)
    assert p.wait(10) == 0, p.stderr.read()


def unplug(sim, nic):
    cloudsim.sh("ip", "-n", sim.vm_ns("v"), "link", "del", nic)


def v_host(api):
    return ok(api.get(f"{RED}/vms/v"))["placement"]["host"]


def phase_of(api, loc):
    return ok(api.get(loc))["phase"]


def test_rollback_in_dual_keeps_the_source(world):
    d, api, sim = world["d"], world["api"], world["sim"]
    src = v_host(api)
    dst = "mg1-h1" if src == "mg2-h1" else "mg2-h1"
    nic = plug(sim, dst)
    with Echo(sim.vm_ns("v"), f"{IP_V}:7001"), \
            Sender(sim.vm_ns("p"), f"{IP_V}:7001", "--rate", "1000") as probe:
        time.sleep(0.5)
        st, hdrs, m = api.post(f"{RED}/vms/v/migrations", {"host": dst})
        assert st == 202, m
        loc = hdrs["location"]
        wait_for("dual", lambda: phase_of(api, loc) == "dual", 60)
        time.sleep(0.5)
        st, _, m = api.delete(loc)
        assert st in (200, 202), m
        m = wait_for("rolled back", lambda: (lambda x: x if x["phase"] == "rolled-back"
                                             else None)(ok(api.get(loc))), 30)
        assert m["detail"] == "rollback requested", m
        time.sleep(0.5)
    r = probe.result
    print(f"\nrollback: {json.dumps({k: r[k] for k in ('sent', 'lost', 'duplicated', 'max_gap_ms')})}")
    assert r["lost"] == 0, r
    assert v_host(api) == src
    # The clone is gone from the target: no port of v there.
    wait_for("mgv unplugged from the target", lambda: "mgv" not in sim.vsctl(
        dst, "list-ports", "br-sky").stdout.split(), 30, 0.2)
    unplug(sim, nic)
    assert reach(sim, "p", IP_V)


def test_target_down_rolls_back(world):
    api, sim = world["api"], world["sim"]
    src = v_host(api)
    dst = "mg1-h1" if src == "mg2-h1" else "mg2-h1"
    sim.daemon_kill(dst, "ovs-vswitchd")
    try:
        st, hdrs, m = api.post(f"{RED}/vms/v/migrations", {"host": dst})
        assert st == 202, m
        m = wait_for("rolled back", lambda: (lambda x: x if x["phase"] not in
                                             ("prepare", "clone") else None)(
            ok(api.get(hdrs["location"]))), 40, 0.3)
        assert m["phase"] == "rolled-back", m
        assert m["detail"].startswith(f"target host {dst}: "), m
        assert reach(sim, "p", IP_V)
    finally:
        sim.daemon_start(dst, "ovs-vswitchd")
    wait_for("v realized again", lambda: realized(api, f"{RED}/vms/v"), 60, 0.3)


@pytest.mark.parametrize("phase", ["clone", "dual", "activate", "cleanup"])
def test_restart_in_each_phase_resumes(world, phase):
    """skyvisord dies right after recording 'phase' (a failpoint) and the
    migration goes on when it is back, losing nothing meanwhile."""
    d, api, sim = world["d"], world["api"], world["sim"]
    src = v_host(api)
    dst = "mg1-h1" if src == "mg2-h1" else "mg2-h1"
    old = NIC["v"]
    nic = plug(sim, dst)
    d.stop()
    d.env["SKYVISOR_FAILPOINT"] = f"migration.{phase}"
    d.start()
    exits = 0

    def revive():
        nonlocal exits
        if d.proc.poll() is None:
            return
        assert d.proc.returncode == 70, d.read_log()[-3000:]
        exits += 1
        d.stop()
        d.env.pop("SKYVISOR_FAILPOINT", None)
        d.start()

    with Echo(sim.vm_ns("v"), f"{IP_V}:7001"), \
            Sender(sim.vm_ns("p"), f"{IP_V}:7001", "--rate", "1000",
                   "--linger", "2000") as probe:
        time.sleep(0.5)
        st, hdrs, m = api.post(f"{RED}/vms/v/migrations", {"host": dst})
        assert st == 202, m
        loc = hdrs["location"]

        def at_least_dual():
            revive()
            try:
                return phase_of(api, loc) in ("dual", "activate", "cleanup", "done")
            except (OSError, AssertionError):
                return False
        wait_for("dual", at_least_dual, 60, 0.1)
        # The VM resumes only once its traffic reaches the target: a
        # skyvisord that died on recording dual has not installed it yet
        # (and it answers the VM's ARP: no resolution while it is away).
        wait_for("dual in the datapath", lambda: revive() or any(
            "resubmit" in l for l in flows(sim, "mg3-h1")), 60, 0.1)
        resume_on(sim, nic, old)

        def finished():
            revive()
            try:
                return (lambda x: x if x["phase"] in ("done", "rolled-back", "failed")
                        else None)(ok(api.get(loc)))
            except OSError:
                return None
        m = wait_for("done", finished, 60, 0.1)
        time.sleep(0.5)
    r = probe.result
    print(f"\nrestart in {phase}: {json.dumps({k: r[k] for k in ('sent', 'lost', 'duplicated', 'max_gap_ms')})}")
    assert exits == 1, "the failpoint did not fire"
    assert m["phase"] == "done", m
    assert r["lost"] == 0 or SANITIZED, r       # see conftest.SANITIZED
    assert v_host(api) == dst
    unplug(sim, old)
    NIC["v"] = nic
    assert reach(sim, "p", IP_V)
