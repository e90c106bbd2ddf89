#!/usr/bin/env python3
"""bench/setup.py: setup time of tenant networks (`make bench-setup`),
Figure 2 of the multi-cloud network virtualization paper skyvisor follows,
with the minimum-spanning-tree tunnel layout beside the full mesh in the
same run.

Fleets.  Every cloud has one gateway and SETUP_WORKERS worker hosts.
  - emulated: one real ovsdb-server per host (its own database, a unix
    socket) and bench/swemu playing ovs-vswitchd for all of them: it numbers
    the Interfaces skyvisord creates and runs each bridge's OpenFlow 1.3
    switch (a real flow table, barriers, flow-stats) on the bridge's
    management socket;
  - real Open vSwitch (small sizes): tools/cloudsim.py, one ovsdb-server and
    ovs-vswitchd (userspace datapath) per host in its own namespace, VMs as
    namespaces with veths (prefix "svb").
One fleet of each kind serves every case; between cases skyvisord's
bridge is deleted from every host (`ovs-vsctl del-br`), which leaves the
fleet with nothing installed.

Per case (layout, clouds C, VMs N), on a fresh database and a fresh
skyvisord (`--tunnels LAYOUT`): clouds and hosts are declared through the
API and waited for until realized; then one tenant, one network with
ceil(N / SETUP_VMS_PER_SWITCH) virtual switches in a chain, the links, and
N VMs spread round-robin over the worker hosts (SETUP_POSTERS parallel
clients).  Measured:
  - declare: first to last POST of the network (the API's share);
  - setup:   from the POST that completes the network (the newest
             `created_at` of the network, its switches, links and VMs) to
             every object of the network realized: their newest `updated_at`
             once the status endpoint reports all realized (the reconciler's
             status write; polling does not add to it);
  - cold:    skyvisord stopped, its bridge deleted from every host, every
             status reset to pending in the database (so the finish line is
             visible), skyvisord started again: from its launch to every
             object of the platform realized (newest `updated_at`).  This is
             the reconciler realizing the whole desired state from nothing:
             bridges, ports, tunnels, flows, without the API in the way.
Tunnels and flows are counted on the switches themselves (swemu's tables,
or ovs-vsctl / ovs-ofctl on real OvS) after the warm setup, and checked to
be the same after the cold one.  Memory: skyvisord's VmRSS with the hosts
declared and no network (the base), once the setup is realized, and once the
median cold start is; per VM = (that - the base) / N.

`make bench-scale` is this with 16 clouds, 10 000 VMs and MST only, in a
section of its own (issue 10: declare, realize, cold restart; RSS per VM).

Environment: SETUP_CLOUDS (2,4,8), SETUP_VMS (8,64,256,1000),
SETUP_LAYOUTS (mst,full-mesh), SETUP_WORKERS (3), SETUP_VMS_PER_SWITCH (32),
SETUP_POSTERS (4), SETUP_REPEAT (3 restarts per cold figure), SETUP_TIMEOUT
(300 s for a setup or a cold start to finish), SETUP_REAL (2:8,2:64: clouds:VMs on real OvS; empty to
skip), SETUP_OUT (BENCHMARKS.md; empty to only print), SETUP_TITLE (the
section's title, "Setup time (make bench-setup)").
"""

import argparse
import concurrent.futures
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import types
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
BRIDGE = "br-sky"


def env_list(name, default, conv=int):
    raw = os.environ.get(name, default)
    return [conv(x) for x in raw.split(",") if x.strip()]


def sh(*cmd, check=True, timeout=60, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p


def host_names(clouds, workers):
    """[(cloud index from 1, host name, is gateway, tunnel_ip, public_ip)]."""
    out = []
    for c in range(1, clouds + 1):
        out.append((c, f"c{c}-gw", True, f"198.18.{c}.1", f"198.19.0.{c}"))
        for w in range(1, workers + 1):
            out.append((c, f"c{c}-w{w}", False, f"198.18.{c}.{w + 1}", None))
    return out


class EmuFleet:
    """ovsdb-server per host + bench/swemu for all of them."""

    kind = "emulated"

    def __init__(self, build, hosts):
        self.dir = tempfile.mkdtemp(prefix="svb-emu-")
        self.hosts = hosts
        self.servers = []
        for _, name, *_ in hosts:
            d = self.hdir(name)
            os.makedirs(d)
            sh("ovsdb-tool", "create", f"{d}/conf.db", SCHEMA)
            self.servers.append(subprocess.Popen(
                ["ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
                 f"--unixctl={d}/ovsdb-server.ctl", "-vconsole:off", "-vfile:off"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _, name, *_ in hosts:
            self.wait_path(f"{self.hdir(name)}/db.sock")
            self.vsctl(name, "init")
        self.control = os.path.join(self.dir, "swemu.sock")
        self.log = open(os.path.join(self.dir, "swemu.log"), "w")
        self.emu = subprocess.Popen(
            [os.path.join(build, "bench", "swemu"), "--control", self.control]
            + [self.hdir(n) for _, n, *_ in hosts], stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_path(self.control)

    def hdir(self, name):
        return os.path.join(self.dir, name)

    @staticmethod
    def wait_path(path, timeout=10):
        deadline = time.time() + timeout
        while not os.path.exists(path):
            if time.time() > deadline:
                raise RuntimeError(f"{path} did not appear")
            time.sleep(0.01)

    def vsctl(self, name, *args):
        return sh("ovs-vsctl", f"--db=unix:{self.hdir(name)}/db.sock", "--no-wait",
                  "--timeout=10", *args)

    def targets(self, name):
        return {"ovsdb": f"unix:{self.hdir(name)}/db.sock", "datapath": "netdev",
                "openflow": f"unix:{self.hdir(name)}/{BRIDGE}.mgmt"}

    def iface(self, vm_index, host):
        return f"v{vm_index}"

    def raw_stats(self):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.control)
            data = b""
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def stats(self, names):
        """{host: {"flows", "vxlan": [remote ips], "vm_ports"}} of skyvisor's bridge."""
        out = {}
        for h in self.raw_stats()["hosts"]:
            if h["name"] not in names:
                continue
            br = [b for b in h["bridges"] if b["name"] == BRIDGE]
            out[h["name"]] = ({"flows": br[0]["flows"], "vxlan": br[0]["vxlan"],
                               "vm_ports": br[0]["vm_ports"], "errors": br[0]["errors"],
                               "ports_us": (br[0]["first_port_us"], br[0]["last_port_us"])}
                              if br else None)
        return out

    def wipe(self, names, dpids=None):
        for n in names:
            self.vsctl(n, *wipe_args(n, dpids))
        deadline = time.time() + 10
        while any(v is not None and (not dpids or v["flows"] or v["vm_ports"] or v["vxlan"])
                  for v in self.stats(names).values()):
            if time.time() > deadline:
                raise RuntimeError("swemu kept its bridges' contents after del-br")
            time.sleep(0.02)

    def dpid(self, name):
        return self.vsctl(name, "get", "Bridge", BRIDGE, "other_config:datapath-id"
                          ).stdout.strip().strip('"')

    def pids(self):
        return [self.emu.pid] + [p.pid for p in self.servers]

    def down(self):
        self.emu.terminate()
        try:
            self.emu.wait(10)
        except subprocess.TimeoutExpired:
            self.emu.kill()
        for p in self.servers:
            p.terminate()
        for p in self.servers:
            p.wait(10)
        self.log.close()
        with open(self.log.name) as f:
            text = f.read().strip()
        if self.emu.returncode or "Sanitizer" in text or "runtime error" in text:
            print(f"swemu exited {self.emu.returncode}: {text[-4000:]}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)


class RealFleet:
    """tools/cloudsim.py: real ovsdb-server + ovs-vswitchd per host."""

    kind = "real OvS"

    def __init__(self, hosts, clouds, n_vms, workers):
        import cloudsim
        self.cloudsim = cloudsim
        self.dir = tempfile.mkdtemp(prefix="svb-ovs-")
        self.hosts = hosts
        spec_clouds = []
        for c in range(1, clouds + 1):
            hs = []
            for cc, name, gw, tip, pip in hosts:
                if cc == c:
                    h = {"name": name, "tunnel_ip": tip}
                    if gw:
                        h["public_ip"] = pip
                    hs.append(h)
            spec_clouds.append({"name": f"c{c}", "hosts": hs})
        self.workers_list = [n for _, n, gw, *_ in hosts if not gw]
        vms = []
        for i in range(n_vms):
            mac, ip = vm_addr(i)
            vms.append({"name": f"v{i}", "host": self.workers_list[i % len(self.workers_list)],
                        "iface": f"v{i}", "mac": mac, "ip": ip, "prefix": 16})
        self.sim = cloudsim.Sim({"prefix": f"svb{os.getpid() % 100}", "clouds": spec_clouds,
                                 "vms": vms}, self.dir)
        try:
            self.sim.up()
        except Exception:
            self.sim.down()
            raise

    def targets(self, name):
        d = self.sim.hdir(name)
        return {"ovsdb": f"unix:{d}/db.sock", "datapath": "netdev",
                "openflow": f"unix:{d}/{BRIDGE}.mgmt"}

    def iface(self, vm_index, host):
        """The VM's interface, plugged into its host now as a hypervisor would
        (a tap device in the host's namespace, which skyvisord then attaches
        by name), unless the simulation made it already."""
        name, ns = f"v{vm_index}", self.sim.host_ns(host)
        if self.cloudsim.sh("ip", "link", "show", name, ns=ns, check=False).returncode:
            self.cloudsim.sh("ip", "tuntap", "add", "dev", name, "mode", "tap", ns=ns)
            self.cloudsim.sh("ip", "link", "set", name, "up", ns=ns)
        return name

    def plug_into_bridge(self, vm_index, host):
        """The VM's interface plugged (iface()) and added to skyvisor's
        bridge as a port, as a hypervisor does with a VIF on a provisioned
        host; skyvisord then adopts the port by name (bench/ovn.py, beside
        OVN's VIFs, which are plugged into br-int the same way)."""
        name = self.iface(vm_index, host)
        self.sim.vsctl(host, "--may-exist", "add-port", BRIDGE, name)
        return name

    def stats(self, names):
        out = {}
        for n in names:
            d = self.sim.hdir(n)
            p = subprocess.run(["ovs-vsctl", f"--db=unix:{d}/db.sock", "br-exists", BRIDGE],
                               capture_output=True)
            if p.returncode:
                out[n] = None
                continue
            flows = self.cloudsim.sh("ovs-ofctl", "-O", "OpenFlow13", "--no-names", "--no-stats",
                                     "dump-flows", f"unix:{d}/{BRIDGE}.mgmt").stdout
            rows = json.loads(self.sim.vsctl(
                n, "--format=json", "--columns=name,type,options", "list", "Interface").stdout)
            vx, vmp = [], 0
            for name, typ, opts in rows["data"]:
                o = dict(opts[1])
                if typ == "vxlan":
                    vx.append(o.get("remote_ip", ""))
                elif name.startswith("v"):
                    vmp += 1
            out[n] = {"flows": sum(1 for l in flows.splitlines() if "cookie=" in l),
                      "vxlan": vx, "vm_ports": vmp, "errors": 0}
        return out

    def wipe(self, names, dpids=None):
        for n in names:
            self.sim.vsctl(n, *wipe_args(n, dpids))

    def dpid(self, name):
        return self.sim.vsctl(name, "get", "Bridge", BRIDGE, "other_config:datapath-id"
                              ).stdout.strip().strip('"')

    def pids(self):
        out = []
        for _, n, *_ in self.hosts:
            for daemon in ("ovs-vswitchd", "ovsdb-server"):
                try:
                    with open(f"{self.sim.hdir(n)}/{daemon}.pid") as f:
                        out.append(int(f.read().strip()))
                except (OSError, ValueError):
                    pass
        return out

    def down(self):
        self.sim.down()


def proc_cpu(pid):
    """CPU seconds (user + system) process 'pid' has used, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def commit():
    """The code measured: BENCH_COMMIT when the build is of another tree (an
    export of one commit), else this tree's HEAD, marked when the sources
    skyvisord is built from have uncommitted changes."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "api", "core",
                            "ctrl", "db", "migrations"], capture_output=True, text=True).stdout
    return head + (" with uncommitted changes" if dirty.strip() else "")


def rss_kib(pid):
    """Resident memory (VmRSS, KiB) of process 'pid'."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_base_kib(pid):
    """The base of an RSS per VM: VmRSS of a skyvisord whose hosts were just
    declared and realized and that has no network, read after half a second
    for the passes that realized the hosts to end."""
    time.sleep(0.5)
    return rss_kib(pid)


def wipe_args(name, dpids):
    """ovs-vsctl arguments deleting skyvisor's bridge (with its ports and
    flows) and, given the datapath ids, creating it again empty, configured
    as skyvisord would (a host whose bridge is provisioned and nothing else)."""
    args = ["--if-exists", "del-br", BRIDGE]
    if dpids:
        args += ["--", "add-br", BRIDGE, "--", "set", "Bridge", BRIDGE, "datapath_type=netdev",
                 "fail_mode=secure", "protocols=OpenFlow13",
                 f"other_config:datapath-id={dpids[name]}",
                 "other_config:disable-in-band=true"]
    return args


def vm_addr(i):
    return (f"02:00:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
            f"10.0.{i // 250}.{i % 250 + 1}")


def ok(resp, *codes):
    status, body = resp[0], resp[2]
    if status not in (codes or (200, 201, 204)):
        raise RuntimeError(f"HTTP {status}: {body}")
    return body


def psql(pg, db, sql):
    return pg.psql(sql, db=db)


class Psql:
    """One psql process answering one-row queries over a pipe, so polling
    the database costs a query, not a process (which would compete for the
    CPU the measured processes need)."""

    def __init__(self, url):
        self.p = subprocess.Popen(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", url],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)

    def one(self, sql):
        self.p.stdin.write(" ".join(sql.split()).rstrip(";") + ";\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"psql exited {self.p.wait()}")
        return line.strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


TABLES = ("cloud", "host", "tenant", "network", "vswitch", "vlink", "vm")


def declare_fleet(api, fleet, hosts):
    """The clouds of 'hosts' (host_names' tuples) and the hosts, with the
    fleet's OVSDB and OpenFlow targets, through the API."""
    for c in sorted({h[0] for h in hosts}):
        ok(api.post("/v1/clouds", {"name": f"c{c}", "provider": "aws", "region": f"r{c}",
                                   "jurisdiction": "DE", "kind": "public"}))
    for c, name, gw, tip, pip in hosts:
        body = {"name": name, "cloud": f"c{c}", "tunnel_ip": tip, "capacity": 100000,
                **fleet.targets(name)}
        if gw:
            body.update(role="gateway", public_ip=pip)
        ok(api.post("/v1/hosts", body))


def wait_hosts(api, timeout=60):
    deadline = time.time() + timeout
    while True:
        hosts = ok(api.get("/v1/hosts?limit=500"))["items"]
        clouds = ok(api.get("/v1/clouds?limit=500"))["items"]
        bad = [o["name"] for o in hosts + clouds if o["status"]["state"] != "realized"]
        if not bad:
            return
        if time.time() > deadline:
            raise RuntimeError(f"not realized: {bad[:5]} ({hosts[0]['status']})")
        time.sleep(0.05)


def wait_realized(poll, timeout, what, error_fails):
    """Polls (one Psql) until no object of the platform is anything but
    realized; returns the newest updated_at (epoch seconds).  Fails after
    'timeout' seconds, and with 'error_fails' as soon as an object is in
    error (a cold start passes through errors: a host whose bridge is not
    there yet).  Costs one query every 50 ms, not skyvisord's status
    endpoint (which would render every VM's status each time, competing for
    the CPU it measures)."""
    union = " UNION ALL ".join(f"SELECT state, updated_at FROM {t}" for t in TABLES)
    deadline = time.time() + timeout
    while True:
        row = poll.one(f"SELECT count(*) FILTER (WHERE state <> 'realized'), "
                       f"count(*) FILTER (WHERE state = 'error'), "
                       f"extract(epoch FROM max(updated_at)) FROM ({union}) x")
        left, errors, last = row.split("|")
        if error_fails and int(errors):
            raise RuntimeError(f"{what}: {errors} objects in error")
        if int(left) == 0:
            return float(last)
        if time.time() > deadline:
            raise RuntimeError(f"{what}: {left} objects not realized after {timeout} s")
        time.sleep(0.05)


def run_case(pg, build, fleet, layout, clouds, n_vms, opt):
    """One case; 'opt' holds workers, per_switch, posters, repeat and timeout
    (main's settings)."""
    from conftest import Skyvisord
    per_switch, posters, repeat = opt.per_switch, opt.posters, opt.repeat
    hosts = [h for h in fleet.hosts if h[0] <= clouds]
    names = [h[1] for h in hosts]
    wk = [h[1] for h in hosts if not h[2]]
    fleet.wipe(names)
    db = pg.fresh_db()
    d = Skyvisord(db_url=pg.url(db), reconcile=True, threads=2,
                  extra=("--tunnels", layout, "--log-level",
                         os.environ.get("SETUP_LOG_LEVEL", "info")))
    d.start()
    res = {"backend": fleet.kind, "layout": layout, "clouds": clouds, "hosts": len(hosts),
           "vms": n_vms}
    poll = Psql(pg.url(db))
    try:
        api = d.api()
        declare_fleet(api, fleet, hosts)
        wait_hosts(api)
        before = recon_passes(d)
        res["rss_base"] = rss_base_kib(d.proc.pid)

        ok(api.post("/v1/tenants", {"name": "t"}))
        base = "/v1/tenants/t/networks"
        n_sw = max(1, math.ceil(n_vms / per_switch))
        t_first = time.time()
        ok(api.post(base, {"name": "n", "subnet": "10.0.0.0/16", "tagging": "mac-prefix"}))
        for s in range(n_sw):
            ok(api.post(f"{base}/n/switches", {"name": f"s{s}"}))
        for s in range(1, n_sw):
            ok(api.post(f"{base}/n/links", {"a": f"s{s - 1}", "b": f"s{s}"}))

        def post_vm(i):
            mac, ip = vm_addr(i)
            host = wk[i % len(wk)]
            ok(Api_for(d).post(f"{base}/n/vms", {
                "name": f"v{i}", "mac": mac, "ip": ip, "switch": f"s{i % n_sw}",
                "iface": fleet.iface(i, host), "placement": {"host": host}}))

        with concurrent.futures.ThreadPoolExecutor(posters) as ex:
            list(ex.map(post_vm, range(n_vms)))
        t_last = time.time()
        n_posts = 1 + n_sw + (n_sw - 1) + n_vms
        wait_realized(poll, opt.timeout, "setup", True)
        res["rss_setup"] = rss_kib(d.proc.pid)
        res["passes"] = recon_passes(d) - before
        nid = ok(api.get(f"{base}/n"))["id"]
        row = psql(pg, db, f"""SELECT extract(epoch FROM max(c)), extract(epoch FROM max(u))
            FROM (SELECT created_at c, updated_at u FROM network WHERE id = '{nid}' UNION ALL
            SELECT created_at, updated_at FROM vswitch WHERE network_id = '{nid}' UNION ALL
            SELECT created_at, updated_at FROM vlink WHERE network_id = '{nid}' UNION ALL
            SELECT created_at, updated_at FROM vm WHERE network_id = '{nid}') x""")
        t_created, t_done = (float(x) for x in row.split("|"))
        res.update(declare_s=t_last - t_first, posts=n_posts, setup_s=t_done - t_created)
        warm = fleet.stats(names)
        res.update(count(warm, hosts))

        # Cold: the reconciler alone, from nothing installed (bridges
        # provisioned, then not even the bridges).
        dpids = {n: fleet.dpid(n) for n in names}
        runs = {"cold_s": [], "bare_s": []}
        for key, keep in [("cold_s", dpids), ("bare_s", None)] * repeat:
            d.stop()
            fleet.wipe(names, keep)
            psql(pg, db, "; ".join(f"UPDATE {t} SET state = 'pending', detail = NULL"
                                   for t in TABLES))
            fleet_cpu0 = sum(proc_cpu(p) for p in fleet.pids())
            t0 = time.time()
            d.start(timeout=opt.timeout)
            last = wait_realized(poll, opt.timeout, key[:-2] + " start", False)
            runs[key].append(last - t0)
            runs.setdefault(key + "_cpu", []).append(
                (proc_cpu(d.proc.pid), sum(proc_cpu(p) for p in fleet.pids()) - fleet_cpu0))
            runs.setdefault(key + "_rss", []).append(rss_kib(d.proc.pid))
            runs.setdefault(key + "_passes", []).append(recon_passes(d))
            if key == "cold_s":
                # CPU and RSS of the median run: skyvisord (all of it, since
                # its launch) and the switch side (emulator or vswitchd and
                # ovsdb-servers), measured up to the check that saw the end.
                by_time = sorted(zip(runs[key], runs[key + "_cpu"], runs[key + "_rss"]))
                res["cold_cpu"] = by_time[(len(by_time) - 1) // 2][1]
                res["rss_cold"] = by_time[(len(by_time) - 1) // 2][2]
            res[key] = sorted(runs[key])[(len(runs[key]) - 1) // 2]     # median
            res[key + "_all"] = runs[key]
            cold = fleet.stats(names)
            same = ({k: v and v["flows"] for k, v in cold.items()}
                    == {k: v and v["flows"] for k, v in warm.items()})
            res["cold_same"] = res.get("cold_same", True) and same
            if not same:
                res.setdefault("cold_diff", []).append(
                    {k: (warm[k] and warm[k]["flows"], v and v["flows"])
                     for k, v in cold.items()
                     if (v and v["flows"]) != (warm[k] and warm[k]["flows"])})
            cc = count(cold, hosts)
            spans = [v["ports_us"] for v in cold.values() if v and v.get("ports_us")]
            if spans and key == "cold_s":
                # When the last VM or tunnel port got its number (all of them
                # are created by the reconciler, one OVSDB transaction each).
                runs.setdefault("ports_done", []).append(max(b for _, b in spans) / 1e6 - t0)
            res["of_errors"] += cc["of_errors"]
            res[key + "_passes"] = runs[key + "_passes"]
            res["ports_done"] = runs.get("ports_done", [])
            if key == "cold_s" and len(res["ports_done"]) == len(runs[key]):
                # ... of the median cold start
                by_time = sorted(zip(runs[key], res["ports_done"]))
                res["ports_med"] = by_time[(len(by_time) - 1) // 2][1]
    finally:
        poll.close()
        d.stop()
    return res


def Api_for(d):
    from conftest import Api, ADMIN_TOKEN
    return Api(d.port, ADMIN_TOKEN)


def count(st, hosts):
    gw_pub = {pip for _, _, gw, _, pip in hosts if gw}
    ends = sum(len(v["vxlan"]) for v in st.values() if v)
    inter = sum(1 for v in st.values() if v for ip in v["vxlan"] if ip in gw_pub)
    flows = sum(v["flows"] for v in st.values() if v)
    vmp = sum(v["vm_ports"] for v in st.values() if v)
    errs = sum(v["errors"] for v in st.values() if v)
    return {"tunnels": ends // 2, "inter": inter // 2, "flows": flows, "vm_ports": vmp,
            "of_errors": errs}


def recon_passes(d):
    """skyvisord's reconciler passes since its start (/metrics)."""
    text = ok(Api_for(d).get("/metrics", token=None))
    for line in text.splitlines():
        if line.startswith("skyvisor_reconciler_passes_total "):
            return int(line.split()[1])
    raise RuntimeError("no skyvisor_reconciler_passes_total in /metrics")


def passes(r):
    cold = r["cold_s_passes"]
    return f"{r['passes']} / {sorted(cold)[(len(cold) - 1) // 2]}"


def fmt_ms(s):
    return f"{s * 1000:.0f}" if s >= 0.1 else f"{s * 1000:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ["SKYVISOR_BUILD"] = build
    clouds = env_list("SETUP_CLOUDS", "2,4,8")
    vms = env_list("SETUP_VMS", "8,64,256,1000")
    layouts = env_list("SETUP_LAYOUTS", "mst,full-mesh", str)
    opt = types.SimpleNamespace(
        workers=int(os.environ.get("SETUP_WORKERS", "3")),
        per_switch=int(os.environ.get("SETUP_VMS_PER_SWITCH", "32")),
        posters=int(os.environ.get("SETUP_POSTERS", "4")),
        repeat=int(os.environ.get("SETUP_REPEAT", "3")),
        timeout=float(os.environ.get("SETUP_TIMEOUT", "300")))
    workers = opt.workers
    real = [tuple(int(x) for x in p.split(":"))
            for p in os.environ.get("SETUP_REAL", "2:8,2:64").split(",") if p.strip()]
    out = os.environ.get("SETUP_OUT", "BENCHMARKS.md")
    title = os.environ.get("SETUP_TITLE", "Setup time (make bench-setup)")

    import conftest
    load0 = f"{os.getloadavg()[0]:.1f}"
    pg = conftest.PgCluster()
    results = []
    fleets = []
    try:
        emu = EmuFleet(build, host_names(max(clouds), workers)) if clouds and vms else None
        if emu:
            fleets.append(emu)
        for c in clouds if emu else ():
            for n in vms:
                for lay in layouts:
                    case(results, pg, build, emu, lay, c, n, opt)
        if real:
            rc = max(c for c, _ in real)
            fl = RealFleet(host_names(rc, workers), rc, max(n for _, n in real), workers)
            fleets.append(fl)
            for c, n in real:
                for lay in layouts:
                    case(results, pg, build, fl, lay, c, n, opt)
    finally:
        for f in fleets:
            f.down()
        pg.destroy()
    text = section(title, results, opt, load0)
    print(text)
    if out:
        subprocess.run([os.path.join(ROOT, "tools", "bench-section"), out, title, text],
                       check=True)
        print(f"wrote {out}")


def case(results, pg, build, fleet, lay, c, n, opt):
    """Runs one case; a failure is reported as such and the run goes on."""
    try:
        r = run_case(pg, build, fleet, lay, c, n, opt)
        print(line(r), flush=True)
    except Exception as e:  # noqa: BLE001 - reported in the table
        r = {"backend": fleet.kind, "layout": lay, "clouds": c, "vms": n, "failed": str(e)}
        print(f"{fleet.kind} {lay} clouds={c} vms={n} FAILED: {e}", flush=True)
    results.append(r)


def line(r):
    return (f"{r['backend']:9} {r['layout']:9} clouds={r['clouds']} hosts={r['hosts']} "
            f"vms={r['vms']} tunnels={r['tunnels']} inter={r['inter']} flows={r['flows']} "
            f"declare={r['declare_s']:.3f}s setup={r['setup_s']:.3f}s cold={r['cold_s']:.3f}s {[round(x, 3) for x in r['cold_s_all']]} "
            f"bare={r['bare_s']:.3f}s {[round(x, 3) for x in r['bare_s_all']]} "
            f"cold_cpu=sky {r['cold_cpu'][0]:.2f}s switches {r['cold_cpu'][1]:.2f}s "
            f"rss_kib: base {r['rss_base']} setup {r['rss_setup']} cold {r['rss_cold']} "
            f"passes: setup {r['passes']} cold {r['cold_s_passes']} bare {r['bare_s_passes']} "
            f"cold ports numbered by {[round(x, 3) for x in r.get('ports_done', [])]} "
            f"same_after_cold={r['cold_same']} "
            + (f"(flows warm, cold: {r['cold_diff']}) " if "cold_diff" in r else "")
            + f"of_errors={r['of_errors']}")


def rss_cell(r):
    """skyvisord's RSS after the setup / after the cold start, MiB, and per
    VM over the base, KiB."""
    per = [(r[k] - r["rss_base"]) / r["vms"] for k in ("rss_setup", "rss_cold")]
    return (f"{r['rss_setup'] / 1024:.0f} / {r['rss_cold'] / 1024:.0f} "
            f"({per[0]:.1f} / {per[1]:.1f})")


def section(title, results, opt, load0):
    import platform
    workers, per_switch, posters, repeat = opt.workers, opt.per_switch, opt.posters, opt.repeat
    cpu = os.cpu_count()
    pgver = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()[2]
    ovsver = subprocess.run(["ovs-vsctl", "--version"], capture_output=True,
                            text=True).stdout.split("\n")[0].split()[-1]
    rows = []
    failed = [r for r in results if "failed" in r]
    results = [r for r in results if "failed" not in r]
    for r in failed:
        rows.append(f"| {r['backend']} | {r['layout']} | {r['clouds']} | | {r['vms']} | "
                    f"failed: {r['failed'][:200]} | | | | | | | | | |")
    for r in results:
        rows.append(f"| {r['backend']} | {r['layout']} | {r['clouds']} | {r['hosts']} | "
                    f"{r['vms']} | {r['tunnels']} ({r['inter']}) | {r['flows']} | "
                    f"{fmt_ms(r['declare_s'])} ({r['posts'] / r['declare_s']:.0f}/s) | "
                    f"{fmt_ms(r['setup_s'])} | {fmt_ms(r['cold_s'])} | "
                    f"{fmt_ms(r['ports_med']) if 'ports_med' in r else 'n/a'} | "
                    f"{r['cold_cpu'][0] * 1000:.0f} / {r['cold_cpu'][1] * 1000:.0f} | "
                    f"{rss_cell(r)} | "
                    f"{fmt_ms(r['bare_s'])} | {passes(r)} |"
                    + ("" if r["cold_same"] and not r["of_errors"] else " (!)"))
    ratios = []
    key = lambda r: (r["backend"], r["clouds"], r["vms"])
    by = {(key(r), r["layout"]): r for r in results}
    for k in sorted({key(r) for r in results}, key=lambda k: (k[0] != "emulated", k[1], k[2])):
        m, f = by.get((k, "mst")), by.get((k, "full-mesh"))
        if m and f:
            ratios.append(f"| {k[0]} | {k[1]} | {k[2]} | {m['inter']} / {f['inter']} | "
                          f"{f['setup_s'] / m['setup_s']:.2f} | {f['cold_s'] / m['cold_s']:.2f} | "
                          f"{f['bare_s'] / m['bare_s']:.2f} |")
    lin = []
    for c in sorted({r["clouds"] for r in results if r["backend"] == "emulated"}):
        for lay in ("mst", "full-mesh"):
            pts = sorted((r["vms"], r["cold_cpu"]) for r in results
                         if r["backend"] == "emulated" and r["clouds"] == c
                         and r["layout"] == lay)
            if len(pts) >= 2:
                steps = " | ".join(
                    f"{(b[1][0] - a[1][0]) * 1e6 / (b[0] - a[0]):.0f} / "
                    f"{(b[1][1] - a[1][1]) * 1e6 / (b[0] - a[0]):.0f}"
                    for a, b in zip(pts, pts[1:]))
                lin.append(f"| {c} | {lay} | {steps} |")
    sizes = sorted({r["vms"] for r in results if r["backend"] == "emulated"})
    steps_head = " | ".join(f"{a}->{b} VMs" for a, b in zip(sizes, sizes[1:]))
    steps_rule = "|---" * max(0, len(sizes) - 1)
    ratios_text = f"""
Full mesh / MST, same fleet, clouds and VMs:

| fleet | clouds | VMs | inter-cloud tunnels MST / full mesh | setup ratio | cold ratio | bare ratio |
|---|---|---|---|---|---|---|
{chr(10).join(ratios)}
""" if ratios else ""
    growth_text = f"""
Growth, emulated fleet: CPU microseconds per added VM of the cold start between consecutive
sizes, skyvisord / switch side (constant = linear growth; CPU rather than time, which the
machine's other load makes noisy):

| clouds | tunnels | {steps_head} |
|---|---{steps_rule}|
{chr(10).join(lin)}
""" if lin else ""
    real = ("  Real OvS: `tools/cloudsim.py`, one ovs-vswitchd (userspace datapath) per host "
            "namespace,\nVMs as namespaces." if any(r["backend"] != "emulated" for r in results)
            else "")
    return f"""## {title}

{time.strftime('%Y-%m-%d', time.gmtime())}, commit {commit()}, {cpu} cores shared by everything below and by other work on the machine
(load average {load0} at the start, {os.getloadavg()[0]:.1f} at the end); PostgreSQL
{pgver}, Open vSwitch {ovsver}, {platform.machine()}.  Each cloud: one gateway and {workers}
worker hosts; one tenant network of ceil(VMs/{per_switch}) virtual switches in a chain (one
connected component, so every bridge on the way carries every VM), VMs round-robin over the
workers, declared through the public API ({posters} parallel clients for the VMs).
Emulated fleet: a real `ovsdb-server` per host, with `bench/swemu` as every host's
ovs-vswitchd (numbers the Interfaces skyvisord creates) and OpenFlow 1.3 switch (a real flow
table, barriers, flow-stats, on the bridge's management socket).{real}

- **setup**: from the POST that completes the network (the newest `created_at` of the network,
  its switches, links and VMs: the last VM's insert) to every object of the network realized
  (their newest `updated_at` once no object is anything but realized: the reconciler's last
  status write; polling, one query every 50 ms, only detects it).  Both are PostgreSQL
  timestamps.
- **cold**: skyvisord stopped, its bridge deleted from every host and created again empty
  (datapath id and settings as skyvisord sets them: a provisioned host with nothing of the
  network installed), every status reset to pending, skyvisord started again: from its launch
  to every object of the platform realized (ports, tunnels, flows, statuses; the API plays no
  part).  This is the reconciler's own realization time.  Median of {repeat} restarts.
- **last port numbered**: in that cold start, when the emulated vswitchd numbered the last of
  the ports skyvisord created (every VM port and tunnel, one OVSDB transaction each); the rest
  of the cold time is flows and statuses.
- **cold CPU**: CPU time of that cold start (the median one): skyvisord since its launch, and
  the switch side (swemu and the ovsdb-servers, or the ovs-vswitchd and ovsdb-server
  processes), in 10 ms clock ticks.  Unlike the times, it hardly depends on what else the
  machine runs.
- **bare**: the same without even the bridge: skyvisord creates the bridges too and must
  connect to management sockets that appear only then.  Median of {repeat} restarts.
- **RSS**: skyvisord's VmRSS once the setup is realized / once the median cold start is
  (a fresh process, its realization only), MiB; in parentheses per VM, KiB: (that - the
  VmRSS of the first skyvisord with the hosts declared and realized and no network) / VMs.
- **declare**: first to last POST of the network (and POSTs per second), for scale.
- **passes**: reconciler passes (skyvisord's `skyvisor_reconciler_passes_total`) while the
  network was declared and realized, and in a cold start up to its end (median).
- tunnels: VXLAN tunnels on the switches (inter-cloud ones in parentheses: clouds-1 with MST,
  clouds(clouds-1)/2 with full mesh); flows: skyvisor's flows in the switches' tables.  Both
  counted on the switches after the setup; the cold start reinstalled the same flow counts
  and no switch rejected a message (a row failing either check would be marked (!)).

| fleet | tunnels | clouds | hosts | VMs | tunnels (inter-cloud) | flows | declare ms (POST/s) | setup ms | cold ms | cold: last port numbered at ms | cold CPU ms skyvisord / switches | RSS MiB setup / cold (KiB per VM) | bare ms | passes declare+setup / cold |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{ratios_text}{growth_text}"""


if __name__ == "__main__":
    main()
