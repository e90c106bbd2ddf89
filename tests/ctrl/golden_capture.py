#!/usr/bin/env python3
"""Captures the OpenFlow 1.3 golden messages of tests/data/ofmsg_golden.txt
from real Open vSwitch, so the codec's golden tests check bytes that OvS
itself produced rather than bytes we wrote by hand.

Two captures, both with the installed openvswitch-switch:
  * switch -> controller: a private ovs-vswitchd (its own namespace and run
    directory) whose bridge's .mgmt socket we connect to as a controller; we
    ask for features, config, port descriptions, flow/port/queue/meter stats,
    role, echo, barrier, and trigger a packet-in, a port-status and a
    flow-removed;
  * controller -> switch: we listen on a unix socket as a fake switch and let
    ovs-ofctl send flow-mods (every command), group-mods, meter-mods,
    packet-outs, stats requests and role requests to it.
Every message is written as "name hex" on its own line.  Run as root:
    tests/ctrl/golden_capture.py > tests/data/ofmsg_golden.txt
"""

import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

V = 4


def msg(t, xid, body=b""):
    return struct.pack("!BBHI", V, t, 8 + len(body), xid) + body


def hello(xid=1):
    return msg(0, xid, struct.pack("!HHI", 1, 8, 1 << V))


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def recv_msg(self, timeout=5.0):
        deadline = time.time() + timeout
        while True:
            if len(self.buf) >= 8:
                n = struct.unpack("!H", self.buf[2:4])[0]
                if len(self.buf) >= n:
                    m, self.buf = self.buf[:n], self.buf[n:]
                    return m
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if r:
                data = self.s.recv(65536)
                if not data:
                    return None
                self.buf += data

    def expect(self, t, timeout=5.0):
        """Returns the next message of type t (others are skipped)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.recv_msg(deadline - time.time())
            if m is None:
                break
            if m[1] == t:
                return m
        raise RuntimeError(f"no message of type {t}")


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def start_ovs(d, ns):
    env = dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d, OVS_SYSCONFDIR=d)
    sh("ovsdb-tool", "create", f"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
    sh("ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
       f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
       f"--log-file={d}/ovsdb-server.log", "-vconsole:off", "--detach", env=env)
    sh("ovs-vsctl", f"--db=unix:{d}/db.sock", "--no-wait", "init")
    sh("ip", "netns", "exec", ns, "ovs-vswitchd", f"unix:{d}/db.sock",
       f"--pidfile={d}/ovs-vswitchd.pid", f"--unixctl={d}/ovs-vswitchd.ctl",
       f"--log-file={d}/ovs-vswitchd.log", "-vconsole:off", "--detach", env=env)
    vs = ["ovs-vsctl", f"--db=unix:{d}/db.sock", "--timeout=10"]
    sh(*vs, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
       "protocols=OpenFlow13", "fail_mode=secure",
       "other_config:datapath-id=0000000000000a01")
    for i in (1, 2):
        sh(*vs, "add-port", "br0", f"gc{i}", "--", "set", "interface", f"gc{i}",
           "type=internal", f"ofport_request={i}")
    return vs, env


def capture_switch_side(out):
    d = tempfile.mkdtemp(prefix="skyv-golden-")
    ns = "skyvgold" + str(os.getpid())
    sh("ip", "netns", "add", ns)
    try:
        vs, env = start_ovs(d, ns)
        of = ["ovs-ofctl", "-O", "OpenFlow13"]
        mgmt = f"{d}/br0.mgmt"
        for _ in range(100):
            if os.path.exists(mgmt):
                break
            time.sleep(0.1)
        sh(*of, "add-flow", mgmt, "priority=10,in_port=1,actions=output:2")
        sh(*of, "add-flow", mgmt, "cookie=0x5a00000000000001,priority=20,tcp,nw_dst=10.0.0.2,"
                                  "tp_dst=80,actions=set_field:02:00:00:00:00:02->eth_dst,output:2")
        sh(*of, "add-flow", mgmt, "table=0,priority=0,actions=CONTROLLER:65535")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(mgmt)
        c = Conn(s)
        c.send(hello())
        out("hello_ovs", c.expect(0))
        c.send(msg(5, 2))
        out("features_reply", c.expect(6))
        c.send(msg(9, 3, struct.pack("!HH", 0, 0xffff)))           # SET_CONFIG
        c.send(msg(7, 4))
        out("get_config_reply", c.expect(8))
        c.send(msg(18, 5, struct.pack("!HH4x", 13, 0)))
        out("multipart_reply_port_desc", c.expect(19))
        flow_req = struct.pack("!HH4xB3xII4xQQ", 1, 0, 0xff, 0xffffffff, 0xffffffff, 0, 0) \
            + struct.pack("!HH4x", 1, 4)
        c.send(msg(18, 6, flow_req))
        out("multipart_reply_flow", c.expect(19))
        c.send(msg(18, 7, struct.pack("!HH4xI4x", 4, 0, 0xffffffff)))
        out("multipart_reply_port_stats", c.expect(19))
        c.send(msg(18, 8, struct.pack("!HH4xII", 5, 0, 0xffffffff, 0xffffffff)))
        out("multipart_reply_queue", c.expect(19))
        sh(*of, "add-meter", mgmt, "meter=1,kbps,band=type=drop,rate=1000")
        c.send(msg(18, 9, struct.pack("!HH4xI4x", 9, 0, 0xffffffff)))
        out("multipart_reply_meter", c.expect(19))
        c.send(msg(24, 10, struct.pack("!I4xQ", 2, 7)))
        out("role_reply", c.expect(25))
        c.send(msg(2, 11, b"ping"))
        out("echo_reply", c.expect(3))
        c.send(msg(20, 12))
        out("barrier_reply", c.expect(21))
        c.send(msg(99, 13))                                           # unknown type
        out("error_bad_type", c.expect(1))
        # A packet-in: a frame from port gc1 into the table-miss flow.
        frame = ("ffffffffffff" "020000000001" "0806" "0001080006040001"
                 "020000000001" "0a000001" "000000000000" "0a000002")
        sh(*of, "del-flows", mgmt, "in_port=1")
        sh(*of, "packet-out", mgmt, f"in_port=1,packet={frame},actions=table")
        out("packet_in", c.expect(10))
        # A port-status.
        sh(*vs, "add-port", "br0", "gc3", "--", "set", "interface", "gc3", "type=internal",
           "ofport_request=3")
        out("port_status", c.expect(12))
        # A flow-removed.
        sh(*of, "add-flow", mgmt, "cookie=0x77,priority=5,hard_timeout=1,send_flow_rem,"
                                  "udp,tp_dst=53,actions=drop")
        out("flow_removed", c.expect(11, timeout=10))
        s.close()
    finally:
        for p in ("ovs-vswitchd", "ovsdb-server"):
            subprocess.run(["ovs-appctl", "-t", f"{d}/{p}.ctl", "exit", "--cleanup"],
                           capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def fake_switch(path, record, stop):
    """Answers like a switch; records every message ovs-ofctl sends."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(0.2)
    while not stop.is_set():
        try:
            s, _ = srv.accept()
        except socket.timeout:
            continue
        c = Conn(s)
        c.send(hello())
        while True:
            m = c.recv_msg(timeout=2)
            if m is None:
                break
            t, xid = m[1], struct.unpack("!I", m[4:8])[0]
            record.append(m)
            if t == 5:
                c.send(msg(6, xid, struct.pack("!QIBB2xI4x", 0xa01, 0, 254, 0, 0x4f)))
            elif t == 20:
                c.send(msg(21, xid))
            elif t == 18:
                mp_type = struct.unpack("!H", m[8:10])[0]
                if mp_type == 12:      # table features: one bare table
                    entry = struct.pack("!HB5x32sQQII", 64, 0, b"table0", 0, 0, 0, 1000)
                    c.send(msg(19, xid, struct.pack("!HH4x", mp_type, 0) + entry))
                else:
                    c.send(msg(19, xid, struct.pack("!HH4x", mp_type, 0)))
            elif t == 2:
                c.send(msg(3, xid, m[8:]))
            elif t == 24:
                c.send(msg(25, xid, m[8:]))
            elif t == 7:
                c.send(msg(8, xid, struct.pack("!HH", 0, 0xffff)))
        s.close()
    srv.close()


def capture_controller_side(out):
    d = tempfile.mkdtemp(prefix="skyv-golden-sw-")
    path = f"{d}/sw.sock"
    record, stop = [], threading.Event()
    t = threading.Thread(target=fake_switch, args=(path, record, stop), daemon=True)
    t.start()
    while not os.path.exists(path):
        time.sleep(0.05)
    # --no-names: otherwise ovs-ofctl first asks for table features, which a
    # fake switch would have to describe in full.
    of = ["ovs-ofctl", "-O", "OpenFlow13", "--timeout=5", "--no-names"]
    target = "unix:" + path
    cmds = [
        ("flow_mod_add", ["add-flow", target, "cookie=0x10,table=0,priority=100,idle_timeout=30,"
                          "hard_timeout=300,in_port=7,dl_src=02:00:00:00:00:01,"
                          "dl_dst=02:00:00:00:00:02/ff:ff:ff:00:00:00,dl_vlan=10,"
                          "actions=pop_vlan,output:3"]),
        ("flow_mod_add_ip", ["add-flow", target, "cookie=0x11,priority=200,send_flow_rem,"
                             "ip,nw_src=10.1.0.0/16,nw_dst=10.2.0.1,actions=set_queue:5,"
                             "goto_table:1"]),
        ("flow_mod_add_arp", ["add-flow", target, "priority=300,arp,arp_op=1,"
                              "arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_sha=02:00:00:00:00:01,"
                              "actions=CONTROLLER:128"]),
        ("flow_mod_add_tun", ["add-flow", target, "priority=400,tun_id=0x1234/0xffff,"
                              "udp,tp_src=53,actions=push_vlan:0x8100,"
                              "set_field:4196->vlan_vid,group:1"]),
        ("flow_mod_add_meter", ["add-flow", target, "priority=1,tcp,tp_src=22,"
                                "actions=meter:1,clear_actions,write_actions(output:1)"]),
        ("flow_mod_modify", ["mod-flows", target, "in_port=7,actions=output:4"]),
        ("flow_mod_modify_strict", ["mod-flows", target, "--strict",
                                    "priority=100,in_port=7,actions=IN_PORT"]),
        ("flow_mod_delete", ["del-flows", target, "cookie=0x10/-1"]),
        ("flow_mod_delete_strict", ["del-flows", target, "--strict", "priority=100,in_port=7"]),
        ("group_mod_all", ["add-group", target, "group_id=1,type=all,bucket=output:1,"
                           "bucket=output:2"]),
        ("group_mod_select", ["add-group", target, "group_id=2,type=select,"
                              "bucket=weight:10,output:1,bucket=weight:20,output:2"]),
        ("group_mod_ff", ["add-group", target, "group_id=3,type=fast_failover,"
                          "bucket=watch_port:1,output:1,bucket=watch_port:2,output:2"]),
        # mst+backup's group (ctrl/recon_groups.c): add or replace (--may-create),
        # the detour's bucket marks and resubmits to the divert table.
        ("group_mod_ff_detour", ["--may-create", "mod-group", target,
                                 "group_id=0x5f000002,type=fast_failover,"
                                 "bucket=watch_port:1,output:1,bucket=watch_port:2,"
                                 "set_field:2->tun_id,resubmit(,50)"]),
        ("meter_mod_drop", ["add-meter", target, "meter=1,kbps,burst,band=type=drop,"
                            "rate=1000,burst_size=100"]),
        ("meter_mod_dscp", ["add-meter", target, "meter=2,pktps,band=type=dscp_remark,"
                            "rate=500,prec_level=1"]),
        ("packet_out", ["packet-out", target, "in_port=controller,"
                        "packet=ffffffffffff0200000000010806000108000604000102000000000"
                        "10a000001000000000000" "0a000002,actions=output:1,output:2"]),
        ("multipart_request_flow", ["dump-flows", target, "cookie=0x10/0xff,table=0"]),
        ("multipart_request_port_stats", ["dump-ports", target, "1"]),
        ("multipart_request_port_desc", ["dump-ports-desc", target]),
        ("multipart_request_queue", ["queue-stats", target, "1", "2"]),
        ("multipart_request_meter", ["meter-stats", target, "meter=1"]),
    ]
    for name, args in cmds:
        before = len(record)
        r = subprocess.run(of + args, capture_output=True, text=True, timeout=30)
        time.sleep(0.2)
        got = [m for m in record[before:] if m[1] not in (0, 5, 7, 20, 2)]
        wanted = {"flow": 14, "group": 15, "meter": 29, "packet": 13, "multipart": 18}
        t_want = wanted[name.split("_")[0]]
        got = [m for m in got if m[1] == t_want]
        if not got:
            raise RuntimeError(f"ovs-ofctl {' '.join(args)} sent no message of type {t_want}: "
                               f"{r.stderr}")
        out(name, got[0])
    stop.set()
    t.join()
    shutil.rmtree(d, ignore_errors=True)


def main():
    lines = []

    def out(name, m):
        lines.append(f"{name} {m.hex()}")

    capture_switch_side(out)
    capture_controller_side(out)
    print("# OpenFlow 1.3 messages captured from Open vSwitch "
          + sh("ovs-vswitchd", "--version").splitlines()[0].split()[-1]
          + " by tests/ctrl/golden_capture.py; one 'name hex' per line.")
    for l in lines:
        print(l)


if __name__ == "__main__":
    sys.exit(main())
