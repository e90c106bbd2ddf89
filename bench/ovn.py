#!/usr/bin/env python3
"""bench/ovn.py: skyvisor beside OVN 23.03 on the very same real Open
vSwitch hosts, in one run (`make bench-ovn`, root).

Hosts: tools/cloudsim.py, 3 clouds of a gateway and a worker: six host
namespaces, each with its own ovsdb-server and ovs-vswitchd (userspace
datapath).  Both systems use the same six ovs-vswitchd: skyvisor its bridge
br-sky, OVN its br-int.
OVN: the NB and SB ovsdb-servers and ovn-northd in the root namespace (unix
sockets), one ovn-controller per host namespace (OVS_RUNDIR/OVN_RUNDIR the
host's directory, `ovn-bridge-datapath-type=netdev`, `ovn-remote` the SB
socket, Geneve with `ovn-encap-ip` on a bridge br-ou holding an uplink into
one flat underlay 198.20.0.0/24 that the benchmark adds beside cloudsim's
clouds: OVN's tunnels need every chassis to reach every other, which
cloudsim's clouds, routed only through their gateways, do not give).
VM ports: skyvisor's are tap devices the benchmark plugs in the host's
namespace before the timed request (bench/setup.py), which skyvisord attaches
to br-sky by name (the VM's `iface`), and in a second run of skyvisor's
("VIFs plugged") are also ports of br-sky before the request, which
skyvisord adopts by name; OVN's VIFs are internal ports on br-int with
`external_ids:iface-id`, plugged before the timed command (as a hypervisor
plugs a VIF), and unplugged afterwards.

Measured for N in OVN_SIZES (300,60) ports on one logical switch, spread
round-robin over the three workers, in OVN_ROUNDS rounds (the order of the
three runs reversed every other round), each on a clean start (skyvisord on a fresh
database with its bridges deleted; OVN's logical switch deleted):
  - setup: skyvisor: one POST .../batch of N VMs, from its first byte sent
    to the last VM's status realized (LISTEN, bench/incremental.py);
    OVN: one NB transaction (`ovn-nbctl ls-add -- lsp-add -- lsp-set-
    addresses ...`) then `ovn-nbctl --wait=hv sync`, from the first
    command's start to the second's exit;
  - one-port add, OVN_REPEAT times: skyvisor: POST .../vms, first byte sent
    to realized (and from the answer, for bench-incremental's figure);
    OVN: `ovn-nbctl --wait=hv lsp-add ls P -- lsp-set-addresses P ...`,
    start to exit (a process start included: `ovn-nbctl ls-list`'s own time
    is printed beside);
  - one-port delete: skyvisor: DELETE, first byte to the flows gone from
    every switch (ovs-ofctl monitor); OVN: `ovn-nbctl --wait=hv lsp-del`.
Every OVN port is checked bound to a chassis after the setup.

Needs ovn-central and ovn-host (Debian 12: OVN 23.03); when missing, the
benchmark installs them with apt-get (OVN_INSTALL=0: only say how).
Environment: OVN_SIZES, OVN_ROUNDS (2), OVN_REPEAT (10), OVN_OUT
(BENCHMARKS.md; empty to only print).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import incremental as inc  # noqa: E402
import setup as fleets  # noqa: E402
from cloudsim import sh  # noqa: E402

OVN_SCHEMAS = "/usr/share/ovn"


def ensure_ovn():
    if shutil.which("ovn-controller") and shutil.which("ovn-northd"):
        return
    if os.environ.get("OVN_INSTALL", "1") != "1":
        sys.exit("OVN is missing: apt-get install ovn-central ovn-host (Debian 12: OVN 23.03)")
    print("installing OVN: apt-get install -y ovn-central ovn-host", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "ovn-central", "ovn-host"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


class Ovn:
    """OVN's central part in the root namespace and a chassis per host."""

    def __init__(self, fl, hosts):
        self.fl, self.sim, self.hosts = fl, fl.sim, hosts
        self.workers = [h[1] for h in hosts if not h[2]]
        self.dir = tempfile.mkdtemp(prefix="svb-ovn-")
        self.pids = []
        c = self.dir
        env = dict(os.environ, OVN_RUNDIR=c, OVS_RUNDIR=c)
        for db, schema in (("nb", "ovn-nb"), ("sb", "ovn-sb")):
            sh("ovsdb-tool", "create", f"{c}/{db}.db", f"{OVN_SCHEMAS}/{schema}.ovsschema")
            sh("ovsdb-server", f"{c}/{db}.db", f"--remote=punix:{c}/{db}.sock",
               f"--pidfile={c}/{db}.pid", f"--unixctl={c}/{db}.ctl", f"--log-file={c}/{db}.log",
               "-vconsole:off", "--detach", env=env)
            self.pids.append(f"{c}/{db}.pid")
        self.nbctl("init")
        sh("ovn-sbctl", f"--db=unix:{c}/sb.sock", "init")
        sh("ovn-northd", f"--ovnnb-db=unix:{c}/nb.sock", f"--ovnsb-db=unix:{c}/sb.sock",
           f"--pidfile={c}/northd.pid", f"--unixctl={c}/northd.ctl",
           f"--log-file={c}/northd.log", "-vconsole:off", "--detach", env=env)
        self.pids.append(f"{c}/northd.pid")
        fabric = self.sim.fabric
        sh("ip", "-n", fabric, "link", "add", "ovnul", "type", "bridge")
        sh("ip", "-n", fabric, "link", "set", "ovnul", "up")
        for i, (_, name, *_) in enumerate(hosts):
            ns, d = self.sim.host_ns(name), self.sim.hdir(name)
            ip = f"198.20.0.{i + 1}"
            sh("ip", "link", "add", "ou0", "netns", ns, "mtu", "1600", "type", "veth",
               "peer", "name", f"ou{i}", "netns", fabric, "mtu", "1600")
            sh("ip", "-n", fabric, "link", "set", f"ou{i}", "master", "ovnul", "up")
            sh("ip", "-n", ns, "link", "set", "ou0", "arp", "off", "up")
            self.sim.vsctl(name, "add-br", "br-ou", "--", "set", "bridge", "br-ou",
                           "datapath_type=netdev", "--", "add-port", "br-ou", "ou0")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "br-ou")
            sh("ip", "-n", ns, "link", "set", "br-ou", "up")
            self.sim.vsctl(name, "set", "Open_vSwitch", ".",
                           f"external_ids:system-id={name}",
                           f"external_ids:ovn-remote=unix:{c}/sb.sock",
                           "external_ids:ovn-encap-type=geneve",
                           f"external_ids:ovn-encap-ip={ip}",
                           "external_ids:ovn-bridge-datapath-type=netdev")
            sh("ovn-controller", f"unix:{d}/db.sock", f"--pidfile={d}/ovn-controller.pid",
               f"--log-file={d}/ovn-controller.log",
               "-vconsole:off", "--detach", ns=ns, env=dict(self.sim.env(name), OVN_RUNDIR=d))
            self.pids.append(f"{d}/ovn-controller.pid")
        deadline = time.time() + 60
        while len(self.sbctl("--bare", "--columns=name", "list", "Chassis").split()) < len(hosts):
            if time.time() > deadline:
                raise RuntimeError("OVN chassis did not register within 60 s")
            time.sleep(0.2)
        self.nbctl("--wait=hv", "sync")

    def nbctl(self, *args):
        return sh("ovn-nbctl", f"--db=unix:{self.dir}/nb.sock", *args).stdout

    def sbctl(self, *args):
        return sh("ovn-sbctl", f"--db=unix:{self.dir}/sb.sock", *args).stdout

    def timed_nbctl(self, *args):
        t0 = time.time()
        self.nbctl(*args)
        return time.time() - t0

    def vif(self, name, host, plug):
        if plug:
            self.sim.vsctl(host, "add-port", "br-int", name, "--", "set", "Interface", name,
                           "type=internal", f"external_ids:iface-id={name}")
        else:
            self.sim.vsctl(host, "--if-exists", "del-port", "br-int", name)

    def plug_many(self, names, plug):
        by_host = {}
        for i, n in enumerate(names):
            by_host.setdefault(self.workers[i % len(self.workers)], []).append(n)
        for host, ns in by_host.items():
            args = []
            for n in ns:
                args += (["--", "add-port", "br-int", n, "--", "set", "Interface", n,
                          "type=internal", f"external_ids:iface-id={n}"] if plug else
                         ["--", "--if-exists", "del-port", "br-int", n])
            self.sim.vsctl(host, *args[1:])

    def setup(self, n):
        names = [f"p{i}" for i in range(n)]
        self.plug_many(names, True)
        time.sleep(1)      # every ovn-controller has seen its new, unclaimed VIFs
        args = ["ls-add", "ls"]
        for i, p in enumerate(names):
            mac, ip = fleets.vm_addr(i)
            args += ["--", "lsp-add", "ls", p, "--", "lsp-set-addresses", p, f"{mac} {ip}"]
        t0 = time.time()
        self.nbctl(*args)
        self.nbctl("--wait=hv", "sync")
        took = time.time() - t0
        rows = self.sbctl("--format=csv", "--no-headings", "--columns=logical_port,chassis",
                          "list", "Port_Binding").split("\n")
        bound = sum(1 for r in rows if r.startswith("p") and r.split(",")[1].strip())
        if bound != n:
            raise RuntimeError(f"OVN bound {bound} of {n} ports")
        return took, names

    def add_delete(self, k, n):
        name = f"a{k}"
        host = self.workers[k % len(self.workers)]
        self.vif(name, host, True)
        time.sleep(0.3)
        mac, ip = fleets.vm_addr(n + k)
        add = self.timed_nbctl("--wait=hv", "lsp-add", "ls", name, "--",
                               "lsp-set-addresses", name, f"{mac} {ip}")
        time.sleep(0.1)
        dele = self.timed_nbctl("--wait=hv", "lsp-del", name)
        self.vif(name, host, False)
        return add, dele

    def teardown(self, names):
        self.nbctl("--wait=hv", "ls-del", "ls")
        self.plug_many(names, False)

    def down(self):
        for pidf in reversed(self.pids):
            try:
                os.kill(int(open(pidf).read().strip()), 15)
            except (OSError, ValueError):
                pass
        time.sleep(0.5)
        shutil.rmtree(self.dir, ignore_errors=True)


# skyvisor's two ways to a VM's port: skyvisord adds the VM's tap to br-sky
# (its `iface`), or the tap is a port of br-sky before the request, as
# OVN's VIFs are ports of br-int before its command.
SKY = "skyvisor"
SKY_PLUGGED = "skyvisor, VIFs plugged"


def sky_round(pg, fl, hosts, n, repeat, preplug):
    net = inc.Network(pg, fl, hosts, 0, "listen", per_switch=10 ** 6)
    net.preplug = preplug
    try:
        t_sent, _, t_last = net.grow(n)
        adds, dels = [], []
        for k in range(repeat):
            a = net.add(k)
            adds.append(a)
            net.side.quiet(0.1)
            dels.append(net.delete(a["name"]))
            net.side.quiet(0.1)
    finally:
        net.close()
    return {"setup": t_last - t_sent,
            "add": [a["realized"] - a["sent"] for a in adds],
            "add_answer": [a["realized"] - a["answer"] for a in adds],
            "del": [d["gone"] - d["sent"] for d in dels]}


def ovn_round(ovn, n, repeat):
    setup, names = ovn.setup(n)
    adds, dels = [], []
    for k in range(repeat):
        a, d = ovn.add_delete(k, n)
        adds.append(a)
        dels.append(d)
    ovn.teardown(names)
    return {"setup": setup, "add": adds, "del": dels}


def ms(x):
    return f"{x * 1000:.0f}" if x >= 0.1 else f"{x * 1000:.1f}"


def cell(xs):
    return f"{ms(inc.pct(xs, 50))} / {ms(inc.pct(xs, 99))} / {ms(max(xs))}"


def main():
    inc.build_dir()
    sizes = [int(x) for x in os.environ.get("OVN_SIZES", "300,60").split(",") if x.strip()]
    rounds = int(os.environ.get("OVN_ROUNDS", "2"))
    repeat = int(os.environ.get("OVN_REPEAT", "10"))
    out = os.environ.get("OVN_OUT", "BENCHMARKS.md")
    ensure_ovn()
    ovnver = sh("ovn-nbctl", "--version").stdout.split("\n")[0].split()[-1]

    import conftest
    load0 = os.getloadavg()
    print(f"load average at the start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"commit {fleets.commit()}; OVN {ovnver}", flush=True)
    pg = conftest.PgCluster()
    hosts = fleets.host_names(3, 1)
    res = []          # (round, system, n, figures)
    fl = ovn = None
    try:
        fl = fleets.RealFleet(hosts, 3, 0, 1)
        ovn = Ovn(fl, hosts)
        nbctl_self = sorted(ovn.timed_nbctl("ls-list") for _ in range(5))[2]
        for r in range(rounds):
            order = (SKY, SKY_PLUGGED, "OVN")
            for system in order if r % 2 == 0 else reversed(order):
                for n in sizes:
                    f = (ovn_round(ovn, n, repeat) if system == "OVN"
                         else sky_round(pg, fl, hosts, n, repeat, system == SKY_PLUGGED))
                    res.append((r + 1, system, n, f))
                    print(f"round {r + 1} {system:8} {n} ports: setup {ms(f['setup'])} ms, "
                          f"add {cell(f['add'])} ms, delete {cell(f['del'])} ms", flush=True)
                    # skyvisord is stopped after each of its runs; its
                    # bridges go too, so OVN runs beside nothing of
                    # skyvisor's and every skyvisor run starts clean.
                    fl.wipe([h[1] for h in hosts])
    finally:
        if ovn:
            ovn.down()
        if fl:
            fl.down()
        pg.destroy()
    text = section(res, sizes, rounds, repeat, load0, ovnver, nbctl_self)
    print(text)
    if out:
        subprocess.run([os.path.join(ROOT, "tools", "bench-section"), out,
                        "skyvisor beside OVN (make bench-ovn)", text], check=True)
        print(f"wrote {out}")


def section(res, sizes, rounds, repeat, load0, ovnver, nbctl_self):
    rows = []
    for r, system, n, f in res:
        extra = (f" (from the answer: {ms(inc.pct(f['add_answer'], 50))})"
                 if "add_answer" in f else "")
        rows.append(f"| {r} | {system} | {n} | {ms(f['setup'])} | {cell(f['add'])}{extra} | "
                    f"{cell(f['del'])} |")
    ratios = []
    for n in sizes:
        for sky in (SKY, SKY_PLUGGED):
            for r in range(1, rounds + 1):
                s = next((f for rr, sy, nn, f in res if (rr, sy, nn) == (r, sky, n)), None)
                o = next((f for rr, sy, nn, f in res if (rr, sy, nn) == (r, "OVN", n)), None)
                if s and o:
                    ratios.append(
                        f"| {n} | {sky} | {r} | {s['setup'] / o['setup']:.2f} | "
                        f"{inc.pct(s['add'], 50) / inc.pct(o['add'], 50):.2f} | "
                        f"{inc.pct(s['del'], 50) / inc.pct(o['del'], 50):.2f} |")
    return f"""## skyvisor beside OVN (make bench-ovn)

{time.strftime('%Y-%m-%d', time.gmtime())}, commit {fleets.commit()}, OVN {ovnver}, {os.cpu_count()} cores shared by everything
below and other work on the machine (load average {load0[0]:.2f} at the start,
{os.getloadavg()[0]:.2f} at the end).  The same six real Open vSwitch hosts for both
(`tools/cloudsim.py`: 3 clouds of a gateway and a worker, one ovs-vswitchd per host
namespace, userspace datapath): skyvisor on its bridge br-sky, OVN on br-int with one
ovn-controller per host namespace and northd and the NB/SB servers in the root namespace
(unix sockets; Geneve over a flat underlay added beside the clouds).  One logical
switch / virtual switch of N ports on the three workers; {rounds} rounds of three runs
(skyvisor, skyvisor with its VIFs plugged, OVN; the order reversed every other round),
each alone on the hosts during its turn, {repeat} one-port adds and deletes per run.

- **VM ports**: **skyvisor**: each VM's tap device is in its host's namespace before the
  request and skyvisord adds it to br-sky (the VM's `iface`): ovs-vswitchd opening the new
  ports is part of skyvisor's figures.  **skyvisor, VIFs plugged**: the tap is also a port of
  br-sky before the request (1 s before a setup, 0.3 s before an add), which skyvisord adopts
  by name, as OVN's VIFs are ports of br-int before its command: the like-for-like row.
- **setup**: skyvisor: one `POST .../batch` of N VMs, first byte sent to the last VM's
  `status.state` realized (LISTEN on a trigger, as in bench-incremental); OVN: one NB
  transaction of N `lsp-add` + `lsp-set-addresses`, then `ovn-nbctl --wait=hv sync`, from the
  first command's start to the second's exit (every port bound to a chassis after it).
- **add**: skyvisor: `POST .../vms`, first byte sent to realized (and, in parentheses, from the
  answer); OVN: `ovn-nbctl --wait=hv lsp-add ls P -- lsp-set-addresses P ...`, start to exit,
  its VIF (an internal port with `iface-id`) plugged beforehand, as a hypervisor would.
  `ovn-nbctl ls-list` alone takes {ms(nbctl_self)} ms here (process start, connection,
  NB replica): part of every OVN figure.
- **delete**: skyvisor: `DELETE`, first byte sent to the VM's flows gone from every switch
  (`ovs-ofctl monitor`); OVN: `ovn-nbctl --wait=hv lsp-del`.
- p50 / p99 / worst in ms; p99 nearest-rank (the worst of {repeat}).

| round | system | ports | setup ms | add p50 / p99 / worst ms | delete p50 / p99 / worst ms |
|---|---|---|---|---|---|
{chr(10).join(rows)}

skyvisor / OVN, same round (below 1: skyvisor faster):

| ports | skyvisor | round | setup | add p50 | delete p50 |
|---|---|---|---|---|---|
{chr(10).join(ratios)}
"""


if __name__ == "__main__":
    main()
