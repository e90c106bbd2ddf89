#!/usr/bin/env python3
"""bench/migration.py: live migration, snapshots and restore
(`make bench-migration`, root), with OVN 23.03's multi-chassis migration of
a port beside it in the same run.

skyvisor on real Open vSwitch: the world of tests/integration/
test_migration.py (its build_world: three simulated clouds of a gateway and
hosts, tools/cloudsim.py; red's VM `v` on mg1-h1, its peer `p` on mg3-h1;
blue's twins), one world per WAN round trip in RTTS (the delay
relays of shared/machine between the gateways, and skyvisord's OVSDB and
OpenFlow channels to mg2 and mg3 through a proxy delaying each direction by
half the round trip).  In each, `v` moves between mg1-h1 and mg2-h1 as the
test moves it (a second NIC with the same MAC and IP plugged at the target,
its route and ARP cache moved there and a gratuitous ARP once the
migration is in dual, the old NIC deleted after done) while `p` sends it
1 000 sequence-numbered UDP datagrams a second (tools/udpprobe) which it
echoes.  Measured: each phase's time from the migration's phase_times (the
database's timestamps of each phase's recording), the gratuitous ARP to
activate, the probe's lost, duplicated and longest gap, and the counters.
In the RTT 0 world, red's network grows to REAL_PEERS peers of `v` (`p` and
added VMs: veths in the hosts' namespaces, round-robin over the hosts)
before further moves; MOVES migrations per point (there and back).

skyvisor on the emulated fleet (bench/setup.py's: an ovsdb-server per host,
bench/swemu as every vswitchd and OpenFlow switch, no data plane): for N:C in
EMU_PEERS, one network of the VM and N peers spread over the worker hosts
of C clouds of a gateway and 3 workers (bench/incremental.py's Network; a
VM's flows grow with the bridges its network spans, so C sets them), the
VM migrated from a worker of the first cloud to one of the last, activated
by POST .../activate (no frame can announce it), phases as above; no probe.
A point that fails is reported as such and the run goes on.

Per world and size: the VM's flows (the snapshot's count, every bridge),
a snapshot's size and capture time (POST .../snapshots until ready;
size_bytes, captured_at - capture_started_at, and request to ready), and a
restore: POST .../stop until its snapshot is ready, then POST .../start
until the VM is realized again.

OVN 23.03 (bench/ovn.py's chassis on tools/cloudsim.py hosts, Geneve over a
flat underlay, userspace datapath): a logical port `lv` on c1-w1 with a VM
namespace behind a veth, its peer `lp` on c3-w1 sending the same probe;
Neutron's sequence: `requested-chassis=c1-w1,c2-w1` with
`activation-strategy=rarp` (--wait=hv), the clone NIC plugged at c2-w1
(bound as additional chassis), route moved and a RARP (and a gratuitous
ARP) from it, `requested-chassis=c2-w1` (--wait=hv), the old VIF unplugged.
Measured: loss, duplicates, longest gap, and each control step's time.
Also with the VM resuming only once the SB shows the port activated, and
the port simply moved (requested-chassis=c2-w1 alone) for the baseline.

Output: numbers on stdout and the section "Live migration (make
bench-migration)" of BENCHMARKS.md (tools/bench-section).  Environment:
RTTS (0,20,100), REAL_PEERS (10,100), MOVES (2), EMU_PEERS
(10:2,100:8,1000:32,1000:96: peers:clouds), OVN (2 rounds; 0 skips it),
MIG_OUT (BENCHMARKS.md; empty to only print).
"""

import datetime
import os
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import incremental as inc  # noqa: E402

BUILD = inc.build_dir()     # before conftest reads SKYVISOR_BUILD

import cloudsim  # noqa: E402
import conftest  # noqa: E402
import ovn as ovnb  # noqa: E402  bench/ovn.py
import setup as fleets  # noqa: E402
import test_migration as tm  # noqa: E402
from udpprobe import Echo, Sender  # noqa: E402

DRAIN_S = 0.2       # test_migration's --migration-drain-ms at RTT 0
PHASES = ("prepare", "clone", "dual", "activate", "cleanup", "done")
TERMINAL = ("done", "rolled-back", "failed")


def wait_for(what, pred, timeout=60, every=0.02):
    """test_migration's wait, polling every 20 ms by default."""
    return tm.wait_for(what, pred, timeout, every)


def ts(text):
    return datetime.datetime.fromisoformat(text).timestamp()


def phase_spans(m):
    """{phase: seconds spent in it} from phase_times, and the total."""
    t = {k: ts(v) for k, v in m["phase_times"].items()}
    spans = {a: t[b] - t[a] for a, b in zip(PHASES, PHASES[1:]) if a in t and b in t}
    return spans, t["done"] - t["prepare"], t


def realized(api, path, generation=0):
    st = tm.ok(api.get(path))["status"]
    return (st["state"] == "realized" and st["observed_generation"] == st["generation"]
            and st["generation"] >= generation)


def snapshot(api, vm_path):
    """One snapshot of the VM: size, flows, capture time, request to ready."""
    t0 = time.time()
    st, hdrs, s = api.post(f"{vm_path}/snapshots", {})
    if st != 202:
        raise RuntimeError(f"snapshot answered {st}: {s}")
    s = wait_for("the snapshot", lambda: (lambda g: g if g["state"] != "pending" else None)(
        tm.ok(api.get(hdrs["location"]))))
    t1 = time.time()
    if s["state"] != "ready":
        raise RuntimeError(f"snapshot {s['state']}: {s.get('detail')}")
    c = s["content"]
    return {"bytes": s["size_bytes"], "flows": c["flows"], "bridges": len(c["bridges"]),
            "capture": ts(s["captured_at"]) - ts(s["capture_started_at"]),
            "ready": t1 - t0}


def restore(api, vm_path):
    """Stop (to its snapshot ready) and start (to realized) of the VM."""
    t0 = time.time()
    st, hdrs, s = api.post(f"{vm_path}/stop", None)
    if st != 202:
        raise RuntimeError(f"stop answered {st}: {s}")
    wait_for("the stop snapshot", lambda: tm.ok(api.get(hdrs["location"]))["state"] == "ready")
    t1 = time.time()
    st, _, body = api.post(f"{vm_path}/start", None)
    if st != 202:
        raise RuntimeError(f"start answered {st}: {body}")
    gen = body.get("status", {}).get("generation", 0) if isinstance(body, dict) else 0
    wait_for("started", lambda: realized(api, vm_path, gen))
    return {"stop": t1 - t0, "start": time.time() - t1}


def wait_migration(api, loc, phases, timeout=120):
    return wait_for(f"phase {'/'.join(phases)}", lambda: (
        lambda m: m if m["phase"] in phases + TERMINAL else None)(tm.ok(api.get(loc))),
        timeout)


def migrate_to_dual(api, vm_path, dst):
    """POSTs a migration of the VM to host 'dst' and waits for dual; its
    location."""
    st, hdrs, m = api.post(f"{vm_path}/migrations", {"host": dst})
    if st != 202:
        raise RuntimeError(f"migration answered {st}: {m}")
    m = wait_migration(api, hdrs["location"], ("dual",))
    if m["phase"] != "dual":
        raise RuntimeError(f"migration {m['phase']}: {m['detail']}")
    return hdrs["location"]


# -- skyvisor on real Open vSwitch ---------------------------------------------

def move_real(w, dst):
    """v moves to 'dst' under the probe; the figures of one migration."""
    api, sim, rtt = w["api"], w["sim"], w["rtt"]
    old = tm.NIC["v"]
    nic = tm.plug(sim, dst)
    with Echo(sim.vm_ns("v"), f"{tm.IP_V}:7001"), \
            Sender(sim.vm_ns("p"), f"{tm.IP_V}:7001", "--rate", "1000",
                   "--linger", str(1000 + 4 * rtt)) as probe:
        time.sleep(0.5)
        probe.mark()
        loc = migrate_to_dual(api, f"{tm.RED}/vms/v", dst)
        # The copy at the peer's ingress edge: the VM resumes only once its
        # traffic reaches the target, as a hypervisor waits for it.
        wait_for("dual in the datapath",
                 lambda: any("resubmit" in l for l in tm.flows(sim, "mg3-h1")))
        t_garp = time.time()
        tm.resume_on(sim, nic, old)
        m = wait_migration(api, loc, ())
        time.sleep(0.5)
    if m["phase"] != "done":
        raise RuntimeError(f"migration {m['phase']}: {m['detail']}")
    tm.unplug(sim, old)
    tm.NIC["v"] = nic
    spans, total, t = phase_spans(m)
    r = probe.result["windows"][1]
    return {"spans": spans, "total": total, "garp_to_activate": t["activate"] - t_garp,
            "counters": m["counters"], "sent": r["sent"], "lost": r["lost"],
            "dup": r["duplicated"], "gap": r["max_gap_ms"], "reordered": r["reordered"]}


def add_real_peers(w, have, total):
    """red's VMs q'have'..q'total'-1 (10.61.0.10 on), on the hosts in turn,
    each a veth pair in its host's namespace; waits until realized."""
    api, sim = w["api"], w["sim"]
    ops = []
    for i in range(have, total):
        host = tm.ALL_HOSTS[i % len(tm.ALL_HOSTS)]
        iface = f"mq{i}"
        cloudsim.sh("ip", "-n", sim.host_ns(host), "link", "add", iface, "type", "veth",
                    "peer", "name", f"mr{i}")
        cloudsim.sh("ip", "-n", sim.host_ns(host), "link", "set", iface, "up")
        ops.append({"op": "create", "kind": "vm", "body": {
            "name": f"q{i}", "mac": f"02:00:00:00:62:{i:02x}", "ip": f"10.61.0.{10 + i}",
            "switch": "s", "iface": iface, "placement": {"host": host}}})
    tm.ok(api.post(f"{tm.RED}/batch", {"operations": ops}))
    wait_for("the peers realized", lambda: all(
        realized(api, f"{tm.RED}/vms/q{i}") for i in range(have, total)), 300, 0.3)


def real_runs(pg, rtts, peers, moves, log):
    """Per RTT a world; in the RTT 0 one, the VM's peers (p, then p and
    more) grown to each of 'peers'; 'moves' migrations per point."""
    out = []
    for rtt in rtts:
        try:
            out += real_world(pg, rtt, peers, moves, log)
        except Exception as e:  # noqa: BLE001 - reported in the section
            print(f"real OvS rtt {rtt} ms FAILED: {e}", flush=True)
            out.append({"fleet": "real OvS", "rtt": rtt, "failed": str(e)})
    return out


def real_world(pg, rtt, peers, moves, log):
    out = []
    state = tempfile.mkdtemp(prefix="svb-mig-")
    with tm.build_world(pg, state, rtt, f"sbm{os.getpid() % 100}{rtt}", show_log=False) as w:
        api = w["api"]
        tm.NIC.update(v="eth0", n=0)
        for name, (t, *_r) in tm.VMS.items():
            wait_for(f"{name} realized", lambda: realized(
                api, f"/v1/tenants/{t}/networks/n/vms/{name}"), 120, 0.2)
        have = 0                            # VMs q* added: v's peers are p and those
        for n in [1] + (sorted(x for x in peers if x > 1) if rtt == 0 else []):
            if n - 1 > have:
                add_real_peers(w, have, n - 1)
                have = n - 1
            for k in range(moves):
                dst = "mg1-h1" if tm.v_host(api) == "mg2-h1" else "mg2-h1"
                r = {"fleet": "real OvS", "rtt": rtt, "peers": n, "move": k + 1,
                     "hosts": len(tm.ALL_HOSTS), "from": tm.v_host(api), "to": dst}
                r.update(move_real(w, dst))
                if k == moves - 1:
                    r["snap"] = snapshot(api, f"{tm.RED}/vms/v")
                    r["restore"] = restore(api, f"{tm.RED}/vms/v")
                out.append(r)
                log(r)
    return out


# -- skyvisor on the emulated fleet -------------------------------------------

def move_emulated(api, vm_path, dst):
    loc = migrate_to_dual(api, vm_path, dst)
    t_act = time.time()
    tm.ok(api.post(f"{loc}/activate", None), 200, 202)
    m = wait_migration(api, loc, ())
    if m["phase"] != "done":
        raise RuntimeError(f"migration {m['phase']}: {m['detail']}")
    spans, total, t = phase_spans(m)
    return {"spans": spans, "total": total, "garp_to_activate": t["activate"] - t_act,
            "counters": m["counters"]}


def emulated_point(pg, emu, hosts, n, clouds):
    net = inc.Network(pg, emu, hosts, n + 1, "poll")
    try:
        vm_path = f"{net.base}/vms/v0"
        src = tm.ok(net.api.get(vm_path))["placement"]["host"]
        dst = f"c{clouds}-w1"
        r = {"fleet": "emulated", "rtt": 0, "peers": n, "clouds": clouds, "move": 1,
             "hosts": len(hosts), "from": src, "to": dst}
        r.update(move_emulated(net.api, vm_path, dst))
        r["snap"] = snapshot(net.api, vm_path)
        r["restore"] = restore(net.api, vm_path)
        return r
    finally:
        net.close()


def emulated_runs(pg, sizes, log):
    out = []
    all_hosts = fleets.host_names(max(c for _, c in sizes), 3)
    emu = fleets.EmuFleet(BUILD, all_hosts)
    try:
        for n, clouds in sizes:
            hosts = [h for h in all_hosts if h[0] <= clouds]
            try:
                r = emulated_point(pg, emu, hosts, n, clouds)
                log(r)
            except Exception as e:  # noqa: BLE001 - reported in the section
                print(f"emulated {n} peers, {clouds} clouds FAILED: {e}", flush=True)
                r = {"fleet": "emulated", "rtt": 0, "peers": n, "failed": str(e)}
            out.append(r)
    finally:
        emu.down()
    return out


# -- OVN 23.03 -----------------------------------------------------------------

OV_MAC, OV_IP = "02:00:00:00:71:01", "10.71.0.1"
PAUSE = 0.3         # s between the clone's binding and the VM's resumption
OP_MAC, OP_IP = "02:00:00:00:71:02", "10.71.0.2"


class OvnWorld:
    """bench/ovn.py's OVN on a cloudsim fleet, a logical switch with the
    migrating port `lv` (VM namespace ov on A) and its peer `lp` (op on C)."""

    def __init__(self):
        self.hosts = fleets.host_names(3, 1)
        self.fl = fleets.RealFleet(self.hosts, 3, 0, 1)
        self.sim = self.fl.sim
        self.ovn = None
        self.ns = []
        try:
            self.ovn = ovnb.Ovn(self.fl, self.hosts)
            self.a, self.b, self.c = self.ovn.workers
            self.nbctl("ls-add", "ls")
            self.ov = self.vm("ov", OV_MAC, OV_IP)
            self.op = self.vm("op", OP_MAC, OP_IP)
        except BaseException:
            self.down()
            raise

    def nbctl(self, *args):
        return self.ovn.nbctl(*args)

    def timed(self, *args):
        return self.ovn.timed_nbctl(*args)

    def vm(self, name, mac, ip):
        ns = f"{self.sim.prefix}-{name}"
        cloudsim.sh("ip", "netns", "add", ns)
        self.ns.append(ns)
        cloudsim.sh("ip", "-n", ns, "link", "set", "lo", "up")
        for k in ("all", "default"):
            cloudsim.sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                        f"net.ipv4.conf.{k}.rp_filter=0")
        return ns

    def nic(self, ns, nic, host, vif, lport, mac, ip, plen):
        """A NIC of VM 'ns' whose host end 'vif' is an OVN VIF on 'host'."""
        hns = self.sim.host_ns(host)
        cloudsim.sh("ip", "link", "add", nic, "netns", ns, "mtu", "1400", "type", "veth",
                    "peer", "name", vif, "netns", hns, "mtu", "1400")
        cloudsim.sh("ip", "-n", ns, "link", "set", nic, "address", mac)
        cloudsim.sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                    f"net.ipv4.conf.{nic}.rp_filter=0")
        cloudsim.sh("ip", "-n", ns, "addr", "add", f"{ip}/{plen}", "dev", nic)
        cloudsim.sh("ip", "-n", ns, "link", "set", nic, "up")
        cloudsim.sh("ip", "-n", hns, "link", "set", vif, "up")
        cloudsim.sh("ethtool", "-K", nic, "tx", "off", ns=ns, check=False)
        self.sim.vsctl(host, "add-port", "br-int", vif, "--", "set", "Interface", vif,
                       f"external_ids:iface-id={lport}")

    def sb_binding(self, col):
        return self.ovn.sbctl("--bare", f"--columns={col}", "find", "Port_Binding",
                              "logical_port=lv").strip()

    def ping(self):
        return cloudsim.sh("ip", "netns", "exec", self.op, "ping", "-c1", "-W1", OV_IP,
                           check=False).returncode == 0

    def start(self, k):
        """Ports lv (on A) and lp (on C) bound and reachable; 'k' numbers
        the VIFs of this round."""
        for lp, mac, ip, host in (("lv", OV_MAC, OV_IP, self.a), ("lp", OP_MAC, OP_IP, self.c)):
            self.nbctl("--may-exist", "lsp-add", "ls", lp, "--", "lsp-set-addresses", lp,
                       f"{mac} {ip}", "--", "lsp-set-options", lp, f"requested-chassis={host}")
        self.nic(self.ov, "eth0", self.a, f"ova{k}", "lv", OV_MAC, OV_IP, 24)
        self.nic(self.op, "eth0", self.c, f"opc{k}", "lp", OP_MAC, OP_IP, 24)
        self.nbctl("--wait=hv", "sync")
        wait_for("OVN ping", lambda: self.ping() or self.ping(), 60, 0.2)

    def stop(self, k, nics):
        self.nbctl("--wait=hv", "lsp-del", "lv", "--", "lsp-del", "lp")
        for host, vif in ((self.a, f"ova{k}"), (self.b, f"ovb{k}"), (self.c, f"opc{k}")):
            self.sim.vsctl(host, "--if-exists", "del-port", "br-int", vif)
        for ns, nic in nics:
            cloudsim.sh("ip", "-n", ns, "link", "del", nic, check=False)

    def rarp(self, nic, *kinds):
        cloudsim.sh("ip", "netns", "exec", self.ov, sys.executable, "-c", ANNOUNCE, nic,
                    OV_MAC, OV_IP, *kinds)

    def resume(self, nic):
        """The VM resumed behind 'nic': ARP cache and route moved there."""
        tm.move_neighbours(self.ov, "eth0", nic)
        cloudsim.sh("ip", "-n", self.ov, "route", "replace", "10.71.0.0/24", "dev", nic,
                    "src", OV_IP)

    def activated(self):
        return "additional-chassis-activated" in self.sb_binding("options")

    def migrate(self, k, mode):
        """One move of lv from A to B under the probe; the figures.  'mode':
        "multi" (multi-chassis; the VM resumes and sends its RARP at once),
        "multi-wait" (multi-chassis; RARP first, the VM resumes once the SB
        shows the port activated) or "move" (requested-chassis B alone)."""
        self.start(k)
        steps = {}
        with Echo(self.ov, f"{OV_IP}:7001"), \
                Sender(self.op, f"{OV_IP}:7001", "--rate", "1000", "--linger", "1000") as probe:
            time.sleep(0.5)
            probe.mark()
            t0 = time.time()
            if mode != "move":
                steps["requested-chassis=A,B activation-strategy=rarp"] = self.timed(
                    "--wait=hv", "lsp-set-options", "lv",
                    f"requested-chassis={self.a},{self.b}", "activation-strategy=rarp")
            t1 = time.time()
            self.nic(self.ov, "eth1", self.b, f"ovb{k}", "lv", OV_MAC, OV_IP, 32)
            if mode != "move":
                wait_for("the additional chassis", lambda: self.sb_binding("additional_chassis"))
                steps["clone plugged to SB additional_chassis"] = time.time() - t1
            time.sleep(PAUSE)
            t2 = time.time()
            if mode == "multi-wait":
                self.rarp("eth1", "rarp")
                wait_for("activated", self.activated, 10, 0.005)
                steps["RARP to SB activated"] = time.time() - t2
                self.resume("eth1")
                self.rarp("eth1", "garp")
            else:
                self.resume("eth1")
                self.rarp("eth1", "rarp", "garp")
                if mode == "multi":
                    wait_for("activated", self.activated, 10, 0.005)
                    steps["RARP to SB activated"] = time.time() - t2
            steps["requested-chassis=B"] = self.timed(
                "--wait=hv", "lsp-set-options", "lv", f"requested-chassis={self.b}")
            total = time.time() - t0 - PAUSE
            self.sim.vsctl(self.a, "--if-exists", "del-port", "br-int", f"ova{k}")
            time.sleep(1)
        r = probe.result["windows"][1]
        self.stop(k, [(self.ov, "eth0"), (self.ov, "eth1"), (self.op, "eth0")])
        return {"mode": mode, "steps": steps, "total": total, "sent": r["sent"],
                "lost": r["lost"], "dup": r["duplicated"], "gap": r["max_gap_ms"]}

    def down(self):
        for ns in self.ns:
            cloudsim.sh("ip", "netns", "del", ns, check=False)
        if self.ovn:
            self.ovn.down()
        self.fl.down()


# A RARP (what QEMU sends when a VM resumes) and a gratuitous ARP, as asked.
ANNOUNCE = """
import socket, sys
mac = bytes.fromhex(sys.argv[2].replace(":", "")); ip = socket.inet_aton(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0))
if "rarp" in sys.argv[4:]:
    rarp = b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x03" + mac + b"\\x00" * 4 + mac + b"\\x00" * 4
    s.send(b"\\xff" * 6 + mac + b"\\x80\\x35" + rarp + b"\\x00" * 18)
if "garp" in sys.argv[4:]:
    arp = b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x01" + mac + ip + b"\\x00" * 6 + ip
    s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + arp + b"\\x00" * 18)
"""


def ovn_runs(rounds, log):
    ovnb.ensure_ovn()
    out = []
    w = OvnWorld()
    try:
        k = 0
        for rnd in range(rounds):
            for mode in ("multi", "multi-wait", "move"):
                r = w.migrate(k, mode)
                r["round"] = rnd + 1
                k += 1
                out.append(r)
                log(r)
    finally:
        w.down()
    return out


# -- report ----------------------------------------------------------------------

def ms(x):
    return f"{x * 1000:.0f}"


def line(r):
    if "mode" in r:
        return (f"OVN {r['mode']}: lost {r['lost']} of "
                f"{r['sent']}, duplicated {r['dup']}, gap {r['gap']:.0f} ms, steps "
                + ", ".join(f"{k} {ms(v)} ms" for k, v in r["steps"].items())
                + f", total {ms(r['total'])} ms")
    probe = (f"; lost {r['lost']} of {r['sent']}, duplicated {r['dup']}, gap {r['gap']:.0f} ms"
             if "lost" in r else "")
    return (f"{r['fleet']} rtt {r['rtt']} ms, {r['peers']} peers, move {r['move']}: "
            + " ".join(f"{k} {ms(v)}" for k, v in r["spans"].items())
            + f" ms, total {ms(r['total'])} ms, announce->activate "
            f"{ms(r['garp_to_activate'])} ms, flows_cloned {r['counters']['flows_cloned']}, "
            f"duplicated {r['counters']['duplicated']}{probe}"
            + (f"; snapshot {r['snap']['flows']} flows {r['snap']['bytes']} B capture "
               f"{ms(r['snap']['capture'])} ms; stop {ms(r['restore']['stop'])} ms start "
               f"{ms(r['restore']['start'])} ms" if "snap" in r else ""))


def parse_emu(raw):
    out = []
    for item in (x.strip() for x in raw.split(",")):
        if item:
            n, _, c = item.partition(":")
            out.append((int(n), int(c) if c else inc.default_clouds(int(n))))
    return out


def main():
    rtts = [int(x) for x in os.environ.get("RTTS", "0,20,100").split(",") if x.strip()]
    peers = [int(x) for x in os.environ.get("REAL_PEERS", "10,100").split(",") if x.strip()]
    emu = parse_emu(os.environ.get("EMU_PEERS", "10:2,100:8,1000:32,1000:96"))
    moves = int(os.environ.get("MOVES", "2"))
    ovn_rounds = int(os.environ.get("OVN", "2"))
    out = os.environ.get("MIG_OUT", "BENCHMARKS.md")
    load0 = os.getloadavg()
    t_start = time.time()
    print(f"load average at the start: {load0[0]:.2f}; commit {fleets.commit()}", flush=True)

    def log(r):
        print(line(r), flush=True)

    pg = conftest.PgCluster()
    sky, ovn = [], []
    try:
        if rtts:
            sky += real_runs(pg, rtts, peers, moves, log)
        if emu:
            sky += emulated_runs(pg, emu, log)
    finally:
        pg.destroy()
    if ovn_rounds:
        ovn = ovn_runs(ovn_rounds, log)
    text = section(sky, ovn, load0, time.time() - t_start)
    print(text)
    if out:
        subprocess.run([os.path.join(ROOT, "tools", "bench-section"), out,
                        "Live migration (make bench-migration)", text], check=True)
        print(f"wrote {out}")


def summary(sky, ovn):
    """The run in a few lines: loss over every move, time against the RTT,
    capture against the VM's flows."""
    out = []
    real = [r for r in sky if r["fleet"] == "real OvS" and "lost" in r]
    if real:
        out.append(f"skyvisor on real OvS: {sum(r['lost'] for r in real)} datagrams lost of "
                   f"{sum(r['sent'] for r in real)} over {len(real)} migrations; longest gap "
                   f"{min(r['gap'] for r in real):.0f} to {max(r['gap'] for r in real):.0f} ms.")
        by_rtt = {}
        for r in real:
            if r["peers"] == 1:
                by_rtt.setdefault(r["rtt"], []).append(r["total"])
        out.append("prepare to done (one peer, mean of the moves): " + ", ".join(
            f"{ms(sum(v) / len(v))} ms at RTT {k} ms" for k, v in sorted(by_rtt.items())) + ".")
    snaps = sorted((r["snap"]["flows"], r["snap"]["capture"], r["snap"]["bytes"], r["fleet"])
                   for r in sky if "snap" in r and r["rtt"] == 0)
    if snaps:
        out.append("snapshot at RTT 0: " + ", ".join(
            f"{f} flows {b / 1024:.0f} KiB in {c * 1000:.0f} ms ({fl})"
            for f, c, b, fl in snaps) + ".")
    for mode in ("multi", "multi-wait", "move"):
        rs = [r for r in ovn if r["mode"] == mode]
        if rs:
            out.append(f"OVN {mode}: {sum(r['lost'] for r in rs)} lost of "
                       f"{sum(r['sent'] for r in rs)} over {len(rs)} migrations, longest gap "
                       f"up to {max(r['gap'] for r in rs):.0f} ms.")
    return out


def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def section(sky, ovn, load0, took):
    pgver = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()[2]
    ovsver = subprocess.run(["ovs-vsctl", "--version"], capture_output=True,
                            text=True).stdout.split("\n")[0].split()[-1]
    ovnver = (subprocess.run(["ovn-nbctl", "--version"], capture_output=True, text=True)
              .stdout.split("\n")[0].split()[-1] if ovn else "-")
    mig, snap = [], []
    flows = {}                              # the VM's flows per (fleet, rtt, peers, hosts)
    fails = [f"- {r['fleet']}, RTT {r['rtt']} ms, {r.get('peers', '')} peers: failed: "
             f"{r['failed'][:300]}" for r in sky if "failed" in r]
    sky = [r for r in sky if "failed" not in r]
    for r in sky:
        if "snap" in r:
            flows[(r["fleet"], r["rtt"], r["peers"], r["hosts"])] = r["snap"]["flows"]
    for r in sky:
        sp = r["spans"]
        probe = (f"{r['lost']} / {r['sent']} | {r['dup']} | {r['gap']:.0f}" if "lost" in r
                 else "no data plane | | ")
        mig.append(f"| {r['fleet']} | {r['rtt']} | {r['peers']} | {r['hosts']} | "
                   f"{flows.get((r['fleet'], r['rtt'], r['peers'], r['hosts']), '')} | "
                   f"{r['move']} | {r['counters']['flows_cloned']} | "
                   + " | ".join(ms(sp.get(k, 0)) for k in PHASES[:-1])
                   + f" | **{ms(r['total'])}** | {ms(r['garp_to_activate'])} | {probe} | "
                   f"{r['counters']['duplicated']} |")
        if "snap" in r:
            s_, rs = r["snap"], r["restore"]
            snap.append(f"| {r['fleet']} | {r['rtt']} | {r['peers']} | {r['hosts']} | "
                        f"{s_['flows']} | {s_['bridges']} | {s_['bytes']} | "
                        f"{s_['capture'] * 1000:.1f} | {ms(s_['ready'])} | {ms(rs['stop'])} | "
                        f"{ms(rs['start'])} |")
    ovn_rows, side = [], []
    for r in ovn:
        st = r["steps"]
        ovn_rows.append(f"| {r['round']} | {r['mode']} | {r['lost']} / {r['sent']} | "
                        f"{r['dup']} | {r['gap']:.0f} | "
                        + "; ".join(f"{k} {ms(v)}" for k, v in st.items())
                        + f" | {ms(sum(st.values()))} | {ms(r['total'])} |")
    base = [r for r in sky if r["fleet"] == "real OvS" and r["rtt"] == 0 and r["peers"] == 1]
    for r in ovn:
        b = base[(r["round"] - 1) % len(base)] if base else None
        if b:
            bare = b["total"] - 2 * DRAIN_S
            side.append(f"| skyvisor move {b['move']} / OVN {r['mode']} round {r['round']} | "
                        f"{b['lost']} vs {r['lost']} | {b['dup']} vs {r['dup']} | "
                        f"{b['gap']:.0f} vs {r['gap']:.0f} ({ratio(b['gap'], r['gap'])}) | "
                        f"{ms(b['total'])} vs {ms(r['total'])} "
                        f"({ratio(b['total'], r['total'])}) | {ms(bare)} vs {ms(r['total'])} "
                        f"({ratio(bare, r['total'])}) |")
    ovn_part = f"""
OVN {ovnver} on its own cloudsim fleet (bench/ovn.py's chassis: one ovn-controller per
host namespace, northd and the NB/SB servers in the root namespace, Geneve over a flat
underlay; one datacenter, no WAN): port `lv` (a VM namespace behind a veth) moves from
chassis c1-w1 to c2-w1 while `lp` on c3-w1 sends it the same probe.  **multi**: Neutron's
sequence: `lsp-set-options lv requested-chassis=c1-w1,c2-w1 activation-strategy=rarp`
(--wait=hv), the clone NIC plugged at c2-w1 (until the SB shows it as additional chassis),
the VM's route moved to it and a RARP and a gratuitous ARP sent from it at once (until the
SB shows `additional-chassis-activated`), `requested-chassis=c2-w1` (--wait=hv), the old
VIF unplugged.  **multi-wait**: the same, but the RARP first and the VM's route moved only
once the SB shows the port activated (a VM that resumes after its announcement took
effect).  **move**: the clone plugged, the VM resumed behind it, then `requested-chassis=
c2-w1` alone.  Steps in ms (an ovn-nbctl step includes its process start); control total =
their sum; wall = first command to the last step's end, the benchmark's polling included
but not its fixed {PAUSE * 1000:.0f} ms pause between the clone's binding and the VM's resumption.

| round | OVN mode | lost / sent | duplicated | longest gap ms | steps ms | control total ms | wall ms |
|---|---|---|---|---|---|---|---|
{chr(10).join(ovn_rows)}

Side by side, skyvisor's moves at RTT 0 with one peer against the OVN round of the same
number (lost, duplicated, longest gap in ms, whole migration in ms: skyvisor prepare to
done, two drain waits included, OVN wall; ratio skyvisor / OVN in parentheses).  The
duplicates of both grow with the time both places receive, which the benchmark's own
steps set, so they compare only loosely:

| pair | lost | duplicated | longest gap | time | time, skyvisor without its two drain waits |
|---|---|---|---|---|---|
{chr(10).join(side)}
""" if ovn else ""
    return f"""## Live migration (make bench-migration)

{time.strftime('%Y-%m-%d', time.gmtime())}, commit {fleets.commit()}, {os.cpu_count()} cores shared by everything below and other
work on the machine (load average {load0[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; the
whole run took {took:.0f} s); PostgreSQL {pgver}, Open vSwitch {ovsver}.

skyvisor, **real OvS**: the world of `tests/integration/test_migration.py` (three
`tools/cloudsim.py` clouds of a gateway and hosts, userspace datapath; the WAN round trip
RTT through the delay relays of shared/machine between the gateways, and skyvisord's OVSDB
and OpenFlow channels to the other two clouds through a proxy delaying each direction by
RTT/2; `--migration-drain-ms` max(200, RTT)).  VM `v` moves between mg1-h1 and mg2-h1
(another cloud) while `p` on mg3-h1 sends it 1 000 sequence-numbered UDP datagrams a second
which it echoes (tools/udpprobe, the window from just before the POST to 0.5 s after done):
a second NIC plugged at the target; once the migration is in dual (and its copy in the
peer's datapath) the VM's route and ARP cache move to it and it sends a gratuitous ARP, the
activation; the old NIC is deleted after done.  Peers: the other VMs of `v`'s network (`p`,
then added VMs: veths in the hosts' namespaces, round-robin).  **emulated**: the VM and its
peers in one network over the worker hosts of C clouds of a gateway and 3 workers
(bench/setup.py's fleet: a real ovsdb-server per host, bench/swemu as every switch, no data
plane), the VM moved from c1-w1 to the last cloud's c*-w1, activated by `POST
.../activate`.

A VM's flows (every flow with its cookie on every bridge, the snapshot's count) grow with
the bridges its network spans, a few per bridge, not with its peers: more peers on the same
hosts add none.  Phases from the migration's `phase_times` (the database's time of each
phase's recording) in ms; dual lasts until the VM announces itself, so it includes the
benchmark's own wait for the datapath; announce = from the gratuitous ARP (or the activate
POST) to activate recorded; activate and cleanup each hold a drain wait.  duplicated
(probe): echo answers the probe received twice (both places answer during dual);
duplicated (counter): the migration's `duplicated`, the packet count of the copy's delivery
flow at the target as read when activate is recorded.  lost: datagrams never answered;
longest gap: the longest interval between two answers (the loaded machine's jitter
included).

| fleet | RTT ms | peers | hosts | VM's flows | move | flows cloned | prepare | clone | dual | activate | cleanup | total ms | announce -> activate | lost / sent | duplicated (probe) | longest gap ms | duplicated (counter) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(mig)}

Snapshot of the VM (`POST .../snapshots` until ready): its flows, the bridges holding
them, `size_bytes`, the capture (`captured_at - capture_started_at`, between the first
barrier and the last read), and request to ready (client side, polled every 20 ms); restore:
`POST .../stop` until its snapshot is ready, then `POST .../start` until the VM is realized
again on its host.

| fleet | RTT ms | peers | hosts | VM's flows | bridges | bytes | capture ms | request -> ready ms | stop ms | start (restore) ms |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(snap)}
{"".join(chr(10) + f for f in fails)}
{chr(10).join("- " + x for x in summary(sky, ovn))}
{ovn_part}"""


if __name__ == "__main__":
    main()
