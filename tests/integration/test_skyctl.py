"""skyctl, the declarative client, against a real skyvisord and PostgreSQL.

Plan/apply/destroy round trips of examples/demo.yaml; a changed file (only
the difference is applied, and the plan shows exactly it); files with
errors (nothing half-applied that a re-run of the fixed file cannot
finish); --prune (marked objects no longer declared go, others never);
objects skyctl did not create are updated but never deleted; get and
status.  The wait for realization runs against skyvisord's reconciler: a
host whose OVSDB is unreachable puts objects into "error" and apply names
them, and a one-cloud world of real Open vSwitch (tools/cloudsim.py)
reaches "realized" with traffic between the VMs.  Every check goes through
the skyctl binary and is confirmed through the API.
"""

import http.client
import json
import os
import socketserver
import subprocess
import sys
import textwrap
import threading

import pytest
import yaml

from conftest import ADMIN_TOKEN, BUILD, ROOT, Skyvisord

sys.path.insert(0, os.path.join(ROOT, "tools"))
import cloudsim  # noqa: E402

SKYCTL = os.path.join(BUILD, "skyctl")
DEMO = os.path.join(ROOT, "examples", "demo.yaml")


def skyctl(daemon, *args, token=ADMIN_TOKEN, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYVISOR_")}
    if daemon is not None:
        env["SKYVISOR_URL"] = f"http://127.0.0.1:{daemon.port}"
    if token:
        env["SKYVISOR_TOKEN"] = token
    return subprocess.run([SKYCTL, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def items(api, path):
    st, _, body = api.get(path + "?limit=1000")
    assert st == 200, body
    return {o.get("name") or f"{o['cloud_a']}--{o['cloud_b']}": o for o in body["items"]}


def ok(p, code=0):
    assert p.returncode == code, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def test_help_and_usage_errors(daemon):
    out = ok(skyctl(None, "--help")).stdout
    for word in ("plan", "apply", "destroy", "get KIND", "status", "--prune", "--no-wait",
                 "--timeout", "SKYVISOR_URL", "SKYVISOR_TOKEN", "skyctl.managed-by",
                 "placement"):
        assert word in out, word
    p = ok(skyctl(daemon, "frobnicate"), 64)
    assert "unknown command 'frobnicate'" in p.stderr
    p = ok(skyctl(daemon, "plan"), 64)
    assert "needs -f FILE" in p.stderr
    p = ok(skyctl(daemon, "get", "vms", "--prune"), 64)
    p = ok(skyctl(daemon, "plan", "-f", DEMO, "-o", "json"), 64)
    p = ok(skyctl(daemon, "get", "vms", "-o", "yaml"), 64)
    assert "unknown output format 'yaml'" in p.stderr
    p = ok(skyctl(daemon, "get", "gadgets"), 64)
    assert "unknown kind 'gadgets'" in p.stderr
    p = ok(skyctl(daemon, "-f", DEMO, "plan", token=None), 1)
    assert "no token" in p.stderr
    # A server that is not there, and a wrong token.
    p = ok(skyctl(None, "--url", "http://127.0.0.1:1", "get", "clouds"), 1)
    assert "cannot reach skyvisord at http://127.0.0.1:1" in p.stderr
    p = ok(skyctl(daemon, "get", "clouds", token="wrong-token"), 1)
    assert "GET /v1/clouds: 401" in p.stderr


def test_demo_round_trip(daemon, pg):
    api = daemon.api()
    p = ok(skyctl(daemon, "plan", "-f", DEMO), 2)
    assert "Plan: 32 to create, 0 to change, 0 to delete." in p.stdout
    assert "  + cloud aws-fra\n" in p.stdout and "  + vm blue/prod/batch\n" in p.stdout
    assert items(api, "/v1/clouds") == {}, "plan changed something"

    p = ok(skyctl(daemon, "apply", "-f", DEMO, "--no-wait"))
    assert "Apply complete: 32 created, 0 changed, 0 deleted." in p.stdout
    # Dependency order: every cloud before any host, hosts before tenants,
    # networks before switches, links before VMs.
    lines = [l for l in p.stdout.splitlines() if l.startswith("+ ")]
    kinds = [l.split()[1] for l in lines]
    order = ["cloud", "cloud-link", "host", "tenant", "network", "switch", "link", "vm"]
    assert kinds == sorted(kinds, key=order.index), kinds
    tokens = {l.split()[1]: l.split()[-1] for l in p.stdout.splitlines()
              if "token (shown once" in l}
    assert set(tokens) == {"red", "blue"}
    st, _, body = api.get("/v1/tenants/red/networks/prod/vms", token=tokens["red"])
    assert st == 200 and {v["name"] for v in body["items"]} == {"web", "db", "batch", "lab"}

    # What the server holds is the file.
    clouds = items(api, "/v1/clouds")
    assert set(clouds) == {"aws-fra", "gcp-iowa", "onprem-lis"}
    assert clouds["onprem-lis"]["provider"] == "private"
    assert clouds["onprem-lis"]["labels"] == {"skyctl.managed-by": "demo"}
    links = items(api, "/v1/cloud-links")
    assert {k: v["cost"] for k, v in links.items()} == {
        "aws-fra--gcp-iowa": 10, "aws-fra--onprem-lis": 3, "gcp-iowa--onprem-lis": 12}
    hosts = items(api, "/v1/hosts")
    assert len(hosts) == 7
    assert hosts["gcp-iowa-gw"]["public_ip"] == "198.19.0.2"
    assert hosts["onprem-lis-h2"]["openflow"] == \
        "unix:/run/skyvisor/demo/onprem-lis-h2/br-sky.mgmt"
    nets = items(api, "/v1/tenants/blue/networks")
    assert nets["prod"]["tagging"] == "rewrite"
    vms = items(api, "/v1/tenants/blue/networks/prod/vms")
    assert vms["db"]["host"] == "onprem-lis-h2" and vms["db"]["iface"] == "b-db"
    assert set(items(api, "/v1/tenants/red/networks/prod/links")) == {"back--front"}

    # Re-applying changes nothing.
    p = ok(skyctl(daemon, "plan", "-f", DEMO))
    assert "No changes: demo matches the server." in p.stdout
    p = ok(skyctl(daemon, "apply", "-f", DEMO, "--no-wait"))
    assert "0 created, 0 changed, 0 deleted" in p.stdout

    # get and status.
    p = ok(skyctl(daemon, "get", "vms"))
    rows = p.stdout.splitlines()
    assert rows[0].split() == ["NAME", "SWITCH", "MAC", "IP", "HOST", "IFACE", "STATE",
                               "MANAGED-BY"]
    assert len(rows) == 8
    assert "red/prod/lab" in p.stdout and "onprem-lis-h2" in p.stdout
    # Aligned: every row has its STATE column at the same offset.
    col = rows[0].index("STATE")
    assert all(r[col:].startswith("pending") for r in rows[1:])
    p = ok(skyctl(daemon, "get", "vm", "blue/prod/web", "-o", "json"))
    got = json.loads(p.stdout)
    assert len(got) == 1 and got[0]["mac"] == "02:00:00:00:00:01" and got[0]["host"] == "aws-fra-h1"
    p = ok(skyctl(daemon, "get", "cloud-links"))
    assert "aws-fra--onprem-lis" in p.stdout
    p = ok(skyctl(daemon, "get", "host", "nosuch"), 1)
    assert "no host nosuch" in p.stderr
    # Without the reconciler nothing is realized: status says so (exit 2).
    p = ok(skyctl(daemon, "status", "-f", DEMO), 2)
    assert "29 objects: 0 realized, 29 pending, 0 error" in p.stdout
    p = ok(skyctl(daemon, "status", "-o", "json"), 2)
    st = json.loads(p.stdout)
    assert {"kind": "vm", "name": "red/prod/db"} in [
        {"kind": o["kind"], "name": o["name"]} for o in st]
    # ... and apply's wait gives up after its timeout, naming what it waited for.
    p = ok(skyctl(daemon, "apply", "-f", DEMO, "--timeout", "1"), 1)
    assert "timed out after 1 s with 29 of 29 objects not realized" in p.stderr
    assert "vm red/prod/web: pending" in p.stderr

    # Destroy deletes it all, dependents first.
    p = ok(skyctl(daemon, "destroy", "-f", DEMO))
    assert "Plan: 32 to delete." in p.stdout
    deleted = [l.split()[1] for l in p.stdout.splitlines() if l.startswith("- ")]
    assert deleted == sorted(deleted, key=order.index, reverse=True)
    assert items(api, "/v1/clouds") == {} and items(api, "/v1/tenants") == {}
    assert items(api, "/v1/hosts") == {}
    p = ok(skyctl(daemon, "destroy", "-f", DEMO))
    assert "Nothing to delete: the server holds nothing demo made." in p.stdout

    # Applying again after a destroy creates everything again, although the
    # first run's Idempotency-Keys are still on record: their replays name
    # objects that are gone, so skyctl moves on to the next key.
    p = ok(skyctl(daemon, "apply", "-f", DEMO, "--no-wait"))
    assert "32 created" in p.stdout
    assert p.stdout.count("token (shown once") == 2
    assert set(items(api, "/v1/clouds")) == {"aws-fra", "gcp-iowa", "onprem-lis"}
    db = daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]
    keys = pg.psql("SELECT key FROM idempotency WHERE key LIKE 'skyctl-%'", db=db).split()
    # The second apply's creates: one per cloud, host, tenant and network
    # POST (3 + 7 + 2 + 2) and one per network's batch of switches, links
    # and VMs (2), each the successor of a first key.
    second = [k for k in keys if k.endswith("-2")]
    assert len(second) == 16
    assert all(k[:-1] + "1" in keys for k in second)
    ok(skyctl(daemon, "destroy", "-f", DEMO))
    assert items(api, "/v1/clouds") == {}


def test_compose_tenants_file(pg):
    """examples/tenants.json is what the compose stack's demo job applies
    once its three clouds have registered themselves and their gateways
    (docker/cloud-entrypoint.sh): register them the same way, then apply."""
    with open(os.path.join(ROOT, "docker", "compose.yaml")) as f:
        services = yaml.safe_load(f)["services"]
    demo = services["demo"]["entrypoint"]
    assert demo[:2] == ["skyctl", "apply"]
    assert demo[-2:] == ["-f", "/usr/share/skyvisor/examples/tenants.json"]
    tenants = os.path.join(ROOT, "examples", "tenants.json")
    d = Skyvisord(db_url=pg.url(pg.fresh_db())).start()
    try:
        api = d.api()
        for name, svc in services.items():
            env = svc.get("environment") or {}
            if "CLOUD_NAME" not in env:
                continue
            c = env["CLOUD_NAME"]
            st, _, body = api.post("/v1/clouds", {
                "name": c, "provider": env["CLOUD_PROVIDER"], "region": env["CLOUD_REGION"],
                "jurisdiction": env["CLOUD_JURISDICTION"], "kind": env["CLOUD_KIND"],
                "cost_per_hour": env["CLOUD_COST"]})
            assert st == 201, body
            st, _, body = api.post("/v1/hosts", {
                "name": f"{c}-gw", "cloud": c, "role": "gateway",
                "tunnel_ip": env["TUNNEL_IP"], "public_ip": env["PUBLIC_IP"],
                "datapath": "netdev", "ovsdb": f"tcp:{env['TUNNEL_IP']}:6640",
                "controller": "tcp:198.18.255.2:6653"})
            assert st == 201, body
        p = ok(skyctl(d, *demo[1:-2], "-f", tenants))
        assert "Apply complete: 15 created, 0 changed, 0 deleted." in p.stdout
        assert p.stdout.count("token (shown once") == 2
        ok(skyctl(d, "plan", "-f", tenants))
        ok(skyctl(d, "destroy", "-f", tenants))
        assert items(api, "/v1/tenants") == {}
        assert len(items(api, "/v1/hosts")) == 3        # the clouds' own
    finally:
        assert d.stop() == 0, d.read_log()


class LossyProxy(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """An HTTP relay to skyvisord that forwards the first POST to `lose`
    but drops its answer (closes the connection), as a network failure
    after the server committed would.  Everything else passes through."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port, lose):
        self.upstream_port, self.lose, self.lost = upstream_port, lose, 0
        super().__init__(("127.0.0.1", 0), LossyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]


class LossyHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, path, _ = line.decode().split(" ", 2)
            headers = {}
            while (h := self.rfile.readline()) not in (b"\r\n", b""):
                k, v = h.decode().split(":", 1)
                headers[k.strip()] = v.strip()
            body = self.rfile.read(int(headers.get("Content-Length", 0)))
            up = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
            up.request(method, path, body=body or None, headers=headers)
            r = up.getresponse()
            data = r.read()
            up.close()
            if method == "POST" and path == self.server.lose and not self.server.lost:
                self.server.lost += 1
                return                      # the answer never arrives
            out = [f"HTTP/1.1 {r.status} {r.reason}"]
            out += [f"{k}: {v}" for k, v in r.getheaders()
                    if k.lower() not in ("content-length", "connection", "transfer-encoding")]
            out += [f"Content-Length: {len(data)}", "", ""]
            self.wfile.write("\r\n".join(out).encode() + data)


def test_lost_answer_creates_once(daemon, tmp_path):
    """A create whose answer is lost is sent again with the same
    Idempotency-Key: the server replays its answer, one object exists."""
    api = daemon.api()
    proxy = LossyProxy(daemon.port, "/v1/tenants")
    try:
        f = write(tmp_path, "lossy.yaml", """\
            tenants:
              - name: lossy
                networks:
                  - {name: n, subnet: 10.5.0.0/24, switches: [s]}
            """)
        env_daemon = type("D", (), {"port": proxy.port})
        p = ok(skyctl(env_daemon, "apply", "-f", f, "--no-wait"))
        assert proxy.lost == 1
        assert "Apply complete: 3 created" in p.stdout
        # Without the key the second POST would have met 409 (the name is
        # taken).  The token was in the lost answer; a replay never shows it.
        assert "tenant lossy: its token is not shown" in p.stdout
        assert "lossy" in items(api, "/v1/tenants")
        ok(skyctl(daemon, "plan", "-f", f))
        ok(skyctl(daemon, "destroy", "-f", f))
    finally:
        proxy.shutdown()
        proxy.server_close()


BASE = """\
    name: chg
    clouds:
      - {name: chg-c1, provider: aws, region: r1, jurisdiction: DE, kind: public}
      - {name: chg-c2, provider: gcp, region: r2, jurisdiction: US, kind: public}
    cloud_links:
      - {a: chg-c2, b: chg-c1, cost: 5}
    hosts:
      - {name: chg-gw, cloud: chg-c1, role: gateway, tunnel_ip: 198.18.7.1,
         public_ip: 198.19.7.1, ovsdb: "unix:/nonexistent/chg-gw.sock",
         openflow: "unix:/nonexistent/chg-gw.mgmt"}
      - {name: chg-h1, cloud: chg-c1, tunnel_ip: 198.18.7.2, capacity: 4,
         ovsdb: "unix:/nonexistent/chg-h1.sock", openflow: "unix:/nonexistent/chg-h1.mgmt"}
    tenants:
      - name: chg
        networks:
          - name: net
            subnet: 10.1.0.0/24
            switches: [a, b]
            links: [a--b]
            vms:
              - {name: web, switch: a, mac: "02:00:00:00:01:01", ip: 10.1.0.1,
                 placement: {host: chg-h1}}
              - {name: db, switch: b, mac: "02:00:00:00:01:02", ip: 10.1.0.2,
                 placement: {host: chg-h1}}
"""


def test_changed_file_applies_only_the_difference(daemon, tmp_path):
    api = daemon.api()
    f = write(tmp_path, "chg.yaml", BASE)
    ok(skyctl(daemon, "apply", "-f", f, "--no-wait"))
    net = "/v1/tenants/chg/networks/net"
    before = {**{f"vm {k}": v for k, v in items(api, f"{net}/vms").items()},
              **{f"switch {k}": v for k, v in items(api, f"{net}/switches").items()},
              **{f"host {k}": v for k, v in items(api, "/v1/hosts").items()},
              "network": items(api, "/v1/tenants/chg/networks")["net"]}

    changed = (BASE.replace("ip: 10.1.0.1,", "ip: 10.1.0.5,")
               .replace("capacity: 4", "capacity: 6")
               .replace("switches: [a, b]", "switches: [a, b, c]")
               .replace("cost: 5}", "cost: 7, rtt_ms: 40}"))
    f2 = write(tmp_path, "chg.yaml", changed)
    p = ok(skyctl(daemon, "plan", "-f", f2), 2)
    assert p.stdout == textwrap.dedent("""\
          ~ cloud-link chg-c1--chg-c2
              cost: 5 -> 7
              rtt_ms: null -> 40
          ~ host chg-h1
              capacity: 4 -> 6
          + switch chg/net/c
              labels = {"skyctl.managed-by":"chg"}
          ~ vm chg/net/web
              ip: "10.1.0.1" -> "10.1.0.5"
        Plan: 1 to create, 3 to change, 0 to delete.
        """)
    p = ok(skyctl(daemon, "apply", "-f", f2, "--no-wait"))
    assert "Apply complete: 1 created, 3 changed, 0 deleted." in p.stdout
    after = {**{f"vm {k}": v for k, v in items(api, f"{net}/vms").items()},
             **{f"switch {k}": v for k, v in items(api, f"{net}/switches").items()},
             **{f"host {k}": v for k, v in items(api, "/v1/hosts").items()},
             "network": items(api, "/v1/tenants/chg/networks")["net"]}
    # Patched in place (same ids); everything else untouched.
    assert after["vm web"]["id"] == before["vm web"]["id"]
    assert after["vm web"]["ip"] == "10.1.0.5"
    assert after["vm web"]["status"]["generation"] == 2
    assert after["host chg-h1"]["capacity"] == 6
    for k in ("vm db", "switch a", "switch b", "host chg-gw", "network"):
        assert after[k]["updated_at"] == before[k]["updated_at"], k
    assert "switch c" in after
    link = items(api, "/v1/cloud-links")["chg-c1--chg-c2"]
    assert (link["cost"], link["rtt_ms"]) == (7, 40)
    ok(skyctl(daemon, "plan", "-f", f2))

    # A change the API cannot make in place: the subnet of a network with
    # VMs.  The plan says -/+ for the network and everything in it.
    f3 = write(tmp_path, "chg.yaml", changed.replace("10.1.0.", "10.2.0."))
    p = ok(skyctl(daemon, "plan", "-f", f3), 2)
    assert "-/+ network chg/net (forces replacement)\n      subnet: \"10.1.0.0/24\" -> " \
        "\"10.2.0.0/24\"" in p.stdout
    assert "-/+ vm chg/net/web (its network is replaced)" in p.stdout
    assert "Plan: 7 to create, 0 to change, 7 to delete." in p.stdout
    old_id = after["network"]["id"]
    ok(skyctl(daemon, "apply", "-f", f3, "--no-wait"))
    net_after = items(api, "/v1/tenants/chg/networks")["net"]
    assert net_after["id"] != old_id and net_after["subnet"] == "10.2.0.0/24"
    assert items(api, f"{net}/vms")["web"]["ip"] == "10.2.0.5"
    ok(skyctl(daemon, "plan", "-f", f3))
    ok(skyctl(daemon, "destroy", "-f", f3))
    assert "chg-c1" not in items(api, "/v1/clouds")


ERR = """\
    name: err
    clouds:
      - {name: err-c, provider: aws, region: r1, jurisdiction: DE, kind: public}
    hosts:
      - {name: err-h, cloud: err-c, tunnel_ip: 198.18.8.2, ovsdb: "unix:/nonexistent/e.sock",
         openflow: "unix:/nonexistent/e.mgmt"}
    tenants:
      - name: err
        networks:
          - name: net
            subnet: 10.3.0.0/24
            switches: [a]
            vms:
              - {name: v1, switch: a, mac: "02:00:00:00:03:01", ip: 10.3.0.1,
                 placement: {host: err-h}}
              - {name: v2, switch: SWITCH, mac: MAC, ip: 10.3.0.2, placement: {host: err-h}}
"""


def test_errors_stop_and_a_fixed_file_finishes(daemon, tmp_path):
    api = daemon.api()
    vms = "/v1/tenants/err/networks/net/vms"
    # A shape error: nothing is sent at all.
    f = write(tmp_path, "err.yaml", ERR.replace("ip: 10.3.0.2,", "ip: 10.3.0.2, colour: red,"))
    p = ok(skyctl(daemon, "apply", "-f", f, "--no-wait"), 1)
    assert "tenants[0].networks[0].vms[1]: unknown key 'colour'" in p.stderr
    assert "err-c" not in items(api, "/v1/clouds")

    # A VM on a switch that does not exist: the server's problem, with its
    # title, detail and field, on the object it is about.  What came before
    # the network's batch is in place; the batch itself is all or nothing.
    f = write(tmp_path, "err.yaml", ERR.replace("SWITCH", "nope").replace("MAC", "'02:00:00:00:03:02'"))
    p = ok(skyctl(daemon, "apply", "-f", f, "--no-wait"), 1)
    assert "POST /v1/tenants/err/networks/net/batch: 422" in p.stderr
    assert ("  vm err/net/v2: 400 A field's value is not valid: "
            "no switch 'nope' in this network (field: switch)") in p.stderr
    assert "net" in items(api, "/v1/tenants/err/networks")
    assert set(items(api, vms)) == set()
    assert set(items(api, "/v1/tenants/err/networks/net/switches")) == set()
    # A bad MAC, the same way; now the plan, too, refuses it: the server
    # checks the network's batch as a dry run.
    f = write(tmp_path, "err.yaml", ERR.replace("SWITCH", "a").replace("MAC", "zz:00"))
    p = ok(skyctl(daemon, "apply", "-f", f, "--no-wait"), 1)
    assert "  vm err/net/v2: 400" in p.stderr and "(field: mac)" in p.stderr
    p = ok(skyctl(daemon, "plan", "-f", f), 1)
    assert "Plan: 3 to create, 0 to change, 0 to delete." in p.stdout
    assert "the server refuses this plan" in p.stderr and "(field: mac)" in p.stderr
    f = write(tmp_path, "err.yaml", ERR.replace("SWITCH", "a").replace("MAC", "'02:00:00:00:03:02'"))
    p = ok(skyctl(daemon, "plan", "-f", f), 2)
    p = ok(skyctl(daemon, "apply", "-f", f, "--no-wait"))
    assert "3 created, 0 changed" in p.stdout
    assert set(items(api, vms)) == {"v1", "v2"}
    ok(skyctl(daemon, "plan", "-f", f))
    ok(skyctl(daemon, "destroy", "-f", f))
    # JSON files are read too, and a syntax error names its line.
    fj = write(tmp_path, "bad.json", '{"clouds": [\n  {"name": "x",}\n]}\n')
    p = ok(skyctl(daemon, "plan", "-f", fj), 1)
    assert "bad.json: line 2" in p.stderr
    p = ok(skyctl(daemon, "plan", "-f", str(tmp_path / "missing.yaml")), 1)
    assert "missing.yaml: No such file or directory" in p.stderr


def test_plan_refuses_what_apply_would_refuse(daemon, tmp_path):
    """An IP outside the network's subnet (10.7.0.300 is no address at all)
    passes every check skyctl can make on its own; the server's dry run of
    the network's batch refuses it, so plan fails as apply would, and
    nothing is written."""
    api = daemon.api()
    good = ERR.replace("name: err", "name: ipc").replace("err-", "ipc-").replace(
        "- name: err", "- name: ipc").replace("10.3.0", "10.7.0").replace(
        "198.18.8.2", "198.18.9.2").replace("SWITCH", "a").replace(
        "MAC", "'02:00:00:00:09:02'").replace("02:00:00:00:03:01", "02:00:00:00:09:01")
    f = write(tmp_path, "ipc.yaml", good)
    ok(skyctl(daemon, "apply", "-f", f, "--no-wait"))
    vms = "/v1/tenants/ipc/networks/net/vms"
    before = items(api, vms)
    bad = write(tmp_path, "ipc.yaml", good.replace("ip: 10.7.0.2,", "ip: 10.7.0.300,")
                .replace("switches: [a]", "switches: [a, b]"))
    p = ok(skyctl(daemon, "plan", "-f", bad), 1)
    assert "~ vm ipc/net/v2" in p.stdout and '"10.7.0.2" -> "10.7.0.300"' in p.stdout
    assert "the server refuses this plan" in p.stderr
    assert "  vm ipc/net/v2: 400 A field's value is not valid: ip must be an IPv4 " \
        "address (field: ip)" in p.stderr, p.stderr
    p = ok(skyctl(daemon, "apply", "-f", bad, "--no-wait"), 1)
    assert "(field: ip)" in p.stderr
    # All or nothing: the new switch of the same batch was not made either.
    assert items(api, vms) == before
    assert set(items(api, "/v1/tenants/ipc/networks/net/switches")) == {"a"}
    ok(skyctl(daemon, "destroy", "-f", f))


PRUNE = """\
    name: prn
    clouds:
      - {name: prn-c, provider: aws, region: r1, jurisdiction: DE, kind: public}
    hosts:
      - {name: prn-h, cloud: prn-c, tunnel_ip: 198.18.6.2, ovsdb: "unix:/nonexistent/p.sock",
         openflow: "unix:/nonexistent/p.mgmt"}
    tenants:
      - name: prn
        networks:
          - name: net
            subnet: 10.4.0.0/24
            switches: [s1, s2]
            links: [s1--s2]
            vms:
              - {name: v1, switch: s1, mac: "02:00:00:00:04:01", ip: 10.4.0.1,
                 placement: {host: prn-h}}
              - {name: v2, switch: s2, mac: "02:00:00:00:04:02", ip: 10.4.0.2,
                 placement: {host: prn-h}}
"""


def test_prune_deletes_only_what_skyctl_made(daemon, tmp_path):
    api = daemon.api()
    net = "/v1/tenants/prn/networks/net"
    f = write(tmp_path, "prn.yaml", PRUNE)
    ok(skyctl(daemon, "apply", "-f", f, "--no-wait"))
    # Made by hand, in the same network: never skyctl's to delete.
    st, _, body = api.post(f"{net}/switches", {"name": "hand"})
    assert st == 201, body
    st, _, body = api.post(f"{net}/vms", {"name": "byhand", "switch": "hand",
                                          "mac": "02:00:00:00:04:09", "ip": "10.4.0.9",
                                          "placement": {"host": "prn-h"}})
    assert st == 201, body

    smaller = (PRUNE.replace("switches: [s1, s2]", "switches: [s1]")
               .replace("            links: [s1--s2]\n", "")
               .split("              - {name: v2")[0])
    f2 = write(tmp_path, "prn.yaml", smaller)
    # Without --prune: nothing to do, and the plan says what it keeps.
    p = ok(skyctl(daemon, "plan", "-f", f2))
    assert "note: vm prn/net/v2: no longer in the file, kept (--prune deletes it)" in p.stdout
    assert "note: switch prn/net/s2: no longer in the file, kept" in p.stdout
    assert "hand" not in p.stdout
    ok(skyctl(daemon, "apply", "-f", f2, "--no-wait"))
    assert set(items(api, f"{net}/vms")) == {"v1", "v2", "byhand"}

    p = ok(skyctl(daemon, "plan", "--prune", "-f", f2), 2)
    assert "Plan: 0 to create, 0 to change, 3 to delete." in p.stdout
    for line in ("  - vm prn/net/v2", "  - link prn/net/s1--s2", "  - switch prn/net/s2"):
        assert line in p.stdout
    p = ok(skyctl(daemon, "apply", "--prune", "-f", f2, "--no-wait"))
    assert "3 deleted" in p.stdout
    assert set(items(api, f"{net}/vms")) == {"v1", "byhand"}
    assert set(items(api, f"{net}/switches")) == {"s1", "hand"}
    ok(skyctl(daemon, "plan", "--prune", "-f", f2))

    # Dropping the whole tenant from the file: its network still holds a VM
    # and a switch skyctl did not make, so the network and tenant stay.
    f3 = write(tmp_path, "prn-notenants.yaml", smaller.split("    tenants:")[0])
    p = ok(skyctl(daemon, "apply", "--prune", "-f", f3, "--no-wait"))
    assert "- vm prn/net/v1 deleted" in p.stdout and "- switch prn/net/s1 deleted" in p.stdout
    assert "network prn/net: kept, it still has 2 switches, links or VMs that stay" in p.stdout
    assert "tenant prn: kept" in p.stdout
    assert set(items(api, f"{net}/vms")) == {"byhand"}
    # Destroy leaves them too, and the host that still carries byhand.
    p = ok(skyctl(daemon, "destroy", "-f", f2))
    assert "host prn-h: kept, it still has 1 VMs that stay" in p.stdout
    assert set(items(api, f"{net}/vms")) == {"byhand"}
    assert "prn-h" in items(api, "/v1/hosts")
    assert api.delete(f"{net}/vms/byhand")[0] == 204
    ok(skyctl(daemon, "destroy", "-f", f2))
    assert "prn-h" not in items(api, "/v1/hosts")
    assert "prn" in items(api, "/v1/tenants")       # still not skyctl's: kept
    assert api.delete(f"{net}/switches/hand")[0] == 204
    p = ok(skyctl(daemon, "destroy", "-f", f2))
    assert "prn" not in items(api, "/v1/tenants"), p.stdout


def test_objects_made_elsewhere_are_updated_never_deleted(daemon, tmp_path):
    api = daemon.api()
    st, _, body = api.post("/v1/clouds", {"name": "own-c", "provider": "aws", "region": "r0",
                                          "jurisdiction": "DE", "kind": "public",
                                          "labels": {"team": "net"}})
    assert st == 201, body
    f = write(tmp_path, "own.yaml", """\
        clouds:
          - {name: own-c, provider: aws, region: r1, jurisdiction: DE, kind: public}
        hosts:
          - {name: own-h, cloud: own-c, tunnel_ip: 198.18.5.2, ovsdb: "unix:/nonexistent/o.sock",
             openflow: "unix:/nonexistent/o.mgmt"}
        """)
    p = ok(skyctl(daemon, "plan", "-f", f), 2)
    assert '  ~ cloud own-c\n      region: "r0" -> "r1"\n' in p.stdout
    ok(skyctl(daemon, "apply", "-f", f, "--no-wait"))
    cloud = items(api, "/v1/clouds")["own-c"]
    assert cloud["region"] == "r1" and cloud["labels"] == {"team": "net"}
    # The file's id defaults to its base name.
    assert items(api, "/v1/hosts")["own-h"]["labels"] == {"skyctl.managed-by": "own"}
    p = ok(skyctl(daemon, "destroy", "-f", f))
    assert "- host own-h deleted" in p.stdout
    assert "note: cloud own-c: kept, not created by this file" in p.stdout
    assert "own-c" in items(api, "/v1/clouds")
    assert api.delete("/v1/clouds/own-c")[0] == 204


def test_wait_reports_objects_in_error(pg, tmp_path):
    """With the reconciler on, a host whose OVSDB cannot be reached is in
    error: apply fails naming it (and what depends on it) with the detail."""
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True).start()
    try:
        f = write(tmp_path, "bad.yaml", """\
            clouds:
              - {name: svk-bad, provider: aws, region: r1, jurisdiction: DE, kind: public}
            hosts:
              - {name: svk-bad-gw, cloud: svk-bad, role: gateway, tunnel_ip: 198.18.4.1,
                 public_ip: 198.19.4.1, datapath: netdev,
                 ovsdb: "unix:/nonexistent/svk-bad/db.sock",
                 openflow: "unix:/nonexistent/svk-bad/br-sky.mgmt"}
            """)
        p = ok(skyctl(d, "apply", "-f", f, "--timeout", "60"), 1)
        print(p.stdout[p.stdout.index("Plan:"):], p.stderr)
        assert "failed:" in p.stderr
        assert "host svk-bad-gw: error: " in p.stderr
        assert "/nonexistent/svk-bad/db.sock" in p.stderr or "No such file" in p.stderr
        p = ok(skyctl(d, "status"), 2)
        assert "error" in p.stdout and "svk-bad-gw" in p.stdout
        ok(skyctl(d, "destroy", "-f", f))
    finally:
        assert d.stop() == 0, d.read_log()


@pytest.fixture
def one_cloud(tmp_path):
    state = str(tmp_path / "cloudsim")
    prefix = f"svk{os.getpid() % 1000}"
    spec = {"prefix": prefix,
            "clouds": [{"name": "svk-c", "hosts": [
                {"name": "svk-gw", "tunnel_ip": "198.18.9.1", "public_ip": "198.19.9.1"},
                {"name": "svk-h1", "tunnel_ip": "198.18.9.2"}]}],
            "vms": [{"name": "svk-v1", "host": "svk-h1", "iface": "svkv1",
                     "mac": "02:00:00:00:09:01", "ip": "10.9.0.1"},
                    {"name": "svk-v2", "host": "svk-h1", "iface": "svkv2",
                     "mac": "02:00:00:00:09:02", "ip": "10.9.0.2"}]}
    with cloudsim.Sim(spec, state) as s:
        yield s


def test_wait_until_realized_on_open_vswitch(pg, tmp_path, one_cloud):
    sim = one_cloud

    def host(name, tip, pub=None):
        h = {"name": name, "cloud": "svk-c", "tunnel_ip": tip, "datapath": "netdev",
             "ovsdb": f"unix:{sim.hdir(name)}/db.sock",
             "openflow": f"unix:{sim.hdir(name)}/br-sky.mgmt"}
        if pub:
            h.update(role="gateway", public_ip=pub)
        return h
    doc = {"name": "svk",
           "clouds": [{"name": "svk-c", "provider": "other", "region": "lab",
                       "jurisdiction": "PT", "kind": "private"}],
           "hosts": [host("svk-gw", "198.18.9.1", "198.19.9.1"), host("svk-h1", "198.18.9.2")],
           "tenants": [{"name": "svk", "networks": [{
               "name": "net", "subnet": "10.9.0.0/24", "switches": ["s"],
               "vms": [{"name": v["name"], "switch": "s", "mac": v["mac"], "ip": v["ip"],
                        "iface": v["iface"], "placement": {"host": v["host"]}}
                       for v in sim.spec["vms"]]}]}]}
    f = tmp_path / "svk.json"
    f.write_text(json.dumps(doc))
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True).start()
    try:
        p = ok(skyctl(d, "apply", "-f", str(f), "--timeout", "90"))
        print(p.stdout[p.stdout.index("Plan:"):])
        # Whether a "waiting:" line shows depends on how fast the reconciler
        # is (it may finish before skyctl's first poll); what counts is that
        # apply returned only once everything was realized.
        assert "8/8 realized" in p.stdout
        p = ok(skyctl(d, "status", "-f", str(f)))
        assert "8 objects: 8 realized, 0 pending, 0 error" in p.stdout
        ping = cloudsim.sh("ping", "-c", "3", "-W", "1", "10.9.0.2", ns=sim.vm_ns("svk-v1"),
                           check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        ok(skyctl(d, "destroy", "-f", str(f)))
    finally:
        assert d.stop() == 0, d.read_log()


CTL = """\
    name: ctl
    tenants:
      - name: ctl
        controller_allow: [192.0.2.0/24]
        networks:
          - name: net
            subnet: 10.5.0.0/24
            switches:
              - {name: s, controller: "tcp:192.0.2.10:6653"}
              - plain
"""


def test_tenant_controllers_in_the_file(daemon, tmp_path):
    """A switch's controller and fail_mode, and the tenant's controller_allow
    (the admin's), are applied and changed in place like any field."""
    api = daemon.api()
    ok(skyctl(daemon, "apply", "-f", write(tmp_path, "ctl.yaml", CTL), "--no-wait"))
    assert items(api, "/v1/tenants")["ctl"]["controller_allow"] == ["192.0.2.0/24"]
    s = items(api, "/v1/tenants/ctl/networks/net/switches")
    assert (s["s"]["controller"], s["s"]["fail_mode"]) == ("tcp:192.0.2.10:6653", "secure")
    assert s["plain"]["controller"] is None
    changed = CTL.replace('"tcp:192.0.2.10:6653"}', '"ssl:192.0.2.11:6653", '
                          'fail_mode: standalone}')
    f2 = write(tmp_path, "ctl.yaml", changed)
    p = ok(skyctl(daemon, "plan", "-f", f2), 2)
    assert 'controller: "tcp:192.0.2.10:6653" -> "ssl:192.0.2.11:6653"' in p.stdout
    assert 'fail_mode: "secure" -> "standalone"' in p.stdout
    ok(skyctl(daemon, "apply", "-f", f2, "--no-wait"))
    s = items(api, "/v1/tenants/ctl/networks/net/switches")["s"]
    assert (s["controller"], s["fail_mode"]) == ("ssl:192.0.2.11:6653", "standalone")
    ok(skyctl(daemon, "plan", "-f", f2))
    # Outside the list: the API's refusal, named.
    p = ok(skyctl(daemon, "apply", "-f", write(tmp_path, "ctl.yaml", changed.replace(
        "192.0.2.11", "198.51.100.1")), "--no-wait"), 1)
    assert "not inside the tenant's controller_allow (field: controller)" in p.stderr
    ok(skyctl(daemon, "destroy", "-f", f2))


BW = """\
    name: bw
    clouds:
      - {name: bw-c1, provider: aws, region: r1, jurisdiction: DE, kind: public}
      - {name: bw-c2, provider: gcp, region: r2, jurisdiction: US, kind: public}
    cloud_links:
      - {a: bw-c1, b: bw-c2, cost: 1, bandwidth_mbps: 100}
    hosts:
      - {name: bw-h, cloud: bw-c1, tunnel_ip: 198.18.9.2, ovsdb: "unix:/nonexistent/b.sock",
         openflow: "unix:/nonexistent/b.mgmt"}
    tenants:
      - name: bw
        wan_limit_mbps: 30
        networks:
          - name: net
            subnet: 10.6.0.0/24
            switches: [s]
            vms:
              - {name: v, switch: s, mac: "02:00:00:00:06:01", ip: 10.6.0.1,
                 placement: {host: bw-h}, rate_mbps: 10}
"""


def test_bandwidth_fields_in_the_file(daemon, tmp_path):
    """A tenant's WAN cap and a VM's rate are applied and changed in place;
    a cap the cloud link cannot carry is the API's 409, named."""
    api = daemon.api()
    f = write(tmp_path, "bw.yaml", BW)
    ok(skyctl(daemon, "apply", "-f", f, "--no-wait"))
    assert items(api, "/v1/tenants")["bw"]["wan_limit_mbps"] == 30
    v = items(api, "/v1/tenants/bw/networks/net/vms")["v"]
    assert (v["rate_mbps"], v["burst_kb"]) == (10, None)
    ok(skyctl(daemon, "plan", "-f", f))
    changed = BW.replace("wan_limit_mbps: 30", "wan_limit_mbps: 20").replace(
        "rate_mbps: 10}", "rate_mbps: 15, burst_kb: 300}")
    f2 = write(tmp_path, "bw.yaml", changed)
    p = ok(skyctl(daemon, "plan", "-f", f2), 2)
    assert "wan_limit_mbps: 30 -> 20" in p.stdout
    assert "rate_mbps: 10 -> 15" in p.stdout and "burst_kb: null -> 300" in p.stdout
    ok(skyctl(daemon, "apply", "-f", f2, "--no-wait"))
    assert items(api, "/v1/tenants")["bw"]["wan_limit_mbps"] == 20
    v = items(api, "/v1/tenants/bw/networks/net/vms")["v"]
    assert (v["rate_mbps"], v["burst_kb"]) == (15, 300)
    ok(skyctl(daemon, "plan", "-f", f2))
    p = ok(skyctl(daemon, "apply", "-f", write(tmp_path, "bw.yaml", changed.replace(
        "wan_limit_mbps: 20", "wan_limit_mbps: 101")), "--no-wait"), 1)
    assert "cloud link bw-c1/bw-c2 (field: wan_limit_mbps)" in p.stderr, p.stderr
    ok(skyctl(daemon, "destroy", "-f", f2))
