"""PostgreSQL failover under skyvisord: a primary with a synchronous
streaming standby (made by pg_basebackup here), skyvisord on a multi-host
connection string with target_session_attrs=read-write, a stream of POSTs,
kill -9 of the primary, pg_ctl promote of the standby.  Every write
answered 2xx is on the promoted standby; the API answers 503 only between
the kill and shortly after the promotion, and 2xx again after; the
instance's cloud lease is re-acquired with an epoch above every epoch of
the old timeline (the timeline is folded into it: migrations/007).  With
--leases and a simulated cloud of real Open vSwitch, reconciliation goes
on: the owner re-adopts its bridge with the new timeline's epoch (its
flows untouched, the switch accepting the higher generation) and a VM
added after the promotion is realized.

This is the documented setting (README, "Several instances and PostgreSQL
failover"): synchronous_standby_names on the primary, so a commit is
acknowledged only once the standby has it.  Promotion is by hand here, as
the test plays the operator; in production Patroni does it."""

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from conftest import ROOT, Skyvisord, free_port, pg_bindir, ok

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

# How long after the promotion connections may still be failing over
# (the pool's reconnects try the dead host first, then the new primary).
GRACE_S = 3.0


class Cluster:
    """One PostgreSQL server of the pair (run as 'postgres' under root)."""

    def __init__(self, root, name):
        self.bindir = pg_bindir()
        self.root = root
        self.data = os.path.join(root, name)
        self.log = os.path.join(root, name + ".log")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def run(self, tool, *args, check=True):
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, cwd=self.root, capture_output=True,
                              text=True, timeout=120)

    def start(self, extra=""):
        self.run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o",
                 f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
                 f" -c fsync=off -c max_connections=100 {extra}", "start")

    def psql(self, sql, db="postgres"):
        return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                               f"postgresql://postgres@127.0.0.1:{self.port}/{db}",
                               "-c", sql], check=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    def kill9(self):
        """SIGKILL to the postmaster and every process it started."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pid = int(f.readline())
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
        for p in [pid, *children]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)


@contextlib.contextmanager
def pair():
    """A primary with a synchronous streaming standby, and the multi-host URL
    of their database 'sky': (primary, standby, url); both stopped after."""
    root = tempfile.mkdtemp(prefix="skyv-pgha-")
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    primary, standby = Cluster(root, "primary"), Cluster(root, "standby")
    try:
        primary.run("initdb", "-D", primary.data, "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--locale=C", "--no-sync")
        primary.start("-c wal_level=replica -c max_wal_senders=5 -c synchronous_commit=on")
        primary.psql("CREATE DATABASE sky")
        primary.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                    "-U", "postgres", "-D", standby.data, "-R", "-X", "stream",
                    "--checkpoint=fast", "--no-sync")
        standby.start()
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.psql("SELECT pg_reload_conf()")
        # The standby is synchronous before anything is written.
        deadline = time.monotonic() + 30
        while primary.psql("SELECT count(*) FROM pg_stat_replication"
                           " WHERE sync_state = 'sync'") != "1":
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.1)
        yield primary, standby, (
            f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
            "/sky?target_session_attrs=read-write&connect_timeout=2")
    finally:
        primary.stop()
        standby.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_failover_loses_no_acknowledged_write():
    with pair() as (primary, standby, url):
        daemon = None
        try:
            daemon = Skyvisord(db_url=url, threads=2,
                               extra=("--lease-ms", "1000", "--heartbeat-ms", "250")).start()
            api = daemon.api()
            ok(api.post("/v1/clouds", {"name": "c1", "provider": "aws", "region": "r",
                                       "jurisdiction": "DE", "kind": "public"}), 201)

            def lease_epoch():
                st, _, doc = api.get("/v1/instances")
                if st != 200:
                    return None
                owns = doc["self"]["owns"]
                return owns[0]["epoch"] if owns else None
            deadline = time.monotonic() + 10
            while not lease_epoch():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            epoch_before = lease_epoch()

            answers = []                # (monotonic time answered, name, status, sent)
            stop = threading.Event()

            def writer(k):
                i = 0
                while not stop.is_set():
                    name = f"t{k}-{i}"
                    i += 1
                    sent = time.monotonic()
                    try:
                        st = api.post("/v1/tenants", {"name": name})[0]
                    except OSError:
                        st = 0
                    answers.append((time.monotonic(), name, st, sent))
            threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            t_kill = time.monotonic()
            primary.kill9()
            time.sleep(1.5)             # the operator notices (the lease lapses)
            standby.run("pg_ctl", "-D", standby.data, "-w", "promote")
            t_promoted = time.monotonic()
            # Writes go on until the API has answered 2xx again for a while.
            deadline = time.monotonic() + 30
            while True:
                recent = [a for a in answers if a[0] > t_promoted + GRACE_S]
                if len([a for a in recent if a[2] == 201]) >= 20:
                    break
                assert time.monotonic() < deadline, "no 2xx after the promotion"
                time.sleep(0.1)
            stop.set()
            for t in threads:
                t.join()

            acked = {n for _, n, st, _ in answers if st == 201}
            before = [a for a in answers if a[0] < t_kill]
            assert before and all(a[2] == 201 for a in before), before[-5:]
            failed = [(t, n, st) for t, n, st, _ in answers if st != 201]
            assert all(st == 503 for _, _, st in failed), failed
            assert all(t_kill <= t <= t_promoted + GRACE_S for t, _, _ in failed), \
                (t_kill, t_promoted, failed)
            # Every acknowledged write is on the new primary.
            present = set(standby.psql("SELECT name FROM tenant", db="sky").split())
            missing = acked - present
            assert not missing, sorted(missing)[:10]
            first_ok = min(t for t, _, st, sent in answers if st == 201 and sent > t_kill)
            print(f"failover: {len(acked)} writes acknowledged, {len(failed)} answered 503, "
                  f"API writable {first_ok - t_promoted:.2f} s after the promotion "
                  f"({first_ok - t_kill:.2f} s after the kill)")

            # The lease is held again, with an epoch of the new timeline.
            deadline = time.monotonic() + 10
            while not (lease_epoch() or 0) > epoch_before:
                assert time.monotonic() < deadline, \
                    "the lease was not re-acquired:\n" + daemon.read_log()[-3000:]
                time.sleep(0.05)
            assert lease_epoch() >> 32 == (epoch_before >> 32) + 1
            st, _, _ = daemon.api(token=None).get("/readyz")
            assert st == 200
            assert daemon.stop() == 0, daemon.read_log()[-3000:]
            daemon = None
        finally:
            if daemon:
                daemon.stop(signal.SIGKILL)


def test_failover_reconciliation_goes_on_with_leases(tmp_path):
    t = reconcile_across_failover(str(tmp_path / "sim"))
    print("failover with --leases: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))


def reconcile_across_failover(state):
    """The test above (bench/ha.py runs it too); the seconds from the
    promotion to: the API writable again, the bridge re-adopted, the new VM
    realized."""
    spec = {"prefix": f"svp{os.getpid() % 1000}",
            "clouds": [{"name": "c1", "hosts": [{"name": "p1-gw", "tunnel_ip": "198.18.1.1",
                                                 "public_ip": "198.19.0.1"}]}],
            "vms": [{"name": n, "host": "p1-gw", "iface": n, "mac": f"02:00:00:00:0e:0{i}",
                     "ip": f"10.0.0.{i}"} for i, n in ((1, "pa"), (2, "pb"), (3, "pc"))]}
    net = "/v1/tenants/t/networks/n"

    def vm(name):
        v = spec["vms"][["pa", "pb", "pc"].index(name)]
        return {"name": name, "mac": v["mac"], "ip": v["ip"], "switch": "s", "iface": name,
                "placement": {"host": "p1-gw"}}

    def realized(api, name):
        st, _, body = api.request("GET", f"{net}/vms/{name}")
        return st == 200 and body["status"]["state"] == "realized"

    def epoch():
        out = sim.vsctl("p1-gw", "--if-exists", "get", "Open_vSwitch", ".",
                        "external_ids:skyvisor-epoch").stdout.strip().strip('"')
        return int(out) if out.isdigit() else 0

    def wait(pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, "timed out waiting for " + what
            time.sleep(0.1)

    with pair() as (primary, standby, url), cloudsim.Sim(spec, state) as sim:
        daemon = Skyvisord(db_url=url, threads=2, reconcile=True,
                           extra=("--leases", "--lease-ms", "1000", "--heartbeat-ms", "250"))
        try:
            api = daemon.start().api()
            ok(api.post("/v1/clouds", {"name": "c1", "provider": "aws", "region": "r",
                                       "jurisdiction": "DE", "kind": "public"}), 201)
            ok(api.post("/v1/hosts", sim.host_body(spec["clouds"][0]["hosts"][0], "c1")), 201)
            ok(api.post("/v1/tenants", {"name": "t"}), 201)
            ok(api.post("/v1/tenants/t/networks", {"name": "n", "subnet": "10.0.0.0/24"}), 201)
            ok(api.post(f"{net}/switches", {"name": "s"}), 201)
            for name in ("pa", "pb"):
                ok(api.post(f"{net}/vms", vm(name)), 201)
            wait(lambda: realized(api, "pa") and realized(api, "pb"), "pa and pb realized")
            wait(lambda: sim.ping("pa", "10.0.0.2"), "pa pinging pb")
            before = epoch()
            assert before
            primary.kill9()
            time.sleep(1.5)             # the lease lapses: the owner stops writing
            standby.run("pg_ctl", "-D", standby.data, "-w", "promote")
            t0, t = time.monotonic(), {}
            wait(lambda: epoch() >> 32 == (before >> 32) + 1,
                 "the bridge re-adopted with the new timeline's epoch")
            t["re-adopted"] = time.monotonic() - t0
            assert sim.ping("pa", "10.0.0.2")
            # 409: a try whose answer was lost created it.
            wait(lambda: api.post(f"{net}/vms", vm("pc"))[0] in (201, 409), "pc created")
            t["writable"] = time.monotonic() - t0
            wait(lambda: realized(api, "pc"), "pc realized")
            t["new VM realized"] = time.monotonic() - t0
            wait(lambda: sim.ping("pc", "10.0.0.1"), "pc pinging pa")
            assert daemon.stop() == 0, daemon.read_log()[-3000:]
            daemon = None
            return t
        finally:
            if daemon:
                print(daemon.read_log()[-6000:])
                daemon.stop(signal.SIGKILL)
