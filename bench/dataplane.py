#!/usr/bin/env python3
"""bench/dataplane.py: data-plane overhead, Figure 4 of the multi-cloud
network virtualization paper skyvisor follows
(`make bench-dataplane`).

What it measures: ping RTT and iperf3 TCP throughput between two VMs in
different clouds, with the traffic on skyvisor's virtualized pipeline and
then on plain Open vSwitch forwarding over the very same bridges, tunnels
and VM ports, one after the other in the same run, and the ratio.

The setup (tools/cloudsim.py, prefix "svd"): two clouds, each a gateway and
one worker host, every host its own ovsdb-server + ovs-vswitchd (userspace
datapath) in a network namespace; VM "a" on c1-h1 and VM "b" on c2-h1, so a
frame crosses host -> gateway -> gateway -> host: three VXLAN tunnels and
four ovs-vswitchd instances each way.  All on this machine's cores.

The runs, ROUNDS rounds in ABBA order (virtualized, plain-ports,
plain-normal; then the reverse; ...):
  virtualized   skyvisord (embedded PostgreSQL in a temporary --data-dir,
                the reconciler on) realizes a tenant network declared
                through the public API; we wait until every object is
                realized and the VMs ping, then measure.
  plain-ports   skyvisord is stopped (its process gone), every br-sky's flow
                table is replaced by two flows, in_port=X -> output:Y and
                back (each br-sky has exactly two ports: VM + tunnel on a
                worker, two tunnels on a gateway; the tunnel tree has no
                loops); the minimum any forwarding needs.
  plain-normal  the same with one flow, actions=NORMAL (MAC learning).
Before each plain run and after it, the flow tables are read back and must
be exactly what we installed: nothing re-installs skyvisor's flows.  For the
next virtualized run the tables are emptied and skyvisord restarted on the
same database; it restores its flows (the count is checked against round 1).

Each measurement: COLD single pings, each after every host's datapath cache
was purged (so every hop takes an upcall through its OpenFlow tables, where
the pipeline's length would show); PINGS pings at 10 ms intervals
(min/avg/p50/p99/max, loss), with the datapath flows sampled meanwhile; then
iperf3 TCP for IPERF_SECONDS each: a->b one stream, b->a one stream (-R),
a->b four streams, and the CPU time the four ovs-vswitchd spent per GB
received over those three.  Flow counts: OpenFlow flows per br-sky, and the
datapath (megaflow) entries per host during the steady ping, with the
datapath actions applied to VM a's packets on its host.

Output: a table on stdout and the section "Data-plane overhead (make
bench-dataplane)" of BENCHMARKS.md (tools/bench-section).  Everything it
created (namespaces, OvS daemons, skyvisord and its PostgreSQL, iperf3, the
temporary directory) is removed on exit, on failure and on SIGINT/SIGTERM.

Environment: BUILD (default build), ROUNDS (4), PINGS (200), COLD (20),
IPERF_SECONDS (4), TAGGING (mac-prefix or rewrite), BENCH_OUT (BENCHMARKS.md; empty to
skip writing).
"""

import http.client
import json
import os
import platform
import pwd
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
ROUNDS = int(os.environ.get("ROUNDS", "4"))
PINGS = int(os.environ.get("PINGS", "200"))
COLD = int(os.environ.get("COLD", "20"))
IPERF_SECONDS = int(os.environ.get("IPERF_SECONDS", "4"))
TAGGING = os.environ.get("TAGGING", "mac-prefix")
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "BENCHMARKS.md"))
PREFIX = "svd"
LOAD = [0.0]   # the 1-minute load average when the run started
TITLE = "Data-plane overhead (make bench-dataplane)"
IPERF_PORT = 5201

CLOUDS = [("c1", "aws", "DE"), ("c2", "gcp", "US")]
HOSTS = [  # name, cloud, tunnel_ip, public_ip
    ("c1-gw", "c1", "198.18.1.1", "198.19.0.1"),
    ("c1-h1", "c1", "198.18.1.2", None),
    ("c2-gw", "c2", "198.18.2.1", "198.19.0.2"),
    ("c2-h1", "c2", "198.18.2.2", None),
]
VMS = {  # name: host, iface, mac, ip
    "a": ("c1-h1", "svda", "02:00:00:00:0d:01", "10.77.0.1"),
    "b": ("c2-h1", "svdb", "02:00:00:00:0d:02", "10.77.0.2"),
}
BRIDGE = "br-sky"
MODES = ("virtualized", "plain-ports", "plain-normal")
RATIO_KEYS = ("avg", "p50", "p99", "cold", "ab", "ba", "ab4", "cpu")


class Failure(Exception):
    pass


def log(msg):
    print(f"[dataplane] {msg}", flush=True)


# -- the REST API ---------------------------------------------------------------
class Api:
    def __init__(self, port, token):
        self.port, self.token = port, token

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        conn.close()
        if r.status not in ok:
            raise Failure(f"{method} {path}: {r.status} {text}")
        return json.loads(text) if text and text[0] in "{[" else text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- skyvisord with its embedded PostgreSQL ---------------------------------------
class Daemon:
    def __init__(self, work, extra=()):
        self.work = work
        self.extra = list(extra)        # more skyvisord arguments (bench/wan.py)
        self.data = os.path.join(work, "pg")
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.logpath = os.path.join(work, "skyvisord.log")
        self.proc = None

    def start(self):
        args = [os.path.join(ROOT, BUILD, "skyvisord"), "--listen", f"127.0.0.1:{self.port}",
                "--threads", "2", "--data-dir", self.data, *self.extra]
        env = dict(os.environ, SKYVISOR_ADMIN_TOKEN=self.token)
        with open(self.logpath, "ab") as lf:
            self.proc = subprocess.Popen(args, env=env, stdout=lf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"skyvisord exited {self.proc.returncode}:\n{self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return Api(self.port, self.token)
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure("skyvisord did not become ready:\n" + self.tail())

    def stop(self):
        """SIGTERM and wait: skyvisord stops its PostgreSQL on the way out.
        Returns only once the process is gone, with its exit status (None
        if it was not running)."""
        rc = None
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
            rc = self.proc.returncode
        self.proc = None
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop_orphan_postgres(self):
        """If skyvisord died without stopping its cluster, stop it here."""
        if not os.path.exists(os.path.join(self.data, "postmaster.pid")):
            return
        bindir = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()),
                        key=int)[-1]
        cmd = [f"/usr/lib/postgresql/{bindir}/bin/pg_ctl", "-D", self.data, "-m",
               "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, capture_output=True, timeout=60)

    def tail(self, n=40):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def declare(api, sim):
    for name, provider, jur in CLOUDS:
        api.call("POST", "/v1/clouds", {"name": name, "provider": provider, "region": "r1",
                                        "jurisdiction": jur, "kind": "public"})
    for name, cloud, tip, pip in HOSTS:
        body = {"name": name, "cloud": cloud, "tunnel_ip": tip, "datapath": "netdev",
                "ovsdb": f"unix:{sim.hdir(name)}/db.sock",
                "openflow": f"unix:{sim.hdir(name)}/{BRIDGE}.mgmt"}
        if pip:
            body.update(role="gateway", public_ip=pip)
        api.call("POST", "/v1/hosts", body)
    api.call("POST", "/v1/tenants", {"name": "bench"})
    base = "/v1/tenants/bench/networks"
    api.call("POST", base, {"name": "n", "subnet": "10.77.0.0/24", "tagging": TAGGING})
    api.call("POST", f"{base}/n/switches", {"name": "s"})
    for name, (host, iface, mac, ip) in VMS.items():
        api.call("POST", f"{base}/n/vms", {"name": name, "mac": mac, "ip": ip, "switch": "s",
                                           "iface": iface, "placement": {"host": host}})


def wait_realized(api, timeout=60):
    deadline = time.time() + timeout
    paths = ["/v1/clouds", "/v1/hosts", "/v1/tenants", "/v1/tenants/bench/networks",
             "/v1/tenants/bench/networks/n/switches", "/v1/tenants/bench/networks/n/vms"]
    while True:
        bad = []
        for p in paths:
            for o in api.call("GET", f"{p}?limit=100")["items"]:
                st = o["status"]
                if st["state"] != "realized" or st["observed_generation"] != st["generation"]:
                    bad.append((p, o["name"], st))
        if not bad:
            return
        if time.time() > deadline:
            raise Failure(f"not realized after {timeout}s: {bad}")
        time.sleep(0.5)


# -- Open vSwitch ---------------------------------------------------------------------
def ofctl(sim, host, *args, check=True):
    return cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", *args[:1],
                       f"unix:{sim.hdir(host)}/{BRIDGE}.mgmt", *args[1:], check=check)


def flows(sim, host):
    out = ofctl(sim, host, "dump-flows", "--no-stats", "--no-names").stdout
    return sorted(line.strip() for line in out.splitlines() if "actions=" in line)


def appctl(sim, host, *args):
    return cloudsim.sh("ovs-appctl", "-t", f"{sim.hdir(host)}/ovs-vswitchd.ctl", *args,
                       check=False)


def dp_flows(sim, host):
    """The datapath's (megaflow) entries: lines with actions."""
    out = appctl(sim, host, "dpctl/dump-flows", "--names").stdout
    return [line.strip() for line in out.splitlines() if "actions:" in line]


def bridge_ports(sim, host):
    """OpenFlow port numbers of br-sky's ports (not LOCAL), by name."""
    out = sim.vsctl(host, "--bare", "--columns=name,ofport", "find", "Interface",
                    "ofport>0").stdout.split()
    ports = dict(zip(out[0::2], (int(x) for x in out[1::2])))
    onbr = set(sim.vsctl(host, "list-ports", BRIDGE).stdout.split())
    return {n: p for n, p in ports.items() if n in onbr}


def install_plain(sim, mode):
    """Replaces every br-sky's flow table with plain forwarding; returns the
    expected flow dumps per host."""
    want = {}
    for host, *_ in HOSTS:
        ports = bridge_ports(sim, host)
        if len(ports) != 2:
            raise Failure(f"{host}: expected two ports on {BRIDGE}, found {ports}")
        x, y = sorted(ports.values())
        ofctl(sim, host, "del-flows")
        if mode == "plain-ports":
            ofctl(sim, host, "add-flow", f"priority=100,in_port={x},actions=output:{y}")
            ofctl(sim, host, "add-flow", f"priority=100,in_port={y},actions=output:{x}")
        else:
            ofctl(sim, host, "add-flow", "priority=100,actions=NORMAL")
        want[host] = flows(sim, host)
    return want


def check_flows(sim, want, when):
    for host, *_ in HOSTS:
        got = flows(sim, host)
        if got != want[host]:
            raise Failure(f"{host}: flow table changed {when}: {got} (installed {want[host]})")


# -- traffic ----------------------------------------------------------------------------
def vm_sh(sim, vm, *cmd, timeout=60, check=True):
    return cloudsim.sh(*cmd, ns=sim.vm_ns(vm), timeout=timeout, check=check)


def wait_ping(sim, src, dst_ip, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if vm_sh(sim, src, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", dst_ip,
                 check=False).returncode == 0:
            return
    raise Failure(f"{src} cannot ping {dst_ip}")


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def measure_ping(sim):
    dst = VMS["b"][3]
    p = vm_sh(sim, "a", "ping", "-n", "-c", str(PINGS), "-i", "0.01", "-W", "1", dst,
              timeout=PINGS * 0.05 + 30, check=False)
    rtts = sorted(float(m) for m in re.findall(r"time=([0-9.]+) ms", p.stdout))
    if not rtts:
        raise Failure(f"no ping replies from {dst}: {p.stdout[-500:]} {p.stderr}")
    return {"n": len(rtts), "loss": PINGS - len(rtts), "min": rtts[0],
            "avg": statistics.fmean(rtts), "p50": pct(rtts, 50), "p99": pct(rtts, 99),
            "max": rtts[-1]}


def iperf(sim, *extra):
    dst = VMS["b"][3]
    for attempt in range(10):
        p = vm_sh(sim, "a", "iperf3", "-c", dst, "-p", str(IPERF_PORT), "-t",
                  str(IPERF_SECONDS), "-J", "--connect-timeout", "3000", *extra,
                  timeout=IPERF_SECONDS + 30, check=False)
        try:
            res = json.loads(p.stdout)
        except ValueError:
            raise Failure(f"iperf3 {' '.join(extra)}: {p.stdout[-300:]} {p.stderr[-300:]}")
        # the server may still be closing the previous test
        if "error" in res and "busy" in res["error"] and attempt < 9:
            time.sleep(0.5)
            continue
        if "error" in res:
            raise Failure(f"iperf3 {' '.join(extra)}: {res['error']}")
        break
    end = res["end"]
    return {"mbps": end["sum_received"]["bits_per_second"] / 1e6,
            "bytes": end["sum_received"]["bytes"],
            "retr": end.get("sum_sent", {}).get("retransmits", 0)}


def vswitchd_cpu(sim):
    """CPU seconds (user + system) used so far by the four ovs-vswitchd."""
    total = 0.0
    for h, *_ in HOSTS:
        with open(f"{sim.hdir(h)}/ovs-vswitchd.pid") as f:
            total += proc_cpu(f.read().strip())
    return total


def measure_cold(sim):
    """COLD single pings, each after every host's datapath cache was purged
    (revalidator/purge): every hop takes an upcall through its OpenFlow
    tables, the only place the length of the pipeline can show."""
    dst, rtts = VMS["b"][3], []
    for _ in range(COLD):
        for h, *_ in HOSTS:
            appctl(sim, h, "revalidator/purge")
        p = vm_sh(sim, "a", "ping", "-n", "-c", "1", "-W", "1", dst, check=False)
        rtts += [float(m) for m in re.findall(r"time=([0-9.]+) ms", p.stdout)]
    if not rtts:
        raise Failure("no replies to pings with purged datapath caches")
    rtts.sort()
    return {"n": len(rtts), "loss": COLD - len(rtts), "p50": pct(rtts, 50),
            "avg": statistics.fmean(rtts)}


def ingress_actions(dp, iface):
    """The datapath actions for what VM a sends (but ARP) on its own host."""
    acts = sorted({re.sub(r"tnl_push\(tnl_port\([^)]*\),header\(.*?ipv4\(src=[^,]+,dst=([^,]+),"
                          r".*?\)\),out_port\(([^)]+)\)\)",
                          r"tnl_push(vxlan to \1, out_port(\2))",
                          line.split("actions:", 1)[1])
                   for line in dp if f"in_port({iface})" in line
                   and "eth_type(0x0806)" not in line and "eth_type(0x88cc)" not in line})
    return " / ".join(acts) or "?"


def proc_cpu(pid):
    """CPU seconds (user + system) process 'pid' has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def full_size_frames(sim):
    """A frame of the VM's full MTU (1400: 1372 bytes of ICMP payload), DF
    set, must cross the tunnels both ways."""
    p = vm_sh(sim, "a", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do",
              "-s", "1372", VMS["b"][3], check=False)
    if p.returncode:
        raise Failure(f"full-size frames (1400 bytes, DF) do not cross: {p.stdout[-300:]}")


def measure(sim, daemon_pid=None):
    """One run of every measurement on whatever the bridges hold now.
    daemon_pid: skyvisord's pid when it runs, to record its CPU time."""
    wait_ping(sim, "a", VMS["b"][3])
    full_size_frames(sim)
    t0, c0 = time.time(), proc_cpu(daemon_pid) if daemon_pid else 0.0
    r = {"cold": measure_cold(sim)}
    wait_ping(sim, "a", VMS["b"][3])
    # The datapath flows are sampled while the steady ping runs.
    dp, res = {}, {}

    def sample():
        time.sleep(1)
        for h, *_ in HOSTS:
            dp[h] = dp_flows(sim, h)
    t = threading.Thread(target=sample)
    t.start()
    try:
        res = measure_ping(sim)
    finally:
        t.join()
    r["ping"] = res
    r["dp"] = {h: len(v) for h, v in dp.items()}
    r["ingress"] = ingress_actions(dp.get(VMS["a"][0], []), VMS["a"][1])
    cpu0 = vswitchd_cpu(sim)
    r["ab"] = iperf(sim)
    r["ba"] = iperf(sim, "-R")
    r["ab4"] = iperf(sim, "-P", "4")
    gb = sum(r[k]["bytes"] for k in ("ab", "ba", "ab4")) / 1e9
    r["cpu_gb"] = (vswitchd_cpu(sim) - cpu0) / gb if gb else float("nan")
    if daemon_pid:
        r["daemon_cpu"] = (proc_cpu(daemon_pid) - c0, time.time() - t0)
    return r


# -- report ------------------------------------------------------------------------------
def fmt_row(mode, rnd, r, nflows):
    pg, c = r["ping"], r["cold"]
    retr = r["ab"]["retr"] + r["ba"]["retr"] + r["ab4"]["retr"]
    return (f"| {mode} | {rnd} | {pg['avg']:.3f} | {pg['p50']:.3f} | {pg['p99']:.3f} | "
            f"{pg['min']:.3f} | {pg['max']:.3f} | {pg['loss']} | {c['p50']:.3f} | "
            f"{r['ab']['mbps']:.0f} | {r['ba']['mbps']:.0f} | {r['ab4']['mbps']:.0f} | "
            f"{r['cpu_gb']:.2f} | {retr} | {nflows} |")


def per_host(d):
    return "/".join(str(d[h]) for h, *_ in HOSTS)


def report(results, flowcount):
    """results: list of (mode, round, result); flowcount: (mode, round) -> {host: n}."""
    keys = {"avg": lambda r: r["ping"]["avg"], "p50": lambda r: r["ping"]["p50"],
            "p99": lambda r: r["ping"]["p99"], "cold": lambda r: r["cold"]["p50"],
            "ab": lambda r: r["ab"]["mbps"], "ba": lambda r: r["ba"]["mbps"],
            "ab4": lambda r: r["ab4"]["mbps"], "cpu": lambda r: r["cpu_gb"]}
    med = {mode: {k: statistics.median(f(r) for m, _, r in results if m == mode)
                  for k, f in keys.items()} for mode in MODES}
    last = {mode: [r for m, _, r in results if m == mode][-1] for mode in MODES}
    ovs = cloudsim.sh("ovs-vswitchd", "--version").stdout.splitlines()[0].split()[-1]
    lines = [
        f"## {TITLE}",
        "",
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores shared by four "
        f"ovs-vswitchd (Open vSwitch {ovs}, userspace",
        f"datapath), ping and iperf3 (Linux {platform.release()}). Two simulated clouds "
        "(tools/cloudsim.py),",
        "each a gateway and a worker host; VM a on c1-h1, VM b on c2-h1 (MTU 1400), so "
        "every frame",
        "crosses host -> gateway -> gateway -> host: three VXLAN tunnels, four bridges. The "
        "same bridges,",
        "tunnels and VM ports in every run, one run after the other, over "
        f"{ROUNDS} rounds in ABBA order (virtualized first, then last, ...). Load average (1 min) at the start {LOAD[0]:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f}.",
        "",
        f"- **virtualized**: skyvisord's pipeline ({TAGGING} tagging), the tenant network "
        "declared through",
        "  the API and realized by the reconciler;",
        "- **plain-ports**: skyvisord stopped, every bridge's table replaced by "
        "`in_port=X,actions=output:Y`",
        "  and back (checked unchanged before and after the run);",
        "- **plain-normal**: the same with one `actions=NORMAL` flow (MAC learning).",
        "",
        f"RTT: {PINGS} pings a -> b at 10 ms intervals, in ms; `cold` is the median of "
        f"{COLD} single pings,",
        "each after every host's datapath cache was purged (each hop takes an upcall through "
        "its OpenFlow",
        f"tables). iperf3 TCP, {IPERF_SECONDS} s each: a -> b one stream, b -> a one stream "
        "(-R), a -> b four",
        "streams (-P 4), Mbit/s at the receiver; `OvS CPU s/GB` is the CPU time the four "
        "ovs-vswitchd",
        "spent over those three runs per GB received, less sensitive than throughput to "
        "whatever else",
        "shares the cores; `retr` sums their TCP retransmissions. `OF flows`: OpenFlow flows "
        "on",
        "c1-gw/c1-h1/c2-gw/c2-h1.",
        "",
        "| run | round | RTT avg | p50 | p99 | min | max | lost | cold p50 | a->b | b->a "
        "| a->b x4 | OvS CPU s/GB | retr | OF flows |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, rnd, r in results:
        lines.append(fmt_row(mode, rnd, r, per_host(flowcount[(mode, rnd)])))
    lines += ["", "Medians over the rounds, and virtualized / plain (above 1: the "
              "virtualized run had the longer RTT,", "the higher throughput, the more CPU "
              "per GB):", "",
              "| | RTT avg (ms) | RTT p50 (ms) | RTT p99 (ms) | cold p50 (ms) | a->b (Mbit/s) "
              "| b->a (Mbit/s) | a->b x4 (Mbit/s) | OvS CPU s/GB |",
              "|---|---|---|---|---|---|---|---|---|"]
    for mode in MODES:
        m = med[mode]
        lines.append(f"| {mode} | {m['avg']:.3f} | {m['p50']:.3f} | {m['p99']:.3f} | "
                     f"{m['cold']:.3f} | {m['ab']:.0f} | {m['ba']:.0f} | {m['ab4']:.0f} | "
                     f"{m['cpu']:.2f} |")
    v = med["virtualized"]
    for mode in MODES[1:]:
        m = med[mode]
        lines.append(f"| **virtualized / {mode}** | "
                     + " | ".join(f"**{v[k] / m[k]:.2f}**" if m[k] else "n/a"
                                  for k in RATIO_KEYS)
                     + " |")
    lines += ["", "The same ratios round by round (a round's three runs follow each other "
              "within about a minute),", "min .. max:", "",
              "| | RTT avg | RTT p50 | RTT p99 | cold p50 | a->b | b->a | a->b x4 "
              "| OvS CPU s/GB |",
              "|---|---|---|---|---|---|---|---|---|"]
    for mode in MODES[1:]:
        cells = []
        for k in RATIO_KEYS:
            rs = []
            for rnd in range(1, ROUNDS + 1):
                a = [r for m, n, r in results if m == "virtualized" and n == rnd][0]
                b = [r for m, n, r in results if m == mode and n == rnd][0]
                if keys[k](b):
                    rs.append(keys[k](a) / keys[k](b))
            cells.append(f"{min(rs):.2f} .. {max(rs):.2f}" if rs else "n/a")
        lines.append(f"| virtualized / {mode} | " + " | ".join(cells) + " |")
    lines += ["", "Datapath (megaflow) entries during the last round's steady ping, "
              "c1-gw/c1-h1/c2-gw/c2-h1: "
              + "; ".join(f"{mode} {per_host(last[mode]['dp'])}" for mode in MODES)
              + ". What the datapath does with VM a's packets on c1-h1:", ""]
    for mode in MODES:
        lines.append(f"- {mode}: `{last[mode]['ingress']}`")
    dc = [r["daemon_cpu"] for m, _, r in results if m == "virtualized"]
    lines += ["", "CPU time of skyvisord itself (its embedded PostgreSQL not counted) during "
              "each virtualized run: " + ", ".join(f"{c:.2f} s in {w:.0f} s" for c, w in dc)
              + ". Full-size frames (1400 bytes, DF) crossed in every run."]
    return "\n".join(lines) + "\n"


# -- the run -------------------------------------------------------------------------------
def stale_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX + "-")]


def main():
    LOAD[0] = os.getloadavg()[0]
    skyvisord = os.path.join(ROOT, BUILD, "skyvisord")
    if not os.access(skyvisord, os.X_OK):
        raise Failure(f"{skyvisord} is not built")
    for tool in ("iperf3", "ovs-vswitchd", "ethtool"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            raise Failure(f"{tool} is not installed")
    stale = stale_namespaces()
    if stale:
        raise Failure(f"namespaces {stale} exist: another bench-dataplane is running, "
                      "or a killed one left them (ip netns del them)")
    work = tempfile.mkdtemp(prefix="svd-dataplane-")
    os.chmod(work, 0o755)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.makedirs(os.path.join(work, "pg"))
        os.chown(os.path.join(work, "pg"), pw.pw_uid, pw.pw_gid)
    spec = {"prefix": PREFIX,
            "clouds": [{"name": c, "hosts": [
                dict({"name": h, "tunnel_ip": tip}, **({"public_ip": pip} if pip else {}))
                for h, hc, tip, pip in HOSTS if hc == c]} for c, _, _ in CLOUDS],
            "vms": [{"name": n, "host": h, "iface": i, "mac": m, "ip": ip, "prefix": 24}
                    for n, (h, i, m, ip) in VMS.items()]}
    sim = cloudsim.Sim(spec, os.path.join(work, "sim"))
    daemon = Daemon(work)
    iperf_srv = None
    t0 = time.time()
    try:
        log("building the clouds")
        sim.up()
        for vm in VMS:  # checksum offload off on both veth ends (TCP over plain veths)
            vm_sh(sim, vm, "ethtool", "-K", "eth0", "tx", "off", check=False)
        for vm, (host, iface, _, _) in VMS.items():
            cloudsim.sh("ethtool", "-K", iface, "tx", "off", ns=sim.host_ns(host), check=False)
        iperf_srv = subprocess.Popen(["ip", "netns", "exec", sim.vm_ns("b"), "iperf3", "-s",
                                      "-p", str(IPERF_PORT)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        log("starting skyvisord and declaring the tenant network")
        api = daemon.start()
        declare(api, sim)
        results, flowcount = [], {}
        for rnd in range(1, ROUNDS + 1):
            # ABBA order (virtualized first in odd rounds, last in even ones)
            # so a drift in the machine's load does not favour either side.
            order = MODES if rnd % 2 else tuple(reversed(MODES))
            for mode in order:
                if mode == "virtualized":
                    if not daemon.running():
                        for host, *_ in HOSTS:   # skyvisord restores everything
                            ofctl(sim, host, "del-flows")
                        log("restarting skyvisord on the same database")
                        api = daemon.start()
                    wait_realized(api)
                    wait_ping(sim, "a", VMS["b"][3])
                    fc = {h: len(flows(sim, h)) for h, *_ in HOSTS}
                    first = flowcount.get(("virtualized", 1), fc)
                    if fc != first:
                        # the reconciler may still be adding: give it a moment
                        time.sleep(2)
                        fc = {h: len(flows(sim, h)) for h, *_ in HOSTS}
                        if fc != first:
                            raise Failure(f"round {rnd}: skyvisord restored {fc} flows, "
                                          f"round 1 had {first}")
                    flowcount[(mode, rnd)] = fc
                    log(f"round {rnd}: virtualized, flows {fc}")
                    r = measure(sim, daemon.proc.pid)
                else:
                    if daemon.running():
                        rc = daemon.stop()
                        if rc != 0:
                            raise Failure(f"skyvisord exited with status {rc}:\n"
                                          f"{daemon.tail()}")
                    want = install_plain(sim, mode)
                    time.sleep(2)
                    check_flows(sim, want, "before the run")
                    flowcount[(mode, rnd)] = {h: len(want[h]) for h in want}
                    log(f"round {rnd}: {mode}")
                    r = measure(sim)
                    check_flows(sim, want, "during the run")
                results.append((mode, rnd, r))
                log(f"  {r['ping']['avg']:.3f} ms avg, {r['ab']['mbps']:.0f}/"
                    f"{r['ba']['mbps']:.0f}/{r['ab4']['mbps']:.0f} Mbit/s")
        rc = daemon.stop()
        if rc not in (0, None):
            raise Failure(f"skyvisord exited with status {rc}:\n{daemon.tail()}")
        text = report(results, flowcount)
        print(text)
        if OUT:
            subprocess.run([os.path.join(ROOT, "tools", "bench-section"), OUT, TITLE, text],
                           check=True)
            log(f"wrote section '{TITLE}' of {OUT}")
        log(f"done in {time.time() - t0:.0f}s")
        return 0
    except Exception:
        if daemon.proc is not None or os.path.exists(daemon.logpath):
            sys.stderr.write("skyvisord log (tail):\n" + daemon.tail() + "\n")
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # let the cleanup finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if iperf_srv and iperf_srv.poll() is None:
            iperf_srv.terminate()
            try:
                iperf_srv.wait(10)
            except subprocess.TimeoutExpired:
                iperf_srv.kill()
        daemon.stop()
        daemon.stop_orphan_postgres()
        sim.down()
        subprocess.run(["rm", "-rf", work])


def on_signal(signum, _frame):
    raise Failure(f"interrupted by signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sys.exit(main())
    except Failure as e:
        print(f"bench-dataplane: {e}", file=sys.stderr)
        sys.exit(1)
