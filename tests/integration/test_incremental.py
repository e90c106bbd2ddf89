"""The reconciler's incremental passes on real Open vSwitch: a change costs
what it touches, and what it leaves is what a full recompute would give.

One simulated cloud (tools/cloudsim.py): a gateway and two workers.  red
has VMs on both workers, blue one VM on i-h2 only.  skyvisord reads the
change log instead of reloading, recompiles only the changed VMs' flows
(their cookies) on the bridges carrying their network, and leaves the
other bridges alone; its audit (a short --audit-interval here) reloads
everything, recompiles every bridge and reads every bridge back.  The
scenarios:
- one VM added, then deleted: the passes that realize it compare only
  that VM's flows and its component's flood with the installed-flow
  tables, not the network's (skyvisor_reconciler_flows_kept_total moves
  by far less than the flows the switches hold), and read nothing back;
- after a run of VM changes (added on either worker, an address changed,
  deleted) the audit's full recompute finds nothing to add, delete or
  repair: the incremental passes left every bridge as a full pass would;
- a VM's port is inserted with an OpenFlow number skyvisor chose from the
  range Open vSwitch leaves to controllers (its flows went in with it
  before the insert was confirmed): each new port a number above the
  last, none taken by another port's request, a deleted port's number
  not given again, and an audit finds every flow as it should be.
"""

import os
import re
import sys
import time

import pytest

from conftest import ROOT, Skyvisord, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

CLOUD = "in1"
HOSTS = [{"name": "in1-gw", "tunnel_ip": "198.18.7.1", "public_ip": "198.19.7.1"},
         {"name": "in1-h1", "tunnel_ip": "198.18.7.2"},
         {"name": "in1-h2", "tunnel_ip": "198.18.7.3"}]
# name: (tenant, host, mac, ip)
VMS = {
    "r1": ("red", "in1-h1", "02:00:00:00:07:01", "10.7.0.1"),
    "r2": ("red", "in1-h1", "02:00:00:00:07:02", "10.7.0.2"),
    "r3": ("red", "in1-h2", "02:00:00:00:07:03", "10.7.0.3"),
    "r4": ("red", "in1-h2", "02:00:00:00:07:04", "10.7.0.4"),
    "b1": ("blue", "in1-h2", "02:00:00:00:07:11", "10.7.0.11"),
    "r5": ("red", "in1-h1", "02:00:00:00:07:05", "10.7.0.5"),
    "r6": ("red", "in1-h2", "02:00:00:00:07:06", "10.7.0.6"),
    "r7": ("red", "in1-h1", "02:00:00:00:07:07", "10.7.0.7"),
    "r8": ("red", "in1-h1", "02:00:00:00:07:08", "10.7.0.8"),
}
FIRST = ["r1", "r2", "r3", "r4", "b1"]
AUDIT_S = 4


def net(tenant):
    return f"/v1/tenants/{tenant}/networks/prod"


def metric(api, name):
    st, _, text = api.get("/metrics", token=None)
    assert st == 200
    prefix = f"skyvisor_reconciler_{name} "
    return float(next(l for l in text.splitlines() if l.startswith(prefix)).split()[1])


STAGES = ("desired", "ovsdb", "ports", "plan", "apply", "statuses", "lifecycle")


def stage_seconds(api):
    """skyvisor_reconciler_stage_seconds_total by stage."""
    st, _, text = api.get("/metrics", token=None)
    assert st == 200
    out = {}
    for line in text.splitlines():
        m = re.match(r'skyvisor_reconciler_stage_seconds_total\{stage="(\w+)"\} (\S+)$', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def flow_count(sim, match="cookie=0xa000000000000000/0xf000000000000000"):
    """The flows on every bridge that 'match' selects (None: every flow)."""
    n = 0
    for h in HOSTS:
        out = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "dump-flows",
                          f"unix:{sim.hdir(h['name'])}/br-sky.mgmt",
                          *([match] if match else [])).stdout
        n += sum(1 for l in out.splitlines() if "cookie=" in l)
    return n


def vm_body(name):
    _, host, mac, ip = VMS[name]
    return {"name": name, "mac": mac, "ip": ip, "switch": "s", "iface": name,
            "placement": {"host": host}}


def states(api, tenant):
    return {o["name"]: o["status"]["state"] for o in ok(api.get(f"{net(tenant)}/vms"))["items"]}


def wait_realized(api, names, timeout=60):
    deadline = time.time() + timeout
    while True:
        st = {**states(api, "red"), **states(api, "blue")}
        if all(st.get(n) == "realized" for n in names):
            return
        assert time.time() < deadline, f"not realized: {st}"
        time.sleep(0.05)


def wait_gone(api, name, timeout=30):
    deadline = time.time() + timeout
    while name in states(api, VMS[name][0]):
        assert time.time() < deadline
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("cloudsim"))
    spec = {"prefix": f"sin{os.getpid() % 1000}",
            "clouds": [{"name": CLOUD, "hosts": HOSTS}],
            "vms": [{"name": k, "host": v[1], "iface": k, "mac": v[2], "ip": v[3]}
                    for k, v in VMS.items()]}
    with cloudsim.Sim(spec, state) as s:
        yield s


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
        for tenant in ("red", "blue"):
            ok(api.post("/v1/tenants", {"name": tenant}))
            ok(api.post(f"/v1/tenants/{tenant}/networks",
                        {"name": "prod", "subnet": "10.7.0.0/24"}))
            ok(api.post(f"{net(tenant)}/switches", {"name": "s"}))
        for name in FIRST:
            ok(api.post(f"{net(VMS[name][0])}/vms", vm_body(name)))
        wait_realized(api, FIRST)
        yield d, api, sim
    finally:
        d.stop()
        print("\n".join(l for l in d.read_log().splitlines() if " http" not in l)[-20000:])


def quiet_after_audit(api):
    """Waits until an audit has run and the passes after it are done."""
    audits = metric(api, "audits_total")
    deadline = time.time() + 4 * AUDIT_S
    while metric(api, "audits_total") <= audits:
        assert time.time() < deadline, "no audit"
        time.sleep(0.1)
    time.sleep(0.5)


def test_one_vm_costs_its_own_flows(world):
    d, api, sim = world
    quiet_after_audit(api)
    # The installed-flow tables hold what the bridges hold, and their
    # gauges say so (an entry is a 28-byte header and its strings).
    installed = metric(api, "installed_flows")
    assert installed == flow_count(sim, None) > 0, installed
    assert metric(api, "installed_flow_bytes") > 28 * installed
    total = flow_count(sim)
    audits, kept = metric(api, "audits_total"), metric(api, "flows_kept_total")
    readbacks = metric(api, "readbacks_total")
    stages0 = stage_seconds(api)
    ok(api.post(f"{net('red')}/vms", vm_body("r5")))
    wait_realized(api, ["r5"])
    ok(api.delete(f"{net('red')}/vms/r5"))
    wait_gone(api, "r5")
    time.sleep(0.3)                 # the passes that follow the replicas
    # Every stage of a pass is accounted for, and the passes that sent
    # r5's flows and waited for their barriers spent time applying.
    stages1 = stage_seconds(api)
    assert set(stages0) == set(stages1) == set(STAGES), stages1
    assert all(stages1[s] >= stages0[s] for s in STAGES), (stages0, stages1)
    assert stages1["apply"] > stages0["apply"], (stages0, stages1)
    if metric(api, "audits_total") != audits:
        pytest.skip("an audit ran meanwhile (the machine is slow)")
    # r5's own flows and red's flood on in1-h1, compared a few times; a
    # full pass would have compared every flow of every bridge each time.
    assert metric(api, "flows_kept_total") - kept < total / 2, total
    assert metric(api, "readbacks_total") == readbacks


def test_incremental_passes_leave_what_a_full_pass_would(world):
    d, api, sim = world
    ok(api.post(f"{net('red')}/vms", vm_body("r5")))
    ok(api.post(f"{net('red')}/vms", vm_body("r6")))
    wait_realized(api, ["r5", "r6"])
    ok(api.patch(f"{net('red')}/vms/r6", {"ip": "10.7.0.16"}))
    ok(api.delete(f"{net('red')}/vms/r2"))
    wait_gone(api, "r2")
    wait_realized(api, ["r6"])
    time.sleep(0.5)
    added, deleted = metric(api, "flows_added_total"), metric(api, "flows_deleted_total")
    drift = metric(api, "drift_found_total")
    quiet_after_audit(api)
    assert metric(api, "flows_added_total") == added
    assert metric(api, "flows_deleted_total") == deleted
    assert metric(api, "drift_found_total") == drift


def iface_numbers(sim, host, name):
    """(ofport, ofport_request) of interface 'name' on 'host'."""
    out = sim.vsctl(host, "get", "Interface", name, "ofport", "ofport_request").stdout.split()
    return int(out[0]), (int(out[1]) if out[1] != "[]" else None)


def in_port_flows(sim, host, port):
    out = cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "dump-flows",
                      f"unix:{sim.hdir(host)}/br-sky.mgmt", f"in_port={port}").stdout
    return sum(1 for l in out.splitlines() if "cookie=" in l)


def test_new_ports_get_numbers_of_skyvisors_choosing(world):
    d, api, sim = world
    ok(api.post(f"{net('red')}/vms", vm_body("r7")))
    wait_realized(api, ["r7"])
    n7, req7 = iface_numbers(sim, "in1-h1", "r7")
    assert n7 == req7 and 32768 <= n7 <= 65279, (n7, req7)
    assert in_port_flows(sim, "in1-h1", n7) > 0
    # A port of someone else's asks for the number skyvisor would take next.
    sim.vsctl("in1-h1", "add-port", "br-sky", "xq", "--", "set", "Interface", "xq",
              "type=internal", f"ofport_request={n7 + 1}")
    try:
        deadline = time.time() + 10
        while iface_numbers(sim, "in1-h1", "xq")[0] != n7 + 1:
            assert time.time() < deadline
            time.sleep(0.05)
        ok(api.post(f"{net('red')}/vms", vm_body("r8")))
        wait_realized(api, ["r8"])
        n8, req8 = iface_numbers(sim, "in1-h1", "r8")
        assert n8 == req8 and n8 > n7 + 1, (n7, n8, req8)
        assert in_port_flows(sim, "in1-h1", n8) > 0
        # A number freed is not given to the next port.
        ok(api.delete(f"{net('red')}/vms/r8"))
        wait_gone(api, "r8")
        ok(api.post(f"{net('red')}/vms", vm_body("r8")))
        wait_realized(api, ["r8"])
        again, _ = iface_numbers(sim, "in1-h1", "r8")
        assert again > n8, (n8, again)
        assert in_port_flows(sim, "in1-h1", n8) == 0
        assert in_port_flows(sim, "in1-h1", again) > 0
        time.sleep(0.5)
        added = metric(api, "flows_added_total")
        deleted = metric(api, "flows_deleted_total")
        drift = metric(api, "drift_found_total")
        quiet_after_audit(api)
        assert metric(api, "flows_added_total") == added
        assert metric(api, "flows_deleted_total") == deleted
        assert metric(api, "drift_found_total") == drift
    finally:
        sim.vsctl("in1-h1", "--if-exists", "del-port", "br-sky", "xq")
