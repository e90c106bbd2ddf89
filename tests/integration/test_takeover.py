"""Several skyvisord instances, one database, three clouds on real Open
vSwitch: the owner of a cloud dies or is paused, another instance takes its
switches over and adopts their flows, and a stale owner never writes.

Three simulated clouds (tools/cloudsim.py), one gateway host each, linked
c1 - c2 - c3 (the c1 - c3 link costs more, so the tunnel tree runs through
c2): red's `va` on c1-gw and `vb` on c3-gw exchange traffic across c2.
Three instances run with --leases, each pinned to one cloud (--clouds), on
short leases (LEASE_MS); the others follow each bridge as OpenFlow slaves.
c2's owner is the victim.

- kill -9 of c2's owner while tools/udpprobe streams 1000 datagrams a
  second from `va` to `vb` (the VMs' ARP caches flushed right after the
  kill), and a tenant adds `vc` on c2-gw through another instance at once,
  while c2 has no owner (the new owner applies it on taking over): the
  time from the kill to the adoption (the new owner's epoch in
  c2-gw's OVSDB, raised before its first write) and to `vc` realized and
  pinging, and the datagrams lost, are printed; every request to the
  surviving instances is answered 2xx; no flow of c2-gw is deleted
  (`ovs-ofctl monitor watch:`) and every flow that was there keeps its
  duration (never deleted and re-added).
- Split brain, both ways: c2's owner stops itself (SIGSTOP, failpoint
  recon.apply) in the pass that is about to install the flows of a new VM
  `vx`; `vx` is deleted through another instance, which takes c2 over once
  the lease runs out; then the paused owner is continued (a) with its switch
  connections still open, (b) after c2-gw's ovsdb-server and ovs-vswitchd
  were restarted meanwhile (its connections dropped).  Nothing it tries
  lands: `vx`'s flows and port never appear on c2-gw, and it gives up the
  epoch it was paused with (pinned to c2, it takes c2 back later with a new
  epoch and adopts what is there, `vx` deleted).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, PgCluster, Skyvisord, ok
from udpprobe import Echo, Sender

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

LEASE_MS, HEARTBEAT_MS = 1000, 250
CLOUDS = {"c1": {"name": "c1-gw", "tunnel_ip": "198.18.1.1", "public_ip": "198.19.0.1"},
          "c2": {"name": "c2-gw", "tunnel_ip": "198.18.2.1", "public_ip": "198.19.0.2"},
          "c3": {"name": "c3-gw", "tunnel_ip": "198.18.3.1", "public_ip": "198.19.0.3"}}
# name: (host, mac, ip); vc and vx are created by the tests.
VMS = {"va": ("c1-gw", "02:00:00:00:0d:01", "10.0.0.1"),
       "vb": ("c3-gw", "02:00:00:00:0d:02", "10.0.0.2"),
       "vc": ("c2-gw", "02:00:00:00:0d:03", "10.0.0.3"),
       "vx": ("c2-gw", "02:00:00:00:0d:04", "10.0.0.4")}
ECHO = f"{VMS['vb'][2]}:7001"
NET = "/v1/tenants/red/networks/prod"
CONVERGE_S = 60


@pytest.fixture(scope="module")
def cluster():
    c = PgCluster()
    yield c
    c.destroy()


def sim_spec(prefix):
    """The cloudsim spec of this world (bench/ha.py builds it too)."""
    return {"prefix": prefix,
            "clouds": [{"name": c, "hosts": [h]} for c, h in CLOUDS.items()],
            "vms": [{"name": k, "host": v[0], "iface": k, "mac": v[1], "ip": v[2]}
                    for k, v in VMS.items()]}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    with cloudsim.Sim(sim_spec(f"svt{os.getpid() % 1000}"), state) as s:
        yield s


def vm_body(name):
    host, mac, ip = VMS[name]
    return {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
            "placement": {"host": host}}


@pytest.fixture(scope="module")
def url(cluster, sim):
    return populate(cluster, sim)


def populate(cluster, sim):
    """A new database with the clouds, hosts, links and `va`, `vb`, written
    by an instance without a reconciler; its URL."""
    u = cluster.url(cluster.fresh_db())
    d = Skyvisord(db_url=u).start()
    api = d.api()
    try:
        for c, h in CLOUDS.items():
            ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
            ok(api.post("/v1/hosts", sim.host_body(h, c)))
        for a, b, cost in (("c1", "c2", 1), ("c2", "c3", 1), ("c1", "c3", 10)):
            ok(api.request("PUT", f"/v1/cloud-links/{a}/{b}", {"cost": cost}))
        ok(api.post("/v1/tenants", {"name": "red"}))
        ok(api.post("/v1/tenants/red/networks", {"name": "prod", "subnet": "10.0.0.0/24"}))
        ok(api.post(f"{NET}/switches", {"name": "s"}))
        for name in ("va", "vb"):
            ok(api.post(f"{NET}/vms", vm_body(name)))
    finally:
        d.stop()
    return u


class Instances:
    """Three instances with --leases, d[i] pinned to cloud c{i+1}."""

    def __init__(self, url, env2=None, lease_ms=LEASE_MS, heartbeat_ms=HEARTBEAT_MS,
                 n=3):
        self.d = []
        for c in list(CLOUDS)[:n]:
            extra = ("--leases", "--lease-ms", str(lease_ms), "--heartbeat-ms",
                     str(heartbeat_ms), "--clouds", c, "--audit-interval", "3600")
            self.d.append(Skyvisord(db_url=url, reconcile=True, extra=extra,
                                    env=env2 if c == "c2" else None))
        for d in self.d:
            d.start()

    def owns(self, d):
        """{cloud: epoch} as instance d says it holds now."""
        body = ok(d.api().get("/v1/instances"))
        return {g["cloud"]: g["epoch"] for g in body["self"]["owns"]}

    def wait_pinned(self):
        def each_own():
            try:
                # Each its own cloud (and with fewer instances than clouds,
                # the rest somewhere).
                held = [self.owns(d) for d in self.d]
                return (all(c in h and (len(self.d) < len(CLOUDS) or len(h) == 1)
                            for h, c in zip(held, CLOUDS))
                        and sum(len(h) for h in held) == len(CLOUDS))
            except (OSError, AssertionError):
                return False
        wait_for(each_own, 30, "each instance owning its own cloud")

    def stop(self):
        """Stops the instances still running; their logs, and the exit codes
        of those stopped here (a sanitizer's finding makes one non-zero)."""
        logs, codes = [], []
        for d in self.d:
            if d.proc and d.proc.poll() is None:
                os.kill(d.proc.pid, signal.SIGCONT)
                codes.append(d.stop())
            logs.append(d.read_log())
        return logs, codes


@pytest.fixture
def instances(url, sim, tmp_path):
    arm = str(tmp_path / "arm")
    inst = Instances(url, env2={"SKYVISOR_FAILPOINT": f"recon.apply=stop:{arm}"})
    inst.arm = arm
    try:
        inst.wait_pinned()
        converge(inst.d[0].api(), sim, ["va", "vb"])
        yield inst
    finally:
        logs, codes = inst.stop()
        for i, log in enumerate(logs):
            print(f"--- instance d{i + 1} ---")
            print("\n".join(l for l in log.splitlines() if " http" not in l)[-6000:])
    assert all(c == 0 for c in codes), codes


def wait_for(pred, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


def vm_status(api, name):
    st, _, body = api.request("GET", f"{NET}/vms/{name}")
    return body["status"] if st == 200 else None


def realized(api, names):
    for n in names:
        s = vm_status(api, n)
        if not s or s["state"] != "realized" or s["observed_generation"] != s["generation"]:
            return False
    return all(h["status"]["state"] == "realized"
               for h in ok(api.get("/v1/hosts"))["items"])


def converge(api, sim, names, bound=CONVERGE_S):
    wait_for(lambda: realized(api, names), bound, f"{names} and every host realized",
             step=0.2)
    wait_for(lambda: sim.ping("va", VMS["vb"][2]), bound, "va pinging vb", step=0.2)


# -- Open vSwitch, read from outside ------------------------------------------------

def ofctl(sim, host, *args):
    return cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", *args, ns=sim.host_ns(host),
                       env=sim.env(host)).stdout


def flows(sim, host):
    """{flow (cookie, table, priority, match): (actions, duration in s)} of br-sky."""
    out = {}
    for line in ofctl(sim, host, "dump-flows", "br-sky").splitlines():
        m = re.search(r"duration=([0-9.]+)s", line)
        if not m:
            continue
        flow = re.sub(r"\s*(duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]*,?", "",
                      line).strip()
        key, _, actions = flow.partition(" actions=")
        out[key] = (actions, float(m.group(1)))
    return out


def epoch(sim, host):
    """external_ids:skyvisor-epoch of the host's Open_vSwitch row (0: none)."""
    out = cloudsim.sh("ovs-vsctl", f"--db=unix:{sim.hdir(host)}/db.sock", "--timeout=5",
                      "--if-exists", "get", "Open_vSwitch", ".",
                      "external_ids:skyvisor-epoch", ns=sim.host_ns(host),
                      check=False).stdout.strip().strip('"')
    return int(out) if out.isdigit() else 0


class Monitor:
    """`ovs-ofctl monitor br-sky watch:` on a host, its events kept."""

    def __init__(self, sim, host):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", sim.host_ns(host), "ovs-ofctl", "-O", "OpenFlow13",
             "monitor", "br-sky", "watch:"],
            env=sim.env(host), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.3)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.thread.join(5)
        return self.lines

    def events(self, kind):
        return [l for l in self.lines if f"event={kind}" in l]


def port_on_bridge(sim, host, port):
    return port in sim.vsctl(host, "list-ports", "br-sky").stdout.split()


def stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


class Pinger(threading.Thread):
    """Reads from the given instances every 20 ms; every answer recorded."""

    def __init__(self, ds):
        super().__init__(daemon=True)
        self.ds, self.ok, self.bad, self.halt = ds, 0, [], threading.Event()

    def run(self):
        paths = ("/v1/clouds", "/v1/hosts", f"{NET}/vms", "/v1/instances")
        i = 0
        while not self.halt.is_set():
            d, path = self.ds[i % len(self.ds)], paths[i % len(paths)]
            i += 1
            try:
                st, _, _ = d.api().request("GET", path)
                if 200 <= st < 300:
                    self.ok += 1
                else:
                    self.bad.append((path, st))
            except OSError as e:
                self.bad.append((path, repr(e)))
            time.sleep(0.02)


# -- kill -9 -----------------------------------------------------------------------

def test_kill9_owner_another_instance_adopts_its_flows(instances, sim, capsys):
    d1, d2, d3 = instances.d
    e2 = instances.owns(d2)["c2"]
    assert epoch(sim, "c2-gw") == e2
    # The others follow c2-gw as slaves with its owner's generation.
    for d in (d1, d3):
        wait_for(lambda: f"role SLAVE generation {e2} granted" in d.read_log(), 10,
                 "a follower's SLAVE role on c2-gw")
    before = flows(sim, "c2-gw")
    assert before, "c2-gw has no flows"
    mon = Monitor(sim, "c2-gw")
    pinger = Pinger([d1, d3])
    pinger.start()
    with Echo(sim.vm_ns("vb"), ECHO):
        with Sender(sim.vm_ns("va"), ECHO) as probe:
            time.sleep(1)
            probe.mark()
            t0 = time.monotonic()
            d2.proc.kill()
            for vm in ("va", "vb"):
                cloudsim.sh("ip", "neigh", "flush", "all", ns=sim.vm_ns(vm))
            # A change to c2 while it has no owner: the new owner applies it.
            ok(d1.api().post(f"{NET}/vms", vm_body("vc")), 201)
            wait_for(lambda: epoch(sim, "c2-gw") > e2, 20, "c2-gw adopted")
            t_adopted = time.monotonic() - t0
            probe.mark()
            assert "c2" in instances.owns(d1) or "c2" in instances.owns(d3)
            wait_for(lambda: realized(d3.api(), ["vc"]), 30, "vc realized")
            wait_for(lambda: sim.ping("vc", VMS["va"][2]), 30, "vc pinging va", step=0.1)
            t_vc = time.monotonic() - t0
            probe.mark()
            time.sleep(1)
    pinger.halt.set()
    pinger.join()
    events = mon.stop()
    after = flows(sim, "c2-gw")
    window, added = probe.result["windows"][1], probe.result["windows"][2]
    with capsys.disabled():
        print(f"\ntakeover: adopted {t_adopted:.2f} s after the kill (lease {LEASE_MS} ms, "
              f"heartbeat {HEARTBEAT_MS} ms); vc realized and pinging at {t_vc:.2f} s; "
              f"probe lost {window['lost']} of {window['sent']} from the kill to the "
              f"adoption (longest gap {window['max_gap_ms']} ms), {added['lost']} of "
              f"{added['sent']} from the adoption until vc pinged (longest gap "
              f"{added['max_gap_ms']} ms), "
              f"whole run {probe.result['lost']} of "
              f"{probe.result['sent']}; {pinger.ok} reads answered, "
              f"{len(pinger.bad)} not; c2-gw flows {len(before)} -> {len(after)}, "
              f"{len(events)} monitor lines")
    assert not pinger.bad, pinger.bad[:10]
    # The switch and network spanning the clouds: one writer folds them
    # from the hosts' and VMs' recorded statuses.
    for path in (f"{NET}/switches/s", NET):
        wait_for(lambda: ok(d1.api().get(path))["status"]["state"] == "realized", 10,
                 f"{path} realized", step=0.2)
    print("\n".join(events))
    deleted = [l for l in events if "event=DELETED" in l]
    assert not deleted, deleted
    # Adding vc changes the actions of some flows (its component's floods
    # reach c2-gw's port now); every other flow is the very one installed
    # before the kill.
    elapsed = time.monotonic() - t0
    for key, (actions, dur) in before.items():
        assert key in after, f"flow gone from c2-gw: {key}"
        if after[key][0] == actions:
            assert after[key][1] >= dur + elapsed - 2, f"flow re-added on c2-gw: {key}"


# -- split brain -------------------------------------------------------------------

def split_brain(instances, sim, drop_connections):
    d1, d2, d3 = instances.d
    e2 = instances.owns(d2)["c2"]
    mac = VMS["vx"][1]
    open(instances.arm, "w").close()
    ok(d1.api().post(f"{NET}/vms", vm_body("vx")), 201)
    wait_for(lambda: stopped(d2.proc.pid), 30, "c2's owner stopped at recon.apply")
    assert not os.path.exists(instances.arm)
    st, _, body = d1.api().request("DELETE", f"{NET}/vms/vx")
    assert st == 204, body
    if drop_connections:
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            sim.daemon_kill("c2-gw", daemon)
        for daemon in ("ovsdb-server", "ovs-vswitchd"):
            sim.daemon_start("c2-gw", daemon)
    wait_for(lambda: epoch(sim, "c2-gw") > e2, 30, "c2 taken over")
    owner = d1 if "c2" in instances.owns(d1) else d3
    wait_for(lambda: not port_on_bridge(sim, "c2-gw", "vx"), 30, "vx's port gone")
    converge(owner.api(), sim, ["va", "vb"])
    mon = Monitor(sim, "c2-gw")
    os.kill(d2.proc.pid, signal.SIGCONT)
    # It gives up the epoch it was paused with at once (being pinned to c2,
    # it may take c2 back later, with a new epoch, once healthy again).
    wait_for(lambda: instances.owns(d2).get("c2") != e2, 10, "the old owner giving c2 up")
    time.sleep(3 * LEASE_MS / 1000)
    events = mon.stop()
    log = d2.read_log()
    assert not port_on_bridge(sim, "c2-gw", "vx")
    for host in ("c1-gw", "c2-gw", "c3-gw"):
        bad = [k for k, (a, _) in flows(sim, host).items()
               if any(x in k + a for x in (mac[-5:], VMS["vx"][2]))]
        assert not bad, f"{host} has vx's flows: {bad}"
    assert not [l for l in events if mac[-5:] in l or VMS["vx"][2] in l], events
    assert "failpoint" in log and "continued" in log
    assert "not the owner any more" in log or "refused role generation" in log, log[-3000:]
    assert sim.ping("va", VMS["vb"][2])


def test_split_brain_paused_owner_connections_open(instances, sim):
    split_brain(instances, sim, drop_connections=False)


def test_split_brain_paused_owner_connections_dropped(instances, sim):
    split_brain(instances, sim, drop_connections=True)


# -- one writer for a snapshot -----------------------------------------------------

def test_snapshot_captured_by_its_hosts_owner_reading_every_bridge(instances, sim):
    """A snapshot asked through an instance that does not own the VM's cloud
    is captured by the one that does, which reads the other clouds' bridges
    as their slave: ready, every bridge read, none unreachable."""
    d1, d2, d3 = instances.d
    api = d3.api()
    st, hdrs, snap = api.post(f"{NET}/vms/va/snapshots", {})
    assert st == 202, snap
    snap = wait_for(lambda: (lambda g: g if g["state"] != "pending" else None)(
        ok(api.get(hdrs["location"]))), 30, "the snapshot settled", step=0.2)
    assert snap["state"] == "ready", snap
    content = snap["content"]
    assert content["unreachable"] == [], content["unreachable"]
    assert {"c1-gw", "c2-gw"} <= {b["host"] for b in content["bridges"]}, content["bridges"]
    assert "snapshot" in d1.read_log() and "snapshot" not in d3.read_log()


def test_owner_raises_its_epoch_again_when_the_key_is_gone(instances, sim):
    """An OVSDB whose epoch was removed (a database recreated, an operator)
    gets the owner's epoch again (the change wakes a pass at once), and the
    owner's writes land there again: the fence holds again."""
    d1, d2, d3 = instances.d
    e2 = instances.owns(d2)["c2"]
    sim.vsctl("c2-gw", "remove", "Open_vSwitch", ".", "external_ids", "skyvisor-epoch")
    wait_for(lambda: epoch(sim, "c2-gw") == e2, 10, "c2's epoch raised again")
    ok(d1.api().post(f"{NET}/vms", vm_body("vx")), 201)
    try:
        wait_for(lambda: realized(d1.api(), ["vx"]), 30, "vx realized", step=0.2)
        assert port_on_bridge(sim, "c2-gw", "vx")
    finally:
        ok(d1.api().request("DELETE", f"{NET}/vms/vx"), 204)
