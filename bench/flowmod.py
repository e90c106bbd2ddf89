#!/usr/bin/env python3
"""bench/flowmod.py: flow-mods per second into one real ovs-vswitchd,
confirmed by a barrier reply (`make bench-flowmod`, root).

One ovsdb-server and one ovs-vswitchd (userspace datapath) in a network
namespace of their own (tests/integration/ovs_helpers.py), one bridge
(datapath_type=netdev, fail_mode=secure, OpenFlow 1.3) that listens for
controllers on ptcp: and pssl: on the namespace's loopback; its SSL table and
both clients hold certificates of one throwaway CA made here with openssl.
Every client runs in that namespace and connects to one of the listeners:

  skyvisor           bench/flowrate: the embedded controller (ctrl/ofctl.h)
                     sending rounds of 4096 flow-mods, each closed by a
                     barrier and sent once the one before is confirmed, as
                     the reconciler sends a level (ctrl/recon_flows.c);
  skyvisor pipelined the same with every round in flight at once (what the
                     reconciler would get from not waiting between rounds);
  ovs-ofctl --bundle `ovs-ofctl -O OpenFlow13 --bundle add-flows TARGET FILE`
                     (one atomic bundle, committed and confirmed);
  ovs-ofctl          `ovs-ofctl -O OpenFlow13 add-flows TARGET FILE`, which
                     sends each flow-mod with a barrier and waits for its
                     reply before the next (transact_noreply per flow).

The flows are the same for all (`flowrate print N` writes FILE): N distinct
tenant-table unicast rules of the shape skyvisor installs (core/netmodel.h,
table 10: metadata's component and a VM's MAC; set the platform MAC, go to
table 15).  Each measurement starts from an empty bridge (del-flows, then
dump-aggregate says 0 flows) and ends with dump-aggregate counting N flows in
table 10, or the run fails; first, every client installs 1000 of them over
each connection and dump-flows must read the same each time.  Figures: N / (process start to exit) for every
client, and for skyvisor also N / (first flow-mod built to last barrier
reply), which leaves out its start, connection and OpenFlow handshake; the
CPU seconds ovs-vswitchd and the client spent per measurement (whose CPU the
rate is bound by).  FLOWMOD_ROUNDS rounds, the order of the clients rotating
from round to round.

Environment: FLOWMOD_SIZES (10000,100000), FLOWMOD_ROUNDS (9),
FLOWMOD_OUT (BENCHMARKS.md; empty to only print).
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import incremental as inc  # noqa: E402  bench/incremental.py: build dir, paths
import setup as fleets  # noqa: E402  bench/setup.py: proc_cpu, env_list, commit
from ovs_helpers import OvsInstance  # noqa: E402

TITLE = "Flow-mod rate into Open vSwitch (make bench-flowmod)"
AIM = 60000
BRIDGE = "br0"
PLAIN_PORT, TLS_PORT = 6653, 6654   # in the benchmark's own namespace
CLIENTS = ("skyvisor", "skyvisor pipelined", "ovs-ofctl --bundle", "ovs-ofctl")
CONNS = ("tcp", "ssl")


def make_pki(d):
    """A CA and two certificates it signed (the switch's, the clients');
    returns {name: (key, cert)} and the CA's certificate."""
    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
         "ca.pem", "-days", "2", "-subj", "/CN=flowmod-ca")
    out = {}
    for name in ("switch", "client"):
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
             f"{name}.csr", "-subj", f"/CN={name}")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2")
        out[name] = (os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.pem"))
    return out, os.path.join(d, "ca.pem")


class Bench:
    def __init__(self, build, work):
        self.flowrate = os.path.join(build, "bench", "flowrate")
        self.work = work
        self.certs, self.ca = make_pki(work)
        self.ovs = OvsInstance("flowmod", netns=f"skyfm{os.getpid() % 100000}",
                               own_netns=True)

    def start(self):
        self.ovs.start()
        key, cert = self.certs["switch"]
        self.ovs.vsctl("set-ssl", key, cert, self.ca)
        self.ovs.vsctl("add-br", BRIDGE, "--", "set", "bridge", BRIDGE,
                       "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow13",
                       "--", "set-controller", BRIDGE, f"ptcp:{PLAIN_PORT}:127.0.0.1",
                       f"pssl:{TLS_PORT}:127.0.0.1")
        deadline = time.time() + 10
        while self.count() is None:
            if time.time() > deadline:
                raise RuntimeError("the bridge does not answer")
            time.sleep(0.1)

    def count(self, table=None):
        """Flows in the bridge (in 'table'), read over its management socket."""
        args = ["dump-aggregate", BRIDGE] + ([f"table={table}"] if table is not None else [])
        out = self.ovs.ofctl(*args, check=False)
        m = re.search(r"flow_count=(\d+)", out)
        return int(m.group(1)) if m else None

    def empty(self):
        self.ovs.ofctl("del-flows", BRIDGE)
        if self.count() != 0:
            raise RuntimeError("the bridge is not empty after del-flows")

    def flow_file(self, n):
        path = os.path.join(self.work, f"flows-{n}.txt")
        if not os.path.exists(path):
            with open(path, "w") as f:
                subprocess.run([self.flowrate, "print", str(n)], stdout=f, check=True)
        return path

    def command(self, client, conn, n):
        port = PLAIN_PORT if conn == "tcp" else TLS_PORT
        target = f"{conn}:127.0.0.1:{port}"
        key, cert = self.certs["client"]
        if client.startswith("skyvisor"):
            cmd = [self.flowrate]
            if client.endswith("pipelined"):
                cmd += ["--window", str(n)]
            if conn == "ssl":
                cmd += ["--tls", key, cert, self.ca]
            return cmd + [target, str(n)]
        cmd = ["ovs-ofctl", "-O", "OpenFlow13"]
        if conn == "ssl":
            cmd += [f"--private-key={key}", f"--certificate={cert}", f"--ca-cert={self.ca}"]
        if client.endswith("--bundle"):
            cmd.append("--bundle")
        return cmd + ["add-flows", target, self.flow_file(n)]

    def measure(self, client, conn, n):
        """One measurement from an empty bridge: a dict of rate (start to
        exit), inner (skyvisor's own clock), vswitchd and client CPU s."""
        cmd = self.command(client, conn, n)
        self.flow_file(n)
        self.empty()
        vsd = self.ovs.pid("ovs-vswitchd")
        cpu0 = fleets.proc_cpu(vsd)
        t0 = time.monotonic()
        p = subprocess.Popen(["ip", "netns", "exec", self.ovs.netns, *cmd],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out, err = p.stdout.read(), p.stderr.read()
        vsd_cpu = fleets.proc_cpu(vsd) - cpu0
        if p.returncode:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.strip()}")
        got = self.count(10)
        if got != n:
            raise RuntimeError(f"{client} over {conn}: {got} flows in table 10, not {n}")
        m = re.search(r"seconds=([0-9.]+)", out)
        return {"rate": n / wall, "inner": n / float(m.group(1)) if m else None,
                "vswitchd_cpu": vsd_cpu, "client_cpu": ru.ru_utime + ru.ru_stime}

    def same_flows(self, n):
        """Every client installs the very same n flows (dump-flows
        --no-stats compared), over tcp and ssl."""
        dumps = {}
        for client in CLIENTS:
            for conn in CONNS:
                self.measure(client, conn, n)
                dumps[(client, conn)] = self.ovs.ofctl("dump-flows", BRIDGE, "--no-stats")
        if len(set(dumps.values())) != 1:
            raise RuntimeError("the clients installed different flows")

    def connect_time(self, conn):
        """ovs-ofctl's start, connection and handshake alone: add-flows of
        an empty file, start to exit (median of 5)."""
        empty = os.path.join(self.work, "empty.txt")
        open(empty, "w").close()
        cmd = self.command("ovs-ofctl", conn, 0)[:-1] + [empty]
        times = []
        for _ in range(5):
            t0 = time.monotonic()
            self.ovs.exec(*cmd)
            times.append(time.monotonic() - t0)
        return statistics.median(times)

    def stop(self):
        self.ovs.stop()


def main():
    build = inc.build_dir()
    sizes = fleets.env_list("FLOWMOD_SIZES", "10000,100000")
    rounds = int(os.environ.get("FLOWMOD_ROUNDS", "9"))
    out = os.environ.get("FLOWMOD_OUT", "BENCHMARKS.md")
    load0 = os.getloadavg()
    print(f"load average at the start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"commit {fleets.commit()}", flush=True)
    res = {}                        # (client, conn, n) -> [measurement]
    with tempfile.TemporaryDirectory(prefix="skyv-flowmod-") as work:
        b = Bench(build, work)
        try:
            b.start()
            ovsver = b.ovs.exec("ovs-vswitchd", "--version").split("\n")[0].split()[-1]
            b.same_flows(1000)
            connect = {c: b.connect_time(c) for c in CONNS}
            for r in range(rounds):
                order = CLIENTS[r % len(CLIENTS):] + CLIENTS[:r % len(CLIENTS)]
                for n in sizes:
                    for conn in CONNS:
                        for client in order:
                            f = b.measure(client, conn, n)
                            res.setdefault((client, conn, n), []).append(f)
                            inner = f" ({f['inner']:.0f}/s inside)" if f["inner"] else ""
                            print(f"round {r + 1} {client:18} {conn} {n:6}: "
                                  f"{f['rate']:8.0f}/s{inner}; CPU ovs-vswitchd "
                                  f"{f['vswitchd_cpu']:.2f} s, client {f['client_cpu']:.2f} s",
                                  flush=True)
        finally:
            b.stop()
    text = section(res, sizes, rounds, load0, ovsver, connect)
    print(text)
    if out:
        subprocess.run([os.path.join(ROOT, "tools", "bench-section"), out, TITLE, text],
                       check=True)
        print(f"wrote {out}")


def section(res, sizes, rounds, load0, ovsver, connect):
    def med(client, conn, n, key="rate"):
        return statistics.median(f[key] for f in res[(client, conn, n)])

    rows = []
    for n in sizes:
        for conn in CONNS:
            base = med("ovs-ofctl --bundle", conn, n)
            for client in CLIENTS:
                fs = res[(client, conn, n)]
                rates = [f["rate"] for f in fs]
                inner = (f"{med(client, conn, n, 'inner'):.0f}"
                         if fs[0]["inner"] else "")
                cpu = (f"{med(client, conn, n, 'vswitchd_cpu'):.2f} / "
                       f"{med(client, conn, n, 'client_cpu'):.2f}")
                rows.append(f"| {n} | {conn} | {client} | {statistics.median(rates):.0f} | "
                            f"{min(rates):.0f} | {max(rates):.0f} | {inner} | {cpu} | "
                            f"{statistics.median(rates) / base:.2f} |")
    table = "\n".join(rows)
    plain = {n: med("skyvisor", "tcp", n) for n in sizes}
    verdict = ", ".join(
        f"{n} flows: {plain[n]:.0f}/s, "
        + ("met" if plain[n] >= AIM else f"missed by {AIM - plain[n]:.0f}/s "
           f"({plain[n] / AIM:.0%} of it)") for n in sizes)
    n = max(sizes)
    vsd_us = med("skyvisor", "tcp", n, "vswitchd_cpu") / n * 1e6
    cli_us = med("skyvisor", "tcp", n, "client_cpu") / n * 1e6
    bound = (f"With {n} flows ovs-vswitchd spends {vsd_us:.1f} us of CPU per flow-mod (one "
             f"core's worth would be {1e6 / vsd_us:.0f}/s if it did nothing else) and "
             f"skyvisor's side {cli_us:.1f} us, encoding and TCP included: the rate is "
             + ("ovs-vswitchd's to give." if vsd_us > cli_us else "skyvisor's to give.")
             if vsd_us else "")
    return f"""## {TITLE}

{time.strftime('%Y-%m-%d', time.gmtime())}, commit {fleets.commit()}, Open vSwitch {ovsver}, {os.cpu_count()} cores shared
by the switch, the client and other work on the machine (load average {load0[0]:.2f} at the
start, {os.getloadavg()[0]:.2f} at the end).  One ovs-vswitchd (userspace datapath) with one
bridge in a namespace of its own, listening on ptcp: and pssl: on loopback; every client
connects to one of them (tcp, or ssl with certificates of a throwaway CA on both sides).
N distinct flows of the tenant table's unicast shape (table 10: metadata's component and
a VM's MAC; set the platform MAC, go to table 15), the same flows for every client, each
measurement from an empty bridge and checked after it (dump-aggregate: N flows in table
10; before the rounds, each client's 1000 flows dumped and compared: identical).
{rounds} rounds, the order of the clients rotating.

- **skyvisor**: `bench/flowrate`, the embedded controller as the reconciler sends a level:
  rounds of 4096 flow-mods, each closed by a barrier (`ofctl_submit`), the next sent once
  the barrier reply of the one before came back; **pipelined**: every round in flight at once.
- **ovs-ofctl --bundle**: `ovs-ofctl -O OpenFlow13 --bundle add-flows TARGET FILE`, one
  bundle committed and confirmed; **ovs-ofctl**: the same without `--bundle`, which sends
  each flow-mod with a barrier of its own and waits for the reply before the next.
- **flow-mods/s**: N / (process start to exit) for every client: start, connection and
  OpenFlow handshake included (ovs-ofctl's alone, adding an empty file:
  {connect['tcp'] * 1000:.0f} ms over tcp, {connect['ssl'] * 1000:.0f} ms over ssl).
  **inside**: skyvisor's own clock, first flow-mod built to last barrier reply.
- **CPU s**: CPU seconds ovs-vswitchd / the client spent on the measurement (median):
  which side the rate is bound by.  **÷ bundle**: median flow-mods/s over ovs-ofctl
  `--bundle`'s on the same connection and N.

| N | conn | client | flow-mods/s median | min | max | inside (median) | CPU s vswitchd / client | ÷ bundle |
|---|---|---|---|---|---|---|---|---|
{table}

Aim: {AIM}/s over plain TCP (skyvisor, start to exit): {verdict}.  {bound}
"""


if __name__ == "__main__":
    main()
