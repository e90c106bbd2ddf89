"""The change log (migrations/005_change_log.sql, db/changelog.c) on a real
PostgreSQL: what a reader gets, in commit order, and that a transaction
that commits late is read once, after it commits, never skipped."""

import json
import os
import subprocess
import time

import pytest

from conftest import BUILD

CLOUD = {"provider": "aws", "region": "r", "jurisdiction": "DE", "kind": "public"}


def read(url, watermark=None):
    args = [os.path.join(BUILD, "tests", "changelog_driver"), url, "read"]
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
