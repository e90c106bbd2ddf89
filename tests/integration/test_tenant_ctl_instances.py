"""Several instances (--leases) on one database serve a tenant's controller
once: the instance that holds the lease of the switch's home cloud
connects to it, the other leaves it alone, and when the serving instance
dies the other takes the cloud over and connects, with the switch's flows
as stored (ctrl/vswitch_agent.h, "Several instances").

No bridge is needed: the switch has no VM, so its home is the first cloud
by id, and the controller (tests/integration/test_vswitch_agent.py's Ctl)
counts the connections it accepts.
"""

import signal
import socket
import time

from conftest import Skyvisord, ok
from test_vswitch_agent import (OFPT_FLOW_MOD, Ctl, apply_actions, flow_mod, match,
                                output)

LEASE_MS = 2000


def instance(url):
    return Skyvisord(db_url=url, reconcile=True,
                     extra=("--leases", "--lease-ms", str(LEASE_MS),
                            "--heartbeat-ms", "300")).start()


def owner_of(ds, cloud):
    for d in ds:
        try:
            body = ok(d.api().get("/v1/instances"))
        except OSError:
            continue
        if any(g["cloud"] == cloud for g in body["self"]["owns"]):
            return d
    return None


def connected(d):
    """The controller connections instance d reports."""
    for line in d.api().get("/metrics", token=None)[2].splitlines():
        if line.startswith("skyvisor_tenant_ctl_connected "):
            return int(line.split()[1])
    raise AssertionError("no skyvisor_tenant_ctl_connected")


def no_second_connection(ctl, seconds):
    ctl.lsock.settimeout(seconds)
    try:
        extra, _ = ctl.lsock.accept()
    except socket.timeout:
        return True
    extra.close()
    return False


def test_one_instance_serves_the_controller_and_the_other_takes_over(pg):
    url = pg.url(pg.fresh_db())
    ds = [instance(url), instance(url)]
    ctl = Ctl()
    try:
        api = ds[0].api()
        for c in ("k1", "k2"):
            ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
        home = sorted(ok(api.get("/v1/clouds"))["items"], key=lambda c: c["id"])[0]
        ok(api.post("/v1/tenants", {"name": "t", "controller_allow": ["127.0.0.1/32"]}))
        ok(api.post("/v1/tenants/t/networks", {"name": "n", "subnet": "10.0.0.0/24"}))
        ok(api.post("/v1/tenants/t/networks/n/switches",
                    {"name": "s", "controller": ctl.target}))
        deadline = time.time() + 30
        while not owner_of(ds, home["name"]):
            assert time.time() < deadline, "nobody took the home cloud"
            time.sleep(0.3)
        ctl.accept(timeout=30)
        serving = owner_of(ds, home["name"])
        # One connection: the other instance does not connect.
        assert no_second_connection(ctl, 3)
        assert sum(connected(d) for d in ds) == 1
        fm = flow_mod(priority=7, m=match(), insts=apply_actions(output(0xfffffffd)))
        assert ctl.error_of(OFPT_FLOW_MOD, fm) is None
        assert len(ctl.flows()) == 1
        ctl.close()
        # The serving instance dies: the other takes the cloud over and
        # connects, with the flow as stored.
        serving.proc.send_signal(signal.SIGKILL)
        serving.proc.wait(10)
        ctl.accept(timeout=30)
        flows = ctl.flows()
        assert [f["priority"] for f in flows] == [7], flows
        assert no_second_connection(ctl, 2)
    finally:
        ctl.close()
        ctl.lsock.close()
        for d in ds:
            if d.proc and d.proc.poll() is None:
                d.stop()
