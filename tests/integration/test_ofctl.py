"""The embedded OpenFlow 1.3 controller (ctrl/ofctl.h) against real Open vSwitch.

Each test starts a private Open vSwitch (ovs_helpers.OvsInstance: temp dir,
daemons in a network namespace of its own, as the userspace datapath
needs), with a bridge datapath_type=netdev, protocols=OpenFlow13, fail_mode=secure and a
fixed datapath id.  The controller is tests/ctrl/ofctl_driver.c, run inside
that namespace and driven over a line protocol on stdin/stdout; it reaches
the bridge through its <bridge>.mgmt unix socket, or the bridge reaches it
on the namespace's loopback (listen direction).  Everything is removed
afterwards, even on failure.
"""

import json
import os
import subprocess
import time

import pytest

from conftest import BUILD
from ovs_helpers import Netns, OvsInstance

DRIVER = os.path.join(BUILD, "tests", "ofctl_driver")
DPID = "0x5c0000000000ab01"


def run(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=60)


class Ovs(OvsInstance):
    """A private OvS (ovs_helpers) in its own namespace, with the helpers
    these tests need: a secure OpenFlow 1.3 bridge with a fixed datapath id,
    VM namespaces on internal ports."""

    def __init__(self, tag):
        ns = f"skyofc{tag}{os.getpid() % 100000}"
        super().__init__(f"ofctl-{tag}", netns=ns, own_netns=True)
        self.ns = ns
        self.vms = []

    def mgmt(self, bridge="br0"):
        return f"{self.dir}/{bridge}.mgmt"

    def add_bridge(self, bridge="br0", ports=()):
        self.vsctl("add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=netdev",
                   "protocols=OpenFlow13", "fail_mode=secure",
                   f"other-config:datapath-id={DPID[2:]}")
        for i, p in enumerate(ports, start=1):
            self.vsctl("add-port", bridge, p, "--", "set", "interface", p, "type=internal",
                       f"ofport_request={i}")
        wait_for(lambda: os.path.exists(self.mgmt(bridge)), f"{bridge}.mgmt")

    def vm(self, port, ip):
        """Moves internal port 'port' into a new namespace as a VM NIC."""
        vmns = f"{self.ns}{port}"
        Netns(vmns).create()
        self.vms.append(vmns)
        wait_for(lambda: run("ip", "-n", self.ns, "link", "show", port,
                             check=False).returncode == 0, port)
        run("ip", "-n", self.ns, "link", "set", port, "netns", vmns)
        run("ip", "-n", vmns, "addr", "add", ip, "dev", port)
        run("ip", "-n", vmns, "link", "set", port, "up")
        return vmns

    def stop(self):
        for vmns in self.vms:
            Netns(vmns).delete()
        super().stop()


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Driver:
    """ofctl_driver in namespace 'ns'; cmd() sends one line, returns the answer."""

    def __init__(self, ns, probe_ms=1000):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, DRIVER, str(probe_ms)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        answer = self.p.stdout.readline().strip()
        assert answer, f"driver died on '{line}': {self.p.stderr.read()}"
        return answer

    def ok(self, line):
        answer = self.cmd(line)
        assert answer.split()[0] == "ok", f"{line}: {answer}"
        return answer.split()[1:]

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.close()
                self.p.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        log = self.p.stderr.read()
        self.p.stderr.close()
        self.p.stdout.close()
        return log


@pytest.fixture
def ovs():
    o = Ovs("a")
    try:
        o.start()
        o.add_bridge("br0", ports=("ofcp1", "ofcp2"))
        yield o
    finally:
        o.stop()


@pytest.fixture
def driver(ovs):
    d = Driver(ovs.ns)
    yield d
    log = d.close()
    # A clean exit: no sanitizer report, every request completed.
    assert d.p.returncode == 0, log[-4000:]


def flows(ovs):
    """dump-flows without counters, one normalized line per flow, sorted."""
    text = ovs.ofctl("dump-flows", "br0", "--no-stats")
    return sorted(" ".join(l.split()) for l in text.splitlines() if "actions=" in l)


# What the driver's 'install' batch must look like in ovs-ofctl.
INSTALLED = sorted([
    "cookie=0x10, priority=100,ip,nw_dst=10.0.0.1 actions=output:1",
    "cookie=0x10, priority=200,in_port=1,dl_dst=00:00:00:00:00:02 actions=output:2",
    "cookie=0x10, table=1, priority=50,arp actions=CONTROLLER:65535",
    "cookie=0x20, priority=300,tcp,tp_dst=80 actions=drop",
    "cookie=0x20, priority=10 actions=goto_table:1",
])


def test_install_dump_delete_and_rejected_batch(ovs, driver):
    driver.ok("connect unix:" + ovs.mgmt())
    assert driver.ok("wait 1 10000") == [DPID]
    assert driver.ok(f"ports {DPID}") == ["ofcp1", "ofcp2", "br0"]

    assert driver.ok(f"install {DPID}") == []          # barrier reply, no error
    assert flows(ovs) == INSTALLED
    assert driver.ok(f"dump {DPID} 0 0") == ["5", "0x10", "0x10", "0x10", "0x20", "0x20"]
    assert driver.ok(f"dump {DPID} 0x20 0xffffffffffffffff") == ["2", "0x20", "0x20"]

    driver.ok(f"delcookie {DPID} 0x10")
    assert flows(ovs) == [l for l in INSTALLED if l.startswith("cookie=0x20")]

    # The second message of the batch outputs to port 0x10000: OvS rejects
    # it with BAD_ACTION (2) / BAD_OUT_PORT (4); the others are applied.
    answer = driver.cmd(f"bad {DPID}")
    assert answer == "rejected 1 2 4", answer
    cookie30 = [l for l in flows(ovs) if l.startswith("cookie=0x30")]
    assert cookie30 == sorted([
        "cookie=0x30, priority=1000,ip,nw_src=10.0.0.240 actions=output:1",
        "cookie=0x30, priority=1002,ip,nw_src=10.0.0.242 actions=output:1",
    ])
    # The connection is still good after the error.
    driver.ok(f"delcookie {DPID} 0x30")
    assert driver.ok(f"dump {DPID} 0 0")[0] == "2"

    # PORT_STATUS keeps the controller's port list current.
    ovs.vsctl("add-port", "br0", "ofcp3", "--", "set", "interface", "ofcp3",
              "type=internal", "ofport_request=3")
    wait_for(lambda: driver.ok(f"ports {DPID}") == ["ofcp1", "ofcp2", "ofcp3", "br0"],
             "ofcp3 in the controller's port list")
    ovs.vsctl("del-port", "br0", "ofcp1")
    wait_for(lambda: driver.ok(f"ports {DPID}") == ["ofcp2", "ofcp3", "br0"],
             "ofcp1 gone from the controller's port list")


def test_learning_switch_makes_ping_work(ovs, driver):
    vm1 = ovs.vm("ofcp1", "10.98.0.1/24")
    ovs.vm("ofcp2", "10.98.0.2/24")
    driver.ok("connect unix:" + ovs.mgmt())
    driver.ok("wait 1 10000")
    driver.ok(f"learn {DPID}")
    ping = run("ip", "netns", "exec", vm1, "ping", "-c", "3", "-i", "0.3", "-W", "2",
               "10.98.0.2", check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    stats = dict(kv.split("=") for kv in driver.ok("stats"))
    assert int(stats["packet_ins"]) >= 2        # at least ARP request and reply
    assert int(stats["flow_mods"]) >= 1 and int(stats["packet_outs"]) >= 2
    learned = [l for l in flows(ovs) if l.startswith("cookie=0x99")]
    assert len(learned) >= 1 and all("dl_dst=" in l for l in learned), learned


def test_reconnects_after_vswitchd_restart(ovs, driver):
    driver.ok("connect unix:" + ovs.mgmt())
    driver.ok("wait 1 10000")
    assert driver.ok("waitups 1 1000") == ["1"]
    driver.ok(f"install {DPID}")
    assert flows(ovs) == INSTALLED

    ovs.stop_switch()
    time.sleep(0.5)
    assert driver.cmd(f"install {DPID}").startswith("err")   # switch is gone
    ovs.start_switch()
    # Backoff reconnect, a new handshake: features and ports again.
    assert driver.ok("waitups 2 20000") == ["2"]
    assert driver.ok(f"ports {DPID}") == ["ofcp1", "ofcp2", "br0"]
    wait_for(lambda: flows(ovs) == [], "empty flow table after restart")
    driver.ok(f"install {DPID}")
    assert flows(ovs) == INSTALLED


def test_bridge_connects_to_listening_controller(ovs, driver):
    port = driver.ok("listen tcp:127.0.0.1:0")[0]
    ovs.vsctl("set-controller", "br0", f"tcp:127.0.0.1:{port}")
    assert driver.ok("wait 1 15000") == [DPID]
    driver.ok(f"install {DPID}")
    assert flows(ovs) == INSTALLED


OVSDB_DRIVER = os.path.join(BUILD, "tests", "ovsdb_driver")


def test_bridge_made_over_ovsdb_then_programmed_over_openflow():
    """The whole path the reconciler will take: the bridge and its ports are
    created with skyvisor's OVSDB client (no ovs-vsctl), then the controller
    connects to the new bridge over OpenFlow 1.3 and programs it."""
    o = Ovs("b")
    d = None
    try:
        o.start()
        made = run(OVSDB_DRIVER, o.db_target, "ensure-bridge", "br0",
                   "--datapath-type", "netdev", "--fail-mode", "secure",
                   "--protocols", "OpenFlow13", "--other-config", f"datapath-id={DPID[2:]}")
        made = json.loads(made.stdout)
        assert made["ok"] and made["ops"] > 0, made
        for i, port in enumerate(("ofcp1", "ofcp2"), start=1):
            p = json.loads(run(OVSDB_DRIVER, o.db_target, "ensure-port", "br0", port,
                               "--type", "internal", "--wait-iface", "10000").stdout)
            assert p["ok"] and p["iface"]["ofport"] == i and not p["iface"]["error"], p
        assert o.vsctl("get", "bridge", "br0", "fail_mode").strip() == "secure"
        wait_for(lambda: os.path.exists(o.mgmt()), "br0.mgmt")
        d = Driver(o.ns)
        d.ok("connect unix:" + o.mgmt())
        assert d.ok("wait 1 10000") == [DPID]
        assert d.ok(f"ports {DPID}") == ["ofcp1", "ofcp2", "br0"]
        d.ok(f"install {DPID}")
        assert flows(o) == INSTALLED
        d.ok(f"delcookie {DPID} 0x20")
        assert flows(o) == [l for l in INSTALLED if l.startswith("cookie=0x10")]
    finally:
        if d:
            log = d.close()
            assert d.p.returncode == 0, log[-4000:]
        o.stop()
