"""The change log (migrations/005_change_log.sql, db/changelog.c) on a real
PostgreSQL: what a reader gets, in commit order, that a transaction
that commits late is read once, after it commits, never skipped, and that
the VMs a read names come with it as its own snapshot has them."""

import json
import os
import subprocess
import time

import pytest

from conftest import BUILD

CLOUD = {"provider": "aws", "region": "r", "jurisdiction": "DE", "kind": "public"}


def read(url, watermark=None, mode="read"):
    args = [os.path.join(BUILD, "tests", "changelog_driver"), url, mode]
    if watermark:
        args.append(watermark)
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


class Session:
    """A psql session held open, to keep a transaction in flight."""

    def __init__(self, url):
        self.p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def send(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()

    def close(self):
        out, err = self.p.communicate(timeout=30)
        assert self.p.returncode == 0, err


@pytest.fixture(scope="module")
def url(daemon):
    return daemon.args[daemon.args.index("--db") + 1]


def test_first_read_asks_for_a_reload(url):
    r = read(url)
    assert r["reload"] and r["changes"] == [] and r["watermark"]
    again = read(url, r["watermark"])
    assert not again["reload"]


def test_desired_changes_are_logged_and_status_writes_are_not(daemon, url, pg):
    api = daemon.api()
    w = read(url)["watermark"]
    st, _, c = api.post("/v1/clouds", {"name": "cl-a", **CLOUD})
    assert st == 201
    assert api.patch("/v1/clouds/cl-a", {"region": "r2"})[0] == 200
    db = url.rsplit("/", 1)[1]
    # The reconciler's status write-back changes no generation.
    pg.psql(f"UPDATE cloud SET state = 'realized' WHERE id = '{c['id']}'", db=db)
    assert api.delete("/v1/clouds/cl-a")[0] == 204
    r = read(url, w)
    assert [(x["kind"], x["id"], x["op"]) for x in r["changes"]] == [
        ("cloud", c["id"], "create"), ("cloud", c["id"], "update"),
        ("cloud", c["id"], "delete")]
    assert read(url, r["watermark"])["changes"] == []


def test_network_objects_carry_their_network(daemon, url):
    api = daemon.api()
    assert api.post("/v1/tenants", {"name": "cl-t"})[0] == 201
    w = read(url)["watermark"]
    st, _, n = api.post("/v1/tenants/cl-t/networks", {"name": "n", "subnet": "10.0.0.0/24"})
    assert st == 201
    st, _, s = api.post("/v1/tenants/cl-t/networks/n/switches", {"name": "s"})
    assert st == 201
    r = read(url, w)
    assert [(x["kind"], x["id"], x["network"]) for x in r["changes"]] == [
        ("network", n["id"], n["id"]), ("vswitch", s["id"], n["id"])]


def test_a_late_commit_is_read_after_it_commits(daemon, url):
    api = daemon.api()
    w0 = read(url)["watermark"]
    late = Session(url)
    # The late transaction takes its xid and its seq first...
    late.send("BEGIN; INSERT INTO cloud (name, provider, region, jurisdiction, kind)"
              " VALUES ('cl-late', 'aws', 'r', 'DE', 'public');")
    time.sleep(0.5)
    # ... an API write takes a later seq and commits first.
    st, _, early = api.post("/v1/clouds", {"name": "cl-early", **CLOUD})
    assert st == 201
    r1 = read(url, w0)
    assert [x["id"] for x in r1["changes"]] == [early["id"]]
    late.send("COMMIT;")
    late.close()
    r2 = read(url, r1["watermark"])
    st, _, got = api.get("/v1/clouds/cl-late")
    assert st == 200
    assert [(x["id"], x["op"]) for x in r2["changes"]] == [(got["id"], "create")]
    assert r2["changes"][0]["seq"] < r1["changes"][0]["seq"]     # not seq order
    assert read(url, r2["watermark"])["changes"] == []


def test_pruning_sends_an_old_reader_to_a_reload(daemon, url):
    api = daemon.api()
    old = read(url)["watermark"]
    assert api.post("/v1/clouds", {"name": "cl-prune", **CLOUD})[0] == 201
    time.sleep(1.1)
    out = subprocess.run([os.path.join(BUILD, "tests", "changelog_driver"), url, "prune",
                          "1"], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout)["pruned"] >= 1
    r = read(url, old)
    assert r["reload"] and r["changes"] == []
    assert not read(url, r["watermark"])["reload"]


def test_the_vms_a_read_names_come_with_it(daemon, url):
    api = daemon.api()
    assert api.post("/v1/clouds", {"name": "cl-v", **CLOUD})[0] == 201
    st, _, h = api.post("/v1/hosts", {"name": "cl-v-h", "cloud": "cl-v",
                                      "tunnel_ip": "198.18.99.1",
                                      "ovsdb": "tcp:127.0.0.1:1",
                                      "controller": "tcp:127.0.0.1:6653"})
    assert st == 201, h
    assert api.post("/v1/tenants", {"name": "cl-vt"})[0] == 201
    n = "/v1/tenants/cl-vt/networks/n"
    assert api.post("/v1/tenants/cl-vt/networks", {"name": "n", "subnet": "10.9.0.0/24"})[0] == 201
    assert api.post(f"{n}/switches", {"name": "s"})[0] == 201
    w = read(url, mode="read-vms")["watermark"]
    body = {"switch": "s", "placement": {"host": "cl-v-h"}}
    st, _, a = api.post(f"{n}/vms", {"name": "a", "ip": "10.9.0.1", "mac": "02:00:00:00:09:01",
                                  **body})
    assert st == 201, a
    st, _, b = api.post(f"{n}/vms", {"name": "b", "ip": "10.9.0.2", "mac": "02:00:00:00:09:02",
                                  **body})
    assert st == 201, b
    assert api.patch(f"{n}/vms/a", {"ip": "10.9.0.11"})[0] == 200
    r = read(url, w, mode="read-vms")
    assert [(x["id"], x["op"]) for x in r["changes"]] == [
        (a["id"], "create"), (b["id"], "create"), (a["id"], "update")]
    # Each VM once, sorted by id, as it is now (a's second address), its
    # references resolved in the model the driver loaded.
    assert r["vms"] == sorted([
        {"id": a["id"], "name": "a", "ip": "10.9.0.11", "host": "cl-v-h"},
        {"id": b["id"], "name": "b", "ip": "10.9.0.2", "host": "cl-v-h"}],
        key=lambda v: v["id"]) and not r["unresolved"]
    # A VM deleted is named by the log and comes with no row: it is gone.
    assert api.delete(f"{n}/vms/b")[0] == 204
    r2 = read(url, r["watermark"], mode="read-vms")
    assert [(x["id"], x["op"]) for x in r2["changes"]] == [(b["id"], "delete")]
    assert r2["vms"] == [] and not r2["unresolved"]
    # The plain read carries no VMs.
    assert "vms" not in read(url, w)
