#!/usr/bin/env python3
"""bench/ha.py: several skyvisord instances on one database (`make bench-ha`).

What it measures, on the world of tests/integration/test_takeover.py (three
simulated clouds of real Open vSwitch, one gateway host each, linked
c1 - c2 - c3; `va` on c1-gw sends to `vb` on c3-gw across c2; three
instances with --leases, each pinned to one cloud):

  takeover   for each lease length in LEASES (heartbeat a quarter of it),
             ROUNDS times: kill -9 of c2's owner while tools/udpprobe sends
             1000 datagrams a second from `va` to `vb` (ARP caches flushed
             right after the kill); the time from the kill to the adoption
             (the new owner's epoch in c2-gw's OVSDB, raised before its
             first write) and the datagrams lost and the longest gap from
             the kill until a second after the adoption;
  failover   ROUNDS times, test_pg_failover's run with --leases: one
             instance on a multi-host URL to a primary and its synchronous
             standby, a cloud of one real Open vSwitch host; kill -9 of the
             primary, `pg_ctl promote` of the standby 1.5 s later; the
             seconds from the promotion until the bridge is re-adopted with
             the new timeline's epoch, the API takes a write again, and a
             VM created then is realized;
  api        GET /v1/clouds with wrk (WRK_SECONDS, 16 connections per
             instance) against one, two and three instances at once, once
             the switches are realized, the requests per second summed.  Every process (wrk, the
             instances, PostgreSQL, the switches) shares this machine's
             cores: more instances show their overhead, not scale.

Output: a table on stdout and the section "Several instances (make
bench-ha)" of BENCHMARKS.md (tools/bench-section).  Environment: BUILD
(default build), LEASES (1000,2000,3000 ms), ROUNDS (2), WRK_SECONDS (5),
BENCH_OUT (BENCHMARKS.md; empty: do not write).
"""

import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["SKYVISOR_BUILD"] = os.path.abspath(os.environ.get("BUILD", "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import cloudsim  # noqa: E402
import conftest  # noqa: E402
import test_pg_failover as pgf  # noqa: E402
import test_takeover as tt  # noqa: E402
from udpprobe import Echo, Sender  # noqa: E402


def takeover(url, sim, lease_ms):
    """One kill -9 of c2's owner: (seconds to adoption, lost, sent, gap ms)."""
    inst = tt.Instances(url, lease_ms=lease_ms, heartbeat_ms=lease_ms // 4)
    try:
        inst.wait_pinned()
        tt.converge(inst.d[0].api(), sim, ["va", "vb"])
        e2 = inst.owns(inst.d[1])["c2"]
        with Echo(sim.vm_ns("vb"), tt.ECHO):
            with Sender(sim.vm_ns("va"), tt.ECHO) as probe:
                time.sleep(1)
                probe.mark()
                t0 = time.monotonic()
                inst.d[1].proc.kill()
                for vm in ("va", "vb"):
                    cloudsim.sh("ip", "neigh", "flush", "all", ns=sim.vm_ns(vm))
                tt.wait_for(lambda: tt.epoch(sim, "c2-gw") > e2, 10 + 3 * lease_ms / 1000,
                            "c2-gw adopted")
                adopted = time.monotonic() - t0
                time.sleep(1)
                probe.mark()
        w = probe.result["windows"][1]
        return adopted, w["lost"], w["sent"], w["max_gap_ms"]
    finally:
        inst.stop()


def throughput(url, sim, n, seconds):
    """Requests/s of GET /v1/clouds summed over n instances run at once."""
    inst = tt.Instances(url, lease_ms=3000, heartbeat_ms=1000, n=n)
    try:
        inst.wait_pinned()
        tt.converge(inst.d[0].api(), sim, ["va", "vb"])
        procs = [subprocess.Popen(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", "-H",
             f"Authorization: Bearer {conftest.ADMIN_TOKEN}",
             f"http://127.0.0.1:{d.port}/v1/clouds"],
            stdout=subprocess.PIPE, text=True) for d in inst.d]
        total, non2xx = 0.0, 0
        for p in procs:
            out = p.communicate(timeout=seconds + 30)[0]
            total += float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
            m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            non2xx += int(m.group(1)) if m else 0
        return total, non2xx
    finally:
        inst.stop()


def commit():
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()


def main():
    leases = [int(x) for x in os.environ.get("LEASES", "1000,2000,3000").split(",")]
    rounds = int(os.environ.get("ROUNDS", "2"))
    seconds = int(os.environ.get("WRK_SECONDS", "5"))
    out = os.environ.get("BENCH_OUT", "BENCHMARKS.md")
    load0 = os.getloadavg()
    pg = conftest.PgCluster()
    state = tempfile.mkdtemp(prefix="skyv-bench-ha-")
    sim = cloudsim.Sim(tt.sim_spec(f"svh{os.getpid() % 1000}"), state)
    stop = lambda *_: sys.exit(1)  # noqa: E731 - tear down through finally
    signal.signal(signal.SIGTERM, stop)
    runs, api, failovers = [], [], []
    try:
        sim.up()
        url = tt.populate(pg, sim)
        for lease in leases:
            for r in range(rounds):
                res = takeover(url, sim, lease)
                runs.append((lease, *res))
                print(f"lease {lease} ms round {r + 1}: adopted {res[0]:.2f} s, "
                      f"lost {res[1]} of {res[2]}, longest gap {res[3]:.0f} ms", flush=True)
        for r in range(rounds):
            t = pgf.reconcile_across_failover(tempfile.mkdtemp(prefix="skyv-bench-pgf-"))
            failovers.append(t)
            print(f"failover round {r + 1}: " + ", ".join(f"{k} {v:.2f} s"
                                                           for k, v in t.items()), flush=True)
        for n in (1, 2, 3):
            rps, bad = throughput(url, sim, n, seconds)
            api.append((n, rps, bad))
            print(f"{n} instance(s): {rps:.0f} requests/s, {bad} not 2xx", flush=True)
    finally:
        sim.down()
        pg.destroy()
    lines = ["## Several instances (make bench-ha)", "",
             f"{time.strftime('%Y-%m-%d')}, commit {commit()}, {platform.machine()}, "
             f"{os.cpu_count()} cores shared by everything below (load average at the "
             f"start {load0[0]:.2f}).  Three simulated clouds of real Open vSwitch (one "
             "gateway host each, linked c1 - c2 - c3), three instances with --leases "
             "each pinned to one cloud; `va` on c1 sends 1000 datagrams a second to "
             "`vb` on c3 across c2 (tools/udpprobe).  kill -9 of c2's owner, the VMs' "
             "ARP caches flushed at once; adopted = c2-gw's OVSDB epoch raised by the "
             "new owner, which precedes its first write; the loss is counted from the "
             "kill to a second after the adoption.", "",
             "| lease (heartbeat) | round | kill to adopted | lost / sent | longest gap |",
             "|---|---|---|---|---|"]
    for lease, r, (adopted, lost, sent, gap) in (
            (x[0], i % rounds + 1, x[1:]) for i, x in enumerate(runs)):
        lines.append(f"| {lease} ms ({lease // 4} ms) | {r} | {adopted:.2f} s | "
                     f"{lost} / {sent} | {gap:.0f} ms |")
    lines += ["", "PostgreSQL failover with --leases (test_pg_failover's run): kill -9 of "
              "the primary, `pg_ctl promote` of the synchronous standby 1.5 s later; "
              "seconds from the promotion:", "",
              "| round | bridge re-adopted (new timeline's epoch) | API writable | "
              "new VM realized |", "|---|---|---|---|"]
    for r, t in enumerate(failovers):
        lines.append(f"| {r + 1} | {t['re-adopted']:.2f} s | {t['writable']:.2f} s | "
                     f"{t['new VM realized']:.2f} s |")
    lines += ["", f"GET /v1/clouds with wrk, {seconds} s, one wrk (one thread, 16 "
              "connections) per instance, all at once, on the same cores as PostgreSQL, the "
              "switches and the other instances' reconcilers: on 2 cores this shows the "
              "overhead of more instances and the noise of the load, not scale:", "",
              "| instances | requests/s (sum) | not 2xx |", "|---|---|---|"]
    for n, rps, bad in api:
        lines.append(f"| {n} | {rps:.0f} | {bad} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        subprocess.run([os.path.join(ROOT, "tools", "bench-section"), out,
                        "Several instances (make bench-ha)", text], check=True)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
