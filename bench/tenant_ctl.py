#!/usr/bin/env python3
"""bench/tenant_ctl.py: what the virtual OpenFlow switch of a tenant
controller adds (`make bench-tenant-ctl`, root).

One controller (the OpenFlow 1.3 client of tests/integration/
test_vswitch_agent.py) drives, in the same run, two switches one after the
other:
  - skyvisord's virtual switch of a controlled virtual switch (TCP over
    loopback; skyvisord with its reconciler and a PostgreSQL of its own),
    whose one VM sits on a real Open vSwitch host that skyvisord manages,
    so every flow is compiled into that bridge's tenant tables
    (ctrl/vtranslate.h) before the barrier reply;
  - a plain Open vSwitch bridge (userspace datapath, in a tools/cloudsim.py
    host's namespace), over its management socket (unix; asynchronous
    messages asked for with SET_ASYNC).
Measured on each, sequentially, one request outstanding at a time:
  flow-mod -> barrier  an add of a distinct exact-match flow and a barrier,
                       until the barrier reply (skyvisord stores each flow
                       in PostgreSQL, and replies once a reconciler pass
                       put it on the VM's bridge);
  packet-in round trip a packet-out whose action outputs to CONTROLLER,
                       until the packet-in it makes.
Output: p50, p99 and mean per measurement and switch, on stdout."""

import argparse
import os
import socket
import statistics
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_FLOWS = 900           # within the tenant's flow quota (1000)
N_PACKETS = 2000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    os.environ["SKYVISOR_BUILD"] = os.path.abspath(args.build)
    sys.path[:0] = [os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tools")]
    import cloudsim
    from conftest import PgCluster, Skyvisord, ok
    import test_vswitch_agent as of

    pg = PgCluster()
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True).start()
    state = tempfile.mkdtemp(prefix="bench-tc-")
    spec = {"prefix": f"svb{os.getpid() % 1000}",
            "clouds": [{"name": "b1", "hosts": [{"name": "b1-h1", "tunnel_ip": "198.18.9.1"},
                                                {"name": "b1-h2", "tunnel_ip": "198.18.9.2"}]}],
            "vms": [{"name": "v1", "host": "b1-h2", "iface": "v1",
                     "mac": "02:00:00:00:00:01", "ip": "10.0.0.1"}]}
    try:
        with cloudsim.Sim(spec, state) as sim:
            api = d.api()
            ok(api.post("/v1/clouds", {"name": "b1", "provider": "aws", "region": "r1",
                                       "jurisdiction": "DE", "kind": "public"}))
            ok(api.post("/v1/hosts", sim.host_body(sim.spec["clouds"][0]["hosts"][1], "b1")))
            ok(api.post("/v1/tenants", {"name": "t", "controller_allow": ["127.0.0.1/32"]}))
            ok(api.post("/v1/tenants/t/networks", {"name": "n", "subnet": "10.0.0.0/24"}))
            virt = of.Ctl()
            ok(api.post("/v1/tenants/t/networks/n/switches",
                        {"name": "s", "controller": virt.target}))
            virt.accept()
            ok(api.post("/v1/tenants/t/networks/n/vms",
                        {"name": "v1", "mac": "02:00:00:00:00:01", "ip": "10.0.0.1",
                         "switch": "s", "iface": "v1", "placement": {"host": "b1-h2"}}))
            deadline = time.time() + 60
            while ok(api.get("/v1/tenants/t/networks/n/vms/v1"))["status"]["state"] \
                    != "realized":
                assert time.time() < deadline, "the VM was not realized"
                time.sleep(0.2)
            of.settle(virt, 1)

            sim.vsctl("b1-h1", "add-br", "br-bench", "--", "set", "bridge", "br-bench",
                      "datapath_type=netdev", "protocols=OpenFlow13", "fail-mode=secure")
            plain = connect_unix(of, f"{sim.hdir('b1-h1')}/br-bench.mgmt")

            rows = []
            for name, ctl in (("skyvisord virtual switch", virt), ("Open vSwitch bridge", plain)):
                print(f"measuring {name}", file=sys.stderr, flush=True)
                rows.append((name, "flow-mod -> barrier", flow_mod_rtts(of, ctl)))
                rows.append((name, "packet-in round trip", packet_in_rtts(of, ctl)))
            print(f"{'switch':26} {'measurement':22} {'n':>5} {'p50 us':>8} {'p99 us':>8} "
                  f"{'mean us':>8}")
            for name, what, xs in rows:
                xs = sorted(xs)
                p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1e6
                print(f"{name:26} {what:22} {len(xs):5d} {p(0.5):8.0f} {p(0.99):8.0f} "
                      f"{statistics.mean(xs) * 1e6:8.0f}")
            virt.close()
            plain.close()
    finally:
        d.stop()
        pg.destroy()


def connect_unix(of, path):
    ctl = of.Ctl.__new__(of.Ctl)
    ctl.lsock, ctl.buf, ctl.xid, ctl.pending = None, b"", 100, []
    ctl.sock = socket.socket(socket.AF_UNIX)
    for _ in range(50):
        try:
            ctl.sock.connect(path)
            break
        except OSError:
            time.sleep(0.1)
    ctl.sock.settimeout(10)
    ctl.send(of.OFPT_HELLO, struct.pack("!HHI", 1, 8, 1 << 4))
    v, t, _, _ = ctl.recv_raw()
    assert t == of.OFPT_HELLO
    # A connection to the management socket is a service connection, which
    # gets no packet-ins until it asks (OFPT_SET_ASYNC).
    ctl.send(28, struct.pack("!6I", 0x7, 0x7, 0x7, 0x7, 0xf, 0xf))
    return ctl


def flow_mod_rtts(of, ctl):
    out = []
    for i in range(N_FLOWS):
        fm = of.flow_mod(priority=1000, cookie=i,
                         m=of.match(of.oxm(5, 0x0800, 2), of.oxm(11, 0x0a000000 + i, 4)),
                         insts=of.apply_actions(of.output(of.OFPP_CONTROLLER)))
        t0 = time.perf_counter()
        ctl.send(of.OFPT_FLOW_MOD, fm)
        ctl.expect(of.OFPT_BARRIER_REPLY, ctl.send(of.OFPT_BARRIER_REQUEST))
        out.append(time.perf_counter() - t0)
    ctl.send(of.OFPT_FLOW_MOD, of.flow_mod(command=3, table=0xff))
    ctl.expect(of.OFPT_BARRIER_REPLY, ctl.send(of.OFPT_BARRIER_REQUEST))
    return out


def packet_in_rtts(of, ctl):
    frame = bytes.fromhex("02000000000202000000000108004500001c000000004011000"
                          "00a0000010a0000020001000200080000")
    po = (struct.pack("!IIH6x", of.NO_BUFFER, of.OFPP_CONTROLLER, 16)
          + of.output(of.OFPP_CONTROLLER) + frame)
    out = []
    for _ in range(N_PACKETS):
        t0 = time.perf_counter()
        ctl.send(of.OFPT_PACKET_OUT, po)
        ctl.expect(of.OFPT_PACKET_IN)
        out.append(time.perf_counter() - t0)
    return out


if __name__ == "__main__":
    main()
