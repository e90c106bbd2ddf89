"""Faults under load: an acknowledged write is never lost, and the network
comes back.

Two simulated clouds (tools/cloudsim.py), each a gateway and a worker host,
every host an Open vSwitch in its own namespace; red's VM `va` on fa-h1
and `vb` on fb-h1, so their traffic crosses both gateways.  A PostgreSQL cluster
of this module's own (it is restarted and stopped here) and a skyvisord with
its reconciler.  Each fault runs under writer threads that create
networks and patch them, patch the two VMs' labels and now and then create
a VM (a port the reconciler must make), recording every answer; meanwhile
the data-plane probe (tools/udpprobe) streams 1000 datagrams a second from
`va` to an echo in `vb`, marked at the fault's start and at its repair.

The faults: kill -9 of skyvisord and a restart; PostgreSQL restarted
(`pg_ctl restart -m fast`), and stopped for a few seconds; the ovsdb-server
of fa-h1 killed and restarted; the ovs-vswitchd of fa-gw killed and
restarted.  After each, the writes of every fault so far are checked as
sets, object by object, against what the API now shows: the last write
answered 2xx must be there with exactly the value acknowledged (or a later
write whose outcome is unknown, a 5xx or a cut-off answer, may have replaced
it); a write refused at connect or answered 4xx must have changed nothing.
The network must converge (every object realized at its generation, `va`
pings `vb`) within CONVERGE_S.  The probe's numbers are printed, not judged,
and written with the write counts to $SKYVISOR_BUILD/test-artifacts/
faults.json.
"""

import http.client
import itertools
import json
import os
import sys
import threading
import time

import pytest

from conftest import BUILD, ROOT, ADMIN_TOKEN, PgCluster, Skyvisord, ok
from udpprobe import Echo, Sender

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUDS = {"fa": [{"name": "fa-gw", "tunnel_ip": "198.18.1.1", "public_ip": "198.19.0.1"},
                 {"name": "fa-h1", "tunnel_ip": "198.18.1.2"}],
          "fb": [{"name": "fb-gw", "tunnel_ip": "198.18.2.1", "public_ip": "198.19.0.2"},
                 {"name": "fb-h1", "tunnel_ip": "198.18.2.2"}]}
# name: (host, mac, ip)
VMS = {"va": ("fa-h1", "02:00:00:00:07:01", "10.0.0.1"),
       "vb": ("fb-h1", "02:00:00:00:07:02", "10.0.0.2")}
ECHO = f"{VMS['vb'][2]}:7001"
CONVERGE_S = 60            # from the repair to every object realized and a ping
WRITERS = 4                # writer threads, so several transactions meet each fault
WRITE_VMS_PER_FAULT = 4    # VMs the first writer creates per fault (ports to make)
RESULTS = {}
VM_NUMBERS = itertools.count(1)   # the writer's VMs: MAC and IP unique in the tenant


@pytest.fixture(scope="module")
def cluster():
    c = PgCluster()
    yield c
    c.destroy()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svf{os.getpid() % 1000}",
            "clouds": [{"name": c, "hosts": hs} for c, hs in CLOUDS.items()],
            "vms": [{"name": k, "host": v[0], "iface": k, "mac": v[1], "ip": v[2]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


@pytest.fixture(scope="module")
def world(cluster, sim):
    d = Skyvisord(db_url=cluster.url(cluster.fresh_db()), reconcile=True, threads=4)
    d.start()
    api = d.api()
    echo = None
    try:
        for c in CLOUDS:
            ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
            for h in CLOUDS[c]:
                ok(api.post("/v1/hosts", sim.host_body(h, c)))
        ok(api.request("PUT", "/v1/cloud-links/fa/fb", {"cost": 1}))
        for t, net, subnet in (("red", "prod", "10.0.0.0/24"), ("wr", "vms", "10.64.0.0/16")):
            ok(api.post("/v1/tenants", {"name": t}))
            ok(api.post(f"/v1/tenants/{t}/networks", {"name": net, "subnet": subnet}))
            ok(api.post(f"/v1/tenants/{t}/networks/{net}/switches", {"name": "s"}))
        for name, (host, mac, ip) in VMS.items():
            ok(api.post("/v1/tenants/red/networks/prod/vms",
                        {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
                         "placement": {"host": host}}))
        converge(api, sim, CONVERGE_S)
        echo = Echo(sim.vm_ns("vb"), ECHO).start()
        yield d, api, sim, cluster
    finally:
        if echo:
            echo.kill()
        rc = d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])
        write_results()
    # After every fault, skyvisord still stops cleanly (and, in the
    # sanitizer build, without a finding).
    assert rc == 0, f"skyvisord exited {rc}"


# -- convergence -----------------------------------------------------------------

def lst(api, path):
    """Every item of a paginated list."""
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        page = ok(api.get(f"{path}{sep}limit=1000" + (f"&cursor={cursor}" if cursor else "")))
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def unrealized(api):
    objs = [("hosts", o) for o in lst(api, "/v1/hosts")]
    for t in ("red", "wr"):
        for n in lst(api, f"/v1/tenants/{t}/networks"):
            objs.append(("networks", n))
            base = f"/v1/tenants/{t}/networks/{n['name']}"
            if n["name"] in ("prod", "vms"):
                objs += [("switches", o) for o in lst(api, f"{base}/switches")]
                objs += [("vms", o) for o in lst(api, f"{base}/vms")]
    return [(k, o["name"], o["status"]) for k, o in objs
            if o["status"]["state"] != "realized"
            or o["status"]["observed_generation"] != o["status"]["generation"]]


def plug_writer_vms(api, sim):
    """Plays the hypervisor for the VMs the writers created (they have no
    `iface`): plugs an interface carrying each one's id into its host's
    bridge, as a VM without `iface` waits for."""
    for v in lst(api, "/v1/tenants/wr/networks/vms/vms"):
        port = f"p{v['id'][:8]}"
        sim.vsctl(v["host"], "--may-exist", "add-port", "br-sky", port, "--", "set",
                  "interface", port, "type=internal",
                  f"external_ids:skyvisor-vm-id={v['id']}")


def converge(api, sim, bound):
    """Waits until every object is realized at its generation and `va`
    pings `vb`; returns the seconds it took, or fails naming what is not there."""
    start = time.time()
    bad = "skyvisord not answering"
    while time.time() - start < bound:
        try:
            bad = unrealized(api)
            plug_writer_vms(api, sim)
        except (OSError, AssertionError, http.client.HTTPException) as e:
            bad = f"the API: {e}"
        except RuntimeError as e:           # an ovs-vsctl that failed
            bad = f"plugging the writers' VMs: {e}"
        if not bad:
            if sim.ping("va", VMS["vb"][2], count=1, wait=1):
                return time.time() - start
            bad = "va does not ping vb"
        time.sleep(0.3)
    pytest.fail(f"not converged within {bound} s: {bad}")


# -- the writer ------------------------------------------------------------------

ACK, REJECTED, FAILED, CUT, REFUSED = "2xx", "4xx", "5xx", "cut off", "refused"


class Writer(threading.Thread):
    """Writes without pause until stopped, each write recorded as
    (object key, method, value written, outcome, status, answer).  Values are
    unique per write (the fault's name, the writer's lane and a counter), so
    a value seen later names the one write that made it.  Every object is
    written by one writer only (the VMs by lane 0), so its writes are
    recorded in the order they were made."""

    def __init__(self, port, fault, lane, vm_hosts):
        super().__init__(daemon=True)
        self.port, self.fault, self.lane, self.vm_hosts = port, fault, lane, vm_hosts
        self.records = []
        self.stopping = threading.Event()

    def request(self, method, path, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            try:
                conn.connect()
            except ConnectionRefusedError:
                return REFUSED, None, None
            try:
                conn.request(method, path, body=json.dumps(body),
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                text = r.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as e:
                return CUT, None, repr(e)
            outcome = ACK if r.status < 300 else REJECTED if r.status < 500 else FAILED
            try:
                answer = json.loads(text) if text else None
            except ValueError:
                answer = text
            return outcome, r.status, answer
        finally:
            conn.close()

    def write(self, key, method, path, body, value):
        outcome, status, answer = self.request(method, path, body)
        if outcome == ACK and answer["labels"] != value:
            outcome = "2xx with another value"     # run_fault fails on it
        self.records.append({"key": key, "method": method, "path": path, "value": value,
                             "outcome": outcome, "status": status, "answer": answer})
        if outcome != ACK:
            time.sleep(0.02)        # while the service is down, not thousands of 503s

    def run(self):
        f, i, vms = self.fault, 0, 0
        while not self.stopping.is_set():
            net = f"{f}-{self.lane}n{i}"
            base = "/v1/tenants/wr/networks"
            self.write(("wr", "networks", net), "POST", base,
                       {"name": net, "subnet": "10.9.0.0/24", "labels": {"w": f"{net}-c"}},
                       {"w": f"{net}-c"})
            self.write(("wr", "networks", net), "PATCH", f"{base}/{net}",
                       {"labels": {"w": f"{net}-p"}}, {"w": f"{net}-p"})
            if self.lane == 0 and i % 3 == 0:
                vm = ("va", "vb")[i // 3 % 2]
                self.write(("red", "vms", vm), "PATCH", f"/v1/tenants/red/networks/prod/vms/{vm}",
                           {"labels": {"w": f"{net}-{vm}"}}, {"w": f"{net}-{vm}"})
            if self.lane == 0 and i % 5 == 0 and vms < WRITE_VMS_PER_FAULT:
                name = f"{f}-v{vms}"
                n = next(VM_NUMBERS)
                self.write(("wr", "vms", name), "POST", "/v1/tenants/wr/networks/vms/vms",
                           {"name": name, "mac": "02:00:0a:00:%02x:%02x" % (n >> 8, n & 255),
                            "ip": f"10.64.{n >> 8}.{n & 255}", "switch": "s",
                            "placement": {"host": self.vm_hosts[vms % len(self.vm_hosts)]},
                            "labels": {"w": name}},
                           {"w": name})
                vms += 1
            i += 1

    def stop(self):
        self.stopping.set()
        self.join(30)
        assert not self.is_alive()


# -- checking the writes as sets ---------------------------------------------------

def observed(api):
    """{object key: labels} of every object the writers touch."""
    seen = {}
    for n in lst(api, "/v1/tenants/wr/networks"):
        seen[("wr", "networks", n["name"])] = n["labels"]
    for v in lst(api, "/v1/tenants/wr/networks/vms/vms"):
        seen[("wr", "vms", v["name"])] = v["labels"]
    for v in lst(api, "/v1/tenants/red/networks/prod/vms"):
        seen[("red", "vms", v["name"])] = v["labels"]
    return seen


def check_writes(records, seen, initial):
    """Compares each object's writes, in the order they were made (one
    writer at a time), with the labels the object now holds ('seen'; None:
    absent; 'initial' for objects that existed before).  Returns (lost,
    phantom, unknown): acknowledged writes no longer visible, with what was
    found instead; writes refused or rejected that took effect anyway; and
    each write of unknown outcome with whether it took effect."""
    lost, phantom, unknown = [], [], []
    by_key = {}
    for r in records:
        by_key.setdefault(r["key"], []).append(r)
    for key, writes in by_key.items():
        now = seen.get(key)
        allowed = [initial.get(key)]          # what the object may hold now
        last_ack = None
        for w in writes:
            if w["outcome"] == ACK:
                allowed, last_ack = [w["value"]], w
            elif w["outcome"] in (FAILED, CUT):
                allowed.append(w["value"])
        if now not in allowed and last_ack is not None:
            lost.append({"write": last_ack, "found": now})
        for w in writes:
            if w["outcome"] in (REFUSED, REJECTED) and now == w["value"]:
                phantom.append({"write": w, "found": now})
            elif w["outcome"] in (FAILED, CUT):
                unknown.append((w, now == w["value"]))
        if now not in allowed and last_ack is None and not any(
                p["write"]["key"] == key for p in phantom):
            phantom.append({"write": writes[-1], "found": now})
    return lost, phantom, unknown


def test_check_writes_tells_lost_from_unknown():
    """The comparison itself, on writes made up for it: an acknowledged
    PATCH the object no longer shows is lost, unless a later write of
    unknown outcome explains the value; a refused write must not show."""
    def w(key, value, outcome):
        return {"key": key, "method": "PATCH", "path": "", "value": value, "outcome": outcome,
                "status": None, "answer": None}
    a1, a2 = w("a", 1, ACK), w("a", 2, ACK)              # a shows 1: a2 lost
    b1, b2 = w("b", 1, ACK), w("b", 2, FAILED)           # b shows 2: b2 applied
    c1, c2 = w("c", 1, CUT), w("c", 2, REFUSED)          # c shows 2: c2 refused yet applied
    d1 = w("d", 1, ACK)                                  # d is gone: d1 lost
    e1 = w("e", 1, FAILED)                               # e absent: e1 not applied
    lost, phantom, unknown = check_writes([a1, a2, b1, b2, c1, c2, d1, e1],
                                          {"a": 1, "b": 2, "c": 2}, {})
    assert lost == [{"write": a2, "found": 1}, {"write": d1, "found": None}]
    assert phantom == [{"write": c2, "found": 2}]
    assert unknown == [(b2, True), (c1, False), (e1, False)]


# -- one fault ---------------------------------------------------------------------

class Harness:
    """Every write so far, what the red VMs held before the first, and the
    lost writes already reported (by an earlier fault's test)."""
    records = []
    initial = {}
    reported = set()


def tally(mine, lost, phantom, unknown):
    """The counts of one fault's writes ('mine')."""
    ids = {id(r) for r in mine}
    n = {o: sum(1 for r in mine if r["outcome"] == o)
         for o in (ACK, REJECTED, FAILED, CUT, REFUSED)}
    applied = {o: sum(1 for w, took in unknown if id(w) in ids and took and w["outcome"] == o)
               for o in (FAILED, CUT)}
    return {"writes": len(mine), "acknowledged": n[ACK],
            "lost": sum(1 for x in lost if id(x["write"]) in ids),
            "phantom": sum(1 for x in phantom if id(x["write"]) in ids),
            "5xx": n[FAILED], "5xx_applied": applied[FAILED],
            "cut_off": n[CUT], "cut_off_applied": applied[CUT],
            "refused": n[REFUSED], "4xx": n[REJECTED]}


def run_fault(world, capsys, name, inject, repair, hold):
    """One fault under the writer and the probe: a second of baseline,
    inject, 'hold' seconds, repair, a second more of writes, then
    convergence within CONVERGE_S of the repair; then every write so far
    is checked.  The numbers are printed and recorded."""
    d, api, sim, _ = world
    if not Harness.initial:
        Harness.initial = {k: v for k, v in observed(api).items() if k[0] == "red"}
    writers = [Writer(d.port, name, lane, ["fa-h1", "fb-h1"]) for lane in range(WRITERS)]
    with Sender(sim.vm_ns("va"), ECHO) as probe:
        for w in writers:
            w.start()
        time.sleep(1.0)
        probe.mark()
        inject()
        time.sleep(hold)
        repair()
        probe.mark()
        repaired = time.time()
        time.sleep(1.0)
        for w in writers:
            w.stop()
        converge(api, sim, CONVERGE_S - (time.time() - repaired))
        converged = time.time() - repaired
    mine = [r for w in writers for r in w.records]
    Harness.records += mine
    lost, phantom, unknown = check_writes(Harness.records, observed(api), Harness.initial)
    lost = [x for x in lost if id(x["write"]) not in Harness.reported]
    Harness.reported |= {id(x["write"]) for x in lost}
    r, during = probe.result, probe.result["windows"][1]
    row = dict(tally(mine, lost, phantom, unknown), converged_s=round(converged, 1),
               probe={k: r[k] for k in ("sent", "lost", "duplicated", "reordered",
                                        "max_gap_ms", "max_loss_run")},
               probe_windows=r["windows"])
    RESULTS[name] = row
    with capsys.disabled():
        print(f"\nfault {name}: writes {row['writes']}, acknowledged {row['acknowledged']}, "
              f"lost {row['lost']}, 5xx {row['5xx']} (applied {row['5xx_applied']}), "
              f"cut off {row['cut_off']} (applied {row['cut_off_applied']}), refused "
              f"{row['refused']}, 4xx {row['4xx']}; converged {converged:.1f} s after the "
              f"repair; probe: sent {r['sent']} lost {r['lost']} dup {r['duplicated']} "
              f"reordered {r['reordered']} longest gap {r['max_gap_ms']:.0f} ms "
              f"(from the fault to its repair: lost {during['lost']} of {during['sent']})")
    assert not lost, f"acknowledged writes lost: {lost[:5]}"
    assert not phantom, f"refused or rejected writes took effect: {phantom[:5]}"
    odd = [w for w in mine if w["outcome"] not in (ACK, REJECTED, FAILED, CUT, REFUSED)]
    assert not odd, f"2xx answers showing another value than the one written: {odd[:5]}"
    # A 4xx is only the PATCH of a network whose create did not answer 2xx.
    created = {w["key"] for w in Harness.records if w["method"] == "POST" and w["outcome"] == ACK}
    odd = [w for w in mine if w["outcome"] == REJECTED
           and not (w["method"] == "PATCH" and w["status"] == 404 and w["key"] not in created)]
    assert not odd, f"unexpected 4xx answers: {odd[:5]}"
    assert row["acknowledged"] > 0


def write_results():
    if not RESULTS:
        return
    out = os.path.join(BUILD, "test-artifacts")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "faults.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)


# -- the faults --------------------------------------------------------------------

def test_kill9_skyvisord(world, capsys):
    d = world[0]
    run_fault(world, capsys, "kill9", lambda: d.stop(sig=9), lambda: d.start(wait=False),
              hold=2.0)


def test_postgresql_restart(world, capsys):
    pg = world[3]

    def restart():
        pg._run("pg_ctl", "-D", pg.data, "-l", os.path.join(pg.dir, "log"), "-m", "fast",
                "-w", "restart")
    run_fault(world, capsys, "pgrestart", restart, lambda: None, hold=1.0)


def test_postgresql_stopped(world, capsys):
    pg = world[3]
    run_fault(world, capsys, "pgstop", lambda: pg.stop("fast"), pg.start, hold=3.0)


def test_ovsdb_server_lost(world, capsys):
    """fa-h1 loses its ovsdb-server.  Open vSwitch stops running its
    bridges while it does not hold its OVSDB lock, and on the userspace
    datapath that stops forwarding too: the probe counts that outage."""
    sim = world[2]
    run_fault(world, capsys, "ovsdb", lambda: sim.daemon_kill("fa-h1", "ovsdb-server"),
              lambda: sim.daemon_start("fa-h1", "ovsdb-server"), hold=3.0)


def test_switch_lost(world, capsys):
    """fa-gw's ovs-vswitchd dies (its flows with it) and is restarted."""
    sim = world[2]
    run_fault(world, capsys, "vswitchd", lambda: sim.daemon_kill("fa-gw", "ovs-vswitchd"),
              lambda: sim.daemon_start("fa-gw", "ovs-vswitchd"), hold=2.0)
