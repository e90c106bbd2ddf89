"""The OVSDB client (ctrl/jsonrpc.c, ctrl/ovsdb*.c) against real Open vSwitch.

Each test starts its own ovsdb-server + ovs-vswitchd (userspace datapath)
inside a private network namespace (tests/integration/ovs_helpers.py) and
drives the client through $SKYVISOR_BUILD/tests/ovsdb_driver, which prints
JSON.  "ops" in the driver's output is the number of operations of the
transaction it sent: 0 means the idempotent operation found nothing to do
and sent nothing.
"""

import json
import os
import re
import subprocess
import threading
import time

import pytest

from ovs_helpers import Netns, OvsInstance, run

BUILD = os.environ.get("SKYVISOR_BUILD", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "build"))
DRIVER = os.path.join(BUILD, "tests", "ovsdb_driver")
TAG = f"h2{os.getpid() % 100000}"           # unique per test run


@pytest.fixture
def ovs(request):
    assert os.access(DRIVER, os.X_OK), f"{DRIVER} not built"
    inst = OvsInstance(f"{TAG}db", netns=f"{TAG}-ovs", own_netns=True)
    request.addfinalizer(inst.stop)
    inst.start()
    return inst


def drive(ovs, *args, ok=True):
    p = subprocess.run([DRIVER, ovs.db_target] + list(args),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode in (0, 1), p.stderr
    out = json.loads(p.stdout)
    if ok is not None and "ok" in out:
        assert out["ok"] is ok, (out, p.stderr)
    return out


BRIDGE_ARGS = ["--datapath-type", "netdev", "--fail-mode", "secure",
               "--protocols", "OpenFlow13"]


def test_ensure_bridge_creates_then_noop(ovs):
    out = drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS,
                "--other-config", "datapath-id=00000000000000a1")
    assert out["ops"] > 0
    assert ovs.vsctl("get", "bridge", "h2br", "datapath_type").strip() == "netdev"
    assert ovs.vsctl("get", "bridge", "h2br", "fail_mode").strip() == "secure"
    assert ovs.vsctl("get", "bridge", "h2br", "protocols").strip() == '[OpenFlow13]'
    assert ovs.vsctl("get", "bridge", "h2br",
                     "other_config:datapath-id").strip() == '"00000000000000a1"'
    assert "h2br" in ovs.vsctl("list-br").split()
    # Idempotent: nothing sent the second time.
    out = drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS,
                "--other-config", "datapath-id=00000000000000a1")
    assert out["ops"] == 0
    # Drift made behind our back is repaired with one update.
    ovs.vsctl("set", "bridge", "h2br", "fail_mode=standalone")
    out = drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS)
    assert out["ops"] == 1
    assert ovs.vsctl("get", "bridge", "h2br", "fail_mode").strip() == "secure"
    # Controller target.
    out = drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS,
                "--controller", "tcp:127.0.0.1:6699")
    assert out["ops"] == 2
    assert ovs.vsctl("get-controller", "h2br").strip() == "tcp:127.0.0.1:6699"
    assert drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS,
                 "--controller", "tcp:127.0.0.1:6699")["ops"] == 0
    # Remove, then remove again is a no-op.
    assert drive(ovs, "remove-bridge", "h2br")["ops"] == 1
    assert "h2br" not in ovs.vsctl("list-br").split()
    assert drive(ovs, "remove-bridge", "h2br")["ops"] == 0


def test_ports_and_tunnels_idempotent(ovs):
    drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS)
    port = ["ensure-port", "h2br", "h2vm1", "--type", "internal",
            "--external-id", "skyvisor-vm-id=vm-1", "--wait-iface", "5000"]
    out = drive(ovs, *port)
    assert out["ops"] > 0
    assert out["iface"]["ofport"] > 0 and out["iface"]["error"] is None
    assert ovs.vsctl("get", "interface", "h2vm1", "type").strip() == "internal"
    assert ovs.vsctl("get", "port", "h2vm1",
                     "external_ids:skyvisor-vm-id").strip() == "vm-1"
    assert drive(ovs, *port)["ops"] == 0

    tun = ["ensure-tunnel", "h2br", "h2tun", "--type", "vxlan",
           "--remote-ip", "192.0.2.10", "--wait-iface", "5000"]
    out = drive(ovs, *tun)
    assert out["ops"] > 0 and out["iface"]["ofport"] > 0
    assert ovs.vsctl("get", "interface", "h2tun", "type").strip() == "vxlan"
    opts = ovs.vsctl("get", "interface", "h2tun", "options").strip()
    assert opts == '{key=flow, remote_ip="192.0.2.10"}'
    assert drive(ovs, *tun)["ops"] == 0
    # Changed remote: one Interface update.
    tun[tun.index("192.0.2.10")] = "192.0.2.11"
    assert drive(ovs, *tun)["ops"] == 1
    assert ovs.vsctl("get", "interface", "h2tun",
                     "options:remote_ip").strip() == '"192.0.2.11"'
    gre = ["ensure-tunnel", "h2br", "h2gre", "--type", "gre", "--remote-ip",
           "192.0.2.12", "--local-ip", "192.0.2.1", "--wait-iface", "5000"]
    assert drive(ovs, *gre)["iface"]["ofport"] > 0
    assert drive(ovs, *gre)["ops"] == 0

    show = drive(ovs, "show")
    assert sorted(show["bridges"]["h2br"]["ports"]) == \
        ["h2br", "h2gre", "h2tun", "h2vm1"]
    assert show["ports"]["h2vm1"]["external_ids"] == {"skyvisor-vm-id": "vm-1"}

    for name in ("h2vm1", "h2tun", "h2gre"):
        assert drive(ovs, "remove-port", name)["ops"] == 1
        assert drive(ovs, "remove-port", name)["ops"] == 0
    assert ovs.vsctl("list-ports", "h2br").split() == []


def test_bad_port_surfaces_interface_error(ovs):
    drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS)
    out = drive(ovs, "ensure-port", "h2br", "h2bad", "--type", "vxlan",
                "--option", "bogus=1", "--wait-iface", "5000")
    assert out["iface"]["ofport"] == -1
    assert "unknown vxlan argument 'bogus'" in out["iface"]["error"]
    assert out["iface"]["timed_out"] is False
    # A second tunnel with the same (type, remote, key, dst_port) clashes.
    drive(ovs, "ensure-tunnel", "h2br", "h2t1", "--type", "vxlan",
          "--remote-ip", "192.0.2.20", "--wait-iface", "5000")
    out = drive(ovs, "ensure-tunnel", "h2br", "h2t2", "--type", "vxlan",
                "--remote-ip", "192.0.2.20", "--wait-iface", "5000")
    assert out["iface"]["ofport"] == -1 and "File exists" in out["iface"]["error"]
    assert drive(ovs, "iface", "h2t2")["error"] == out["iface"]["error"]
    # A port on a missing bridge is refused before anything is sent.
    out = drive(ovs, "ensure-port", "h2nobr", "h2x", ok=False)
    assert out["ops"] == 0 and "No such file" in out["error"]


class Watcher:
    """Runs `ovsdb_driver watch` and collects its JSON lines."""

    def __init__(self, ovs, seconds):
        self.proc = subprocess.Popen(
            [DRIVER, ovs.db_target, "watch", str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(json.loads(line))
                self.cond.notify_all()

    def wait_for(self, pred, timeout=15):
        end = time.time() + timeout
        with self.cond:
            while True:
                for snap in self.lines:
                    if pred(snap):
                        return snap
                left = end - time.time()
                assert left > 0, f"condition not met; last: {self.lines[-1:]}"
                self.cond.wait(left)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self.proc.stderr.read()


def test_replica_follows_changes_behind_our_back(ovs, request):
    drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS)
    w = Watcher(ovs, 30)
    request.addfinalizer(w.stop)
    w.wait_for(lambda s: "h2br" in s["bridges"])
    ovs.vsctl("add-port", "h2br", "h2side", "--", "set", "interface",
              "h2side", "type=internal")
    snap = w.wait_for(lambda s: "h2side" in s["bridges"]["h2br"]["ports"]
                      and s["interfaces"].get("h2side", {}).get("ofport", 0) > 0)
    assert snap["syncs"] == 1
    ovs.vsctl("del-port", "h2br", "h2side")
    w.wait_for(lambda s: "h2side" not in s["ports"]
               and "h2side" not in s["bridges"]["h2br"]["ports"])


def test_port_whose_device_comes_later_is_numbered(ovs, request):
    """A port added before its device exists gets an error and no number;
    once the device appears, ovs-vswitchd numbers it and clears the error,
    and the replica follows (monitor_cond sends both columns as their new
    values) without the session starting over."""
    drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS)
    w = Watcher(ovs, 30)
    request.addfinalizer(w.stop)
    w.wait_for(lambda s: "h2br" in s["bridges"])
    drive(ovs, "ensure-port", "h2br", "h2late")
    w.wait_for(lambda s: s["interfaces"].get("h2late", {}).get("ofport") == -1
               and "No such device" in (s["interfaces"]["h2late"]["error"] or ""))
    run(["ip", "link", "add", "h2late", "type", "veth", "peer", "name", "h2latep"],
        netns=ovs.netns)
    request.addfinalizer(lambda: run(["ip", "link", "del", "h2late"], check=False,
                                     netns=ovs.netns))
    run(["ip", "link", "set", "h2late", "up"], netns=ovs.netns)
    snap = w.wait_for(lambda s: s["interfaces"].get("h2late", {}).get("ofport", 0) > 0)
    assert snap["interfaces"]["h2late"]["error"] is None
    assert snap["syncs"] == 1


def test_reconnects_after_ovsdb_server_restart(ovs, request):
    drive(ovs, "ensure-bridge", "h2br", *BRIDGE_ARGS)
    w = Watcher(ovs, 40)
    request.addfinalizer(w.stop)
    w.wait_for(lambda s: s["syncs"] == 1 and "h2br" in s["bridges"])
    ovs.kill_db()
    time.sleep(0.5)
    ovs.start_db()
    ovs.vsctl("add-port", "h2br", "h2after", "--", "set", "interface",
              "h2after", "type=internal")
    snap = w.wait_for(lambda s: s["syncs"] >= 2
                      and "h2after" in s["bridges"]["h2br"]["ports"], 20)
    assert "h2br" in snap["bridges"]
    assert "disconnected" in w.stop()


def test_echo_keeps_session_alive(ovs, request):
    """ovsdb-server probes idle clients after 5 s and drops those that do
    not answer within 10 s more: a session idle for 17 s must stay on its
    first sync and still see a late change."""
    w = Watcher(ovs, 25)
    request.addfinalizer(w.stop)
    w.wait_for(lambda s: s["syncs"] == 1)
    time.sleep(17)
    ovs.vsctl("add-br", "h2late", "--", "set", "bridge", "h2late",
              "datapath_type=netdev")
    snap = w.wait_for(lambda s: "h2late" in s["bridges"])
    assert snap["syncs"] == 1
    assert "disconnected" not in w.stop()


@pytest.fixture
def two_clouds(request):
    """Two OvS hosts in namespaces joined by a veth 'WAN', plus one VM
    namespace per host.  Everything is removed by the finalizer."""
    made = []

    def cleanup():
        for obj in reversed(made):
            obj.stop() if isinstance(obj, OvsInstance) else obj.delete()
    request.addfinalizer(cleanup)
    hosts = {}
    for h in ("a", "b"):
        inst = OvsInstance(f"{TAG}{h}", netns=f"{TAG}-h{h}", own_netns=True)
        made.append(inst)
        inst.start()
        vm = Netns(f"{TAG}-vm{h}")
        made.append(vm)
        vm.create()
        hosts[h] = (inst, vm)
    run(["ip", "link", "add", "wan0", "netns", hosts["a"][0].netns, "mtu",
         "1600", "type", "veth", "peer", "name", "wan0", "netns",
         hosts["b"][0].netns, "mtu", "1600"])
    return hosts


def test_vxlan_between_two_clouds_over_ovsdb(two_clouds):
    wan = {"a": "198.51.100.1", "b": "198.51.100.2"}
    vip = {"a": "10.123.0.1", "b": "10.123.0.2"}
    for h, (inst, vm) in two_clouds.items():
        other = "b" if h == "a" else "a"
        inst.exec("ip", "link", "set", "wan0", "arp", "off", "up")
        # Underlay and overlay configured only through the OVSDB client.
        assert drive(inst, "ensure-bridge", "br-phy", "--datapath-type",
                     "netdev")["ops"] > 0
        out = drive(inst, "ensure-port", "br-phy", "wan0", "--wait-iface",
                    "5000")
        assert out["iface"]["ofport"] > 0, out
        inst.exec("ip", "addr", "add", wan[h] + "/24", "dev", "br-phy")
        inst.exec("ip", "link", "set", "br-phy", "up")
        assert drive(inst, "ensure-bridge", "br-int", *BRIDGE_ARGS)["ops"] > 0
        out = drive(inst, "ensure-tunnel", "br-int", "tun0", "--type", "vxlan",
                    "--remote-ip", wan[other], "--key", "100",
                    "--wait-iface", "5000")
        assert out["iface"]["ofport"] > 0 and out["iface"]["error"] is None
        vif = f"vm{h}-eth0"
        out = drive(inst, "ensure-port", "br-int", vif, "--type", "internal",
                    "--external-id", f"skyvisor-vm-id=vm-{h}",
                    "--wait-iface", "5000")
        assert out["iface"]["ofport"] > 0
        inst.exec("ip", "link", "set", vif, "netns", vm.name)
        vm.exec("ip", "addr", "add", vip[h] + "/24", "dev", vif)
        vm.exec("ip", "link", "set", vif, "mtu", "1450", "up")
        inst.ofctl("add-flow", "br-int", "actions=normal")
    # Everything is already in place: a second pass sends nothing.
    inst = two_clouds["a"][0]
    assert drive(inst, "ensure-bridge", "br-int", *BRIDGE_ARGS)["ops"] == 0
    assert drive(inst, "ensure-tunnel", "br-int", "tun0", "--type", "vxlan",
                 "--remote-ip", wan["b"], "--key", "100")["ops"] == 0
    vm_a = two_clouds["a"][1]
    out = vm_a.exec("ping", "-c", "3", "-i", "0.3", "-W", "2", vip["b"],
                    check=False, timeout=30)
    if " 0% packet loss" not in out:        # first packets may race ARP
        out = vm_a.exec("ping", "-c", "3", "-i", "0.3", "-W", "2", vip["b"],
                        check=False, timeout=30)
    assert " 0% packet loss" in out, out
    # The tunnel carried it: OpenFlow counters of tun0 on host b moved.
    ports = two_clouds["b"][0].ofctl("dump-ports", "br-int", "tun0")
    m = re.search(r"rx pkts=(\d+)", ports)
    assert m and int(m.group(1)) >= 3, ports
