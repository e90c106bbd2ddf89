#!/usr/bin/env python3
"""cloudsim: simulated clouds for skyvisor, out of namespaces and Open vSwitch.

Every host is a network namespace running its own ovsdb-server and
ovs-vswitchd (userspace datapath).  Its underlay is what a cloud provider
would give it: a port on the cloud's LAN (address = the host's tunnel_ip,
on an OvS bridge `br-lan`, as userspace tunnels need) and, for a gateway, a
port on the WAN (public_ip, on `br-wan`).  LANs and the WAN are Linux
bridges in one fabric namespace; nothing routes between them, so a host
reaches another cloud only through its gateway's tunnels.  Tenant VMs are
namespaces with a veth whose host end (the VM's `iface`) waits in the host
namespace for skyvisor to plug it into its integration bridge.

    cloudsim.py up SPEC.json STATE_DIR     build everything
    cloudsim.py down STATE_DIR             tear it down
    cloudsim.py ping STATE_DIR VM IP       one ping from a VM (exit status)

SPEC: {"prefix": "svs", "clouds": [{"name", "hosts": [{"name", "tunnel_ip",
"public_ip"?}]}], "vms": [{"name", "host", "iface", "mac", "ip", "prefix"}]}
Hosts' OVSDB socket: STATE_DIR/<host>/db.sock; their bridges' management
socket: STATE_DIR/<host>/br-sky.mgmt.
"""

import json
import os
import shutil
import subprocess
import sys
import time

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def sh(*cmd, ns=None, check=True, env=None, timeout=30):
    if ns:
        cmd = ("ip", "netns", "exec", ns) + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p


class Sim:
    def __init__(self, spec, state):
        self.spec = spec
        self.state = os.path.abspath(state)
        self.prefix = spec.get("prefix", "svs")
        self.fabric = f"{self.prefix}-net"

    def host_ns(self, host):
        return f"{self.prefix}-h-{host}"[:32]

    def vm_ns(self, vm):
        return f"{self.prefix}-v-{vm}"[:32]

    def hdir(self, host):
        return os.path.join(self.state, host)

    def host_body(self, h, cloud):
        """The POST /v1/hosts body for the spec's host 'h' in 'cloud': its
        OVSDB and bridge management sockets, a gateway's public_ip."""
        body = {"name": h["name"], "cloud": cloud, "tunnel_ip": h["tunnel_ip"],
                "ovsdb": f"unix:{self.hdir(h['name'])}/db.sock", "datapath": "netdev",
                "openflow": f"unix:{self.hdir(h['name'])}/br-sky.mgmt"}
        if "public_ip" in h:
            body.update(role="gateway", public_ip=h["public_ip"])
        return body

    def env(self, host):
        d = self.hdir(host)
        return dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d,
                    OVS_SYSCONFDIR=d)

    def vsctl(self, host, *args):
        return sh("ovs-vsctl", f"--db=unix:{self.hdir(host)}/db.sock",
                  "--timeout=10", *args, ns=self.host_ns(host))

    # As a context manager: built on entry (torn down again if that fails),
    # torn down on exit.
    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    # -- build ---------------------------------------------------------------
    def up(self):
        os.makedirs(self.state, exist_ok=True)
        with open(os.path.join(self.state, "spec.json"), "w") as f:
            json.dump(self.spec, f)
        sh("ip", "netns", "add", self.fabric)
        sh("ip", "-n", self.fabric, "link", "set", "lo", "up")
        sh("ip", "-n", self.fabric, "link", "add", "wan", "type", "bridge")
        sh("ip", "-n", self.fabric, "link", "set", "wan", "up")
        for ci, cloud in enumerate(self.spec["clouds"]):
            lan = f"lan{ci}"
            sh("ip", "-n", self.fabric, "link", "add", lan, "type", "bridge")
            sh("ip", "-n", self.fabric, "link", "set", lan, "up")
            for hi, host in enumerate(cloud["hosts"]):
                self.host_up(ci, hi, host)
        for vm in self.spec.get("vms", []):
            self.vm_up(vm)

    def host_up(self, ci, hi, host):
        name, ns, d = host["name"], self.host_ns(host["name"]), self.hdir(host["name"])
        os.makedirs(d, exist_ok=True)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ovsdb-tool", "create", f"{d}/conf.db", SCHEMA)
        self.daemon_start(name, "ovsdb-server")
        self.vsctl(name, "--no-wait", "init")
        self.daemon_start(name, "ovs-vswitchd")
        uplinks = [("lan0", f"l{ci}x{hi}", f"lan{ci}", host["tunnel_ip"], "br-lan")]
        if host.get("public_ip"):
            uplinks.append(("wan0", f"w{ci}x{hi}", "wan", host["public_ip"], "br-wan"))
        for inner, outer, bridge, ip, br in uplinks:
            sh("ip", "link", "add", inner, "netns", ns, "mtu", "1600", "type", "veth",
               "peer", "name", outer, "netns", self.fabric, "mtu", "1600")
            sh("ip", "-n", self.fabric, "link", "set", outer, "master", bridge, "up")
            sh("ip", "-n", ns, "link", "set", inner, "arp", "off", "up")
            self.vsctl(name, "add-br", br, "--", "set", "bridge", br,
                       "datapath_type=netdev", "--", "add-port", br, inner)
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", br)
            sh("ip", "-n", ns, "link", "set", br, "up")

    def daemon_start(self, host, daemon):
        """Starts the host's ovsdb-server (on its existing database) or its
        ovs-vswitchd."""
        d, ns = self.hdir(host), self.host_ns(host)
        if daemon == "ovsdb-server":
            sh("ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
               f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
               f"--log-file={d}/ovsdb-server.log", "-vconsole:off", "--detach",
               ns=ns, env=self.env(host))
        else:
            sh("ovs-vswitchd", f"unix:{d}/db.sock", f"--pidfile={d}/ovs-vswitchd.pid",
               f"--unixctl={d}/ovs-vswitchd.ctl", f"--log-file={d}/ovs-vswitchd.log",
               "-vconsole:off", "--detach", ns=ns, env=self.env(host))

    def daemon_kill(self, host, daemon):
        """Kills the host's ovsdb-server or ovs-vswitchd outright (SIGKILL, as
        a crash would): its ports' taps and addresses stay behind, as they do
        on a real host, and the flows of a killed ovs-vswitchd are gone."""
        pidf = f"{self.hdir(host)}/{daemon}.pid"
        pid = int(open(pidf).read().strip())
        os.kill(pid, 9)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
        os.unlink(pidf)

    def vm_up(self, vm):
        ns, hns = self.vm_ns(vm["name"]), self.host_ns(vm["host"])
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "eth0", "netns", ns, "mtu", "1400", "type", "veth",
           "peer", "name", vm["iface"], "netns", hns)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", vm["mac"])
        sh("ip", "-n", ns, "addr", "add", f"{vm['ip']}/{vm.get('prefix', 24)}", "dev", "eth0")
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", hns, "link", "set", vm["iface"], "up")
        sh("ethtool", "-K", "eth0", "tx", "off", ns=ns, check=False)

    # -- use -----------------------------------------------------------------
    def ping(self, vm, ip, count=1, wait=1):
        p = sh("ping", "-c", str(count), "-W", str(wait), "-i", "0.2", ip,
               ns=self.vm_ns(vm), check=False)
        return p.returncode == 0

    # -- teardown --------------------------------------------------------------
    def down(self):
        for cloud in self.spec["clouds"]:
            for host in cloud["hosts"]:
                d = self.hdir(host["name"])
                for daemon in ("ovs-vswitchd", "ovsdb-server"):
                    ctl = f"{d}/{daemon}.ctl"
                    if os.path.exists(ctl):
                        args = ["exit", "--cleanup"] if daemon == "ovs-vswitchd" else ["exit"]
                        sh("ovs-appctl", "-t", ctl, *args, check=False, timeout=10)
                    pidf = f"{d}/{daemon}.pid"
                    if os.path.exists(pidf):
                        try:
                            os.kill(int(open(pidf).read().strip()), 9)
                        except (OSError, ValueError):
                            pass
        names = [self.fabric]
        names += [self.host_ns(h["name"]) for c in self.spec["clouds"] for h in c["hosts"]]
        names += [self.vm_ns(v["name"]) for v in self.spec.get("vms", [])]
        for ns in names:
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.state, ignore_errors=True)


def load(state):
    with open(os.path.join(state, "spec.json")) as f:
        return Sim(json.load(f), state)


def main(argv):
    if len(argv) >= 3 and argv[0] == "up":
        with open(argv[1]) as f:
            sim = Sim(json.load(f), argv[2])
        try:
            sim.up()
        except Exception:
            sim.down()
            raise
        return 0
    if len(argv) == 2 and argv[0] == "down":
        if os.path.exists(os.path.join(argv[1], "spec.json")):
            load(argv[1]).down()
        return 0
    if len(argv) == 4 and argv[0] == "ping":
        return 0 if load(argv[1]).ping(argv[2], argv[3], count=3) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
