#!/usr/bin/env python3
"""bench/incremental.py: how long one change to a running network takes to
be realized (`make bench-incremental`), and skyvisord's memory per VM.

Per size, on a fresh database and a fresh skyvisord: clouds and hosts are
declared and realized, then one tenant network of N VMs in one batch
(ceil(N / 32) virtual switches in a chain: one connected component, so every
bridge on the way carries every VM), waited for until every VM is realized.
Then, INC_REPEAT times (or until INC_BUDGET seconds are spent, at least 3
times), one VM is added and deleted again:
  - add:    POST .../vms (placement on a worker host, round-robin); from the
            answer (the last byte of the response read by the client) to the
            VM's status.state "realized";
  - delete: DELETE .../vms/{vm}; from the answer to the VM's flows and port
            gone from every switch (a deleted VM has no status left to read).
Also from the request's first byte ("sent"), and on the switch side when
the last of the VM's flows went in ("flows in").

How "realized" is observed (INC_OBSERVE):
  - listen (default): a trigger the benchmark adds to the vm table NOTIFYs
    on every change of state; the client LISTENs on its own PostgreSQL
    connection (the protocol spoken here, no driver) and waits on that socket
    and the HTTP socket in one select(), so each event is stamped when it
    arrives, even a notification that beats the POST's answer.  Resolution:
    the delivery of a notification at the status write's COMMIT (tens of
    microseconds on loopback); it costs skyvisord and PostgreSQL nothing
    while waiting.  It is the earliest moment a GET could answer "realized".
  - poll: GET .../vms/{vm} in a tight loop over the same keep-alive
    connection until status.state is realized; resolution one GET (its mean
    round trip is printed), and it competes for the CPU it measures.
The switch side is read without polling the end point: the emulated fleet's
swemu stamps every bridge's last change of ports or flows (wall clock, us),
read from its control socket once the flow and port counts are back; on
real Open vSwitch one `ovs-ofctl monitor ... watch:` per bridge streams flow
additions and deletions with millisecond timestamps.

Fleets (bench/setup.py's): emulated (a real ovsdb-server per host, bench/swemu
as every vswitchd and OpenFlow switch), 1 gateway and 3 workers per cloud;
real Open vSwitch (tools/cloudsim.py, one ovs-vswitchd per host namespace,
each VM's interface a tap device plugged before the VM is declared), 3
clouds of 1 gateway and 1 worker: the six hosts bench/ovn.py compares with
OVN.

Memory: skyvisord's VmRSS with the hosts declared and no network, and after
the samples; per VM = the difference / N.

Environment: SIZES (100,1000,10000: VMs, or VMS:CLOUDS; clouds default 2
up to 100 VMs, 8 up to 1000, 16 above), REAL_SIZES (60,300; empty to skip),
INC_REPEAT (30), INC_BUDGET (90 s per size), INC_OBSERVE (listen | poll),
INC_OUT (BENCHMARKS.md; empty to only print), BENCH_COMMIT (the commit
named in the output, when --build is a build of an exported commit).
"""

import argparse
import collections
import datetime
import json
import math
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import setup as fleets  # noqa: E402  bench/setup.py: the fleets and their helpers

TRIGGER = """
CREATE OR REPLACE FUNCTION bench_vm_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bench_vm', NEW.name || ' ' || NEW.state);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_vm_state AFTER UPDATE OF state ON vm FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION bench_vm_state();
"""


def default_clouds(n):
    return 2 if n <= 100 else 8 if n <= 1000 else 16


def parse_sizes(raw):
    out = []
    for item in (x.strip() for x in raw.split(",")):
        if item:
            n, _, c = item.partition(":")
            out.append((int(n), int(c) if c else default_clouds(int(n))))
    return out


def pct(xs, p):
    """Nearest-rank percentile (with fewer than 100 samples p99 is the worst)."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


class PgListen:
    """LISTEN on one channel over PostgreSQL's frontend/backend protocol 3.0
    (trust authentication, as the benchmark's cluster has).  poll() returns
    the notifications that have arrived, each stamped with time.time() when
    its bytes were read."""

    def __init__(self, port, db, channel):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        params = b"user\0postgres\0database\0" + db.encode() + b"\0\0"
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        self.buf = b""
        self.notes = []
        self.wait_ready()
        q = f"LISTEN {channel}".encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        self.wait_ready()

    def fileno(self):
        return self.sock.fileno()

    def wait_ready(self):
        while not self.parse(stop_at_ready=True):
            self.fill()

    def fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise RuntimeError("PostgreSQL closed the LISTEN connection")
        self.buf += data
        return time.time()

    def parse(self, stop_at_ready=False, now=None):
        while len(self.buf) >= 5:
            kind, n = self.buf[0:1], struct.unpack("!i", self.buf[1:5])[0]
            if len(self.buf) < 1 + n:
                break
            body, self.buf = self.buf[5:1 + n], self.buf[1 + n:]
            if kind == b"E":
                raise RuntimeError(f"PostgreSQL: {body!r}")
            if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                raise RuntimeError("PostgreSQL asks for a password; the cluster must trust")
            if kind == b"A":
                payload = body[4:].split(b"\0")[1]       # pid, channel, payload
                self.notes.append((now or time.time(), payload.decode()))
            if kind == b"Z" and stop_at_ready:
                return True
        return False

    def on_readable(self):
        self.parse(now=self.fill())

    def take(self):
        out, self.notes = self.notes, []
        return out


class Http:
    """HTTP/1.1 over one keep-alive connection, driven by select() together
    with another readable (the LISTEN socket), so both are stamped on
    arrival."""

    def __init__(self, port, token, side=None):
        self.port, self.token, self.side = port, token, side
        self.sock, self.used = None, 0.0

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, body=None):
        """(status, parsed body, time sent, time answered)."""
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Length: {len(data)}\r\n"
                + ("Content-Type: application/json\r\n" if body is not None else "")
                + "\r\n").encode()
        if self.sock is not None and time.time() - self.used > 8:
            # skyvisord closes a connection idle for 10 s: open a new one
            # rather than find out by a failed request.
            self.sock.close()
            self.sock = None
        for attempt in (0, 1):
            if self.sock is None:
                self.connect()
            try:
                t_sent = time.time()
                self.sock.sendall(head + data)
                answer = self.read_response(method, t_sent)
                self.used = time.time()
                return answer
            except (ConnectionError, BrokenPipeError):
                # The server closes idle keep-alive connections (10 s).
                self.sock.close()
                self.sock = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def read_response(self, method, t_sent):
        buf = b""
        while True:
            fds = [self.sock] + ([self.side] if self.side else [])
            ready, _, _ = select.select(fds, [], [], 300)
            if not ready:
                raise RuntimeError(f"no answer to {method} within 300 s")
            if self.side in ready:
                self.side.on_readable()
            if self.sock not in ready:
                continue
            chunk = self.sock.recv(1 << 20)
            now = time.time()
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = buf[:end].decode("latin-1").split("\r\n")
            status = int(head[0].split()[1])
            hdrs = {k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in head[1:])}
            if "chunked" in hdrs.get("transfer-encoding", ""):
                raise RuntimeError("chunked answers are not expected from skyvisord")
            length = int(hdrs.get("content-length", "0"))
            if len(buf) < end + 4 + length:
                continue
            body = buf[end + 4:end + 4 + length]
            if hdrs.get("connection", "").lower() == "close":
                self.sock.close()
                self.sock = None
            parsed = json.loads(body) if body and "json" in hdrs.get("content-type", "") else body
            return status, parsed, t_sent, now


class FlowMonitor:
    """`ovs-ofctl monitor BRIDGE watch:` on one real bridge: a thread keeps
    the bridge's flows as a set of (table, match), from the initial dump on
    (an add that replaces a flow is reported ADDED too, so only a set counts
    right; priorities are not in the report, so two flows differing only in
    priority count once, the same before and after a change), and stamps the
    last update (the switch's message as ovs-ofctl received it, ms)."""

    STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}): ")
    EVENT = re.compile(r"^ event=(ADDED|DELETED|MODIFIED)\b.*? table=(\d+)"
                       r"(?: \S+=\S+)*? cookie=\S+ ?(.*?)(?: actions=.*)?$")

    def __init__(self, target, ctl):
        self.flows, self.last, self.lock = set(), 0.0, threading.Lock()
        self.tail = collections.deque(maxlen=5)
        # ovs-ofctl writes the updates that follow the initial reply to
        # stderr: both are read, as one stream.
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "-eL", "ovs-ofctl", "-O", "OpenFlow13", "--timestamp",
             f"--unixctl={ctl}", "monitor", target, "watch:"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        stamp = 0.0
        for line in self.proc.stdout:
            self.tail.append(line)
            m = self.STAMP.match(line)
            if m:
                stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
                continue
            m = self.EVENT.match(line.rstrip("\n"))
            if m:
                key = (int(m.group(2)), m.group(3))
                with self.lock:
                    if m.group(1) == "DELETED":
                        self.flows.discard(key)
                    else:
                        self.flows.add(key)
                    if stamp:
                        self.last = stamp

    def state(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"ovs-ofctl monitor exited: {''.join(self.tail)}")
        with self.lock:
            return len(self.flows), self.last

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class SwitchSide:
    """Flow totals and the time of the last change on every switch of a
    fleet: swemu's counters, or flow monitors on real bridges."""

    def __init__(self, fleet, names):
        self.fleet, self.names, self.mons = fleet, names, []
        if fleet.kind != "emulated":
            self.mons = [FlowMonitor(fleet.targets(n)["openflow"],
                                     os.path.join(fleet.sim.hdir(n), "bench-monitor.ctl"))
                         for n in names]
            time.sleep(0.5)

    def state(self):
        """(flows, vm ports or None, time of the last change)."""
        if self.mons:
            st = [m.state() for m in self.mons]
            return sum(n for n, _ in st), None, max(t for _, t in st)
        raw = self.fleet.raw_stats()["hosts"]
        brs = [b for h in raw if h["name"] in self.names for b in h["bridges"]
               if b["name"] == fleets.BRIDGE]
        return (sum(b["flows"] for b in brs), sum(b["vm_ports"] for b in brs),
                max(b["last_change_us"] for b in brs) / 1e6)

    def wait_settled(self, want_flows, want_ports, timeout=300):
        """Polls (every 5 ms; the end point is the switches' own stamp, so
        the poll interval does not enter it) until the flow count is
        'want_flows' (and the VM ports 'want_ports' where counted)."""
        deadline = time.time() + timeout
        while True:
            flows, ports, last = self.state()
            if flows == want_flows and (ports is None or ports == want_ports):
                return last
            if time.time() > deadline:
                raise RuntimeError(f"switches at {flows} flows / {ports} VM ports, "
                                   f"want {want_flows} / {want_ports}")
            time.sleep(0.005)

    def quiet(self, span=0.2, timeout=30):
        """Waits until no switch changed for 'span' seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, _, last = self.state()
            if time.time() - last >= span:
                return
            time.sleep(span / 4)

    def stop(self):
        for m in self.mons:
            m.stop()


class Network:
    """A skyvisord on a fresh database with the fleet's hosts and one
    network of N VMs realized; add() and delete() time one change."""

    def __init__(self, pg, fleet, hosts, n_vms, observe, per_switch=32):
        from conftest import ADMIN_TOKEN, Skyvisord
        self.pg, self.fleet, self.observe = pg, fleet, observe
        # True: every VM's interface is a port of the bridge before its
        # request is sent (fleet.plug_into_bridge), as OVN's VIFs are in
        # bench/ovn.py; False: skyvisord adds it to the bridge.
        self.preplug = False
        self.names = [h[1] for h in hosts]
        self.workers = [h[1] for h in hosts if not h[2]]
        self.n = n_vms
        fleet.wipe(self.names)
        self.db = pg.fresh_db()
        self.d = Skyvisord(db_url=pg.url(self.db), reconcile=True, threads=2,
                           extra=("--log-level", "warn"))
        self.d.start()
        self.api = self.d.api()
        self.http = Http(self.d.port, ADMIN_TOKEN)
        self.listen = self.side = None
        try:
            self.declare(hosts, per_switch)
        except BaseException:
            self.close()
            raise

    def declare(self, hosts, per_switch):
        ok, api = fleets.ok, self.api
        fleets.declare_fleet(api, self.fleet, hosts)
        fleets.wait_hosts(api, timeout=120)
        self.rss_base = fleets.rss_base_kib(self.d.proc.pid)
        ok(api.post("/v1/tenants", {"name": "t"}))
        self.base = "/v1/tenants/t/networks/n"
        ok(api.post("/v1/tenants/t/networks", {"name": "n", "subnet": "10.0.0.0/16",
                                                "tagging": "mac-prefix"}))
        self.n_sw = max(1, math.ceil(self.n / per_switch))
        ops = [{"op": "create", "kind": "switch", "body": {"name": f"s{s}"}}
               for s in range(self.n_sw)]
        ops += [{"op": "create", "kind": "link", "body": {"a": f"s{s - 1}", "b": f"s{s}"}}
                for s in range(1, self.n_sw)]
        t0 = time.time()
        self.batch(ops)
        for lo in range(0, self.n, 5000):
            self.batch([{"op": "create", "kind": "vm", "body": self.vm_body(i)}
                        for i in range(lo, min(self.n, lo + 5000))])
        self.declare_s = time.time() - t0
        self.realize_s = self.wait_all_realized() - t0
        self.pg.psql(TRIGGER, db=self.db)
        if self.observe == "listen":
            self.listen = PgListen(self.pg.port, self.db, "bench_vm")
            self.http.side = self.listen
        self.side = SwitchSide(self.fleet, self.names)
        self.side.quiet()
        self.flows0, self.ports0, _ = self.side.state()

    def grow(self, n):
        """n more VMs in one batch, timed: (first byte sent, answer, last VM
        realized as its notification arrived).  Needs INC_OBSERVE=listen."""
        names = {f"v{i}" for i in range(self.n, self.n + n)}
        if self.preplug:
            for i in range(self.n, self.n + n):
                self.fleet.plug_into_bridge(i, self.workers[i % len(self.workers)])
            time.sleep(1)   # as bench/ovn.py waits for OVN's VIFs to be seen
        ops = [{"op": "create", "kind": "vm", "body": self.vm_body(i)}
               for i in range(self.n, self.n + n)]
        st, body, t_sent, t_ans = self.http.request("POST", f"{self.base}/batch",
                                                    {"operations": ops})
        if st != 200:
            raise RuntimeError(f"batch answered {st}: {str(body)[:2000]}")
        self.n += n
        deadline, last = time.time() + 300, None
        while names:
            for t, payload in self.listen.take():
                vm, state = payload.split(" ")
                if state == "error" and vm in names:
                    raise RuntimeError(f"{vm} in error")
                if state == "realized" and vm in names:
                    names.discard(vm)
                    last = t
            if names and not select.select([self.listen], [], [], max(0, deadline - time.time()))[0]:
                raise RuntimeError(f"{len(names)} VMs not realized within 300 s")
            if names:
                self.listen.on_readable()
        self.side.quiet()
        self.flows0, self.ports0, _ = self.side.state()
        return t_sent, t_ans, last

    def batch(self, ops):
        st, body, _, _ = self.http.request("POST", f"{self.base}/batch", {"operations": ops})
        if st != 200:
            raise RuntimeError(f"batch answered {st}: {str(body)[:2000]}")

    def vm_body(self, i, name=None):
        mac, ip = fleets.vm_addr(i)
        host = self.workers[i % len(self.workers)]
        return {"name": name or f"v{i}", "mac": mac, "ip": ip, "switch": f"s{i % self.n_sw}",
                "iface": self.fleet.iface(i, host), "placement": {"host": host}}

    def wait_all_realized(self, timeout=900):
        poll = fleets.Psql(self.pg.url(self.db))
        try:
            deadline = time.time() + timeout
            while True:
                left, err = (int(x) for x in poll.one(
                    "SELECT count(*) FILTER (WHERE state <> 'realized'), "
                    "count(*) FILTER (WHERE state = 'error') FROM vm").split("|"))
                if err:
                    detail = poll.one("SELECT count(*) || ' of them: ' || detail FROM vm "
                                      "WHERE state = 'error' GROUP BY detail "
                                      "ORDER BY count(*) DESC LIMIT 1")
                    raise RuntimeError(f"{err} VMs in error ({detail})")
                if not left:
                    return time.time()
                if time.time() > deadline:
                    raise RuntimeError(f"{left} VMs not realized after {timeout} s")
                time.sleep(0.1)
        finally:
            poll.close()

    def wait_realized(self, name, t_answer):
        """Time the VM 'name' was seen realized, and the GETs it took (poll)."""
        deadline = time.time() + 300
        if self.listen:
            while True:
                for t, payload in self.listen.take():
                    vm, state = payload.split(" ")
                    if vm == name and state == "realized":
                        return t, 0
                    if vm == name and state == "error":
                        raise RuntimeError(f"{name} in error")
                left = deadline - time.time()
                if left <= 0:
                    raise RuntimeError(f"{name} not realized within 300 s")
                if select.select([self.listen], [], [], left)[0]:
                    self.listen.on_readable()
        gets = 0
        while True:
            st, body, _, t = self.http.request("GET", f"{self.base}/vms/{name}")
            gets += 1
            if st == 200 and body["status"]["state"] == "realized":
                return t, gets
            if st != 200 or body["status"]["state"] == "error" or time.time() > deadline:
                raise RuntimeError(f"{name}: {st} {body}")

    def add(self, k):
        """One VM added: {sent, answer, realized, flows_in, flows, gets}."""
        name = f"x{k}"
        if self.preplug:
            i = self.n + k
            self.fleet.plug_into_bridge(i, self.workers[i % len(self.workers)])
            time.sleep(0.3)  # as bench/ovn.py waits before OVN's add
        st, body, t_sent, t_ans = self.http.request(
            "POST", f"{self.base}/vms", self.vm_body(self.n + k, name))
        if st != 201:
            raise RuntimeError(f"POST answered {st}: {body}")
        t_real, gets = self.wait_realized(name, t_ans)
        flows, ports, last = self.side.state()
        if self.side.mons:
            time.sleep(0.05)        # ovs-ofctl's lines may trail the status write
            flows, ports, last = self.side.state()
        return {"name": name, "sent": t_sent, "answer": t_ans, "realized": t_real,
                "flows_in": last, "flows": flows - self.flows0, "gets": gets}

    def delete(self, name):
        st, body, t_sent, t_ans = self.http.request("DELETE", f"{self.base}/vms/{name}")
        if st != 204:
            raise RuntimeError(f"DELETE answered {st}: {body}")
        t_gone = self.side.wait_settled(self.flows0, self.ports0)
        return {"sent": t_sent, "answer": t_ans, "gone": t_gone}

    def rss(self):
        return fleets.rss_kib(self.d.proc.pid)

    STAGE = re.compile(r'^skyvisor_reconciler_stage_seconds_total\{stage="(\w+)"\} (\S+)$'
                       r'|^skyvisor_reconciler_passes_total (\S+)$', re.M)
    INSTALLED = re.compile(r'^skyvisor_reconciler_installed_flow_bytes (\S+)$', re.M)

    def installed_bytes(self):
        """The installed-flow tables' entry bytes at the last pass (/metrics),
        None from a build without the gauge (an older commit compared)."""
        st, body, _, _ = self.http.request("GET", "/metrics")
        if st != 200:
            raise RuntimeError(f"GET /metrics answered {st}")
        text = body.decode() if isinstance(body, bytes) else str(body)
        m = self.INSTALLED.search(text)
        return float(m.group(1)) if m else None

    def stages(self):
        """The reconciler's time per stage so far (s) and its passes, from
        /metrics: {stage: seconds, ..., "passes": n}."""
        st, body, _, _ = self.http.request("GET", "/metrics")
        if st != 200:
            raise RuntimeError(f"GET /metrics answered {st}")
        text = body.decode() if isinstance(body, bytes) else str(body)
        out = {}
        for m in self.STAGE.finditer(text):
            if m.group(1):
                out[m.group(1)] = float(m.group(2))
            else:
                out["passes"] = float(m.group(3))
        if "passes" not in out or len(out) < 2:
            raise RuntimeError("/metrics has no reconciler stage times")
        return out

    def cpu_s(self):
        """skyvisord's CPU time so far (user + system, s): the whole process
        and its reconciler thread (named so, ctrl/reconciler.c); None for
        a thread that is not found (an older build, unnamed threads)."""
        tick = os.sysconf("SC_CLK_TCK")
        pid = self.d.proc.pid

        def stat(path):
            with open(path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick
        rec = None
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{t}/comm") as f:
                    if f.read().strip() == "reconciler":
                        rec = stat(f"/proc/{pid}/task/{t}/stat")
            except OSError:
                continue
        return stat(f"/proc/{pid}/stat"), rec

    def close(self):
        if self.side:
            self.side.stop()
        if self.d.proc and self.d.proc.poll() is None:
            self.d.stop()


def measure(net, repeat, budget):
    """Adds and deletes one VM repeatedly; the samples."""
    adds, dels = [], []
    t_end = time.time() + budget
    k = 0
    before = net.stages()
    cpu0 = net.cpu_s()
    while k < repeat and (k < 3 or time.time() < t_end):
        a = net.add(k)
        adds.append(a)
        net.side.quiet(0.1)
        dels.append(net.delete(a["name"]))
        net.side.quiet(0.1)
        k += 1
    after = net.stages()
    cpu1 = net.cpu_s()
    net.cpu_ms = [(b - a) * 1000 / (2 * k) if a is not None and b is not None else None
                  for a, b in zip(cpu0, cpu1)]
    net.stage_ms = {s: (after[s] - before.get(s, 0.0)) * 1000 / (2 * k)
                    for s in after if s != "passes"}
    net.stage_passes = (after["passes"] - before["passes"]) / (2 * k)
    return adds, dels


def summarize(kind, clouds, hosts, n, net, adds, dels, observe):
    ms = lambda xs: [x * 1000 for x in xs]  # noqa: E731
    r = {"fleet": kind, "clouds": clouds, "hosts": hosts, "vms": n, "samples": len(adds),
         "flows_total": net.flows0, "vm_flows": sorted(a["flows"] for a in adds)[len(adds) // 2],
         "declare_s": net.declare_s, "realize_s": net.realize_s,
         "add": ms(a["realized"] - a["answer"] for a in adds),
         "add_sent": ms(a["realized"] - a["sent"] for a in adds),
         "post": ms(a["answer"] - a["sent"] for a in adds),
         "flows_in": ms(a["flows_in"] - a["answer"] for a in adds),
         "del": ms(d["gone"] - d["answer"] for d in dels),
         "rss_kib": net.rss(), "rss_base_kib": net.rss_base, "observe": observe,
         "flow_bytes": net.installed_bytes(),
         "gets": sum(a["gets"] for a in adds),
         "stage_ms": net.stage_ms, "stage_passes": net.stage_passes,
         "cpu_ms": net.cpu_ms}
    r["rss_per_vm_kib"] = (r["rss_kib"] - r["rss_base_kib"]) / n
    return r


def line(r):
    f = lambda xs: f"p50 {pct(xs, 50):.1f} p99 {pct(xs, 99):.1f} worst {max(xs):.1f} ms"  # noqa
    return (f"{r['fleet']:9} clouds={r['clouds']} hosts={r['hosts']} vms={r['vms']} "
            f"flows={r['flows_total']} (+{r['vm_flows']} per VM) n={r['samples']}: "
            f"add {f(r['add'])}; delete {f(r['del'])}; flows in {pct(r['flows_in'], 50):.1f} ms; "
            f"POST {pct(r['post'], 50):.1f} ms; RSS {r['rss_kib'] / 1024:.0f} MiB "
            f"({r['rss_per_vm_kib']:.1f} KiB/VM); declared {r['declare_s']:.1f} s, "
            f"realized {r['realize_s']:.1f} s; CPU per change: skyvisord "
            + " ms, reconciler ".join("-" if x is None else f"{x:.2f}"
                                      for x in r.get("cpu_ms") or (None, None)) + " ms")


def run_size(pg, fleet, hosts, clouds, n, observe, repeat, budget):
    net = Network(pg, fleet, hosts, n, observe)
    try:
        adds, dels = measure(net, repeat, budget)
        r = summarize(fleet.kind, clouds, len(hosts), n, net, adds, dels, observe)
    finally:
        net.close()
    print(line(r), flush=True)
    return r


def cell(xs):
    return f"{pct(xs, 50):.1f} / {pct(xs, 99):.1f} / {max(xs):.1f}"


def table(results):
    rows = []
    for r in results:
        if "failed" in r:
            rows.append(f"| {r['fleet']} | {r['clouds']} | | {r['vms']} | failed: "
                        f"{r['failed'][:300]} | | | | | | | |")
            continue
        rows.append(
            f"| {r['fleet']} | {r['clouds']} | {r['hosts']} | {r['vms']} | {r['flows_total']} "
            f"(+{r['vm_flows']}) | {r['samples']} | **{cell(r['add'])}** | {pct(r['post'], 50):.1f} "
            f"| {pct(r['flows_in'], 50):.1f} | **{cell(r['del'])}** | {r['rss_kib'] / 1024:.0f} | "
            f"{r['rss_per_vm_kib']:.1f} |")
    return ("| fleet | clouds | hosts | VMs | flows on the switches (+ one VM's) | samples | "
            "add: answer -> realized, p50 / p99 / worst ms | POST answered, p50 ms | "
            "add: answer -> last flow in, p50 ms | delete: answer -> flows and port gone, "
            "p50 / p99 / worst ms | skyvisord RSS MiB | RSS KiB per VM |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))


def stage_table(results):
    """Where a change's time went: the reconciler's stage times over the
    samples (ctrl/reconciler.h, enum recon_stage) per change (an add or a
    delete), every pass of the samples counted, the periodic ones too."""
    rs = [r for r in results if "failed" not in r and r.get("stage_ms")]
    if not rs:
        return ""
    names = list(rs[0]["stage_ms"])
    cpu = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    head = ("| fleet | clouds | VMs | passes per change | " + " | ".join(names)
            + " | sum | CPU: skyvisord / its reconciler thread |\n|---|---|---|---|"
            + "---|" * (len(names) + 2))
    rows = [f"| {r['fleet']} | {r['clouds']} | {r['vms']} | {r['stage_passes']:.2f} | "
            + " | ".join(f"{r['stage_ms'].get(n, 0.0):.2f}" for n in names)
            + f" | {sum(r['stage_ms'].values()):.2f} | "
            + " / ".join(cpu(x) for x in r.get("cpu_ms") or (None, None)) + " |" for r in rs]
    return head + "\n" + "\n".join(rows)


def flatness(results):
    out = []
    for kind in ("emulated", "real OvS"):
        rs = sorted((r for r in results if r["fleet"] == kind and "failed" not in r),
                    key=lambda r: r["vms"])
        if len(rs) >= 2:
            a, b = rs[0], rs[-1]
            out.append(f"{kind}: add p50 at {b['vms']} VMs / at {a['vms']} VMs = "
                       f"{pct(b['add'], 50) / pct(a['add'], 50):.1f}x, delete "
                       f"{pct(b['del'], 50) / pct(a['del'], 50):.1f}x (goal: at most 1.5x)")
    return out


def aims(results):
    """Each figure against issue 10's aim, with the factor it misses by."""
    out = []
    for r in results:
        if "failed" in r or r["fleet"] != "emulated":
            continue
        p50, p99 = pct(r["add"], 50), pct(r["add"], 99)
        fb = r.get("flow_bytes")
        flows = ("" if fb is None else
                 f", of which the installed-flow tables (entries, indexes, shared matches and "
                 f"instructions) {fb / 1024 / r['vms']:.1f} "
                 f"KiB ({fb / max(r['flows_total'], 1):.0f} bytes per flow, "
                 f"skyvisor_reconciler_installed_flow_bytes)")
        out.append(f"{r['vms']} VMs: add p50 {p50:.1f} ms ({p50 / 5:.1f}x the 5 ms aim), "
                   f"p99 {p99:.1f} ms ({p99 / 20:.1f}x the 20 ms aim); "
                   f"{r['rss_per_vm_kib']:.0f} KiB per VM ({r['rss_per_vm_kib'] / 20:.1f}x "
                   f"the 20 KiB aim){flows}")
    return out


def build_dir():
    """--build DIR (default build), absolute, also as SKYVISOR_BUILD for the
    integration fixtures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    os.environ["SKYVISOR_BUILD"] = os.path.abspath(ap.parse_args().build)
    return os.environ["SKYVISOR_BUILD"]


def main():
    build = build_dir()
    sizes = parse_sizes(os.environ.get("SIZES", "100,1000,10000"))
    real = [int(x) for x in os.environ.get("REAL_SIZES", "60,300").split(",") if x.strip()]
    repeat = int(os.environ.get("INC_REPEAT", "30"))
    budget = float(os.environ.get("INC_BUDGET", "90"))
    observe = os.environ.get("INC_OBSERVE", "listen")
    out = os.environ.get("INC_OUT", "BENCHMARKS.md")
    if observe not in ("listen", "poll"):
        sys.exit("INC_OBSERVE is listen or poll")

    import conftest
    load0 = os.getloadavg()
    print(f"load average at the start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"commit {fleets.commit()}; observing by {observe}", flush=True)
    pg = conftest.PgCluster()
    results = []
    try:
        if sizes:
            all_hosts = fleets.host_names(max(c for _, c in sizes), 3)
            emu = fleets.EmuFleet(build, all_hosts)
            try:
                for n, c in sizes:
                    hosts = [h for h in all_hosts if h[0] <= c]
                    results.append(guarded(pg, emu, hosts, c, n, observe, repeat, budget))
            finally:
                emu.down()
        if real:
            hosts = fleets.host_names(3, 1)
            fl = fleets.RealFleet(hosts, 3, 0, 1)
            try:
                for n in real:
                    results.append(guarded(pg, fl, hosts, 3, n, observe, repeat, budget))
            finally:
                fl.down()
    finally:
        pg.destroy()
    text = section(results, load0, observe)
    print(text)
    if out:
        subprocess.run([os.path.join(ROOT, "tools", "bench-section"), out,
                        "Incremental changes (make bench-incremental)", text], check=True)
        print(f"wrote {out}")
    if any("failed" in r for r in results):
        sys.exit(1)


def guarded(pg, fleet, hosts, clouds, n, *rest):
    """One size; a failure is reported in the table and the run goes on."""
    try:
        return run_size(pg, fleet, hosts, clouds, n, *rest)
    except Exception as e:  # noqa: BLE001 - reported in the table
        print(f"{fleet.kind} clouds={clouds} vms={n} FAILED: {e}", flush=True)
        return {"fleet": fleet.kind, "clouds": clouds, "vms": n, "failed": str(e)}


def section(results, load0, observe):
    pgver = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()[2]
    ovsver = subprocess.run(["ovs-vsctl", "--version"], capture_output=True,
                            text=True).stdout.split("\n")[0].split()[-1]
    how = ("LISTEN on a trigger the benchmark adds to the vm table (NOTIFY at the status "
           "write's COMMIT, stamped on arrival in the same select() as the HTTP answer: "
           "resolution tens of microseconds, no load on skyvisord while waiting)"
           if observe == "listen" else
           "GET of the VM in a tight loop over one keep-alive connection (resolution one GET "
           "round trip; it competes for the CPU it measures)")
    notes = flatness(results) + aims(results)
    return f"""## Incremental changes (make bench-incremental)

{time.strftime('%Y-%m-%d', time.gmtime())}, commit {fleets.commit()}, {os.cpu_count()} cores shared by everything below and other
work on the machine (load average {load0[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end);
PostgreSQL {pgver}, Open vSwitch {ovsver}.  One tenant network of N VMs declared in batches
(ceil(N/32) virtual switches in a chain: one connected component, every bridge on the way
carries every VM) and realized; then, repeatedly, one VM added (POST, placed on a worker host
round-robin) and deleted again (DELETE).  Emulated fleet: 1 gateway and 3 workers per cloud,
a real `ovsdb-server` per host with `bench/swemu` as every vswitchd (bench/setup.py's fleet).
Real OvS: `tools/cloudsim.py`, 3 clouds of a gateway and a worker (six ovs-vswitchd,
userspace datapath, one per host namespace), each VM's interface a tap device the benchmark
plugs in its host's namespace before declaring it (as a hypervisor would), which skyvisord
attaches by name (the VM's `iface`).

- **add**: from the POST's answer (its last byte read by the client) to the VM's
  `status.state` realized, observed by {how}.
- **delete**: from the DELETE's answer to the VM's flows and port gone from every switch, as
  the switches stamp it (swemu's last change of a bridge's ports or flows, in us; on real OvS
  `ovs-ofctl monitor watch:` on every bridge, ms); polling only detects that the counts are back.
- **last flow in**: when the last flow of the added VM reached a switch (same stamps), from the
  answer.
- p99 is nearest-rank: with fewer than 100 samples it is the worst sample.
- RSS: skyvisord's VmRSS after the samples; per VM: (that - VmRSS with the hosts declared and
  no network) / N.

{table(results)}

{chr(10).join('- ' + n for n in notes)}

Where the reconciler's time went during the samples, ms per change (an add or a delete),
from `skyvisor_reconciler_stage_seconds_total` in /metrics (the stages of a pass,
ctrl/reconciler.h `enum recon_stage`: the desired state read, OVSDB transactions and their answers, the
wait for new ports' numbers, planning, applying with barriers, statuses, counters sampled);
every pass in the span counts, periodic ones included.  CPU: skyvisord's user + system time
over the same span per change (/proc), the whole process (HTTP, reads, the OpenFlow thread)
and its reconciler thread alone:

{stage_table(results)}
"""


if __name__ == "__main__":
    main()
