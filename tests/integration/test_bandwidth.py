"""Bandwidth isolation on real Open vSwitch: OpenFlow meters for a VM's
rate limit and for the tenants' caps on the WAN (migrations/010,
core/meters.h), with the API's admission control.

Two clouds, each a gateway and a worker (tools/cloudsim.py); the WAN
between the gateways is shaped by this test to 100 Mbit/s (htb on each
gateway's underlay veth, egress), and the cloud link declares those 100
Mbit/s.  Tenants A and B are capped at 40 Mbit/s each; their senders sit
on cloud 1's worker, their receivers on cloud 2's gateway, so both cross
the same two gateways and the same shaped link.  Rates are measured at the
receiver, from the bytes its interface received over a window that starts
a second after the traffic (the meters' initial burst is spent by then).

These are functional assertions of isolation (a flood does not take a
capped neighbour's share; a cap and a VM rate hold), not benchmarks: each
iperf3 run lasts a few seconds.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT, Skyvisord, assert_problem, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

WAN_MBIT = 100
CAP = 40
# A's flood: well above its cap and above the whole WAN, which it would
# fill without the meters; no more, so that the userspace datapaths of a
# small machine forward the whole of it and the run measures the meters,
# not the CPU.
FLOOD_MBIT = 120
# B's stream: paced UDP below its cap, so what B receives is what the WAN
# leaves it, not how a TCP stream fares against its cap's policer (which
# varies with the machine).
B_MBIT = 36
VM_RATE = 30
HOSTS = {"c1": ["gw", "h1"], "c2": ["gw", "h1"]}
# name: (tenant, host, mac, ip)
VMS = {
    "a-src": ("ta", "c1-h1", "02:00:00:00:0a:01", "10.1.0.1"),
    "a-dst": ("ta", "c2-gw", "02:00:00:00:0a:02", "10.1.0.2"),
    "b-src": ("tb", "c1-h1", "02:00:00:00:0b:01", "10.1.0.1"),
    "b-dst": ("tb", "c2-gw", "02:00:00:00:0b:02", "10.1.0.2"),
    "c-src": ("tc", "c2-h1", "02:00:00:00:0c:01", "10.1.0.1"),
    "c-dst": ("tc", "c2-gw", "02:00:00:00:0c:02", "10.1.0.2"),
}


def host_spec():
    clouds = []
    for n, (cloud, hosts) in enumerate(HOSTS.items(), start=1):
        hs = []
        for i, h in enumerate(hosts, start=1):
            spec = {"name": f"{cloud}-{h}", "tunnel_ip": f"198.18.{n}.{i}"}
            if h == "gw":
                spec["public_ip"] = f"198.19.0.{n}"
            hs.append(spec)
        clouds.append({"name": cloud, "hosts": hs})
    return clouds


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"svb{os.getpid() % 1000}", "clouds": host_spec(),
            "vms": [{"name": k, "host": v[1], "iface": k, "mac": v[2], "ip": v[3]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        for gw in ("c1-gw", "c2-gw"):
            ns = s.host_ns(gw)
            cloudsim.sh("tc", "qdisc", "add", "dev", "wan0", "root", "handle", "1:",
                        "htb", "default", "1", ns=ns)
            cloudsim.sh("tc", "class", "add", "dev", "wan0", "parent", "1:", "classid",
                        "1:1", "htb", "rate", f"{WAN_MBIT}mbit", "ceil",
                        f"{WAN_MBIT}mbit", ns=ns)
        yield s


@pytest.fixture(scope="module")
def world(pg, sim):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True)
    d.start()
    api = d.api()
    try:
        declare(api, sim)
        wait_realized(api)
        yield d, api, sim
    finally:
        rc = d.stop()
        assert rc == 0, "skyvisord did not exit cleanly:\n" + d.read_log()[-20000:]


def declare(api, sim):
    for cloud in HOSTS:
        ok(api.post("/v1/clouds", {"name": cloud, "provider": "aws", "region": "r1",
                                   "jurisdiction": "DE", "kind": "public"}))
    for cloud in sim.spec["clouds"]:
        for h in cloud["hosts"]:
            ok(api.post("/v1/hosts", sim.host_body(h, cloud["name"])))
    ok(api.put("/v1/cloud-links/c1/c2", {"cost": 1, "bandwidth_mbps": WAN_MBIT}))
    for t in ("ta", "tb", "tc"):
        ok(api.post("/v1/tenants", {"name": t}))
        ok(api.post(f"/v1/tenants/{t}/networks", {"name": "n", "subnet": "10.1.0.0/24"}))
        ok(api.post(f"/v1/tenants/{t}/networks/n/switches", {"name": "s"}))
    for t in ("ta", "tb"):
        ok(api.patch(f"/v1/tenants/{t}", {"wan_limit_mbps": CAP}))
    for name, (t, host, mac, ip) in VMS.items():
        body = {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
                "placement": {"host": host}}
        if name == "c-src":
            body["rate_mbps"] = VM_RATE
        ok(api.post(f"/v1/tenants/{t}/networks/n/vms", body))


def wait_realized(api, timeout=60):
    deadline = time.time() + timeout
    while True:
        bad = []
        for t in ("ta", "tb", "tc"):
            for v in ok(api.get(f"/v1/tenants/{t}/networks/n/vms"))["items"]:
                st = v["status"]
                if st["state"] != "realized" or st["observed_generation"] != st["generation"]:
                    bad.append((v["name"], st))
        if not bad:
            return
        assert time.time() < deadline, f"not realized: {bad}"
        time.sleep(0.5)


def meters(sim, host):
    """The bridge's meters as {id: (flags, rate, burst)}."""
    p = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "dump-meters",
                    f"unix:{sim.hdir(host)}/br-sky.mgmt")
    out, cur = {}, None
    for tok in p.stdout.split():
        if tok.startswith("meter="):
            cur = int(tok.split("=")[1])
            out[cur] = [set(), None, None]
        elif cur is not None and tok in ("kbps", "pktps", "burst", "stats"):
            out[cur][0].add(tok)
        elif cur is not None and tok.startswith("rate="):
            out[cur][1] = int(tok.split("=")[1])
        elif cur is not None and tok.startswith("burst_size="):
            out[cur][2] = int(tok.split("=")[1])
    return {k: tuple(v) for k, v in out.items()}


def wait_for(pred, what, timeout=20):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, what
        time.sleep(0.25)


def rx_bytes(sim, vm):
    p = cloudsim.sh("cat", "/sys/class/net/eth0/statistics/rx_bytes", ns=sim.vm_ns(vm))
    return int(p.stdout)


class Iperf:
    """An iperf3 server in the receiver's namespace and a client in the
    sender's, for 'seconds'; the rate the receiver's interface takes in is
    measured over [start + 1 s, end - 0.5 s)."""

    def __init__(self, sim, src, dst, port, udp_mbit=None, seconds=5):
        self.sim, self.src, self.dst, self.port = sim, src, dst, port
        self.udp_mbit, self.seconds = udp_mbit, seconds

    def __enter__(self):
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", self.sim.vm_ns(self.dst), "iperf3", "-s", "-1", "-p",
             str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        args = ["ip", "netns", "exec", self.sim.vm_ns(self.src), "iperf3", "-c",
                VMS[self.dst][3], "-p", str(self.port), "-t", str(self.seconds), "-J"]
        if self.udp_mbit:
            args += ["-u", "-b", f"{self.udp_mbit}M", "-l", "1300"]
        self.client = subprocess.Popen(args, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc):
        for p in (self.client, self.server):
            if p.poll() is None:
                p.kill()
            p.wait()
        return False

    def wait(self):
        out, err = self.client.communicate(timeout=self.seconds + 20)
        self.server.wait(timeout=10)
        try:
            return json.loads(out)
        except ValueError:
            raise AssertionError(f"iperf3 {self.src} -> {self.dst}: {out} {err}") from None


def measure(sim, dst, start, seconds):
    """Mbit/s into 'dst''s interface over [start + 1, start + seconds - 0.5)."""
    time.sleep(max(0, start + 1 - time.time()))
    t0, b0 = time.time(), rx_bytes(sim, dst)
    time.sleep(max(0.5, start + seconds - 0.5 - time.time()))
    t1, b1 = time.time(), rx_bytes(sim, dst)
    return (b1 - b0) * 8 / (t1 - t0) / 1e6


def contend(sim, secs=5):
    """A floods UDP far above its cap while B sends UDP below its own:
    both receivers' rates, measured side by side."""
    with Iperf(sim, "a-src", "a-dst", 5301, udp_mbit=FLOOD_MBIT, seconds=secs), \
            Iperf(sim, "b-src", "b-dst", 5302, udp_mbit=B_MBIT, seconds=secs):
        start = time.time()
        mid = start + 1
        time.sleep(max(0, mid - time.time()))
        t0 = time.time()
        a0, b0 = rx_bytes(sim, "a-dst"), rx_bytes(sim, "b-dst")
        time.sleep(secs - 1.5)
        t1 = time.time()
        a1, b1 = rx_bytes(sim, "a-dst"), rx_bytes(sim, "b-dst")
        # The rates are the receivers' interfaces'; the clients' own
        # reports are not awaited: on a link the flood fills (the control)
        # an iperf3 client's closing exchange can stall past its run.
    dt = t1 - t0
    return (a1 - a0) * 8 / dt / 1e6, (b1 - b0) * 8 / dt / 1e6


def cap_meter_id(api, sim, tenant):
    tag = ok(api.get(f"/v1/tenants/{tenant}"))["tag"]
    port = int(sim.vsctl("c1-gw", "get", "Interface", wan_tunnel(sim, "c1-gw"),
                         "ofport").stdout)
    return tag << 16 | port


def wan_tunnel(sim, gw):
    names = sim.vsctl(gw, "--bare", "--columns=name", "find", "Interface",
                      "type=vxlan").stdout.split()
    wan = [n for n in names if sim.vsctl(gw, "get", "Interface", n,
                                         "options:remote_ip").stdout.strip()
           .strip('"').startswith("198.19.")]
    assert len(wan) == 1, names
    return wan[0]


# --- the API ---------------------------------------------------------------

def test_admission_control(world):
    _, api, _ = world
    # 40 + 40 of 100: a third tenant may have 20, not 21.
    body = assert_problem(api.patch("/v1/tenants/tc", {"wan_limit_mbps": 21}), 409,
                          "conflict", "wan_limit_mbps")
    assert "c1/c2" in body["detail"] and "101" in body["detail"], body
    body = assert_problem(api.post("/v1/tenants", {"name": "td", "wan_limit_mbps": 30}),
                          409, "conflict", "wan_limit_mbps")
    assert "c1/c2" in body["detail"], body
    assert api.get("/v1/tenants/td")[0] == 404
    # Lowering the link below the caps' sum: refused, naming the sum.
    body = assert_problem(api.put("/v1/cloud-links/c1/c2", {"cost": 1, "bandwidth_mbps": 79}),
                          409, "conflict", "bandwidth_mbps")
    assert "80" in body["detail"], body
    assert ok(api.get("/v1/cloud-links/c1/c2"))["bandwidth_mbps"] == WAN_MBIT
    # Exactly full is fine, and so is lowering a cap.
    ok(api.put("/v1/cloud-links/c1/c2", {"cost": 1, "bandwidth_mbps": 80}))
    ok(api.put("/v1/cloud-links/c1/c2", {"cost": 1, "bandwidth_mbps": WAN_MBIT}))
    # Bad values.
    assert_problem(api.patch("/v1/tenants/tc", {"wan_limit_mbps": 0}), 400,
                   "invalid-value", "wan_limit_mbps")
    assert_problem(api.patch("/v1/tenants/tc", {"wan_limit_mbps": "x"}), 400,
                   "wrong-type", "wan_limit_mbps")
    vm = "/v1/tenants/tc/networks/n/vms/c-dst"
    assert_problem(api.patch(vm, {"rate_mbps": -5}), 400, "invalid-value", "rate_mbps")
    assert_problem(api.patch(vm, {"burst_kb": 100}), 400, "invalid-value", "burst_kb")
    assert_problem(api.put("/v1/cloud-links/c1/c2", {"cost": 1, "bandwidth_mbps": 0}), 400,
                   "invalid-value", "bandwidth_mbps")
    v = ok(api.get("/v1/tenants/tc/networks/n/vms/c-src"))
    assert v["rate_mbps"] == VM_RATE and v["burst_kb"] is None
    assert ok(api.get("/v1/tenants/ta"))["wan_limit_mbps"] == CAP


# --- the meters on the bridges ----------------------------------------------

def test_meters_installed(world):
    _, api, sim = world
    ma, mb = cap_meter_id(api, sim, "ta"), cap_meter_id(api, sim, "tb")
    got = wait_for(lambda: (lambda m: m if ma in m and mb in m else None)(meters(sim, "c1-gw")),
                   "cap meters on c1-gw")
    assert got[ma] == ({"kbps", "burst"}, CAP * 1000, CAP * 100), got
    assert got[mb][1] == CAP * 1000
    # Tenant C has no cap: no meter of its tag on the gateway.
    tc = ok(api.get("/v1/tenants/tc"))["tag"]
    assert not [k for k in got if k >> 16 == tc], got
    # C's VM has a rate: a meter named by its port on its host, in its
    # port-security flow.
    port = int(sim.vsctl("c2-h1", "get", "Interface", "c-src", "ofport").stdout)
    vmm = wait_for(lambda: meters(sim, "c2-h1").get(port), "VM meter on c2-h1")
    assert vmm == ({"kbps", "burst"}, VM_RATE * 1000, VM_RATE * 100), vmm
    flows = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows",
                        f"unix:{sim.hdir('c2-h1')}/br-sky.mgmt").stdout
    assert any(f"meter:{port}" in l and "in_port" in l for l in flows.splitlines()), flows


def test_cap_change_modifies_and_removal_deletes_the_meter(world):
    _, api, sim = world
    mid = cap_meter_id(api, sim, "tb")
    ok(api.patch("/v1/tenants/tb", {"wan_limit_mbps": 30}))
    wait_for(lambda: meters(sim, "c1-gw").get(mid, (None, 0))[1] == 30000,
             "cap meter modified to 30 Mbit/s")
    ok(api.patch("/v1/tenants/tb", {"wan_limit_mbps": None}))
    wait_for(lambda: mid not in meters(sim, "c1-gw"), "cap meter deleted")
    flows = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows",
                        f"unix:{sim.hdir('c1-gw')}/br-sky.mgmt").stdout
    assert f"meter:{mid}" not in flows
    ok(api.patch("/v1/tenants/tb", {"wan_limit_mbps": CAP}))
    wait_for(lambda: meters(sim, "c1-gw").get(mid, (None, 0))[1] == CAP * 1000,
             "cap meter back")
    # A meter deleted behind skyvisord's back comes back after a restart's
    # read-back.
    cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "del-meter",
                f"unix:{sim.hdir('c1-gw')}/br-sky.mgmt", f"meter={mid}")
    d, _, _ = world
    d.stop()
    d.start()
    wait_for(lambda: mid in meters(sim, "c1-gw"), "meter restored by the read-back")


def test_vm_rate_change_reaches_its_meter(world):
    """A VM's PATCH goes the incremental way (the VM re-read by id): its
    meter is modified, and without a rate its flow names no meter."""
    _, api, sim = world
    vm = "/v1/tenants/tc/networks/n/vms/c-src"
    port = int(sim.vsctl("c2-h1", "get", "Interface", "c-src", "ofport").stdout)
    mgmt = f"unix:{sim.hdir('c2-h1')}/br-sky.mgmt"

    def metered():
        out = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows",
                          mgmt).stdout
        return any(f"meter:{port}" in l for l in out.splitlines())

    ok(api.patch(vm, {"rate_mbps": 20, "burst_kb": 500}))
    wait_for(lambda: meters(sim, "c2-h1").get(port) == ({"kbps", "burst"}, 20000, 500),
             "VM meter modified")
    ok(api.patch(vm, {"rate_mbps": None, "burst_kb": None}))
    wait_for(lambda: not metered(), "the VM's flow without its meter")
    ok(api.patch(vm, {"rate_mbps": VM_RATE}))
    wait_for(lambda: metered() and meters(sim, "c2-h1").get(port)
             == ({"kbps", "burst"}, VM_RATE * 1000, VM_RATE * 100), "VM meter back")


# --- traffic -----------------------------------------------------------------

def test_flood_does_not_take_a_capped_neighbours_share(world):
    _, api, sim = world
    wait_realized(api)
    for src, dst in (("a-src", "a-dst"), ("b-src", "b-dst")):
        assert wait_for(lambda: sim.ping(src, VMS[dst][3], count=3, wait=1),
                        f"{src} reaches {dst}")
    a, b = contend(sim)
    print(f"\ncaps {CAP}+{CAP} on a {WAN_MBIT} Mbit/s WAN: A (UDP {FLOOD_MBIT} Mbit/s "
          f"offered) received {a:.1f} Mbit/s, B (UDP {B_MBIT} Mbit/s offered) {b:.1f} Mbit/s")
    assert b >= 0.95 * B_MBIT, (a, b)
    assert abs(a - CAP) <= 0.1 * CAP, (a, b)


def test_without_the_caps_the_flood_takes_the_link(world):
    """The control: the same run with the caps removed (their meters go),
    so the shaped WAN is what A and B share."""
    _, api, sim = world
    for t in ("ta", "tb"):
        ok(api.patch(f"/v1/tenants/{t}", {"wan_limit_mbps": None}))
    try:
        wait_for(lambda: not [k for k in meters(sim, "c1-gw") if k >> 16], "cap meters gone")
        a, b = contend(sim)
        print(f"\nno caps on a {WAN_MBIT} Mbit/s WAN: A (UDP {FLOOD_MBIT} Mbit/s offered) "
              f"received {a:.1f} Mbit/s, B (UDP {B_MBIT} Mbit/s offered) {b:.1f} Mbit/s")
        # Without its meter the flood goes well past A's cap.  How much of
        # the shaped WAN the two fill between them, and how much of it B
        # keeps, is up to the link's queue and to how fast the userspace
        # datapaths forward on a loaded machine (printed: A + B from 72 to
        # 100 Mbit/s, B from 0 to 37, in runs here): a throughput, for the
        # benchmarks, not this control.
        assert a > 1.25 * CAP, (a, b)
    finally:
        for t in ("ta", "tb"):
            ok(api.patch(f"/v1/tenants/{t}", {"wan_limit_mbps": CAP}))


def test_vm_rate_holds(world):
    _, api, sim = world
    assert wait_for(lambda: sim.ping("c-src", VMS["c-dst"][3], count=3, wait=1),
                    "c-src reaches c-dst")
    with Iperf(sim, "c-src", "c-dst", 5303, udp_mbit=3 * VM_RATE, seconds=4) as c:
        rate = measure(sim, "c-dst", time.time(), 4)
        c.wait()
    print(f"\nVM rate {VM_RATE} Mbit/s, UDP {3 * VM_RATE} Mbit/s offered: received "
          f"{rate:.1f} Mbit/s")
    assert abs(rate - VM_RATE) <= 0.1 * VM_RATE, rate
