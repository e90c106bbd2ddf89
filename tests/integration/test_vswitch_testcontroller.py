"""Debian's ovs-testcontroller (OpenFlow 1.3, a learning switch) as a
tenant's controller of a virtual switch: it connects to skyvisord's virtual
switch as to any switch, installs its table-miss flow, learns from
packet-ins, floods by packet-out and installs exact matches with an idle
timeout, all accepted by the agent (ctrl/vswitch_agent.h).

Topology: the tenant's switch t (ovs-testcontroller) has virtual links to
p and q, whose controllers are the test's own (test_vswitch_agent.Ctl);
frames enter t over those links, so what t's controller does is seen at
p's and q's controllers."""

import os
import signal
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import Skyvisord, free_port, ok
from test_vswitch_agent import (NO_BUFFER, OFPP_CONTROLLER, OFPT_FLOW_MOD, OFPT_PACKET_IN,
                                OFPT_PACKET_OUT, Ctl, apply_actions, flow_mod, output,
                                port_no, settle, vm)

T = "/v1/tenants/acme"
N = f"{T}/networks/net"


@pytest.fixture(scope="module")
def world(pg):
    db = pg.fresh_db()
    d = Skyvisord(db_url=pg.url(db), reconcile=True).start()
    api = d.api()
    ok(api.post("/v1/clouds", {"name": "c1", "provider": "aws", "region": "eu-central-1",
                                "jurisdiction": "DE", "kind": "public"}), 201)
    ok(api.post("/v1/hosts", {"name": "c1-w", "cloud": "c1", "tunnel_ip": "198.18.1.1",
                               "ovsdb": "unix:/nonexistent/db.sock",
                               "openflow": "unix:/nonexistent/br.mgmt"}), 201)
    ok(api.post("/v1/tenants", {"name": "acme"}), 201)
    ok(api.patch(T, {"controller_allow": ["127.0.0.0/8"]}))
    ok(api.post(f"{T}/networks", {"name": "net", "subnet": "10.0.0.0/24"}), 201)
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="testctl-")
    tc = subprocess.Popen(["ovs-testcontroller", "-O", "OpenFlow13", "--no-chdir",
                           f"--unixctl={tmp}/ctl", f"--log-file={tmp}/log",
                           f"ptcp:{port}:127.0.0.1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cp, cq = Ctl(), Ctl()
    ok(api.post(f"{N}/switches", {"name": "t", "controller": f"tcp:127.0.0.1:{port}"}), 201)
    ok(api.post(f"{N}/switches", {"name": "p", "controller": cp.target}), 201)
    ok(api.post(f"{N}/switches", {"name": "q", "controller": cq.target}), 201)
    ok(api.post(f"{N}/links", {"name": "tp", "a": "t", "b": "p"}), 201)
    ok(api.post(f"{N}/links", {"name": "tq", "a": "t", "b": "q"}), 201)
    ok(api.post(f"{N}/vms", vm("v1", "02:00:00:00:00:01", "10.0.0.11", "t")), 201)
    cp.accept()
    cq.accept()
    settle(cp, 1)
    settle(cq, 1)
    t_id = ok(api.get(f"{N}/switches/t"))["id"]
    w = {"daemon": d, "api": api, "p": cp, "q": cq, "pg": pg, "db": db, "t": t_id,
         "log": f"{tmp}/log"}
    yield w
    tc.send_signal(signal.SIGTERM)
    tc.wait(10)
    cp.close()
    cq.close()
    assert d.stop() == 0, d.read_log()


def t_flows(w):
    rows = w["pg"].psql("SELECT priority, idle_timeout FROM vflow WHERE vswitch_id = "
                        f"'{w['t']}' ORDER BY priority", db=w["db"])
    return [tuple(int(x) for x in r.split("|")) for r in rows.splitlines() if r]


def wait_for(cond, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise TimeoutError


def frame(dst, src, ethertype=0x0806):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes.fromhex(src), b"\x0a\0\0\x01",
                      b"\0" * 6, b"\x0a\0\0\x02")
    return bytes.fromhex(dst) + bytes.fromhex(src) + struct.pack("!H", ethertype) + arp


def packet_in_frame(body):
    mlen = struct.unpack("!H", body[18:20])[0]
    in_port = struct.unpack("!I", body[24:28])[0]
    return in_port, body[16 + (mlen + 7) // 8 * 8 + 2:]


def test_testcontroller_installs_its_table_miss_flow(world):
    assert wait_for(lambda: t_flows(world)) == [(0, 0)], open(world["log"]).read()


def test_floods_by_packet_out_and_learns(world):
    p, q = world["p"], world["q"]
    # Each test controller sends what its switch cannot match to itself.
    for c in (p, q):
        assert c.error_of(OFPT_FLOW_MOD, flow_mod(
            priority=0, insts=apply_actions(output(OFPP_CONTROLLER)))) is None
    p_link, q_link = port_no(p, "to-t"), port_no(q, "to-t")
    a, b = "020000000aaa", "020000000bbb"
    # A broadcast from p's side: t misses, ovs-testcontroller floods it, and
    # it arrives at q over the other link.
    bcast = frame("ffffffffffff", a)
    p.send(OFPT_PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16)
           + output(p_link) + bcast)
    in_port, data = packet_in_frame(q.expect(OFPT_PACKET_IN))
    assert in_port == q_link and data == bcast
    # The answer, unicast to the learned address, goes back only to p, and
    # ovs-testcontroller installs an exact match for it (idle timeout 60 s).
    reply = frame(a, b)
    q.send(OFPT_PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16)
           + output(q_link) + reply)
    in_port, data = packet_in_frame(p.expect(OFPT_PACKET_IN))
    assert in_port == p_link and data == reply
    flows = wait_for(lambda: [f for f in t_flows(world) if f[0] > 0])
    assert all(idle == 60 for _, idle in flows), flows
    # And the next such frame is forwarded by that flow: the only packet-in
    # it makes is p's own.
    before = packet_ins(world)
    q.send(OFPT_PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16)
           + output(q_link) + reply)
    in_port, data = packet_in_frame(p.expect(OFPT_PACKET_IN))
    assert data == reply
    assert packet_ins(world) == before + 1


def packet_ins(w):
    text = w["daemon"].api().get("/metrics", token=None)[2]
    return int(next(l.split()[1] for l in text.splitlines()
                    if l.startswith("skyvisor_tenant_ctl_packet_ins_total ")))
