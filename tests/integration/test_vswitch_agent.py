"""Tenant controllers, the switch half (ctrl/vswitch_agent.h): skyvisord
connects out to a tenant's OpenFlow 1.3 controller and is, to it, a switch.

The controllers here are written in the test (a listening socket and the
OpenFlow 1.3 wire format by hand), so every message and every refusal can be
checked; they speak to a real skyvisord on a real PostgreSQL.  VMs are placed
on hosts that are declared only: the agent's view is the database's, and no
packet has to reach a VM for what is checked here (ports, flows, roles,
errors, LLDP between two virtual switches over their virtual link)."""

import socket
import struct
import time

import pytest

from conftest import Skyvisord, ok

T = "/v1/tenants/acme"
N = f"{T}/networks/net"

OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY = 5, 6
OFPT_PACKET_IN, OFPT_FLOW_REMOVED, OFPT_PORT_STATUS, OFPT_PACKET_OUT = 10, 11, 12, 13
OFPT_FLOW_MOD, OFPT_GROUP_MOD = 14, 15
OFPT_MULTIPART_REQUEST, OFPT_MULTIPART_REPLY = 18, 19
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPT_ROLE_REQUEST, OFPT_ROLE_REPLY = 24, 25
OFPP_CONTROLLER, OFPP_ANY, OFPP_NORMAL, OFPP_LOCAL = 0xfffffffd, 0xffffffff, 0xfffffffa, 0xfffffffe
NO_BUFFER = 0xffffffff


def oxm(field, value, nbytes):
    return struct.pack("!HBB", 0x8000, field << 1, nbytes) + value.to_bytes(nbytes, "big")


def match(*tlvs):
    body = b"".join(tlvs)
    m = struct.pack("!HH", 1, 4 + len(body)) + body
    return m + b"\0" * ((8 - len(m) % 8) % 8)


def output(port, max_len=0xffff):
    return struct.pack("!HHIH6x", 0, 16, port, max_len)


def set_field(tlv):
    body = struct.pack("!HH", 25, 0) + tlv
    body += b"\0" * ((8 - len(body) % 8) % 8)
    return body[:2] + struct.pack("!H", len(body)) + body[4:]


def apply_actions(*actions):
    body = b"".join(actions)
    return struct.pack("!HH4x", 4, 8 + len(body)) + body


def goto_table(t):
    return struct.pack("!HHB3x", 1, 8, t)


def write_metadata(v):
    return struct.pack("!HH4xQQ", 2, 24, v, 0xffffffffffffffff)


def flow_mod(table=0, command=0, priority=10, m=None, insts=b"", cookie=0,
             idle=0, hard=0, flags=0, buffer_id=NO_BUFFER, out_port=OFPP_ANY):
    return struct.pack("!QQBBHHHIIIH2x", cookie, 0, table, command, idle, hard, priority,
                       buffer_id, out_port, 0xffffffff, flags) + (m or match()) + insts


class Ctl:
    """A tenant controller: listens, accepts skyvisord, speaks OpenFlow."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.sock = None
        self.buf = b""
        self.xid = 100
        self.pending = []

    @property
    def target(self):
        return f"tcp:127.0.0.1:{self.port}"

    def accept(self, timeout=15):
        self.lsock.settimeout(timeout)
        self.sock, _ = self.lsock.accept()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(10)
        self.buf = b""
        self.pending = []
        v, t, _, _ = self.recv_raw()
        assert (v, t) == (4, OFPT_HELLO)
        self.send(OFPT_HELLO, struct.pack("!HHI", 1, 8, 1 << 4))

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def send(self, mtype, body=b"", xid=None, version=4):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.sock.sendall(struct.pack("!BBHI", version, mtype, 8 + len(body), xid) + body)
        return xid

    def recv_raw(self, timeout=10):
        self.sock.settimeout(timeout)
        while len(self.buf) < 8 or len(self.buf) < struct.unpack("!H", self.buf[2:4])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("skyvisord closed the connection")
            self.buf += chunk
        v, t, n, xid = struct.unpack("!BBHI", self.buf[:8])
        msg, self.buf = self.buf[:n], self.buf[n:]
        return v, t, xid, msg[8:]

    def expect(self, mtype, xid=None, timeout=10):
        """The next message of 'mtype' (and 'xid'); others are kept."""
        for i, (t, x, b) in enumerate(self.pending):
            if t == mtype and (xid is None or x == xid):
                del self.pending[i]
                return b
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, t, x, b = self.recv_raw(max(0.1, deadline - time.time()))
            if t == mtype and (xid is None or x == xid):
                return b
            self.pending.append((t, x, b))
        raise TimeoutError(f"no message of type {mtype}")

    def request(self, mtype, body=b"", reply=None):
        xid = self.send(mtype, body)
        return self.expect(reply, xid)

    def error_of(self, mtype, body=b"", version=4):
        """Sends a message and returns the (type, code) of the error it gets,
        or None when a barrier reply comes first."""
        xid = self.send(mtype, body, version=version)
        bxid = self.send(OFPT_BARRIER_REQUEST)
        deadline = time.time() + 10
        while time.time() < deadline:
            _, t, x, b = self.recv_raw()
            if t == OFPT_ERROR and x == xid:
                self.expect(OFPT_BARRIER_REPLY, bxid)
                return struct.unpack("!HH", b[:4])
            if t == OFPT_BARRIER_REPLY and x == bxid:
                return None
            self.pending.append((t, x, b))
        raise TimeoutError("no barrier reply")

    def multipart(self, mp_type, body=b""):
        xid = self.send(OFPT_MULTIPART_REQUEST, struct.pack("!HH4x", mp_type, 0) + body)
        out = b""
        while True:
            b = self.expect(OFPT_MULTIPART_REPLY, xid)
            t, flags = struct.unpack("!HH", b[:4])
            assert t == mp_type
            out += b[8:]
            if not flags & 1:
                return out

    def ports(self):
        body, out = self.multipart(13), {}
        for i in range(0, len(body), 64):
            no, hw, name, config, state = struct.unpack("!I4x6s2x16sII", body[i:i + 40])
            out[no] = {"name": name.rstrip(b"\0").decode(), "hw": hw.hex(":"),
                       "config": config, "state": state}
        return out

    def port_stats(self):
        body, out = self.multipart(4, struct.pack("!I4x", OFPP_ANY)), {}
        for i in range(0, len(body), 112):
            no, rxp, txp, rxb, txb, rxd, txd = struct.unpack("!I4x6Q", body[i:i + 56])
            out[no] = {"rx_packets": rxp, "tx_packets": txp, "rx_bytes": rxb,
                       "tx_bytes": txb, "tx_dropped": txd}
        return out

    def table_stats(self):
        """{table: (active_count, lookup_count, matched_count)}."""
        body, out = self.multipart(3, b""), {}
        for i in range(0, len(body), 24):
            t, active, lookups, matched = struct.unpack("!B3xIQQ", body[i:i + 24])
            out[t] = (active, lookups, matched)
        return out

    def flows(self, table=0xff):
        body = self.multipart(1, struct.pack("!B3xII4xQQ", table, OFPP_ANY, 0xffffffff, 0, 0)
                              + match())
        out, i = [], 0
        while i < len(body):
            n, t, _, _, prio, idle, hard, flags, cookie, pkts, byts = struct.unpack(
                "!HBxIIHHHH4xQQQ", body[i:i + 48])
            out.append({"table": t, "priority": prio, "cookie": cookie, "packets": pkts,
                        "bytes": byts, "idle": idle, "hard": hard})
            i += n
        return out


def vm(name, mac, ip, switch):
    return {"name": name, "mac": mac, "ip": ip, "switch": switch,
            "placement": {"cloud": "c1"}}


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
    c1, c2 = Ctl(), Ctl()
    ok(api.post(f"{N}/switches", {"name": "s1", "controller": c1.target}), 201)
    ok(api.post(f"{N}/switches", {"name": "s2", "controller": c2.target}), 201)
    ok(api.post(f"{N}/links", {"name": "l12", "a": "s1", "b": "s2"}), 201)
    ok(api.post(f"{N}/vms", vm("v1", "02:00:00:00:00:01", "10.0.0.11", "s1")), 201)
    ok(api.post(f"{N}/vms", vm("v2", "02:00:00:00:00:02", "10.0.0.12", "s1")), 201)
    c1.accept()
    c2.accept()
    settle(c1, 3)
    settle(c2, 1)
    w = {"daemon": d, "api": api, "c1": c1, "c2": c2, "db": db, "pg": pg}
    yield w
    c1.close()
    c2.close()
    assert w["daemon"].stop() == 0, w["daemon"].read_log()


def settle(ctl, n, timeout=15):
    """Waits until the switch shows 'n' ports, then forgets the port-status
    messages that led there."""
    deadline = time.time() + timeout
    while len(ctl.ports()) != n:
        assert time.time() < deadline, ctl.ports()
        time.sleep(0.2)
    ctl.pending = [m for m in ctl.pending if m[0] != OFPT_PORT_STATUS]


def port_no(ctl, name):
    return next(no for no, p in ctl.ports().items() if p["name"] == name)


def test_features_echo_config(world):
    c = world["c1"]
    body = c.request(OFPT_FEATURES_REQUEST, reply=OFPT_FEATURES_REPLY)
    dpid, n_buffers, n_tables = struct.unpack("!QIB", body[:13])
    assert dpid >> 56 == 0x5b and n_buffers == 0 and n_tables == 16
    assert c.request(OFPT_ECHO_REQUEST, b"ping", reply=OFPT_ECHO_REPLY) == b"ping"
    other = world["c2"].request(OFPT_FEATURES_REQUEST, reply=OFPT_FEATURES_REPLY)
    assert struct.unpack("!Q", other[:8])[0] != dpid
    desc = c.multipart(0)
    assert desc[:8] == b"skyvisor" and len(desc) == 1056


def test_ports_one_per_vm_and_link_end(world):
    p1 = world["c1"].ports()
    assert sorted(p["name"] for p in p1.values()) == ["to-s2", "v1", "v2"]
    assert sorted(p1) == [1, 2, 3]
    by_name = {p["name"]: p for p in p1.values()}
    assert by_name["v1"]["hw"] == "02:00:00:00:00:01"
    assert by_name["v1"]["state"] == 4          # LIVE
    assert [p["name"] for p in world["c2"].ports().values()] == ["to-s1"]


def test_port_status_as_vms_come_and_go(world):
    api, c = world["api"], world["c1"]
    ok(api.post(f"{N}/vms", vm("v3", "02:00:00:00:00:03", "10.0.0.13", "s1")), 201)
    body = c.expect(OFPT_PORT_STATUS, timeout=10)
    reason, no, name = body[0], struct.unpack("!I", body[8:12])[0], body[24:40]
    assert reason == 0 and name.rstrip(b"\0") == b"v3"
    assert api.delete(f"{N}/vms/v3")[0] == 204
    body = c.expect(OFPT_PORT_STATUS, timeout=10)
    assert body[0] == 1 and struct.unpack("!I", body[8:12])[0] == no
    assert "v3" not in [p["name"] for p in c.ports().values()]


def test_flow_mods_are_stored_and_reported(world):
    c, pg = world["c1"], world["pg"]
    v1, v2 = port_no(c, "v1"), port_no(c, "v2")
    fm = flow_mod(priority=10, cookie=0xabc, idle=0, hard=0,
                  m=match(oxm(0, v1, 4)), insts=apply_actions(output(v2)))
    assert c.error_of(OFPT_FLOW_MOD, fm) is None
    flows = c.flows()
    assert [(f["priority"], f["cookie"]) for f in flows] == [(10, 0xabc)]
    n = pg.psql("SELECT count(*) FROM vflow", db=world["db"])
    assert n == "1"
    # The same flow again replaces it (same table, priority and match).
    fm2 = flow_mod(priority=10, cookie=0xdef, m=match(oxm(0, v1, 4)),
                   insts=apply_actions(output(v1)))
    assert c.error_of(OFPT_FLOW_MOD, fm2) is None
    assert [f["cookie"] for f in c.flows()] == [0xdef]
    # Delete, strict by priority and match.
    assert c.error_of(OFPT_FLOW_MOD, flow_mod(command=4, priority=10,
                                              m=match(oxm(0, v1, 4)))) is None
    assert c.flows() == []
    assert pg.psql("SELECT count(*) FROM vflow", db=world["db"]) == "0"


def test_refusals_carry_the_spec_errors(world):
    c = world["c1"]
    v1 = port_no(c, "v1")
    eth = oxm(5, 0x0800, 2)
    cases = [
        ("output to a port not the switch's", flow_mod(insts=apply_actions(output(99))),
         (2, 4)),
        ("output NORMAL", flow_mod(insts=apply_actions(output(OFPP_NORMAL))), (2, 4)),
        ("output LOCAL", flow_mod(insts=apply_actions(output(OFPP_LOCAL))), (2, 4)),
        ("write-metadata", flow_mod(insts=write_metadata(7)), (3, 3)),
        ("set eth_dst", flow_mod(insts=apply_actions(set_field(oxm(3, 2, 6)))), (2, 13)),
        ("set eth_src", flow_mod(insts=apply_actions(set_field(oxm(4, 2, 6)))), (2, 13)),
        ("match metadata", flow_mod(m=match(oxm(2, 1, 8))), (4, 6)),
        ("match tunnel_id", flow_mod(m=match(oxm(38, 1, 8))), (4, 6)),
        ("match a foreign in_port", flow_mod(m=match(oxm(0, 77, 4))), (4, 7)),
        ("table past the virtual ones", flow_mod(table=40), (5, 2)),
        ("goto backwards", flow_mod(table=2, insts=goto_table(1)), (3, 2)),
        ("buffered", flow_mod(buffer_id=5), (1, 8)),
        ("prerequisite missing", flow_mod(m=match(oxm(11, 0x0a000001, 4))), (4, 9)),
        ("overlap checked, none yet", flow_mod(priority=9, m=match(eth), flags=2,
                                              insts=apply_actions(output(v1))), None),
        ("overlap checked", flow_mod(priority=9, m=match(eth, oxm(11, 0x0a000001, 4)),
                                     flags=2), (5, 3)),
        ("overlap not checked", flow_mod(priority=9, m=match(eth, oxm(11, 0x0a000001, 4)),
                                         insts=apply_actions(output(v1))), None),
        ("ok with eth_type", flow_mod(m=match(eth, oxm(11, 0x0a000001, 4)),
                                      insts=apply_actions(output(v1))), None),
    ]
    for what, fm, want in cases:
        assert c.error_of(OFPT_FLOW_MOD, fm) == want, what
    assert c.error_of(OFPT_GROUP_MOD, struct.pack("!HBxI", 0, 0, 1)) == (1, 1)
    assert c.error_of(OFPT_MULTIPART_REQUEST, struct.pack("!HH4x", 12, 0)) == (1, 2)
    assert c.error_of(OFPT_ECHO_REQUEST, b"", version=1) == (1, 0)
    # A match whose length lies.
    bad = flow_mod()[:40] + struct.pack("!HH", 1, 200) + b"\0" * 4
    assert c.error_of(OFPT_FLOW_MOD, bad)[0] == 4
    po = struct.pack("!IIH6x", 9, OFPP_CONTROLLER, 16) + output(v1)   # no buffers
    assert c.error_of(OFPT_PACKET_OUT, po) == (1, 8)
    po = struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16) + output(123) + b"\0" * 60
    assert c.error_of(OFPT_PACKET_OUT, po) == (2, 4)
    # The connection is still fine, and the flow that was right is there.
    assert len(c.flows()) == 3
    assert c.error_of(OFPT_FLOW_MOD, flow_mod(command=3, table=0xff)) is None
    assert c.flows() == []


def test_roles(world):
    c = world["c1"]
    body = c.request(OFPT_ROLE_REQUEST, struct.pack("!I4xQ", 2, 5), reply=OFPT_ROLE_REPLY)
    assert struct.unpack("!I4xQ", body) == (2, 5)
    assert c.error_of(OFPT_ROLE_REQUEST, struct.pack("!I4xQ", 2, 3)) == (11, 0)
    body = c.request(OFPT_ROLE_REQUEST, struct.pack("!I4xQ", 3, 6), reply=OFPT_ROLE_REPLY)
    assert struct.unpack("!I4xQ", body) == (3, 6)
    assert c.error_of(OFPT_FLOW_MOD, flow_mod()) == (1, 10)
    body = c.request(OFPT_ROLE_REQUEST, struct.pack("!I4xQ", 1, 0), reply=OFPT_ROLE_REPLY)
    assert struct.unpack("!I", body[:4]) == (1,)
    assert c.error_of(OFPT_FLOW_MOD, flow_mod(priority=1)) is None
    assert c.error_of(OFPT_FLOW_MOD, flow_mod(command=3, table=0xff)) is None


def lldp(chassis, port):
    tlv = lambda t, v: struct.pack("!H", t << 9 | len(v)) + v
    return (bytes.fromhex("0180c200000e") + bytes.fromhex("02aabbccddee") + b"\x88\xcc"
            + tlv(1, b"\x07" + chassis) + tlv(2, b"\x02" + port) + tlv(3, b"\x00\x78")
            + tlv(0, b""))


def test_lldp_out_of_a_link_port_arrives_on_the_peer(world):
    c1, c2 = world["c1"], world["c2"]
    link1, link2 = port_no(c1, "to-s2"), port_no(c2, "to-s1")
    # Without a flow on s2 the packet is dropped (no table-miss flow).
    pkt = lldp(b"dpid:s1", struct.pack("!I", link1))
    c1.send(OFPT_PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16)
            + output(link1) + pkt)
    with pytest.raises(TimeoutError):
        c2.expect(OFPT_PACKET_IN, timeout=1)
    # A table-miss flow to the controller: the packet-in says where it came in.
    miss = flow_mod(priority=0, insts=apply_actions(output(OFPP_CONTROLLER)))
    assert c2.error_of(OFPT_FLOW_MOD, miss) is None
    c1.send(OFPT_PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16)
            + output(link1) + pkt)
    body = c2.expect(OFPT_PACKET_IN)
    buffer_id, total_len, reason, table, cookie = struct.unpack("!IHBBQ", body[:16])
    assert buffer_id == NO_BUFFER and total_len == len(pkt) and reason == 0
    mlen = struct.unpack("!H", body[18:20])[0]
    in_port = struct.unpack("!I", body[24:28])[0]
    assert in_port == link2
    assert body[16 + (mlen + 7) // 8 * 8 + 2:] == pkt
    # Counted in the flow's stats, and in both ends' port stats.
    assert c2.flows()[0]["packets"] == 1
    assert c1.port_stats()[link1]["tx_packets"] == 2
    assert c2.port_stats()[link2]["rx_packets"] == 2
    assert c2.port_stats()[link2]["rx_bytes"] == 2 * len(pkt)


def test_flows_survive_a_restart_and_ports_keep_their_numbers(world):
    c1, c2 = world["c1"], world["c2"]
    before = c1.ports()
    v1, v2 = port_no(c1, "v1"), port_no(c1, "v2")
    assert c1.error_of(OFPT_FLOW_MOD, flow_mod(priority=7, cookie=42,
                                               m=match(oxm(0, v1, 4)),
                                               insts=apply_actions(output(v2)))) is None
    d = world["daemon"]
    assert d.stop() == 0, d.read_log()
    c1.close()
    c2.close()
    world["daemon"] = d = Skyvisord(db_url=d.args[d.args.index("--db") + 1],
                                    reconcile=True).start()
    world["api"] = d.api()
    c1.accept()
    c2.accept()
    settle(c1, 3)
    assert c1.ports() == before
    assert [(f["priority"], f["cookie"]) for f in c1.flows()] == [(7, 42)]
    assert [f["priority"] for f in c2.flows()] == [0]


def test_hard_timeout_and_flow_removed(world):
    c = world["c1"]
    fm = flow_mod(priority=3, hard=1, flags=1, cookie=9)
    assert c.error_of(OFPT_FLOW_MOD, fm) is None
    body = c.expect(OFPT_FLOW_REMOVED, timeout=5)
    cookie, prio, reason = struct.unpack("!QHB", body[:11])
    assert (cookie, prio, reason) == (9, 3, 1)


def test_flow_mod_rate_quota(world):
    c = world["c1"]
    time.sleep(2.5)                 # a full bucket
    for i in range(450):
        c.send(OFPT_FLOW_MOD, flow_mod(command=3, table=0xff, cookie=i))
    bxid = c.send(OFPT_BARRIER_REQUEST)
    errors = []
    while True:
        _, t, x, b = c.recv_raw()
        if t == OFPT_BARRIER_REPLY and x == bxid:
            break
        if t == OFPT_ERROR:
            errors.append(struct.unpack("!HH", b[:4]))
    assert errors and set(errors) == {(5, 4)}
    assert len(errors) < 450          # the burst went through
    # Counted on /metrics, with every other refusal.
    st, _, text = world["daemon"].api().get("/metrics", token=None)
    assert st == 200
    metrics = dict(l.rsplit(" ", 1) for l in text.splitlines() if l.startswith("skyvisor_tenant_ctl_"))
    assert int(metrics["skyvisor_tenant_ctl_quota_refused_total"]) == len(errors)
    assert int(metrics["skyvisor_tenant_ctl_refused_total"]) >= len(errors)
    assert metrics["skyvisor_tenant_ctl_switches"] == "2"
    assert metrics["skyvisor_tenant_ctl_connected"] == "2"


def test_clearing_the_controller_closes_the_connection(world):
    api, c = world["api"], world["c2"]
    ok(api.patch(f"{N}/switches/s2", {"controller": None}))
    with pytest.raises(EOFError):
        while True:
            c.recv_raw(timeout=5)


def test_tenants_are_apart_and_the_flow_quota_holds(pg):
    """Two tenants with the very same names and addresses: each controller
    sees its own switch only, a flood stays in its tenant, and a tenant's
    flows stop at the quota (TABLE_FULL) without touching the other's."""
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True).start()
    try:
        api = d.api()
        ok(api.post("/v1/clouds", {"name": "c1", "provider": "aws", "region": "r1",
                                    "jurisdiction": "DE", "kind": "public"}), 201)
        ok(api.post("/v1/hosts", {"name": "c1-w", "cloud": "c1", "tunnel_ip": "198.18.1.1",
                                   "ovsdb": "unix:/nonexistent/db.sock",
                                   "openflow": "unix:/nonexistent/br.mgmt"}), 201)
        ctls = {}
        for t in ("red", "blue"):
            ok(api.post("/v1/tenants", {"name": t, "controller_allow": ["127.0.0.1/32"]}), 201)
            base = f"/v1/tenants/{t}/networks/net"
            ok(api.post(f"/v1/tenants/{t}/networks", {"name": "net", "subnet": "10.0.0.0/24"}),
               201)
            a, b = Ctl(), Ctl()
            ok(api.post(f"{base}/switches", {"name": "s1", "controller": a.target}), 201)
            ok(api.post(f"{base}/switches", {"name": "s2", "controller": b.target}), 201)
            ok(api.post(f"{base}/links", {"name": "l", "a": "s1", "b": "s2"}), 201)
            ok(api.post(f"{base}/vms", vm("v1", "02:00:00:00:00:01", "10.0.0.11", "s1")), 201)
            a.accept()
            b.accept()
            settle(a, 2)
            settle(b, 1)
            ctls[t] = (a, b)
        for t, (a, b) in ctls.items():
            assert sorted(p["name"] for p in a.ports().values()) == ["to-s2", "v1"]
            assert b.error_of(OFPT_FLOW_MOD, flow_mod(
                priority=0, insts=apply_actions(output(OFPP_CONTROLLER)))) is None
        red_a, red_b = ctls["red"]
        blue_b = ctls["blue"][1]
        red_a.send(OFPT_PACKET_OUT, struct.pack("!IIH6x", NO_BUFFER, OFPP_CONTROLLER, 16)
                   + output(0xfffffffb) + lldp(b"red", b"1"))
        red_b.expect(OFPT_PACKET_IN)
        with pytest.raises(TimeoutError):
            blue_b.expect(OFPT_PACKET_IN, timeout=1)
        # The quota: red's 1000 flows across its two switches, paced under
        # the flow-mod rate.
        n_ok, full = 1, 0            # red's s2 holds one flow already
        for i in range(1005):
            e = red_a.error_of(OFPT_FLOW_MOD, flow_mod(priority=100 + i % 60000,
                                                      cookie=i, m=match(oxm(5, 0x0800, 2),
                                                                        oxm(11, i, 4))))
            if e is None:
                n_ok += 1
            else:
                assert e == (5, 1), e
                full += 1
            if i % 150 == 149:
                time.sleep(1)
        assert (n_ok, full) == (1000, 6)
        assert blue_b.error_of(OFPT_FLOW_MOD, flow_mod(priority=5)) is None
    finally:
        for a, b in ctls.values():
            a.close()
            b.close()
        assert d.stop() == 0, d.read_log()
