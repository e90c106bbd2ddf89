"""Reads from the snapshot, read-your-writes (api/readsnap.h).

GETs of clouds, hosts and tenants are answered from a snapshot of their
representations when it is known to hold what the reader needs; every
write answers Skyvisor-Seq, a read may send Skyvisor-Min-Seq, and a read
the snapshot cannot serve goes to PostgreSQL.  Against real skyvisords
sharing one real PostgreSQL: the position a write answers, a read through
another instance that names it, the fallbacks (a position the snapshot has
not seen, a kind it does not hold, a malformed header), and that a read
from the snapshot answers the same body and ETag as one from the database,
also after a status write-back the API did not make.
"""

import re
import time

import pytest

from conftest import Skyvisord, assert_problem, ok

# No snapshot sees a transaction that has not begun: a read naming this
# always goes to PostgreSQL.
FUTURE = {"Skyvisor-Min-Seq": "9223372036854775807"}
CLOUD = {"provider": "aws", "region": "eu-central-1", "jurisdiction": "DE",
         "kind": "public"}


def counters(d):
    """skyvisor_read_snapshot_total by its labels, from /metrics."""
    st, _, text = d.api().get("/metrics")
    assert st == 200
    out = {}
    for m in re.finditer(r'^skyvisor_read_snapshot_total\{answer="(\w+)"(?:,why="([\w-]+)")?\} (\d+)$',
                         text, re.M):
        out[m.group(2) or m.group(1)] = int(m.group(3))
    return out


def wait_for(pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture(scope="module")
def pair(pg):
    url = pg.url(pg.fresh_db())
    a = Skyvisord(db_url=url).start()
    b = Skyvisord(db_url=url).start()
    yield url, a, b
    for d in (a, b):
        assert d.stop() == 0, d.read_log()


def test_every_write_answers_its_position(pair):
    _, a, _ = pair
    api = a.api()
    st, h, c = api.post("/v1/clouds", {**CLOUD, "name": "seq-1"})
    assert st == 201, c
    first = int(h["skyvisor-seq"])
    st, h2, _ = api.patch("/v1/clouds/seq-1", {"region": "eu-west-1"})
    assert st == 200
    second = int(h2["skyvisor-seq"])
    assert second > first > 0
    st, h3, _ = api.delete("/v1/clouds/seq-1")
    assert st == 204 and int(h3["skyvisor-seq"]) > second
    # A refused write committed nothing and names no position.
    st, h4, _ = api.post("/v1/clouds", {**CLOUD, "name": "Bad Name"})
    assert st == 400 and "skyvisor-seq" not in h4
    # Reads name none either.
    st, h5, _ = api.get("/v1/clouds")
    assert st == 200 and "skyvisor-seq" not in h5


def test_read_your_writes_through_another_instance(pair):
    """A write on one instance, read back at once on the other with the
    position it answered: the read always shows it, whether the other's
    snapshot had caught up or the read went to PostgreSQL."""
    _, a, b = pair
    before = counters(b)
    for i in range(30):
        st, h, made = a.api().post("/v1/clouds", {**CLOUD, "name": f"ryw-{i}"})
        assert st == 201, made
        seq = {"Skyvisor-Min-Seq": h["skyvisor-seq"]}
        st, hg, got = b.api().get(f"/v1/clouds/ryw-{i}", headers=seq)
        assert st == 200 and got == made and hg["etag"] == h["etag"]
        st, _, page = b.api().get("/v1/clouds?limit=1000", headers=seq)
        assert made in page["items"]
        st, h, patched = a.api().patch(f"/v1/clouds/ryw-{i}", {"labels": {"n": str(i)}})
        assert st == 200
        st, hg, got = b.api().get(f"/v1/clouds/{made['id']}",
                                  headers={"Skyvisor-Min-Seq": h["skyvisor-seq"]})
        assert st == 200 and got == patched and hg["etag"] == h["etag"]
    after = counters(b)
    answered = sum(after.values()) - sum(before.values())
    assert answered >= 90, (before, after)


def test_this_instances_writes_are_seen_without_min_seq(pair):
    """A write this instance acknowledged is in every later read of it,
    from any client, with no header: the snapshot is not used until it
    holds it."""
    _, a, _ = pair
    for i in range(20):
        st, _, made = a.api().post("/v1/clouds", {**CLOUD, "name": f"local-{i}"})
        assert st == 201
        st, _, page = a.api().get("/v1/clouds?limit=1000")
        assert made in page["items"]
        ok(a.api().delete(f"/v1/clouds/local-{i}"), 204)
        st, _, page = a.api().get("/v1/clouds?limit=1000")
        assert all(c["name"] != f"local-{i}" for c in page["items"])


def test_what_the_snapshot_cannot_serve_goes_to_the_database(pair):
    _, a, _ = pair
    ok(a.api().post("/v1/clouds", {**CLOUD, "name": "fb"}), 201)
    snapshot_and_database(a, "/v1/clouds/fb")     # the snapshot holds it
    # A position no snapshot has seen yet: the database answers, exactly.
    before = counters(a)
    st, h, got = a.api().get("/v1/clouds/fb", headers=FUTURE)
    assert st == 200 and got["name"] == "fb"
    assert counters(a)["min-seq"] == before["min-seq"] + 1
    # A kind the snapshot does not hold: the database, whatever the header.
    ok(a.api().post("/v1/tenants", {"name": "fbt"}), 201)
    ok(a.api().post("/v1/tenants/fbt/networks", {"name": "n", "subnet": "10.9.0.0/24"}), 201)
    before = counters(a)
    st, _, net = a.api().get("/v1/tenants/fbt/networks/n", headers=FUTURE)
    assert st == 200 and net["name"] == "n"
    assert counters(a) == before
    # An object it does not hold is the database's 404.
    assert_problem(a.api().get("/v1/clouds/nowhere"), 404, "not-found")
    # A malformed position is refused, before anything is read.
    for bad in ("0", "-1", "12a", "", "99999999999999999999"):
        assert_problem(a.api().get("/v1/clouds", headers={"Skyvisor-Min-Seq": bad}),
                       400, "bad-header", "Skyvisor-Min-Seq")


def snapshot_and_database(d, path):
    """The same GET answered from the snapshot (retried until it is) and
    from the database."""
    def from_snapshot():
        n = counters(d).get("snapshot", 0)
        r = d.api().get(path)
        return r if counters(d).get("snapshot", 0) > n else None
    snap = wait_for(from_snapshot, "a read answered from the snapshot")
    db = d.api().get(path, headers=FUTURE)
    return snap, db


@pytest.mark.parametrize("path", ["/v1/clouds/etag", "/v1/clouds", "/v1/hosts",
                                  "/v1/hosts/etag-h", "/v1/tenants/etag-t",
                                  "/v1/clouds?limit=1", "/v1/tenants"])
def test_snapshot_and_database_answer_the_same_body_and_etag(pair, pg, path):
    url, a, b = pair
    api = a.api()
    if api.get("/v1/clouds/etag")[0] == 404:
        ok(api.post("/v1/clouds", {**CLOUD, "name": "etag"}), 201)
        ok(api.post("/v1/hosts", {"name": "etag-h", "cloud": "etag", "tunnel_ip": "198.18.9.1",
                                  "capacity": 4, "ovsdb": "unix:/run/sky/e/db.sock",
                                  "openflow": "unix:/run/sky/e/br.mgmt"}), 201)
        ok(api.post("/v1/tenants", {"name": "etag-t"}), 201)
    db_name = url.rsplit("/", 1)[1]
    for d in (a, b):
        snap, db = snapshot_and_database(d, path)
        assert snap[0] == db[0] == 200
        assert snap[2] == db[2] and snap[1]["etag"] == db[1]["etag"]
        # A status write-back, as the reconciler makes it (generation kept,
        # revision bumped): no API write, so only its notification tells
        # the snapshot.  The ETag moves, and both sources still agree.
        table = {"clouds": "cloud", "hosts": "host", "tenants": "tenant"}[
            path.split("/")[2].split("?")[0]]
        pg.psql(f"UPDATE {table} SET state = CASE state WHEN 'realized' THEN 'error'"
                f" ELSE 'realized' END, observed_generation = generation", db_name)
        moved = wait_for(lambda: (lambda r: r if r[1]["etag"] != snap[1]["etag"] else None)(
            d.api().get(path)), "the status write to reach the snapshot")
        snap2, db2 = snapshot_and_database(d, path)
        assert snap2[2] == db2[2] and snap2[1]["etag"] == db2[1]["etag"]
        assert moved[1]["etag"] == db2[1]["etag"]
        # If-None-Match with the ETag: 304 from either.
        etag = {"If-None-Match": db2[1]["etag"]}
        assert d.api().get(path, headers=etag)[0] == 304
        assert d.api().get(path, headers={**etag, **FUTURE})[0] == 304


def test_a_database_past_012_without_it_gets_it(pg):
    """Migration numbers are handed out before they land: a database
    already at a higher number without 012 gets 012 at the next start, and
    status write-backs reach the snapshot again."""
    db = pg.fresh_db()
    d = Skyvisord(db_url=pg.url(db)).start()
    assert d.stop() == 0
    pg.psql("DELETE FROM schema_migration WHERE version = 12;"
            " DROP FUNCTION sv_notify_status() CASCADE", db)
    d = Skyvisord(db_url=pg.url(db)).start()
    try:
        assert pg.psql("SELECT name FROM schema_migration WHERE version = 12", db) \
            == "012_status_notify.sql"
        ok(d.api().post("/v1/clouds", {**CLOUD, "name": "late"}), 201)
        snap, _ = snapshot_and_database(d, "/v1/clouds/late")
        pg.psql("UPDATE cloud SET state = 'realized' WHERE name = 'late'", db)
        wait_for(lambda: d.api().get("/v1/clouds/late")[2]["status"]["state"] == "realized",
                 "the status write to reach the snapshot")
    finally:
        assert d.stop() == 0


def test_the_etag_moves_with_what_the_revision_does_not_count(pair):
    """A host's vm_count and a cloud's gateway come from other rows: the
    object's revision does not move with them, its body does, and so does
    its ETag, from the snapshot and from the database alike."""
    _, a, _ = pair
    api = a.api()
    ok(api.post("/v1/clouds", {**CLOUD, "name": "derived"}), 201)
    ok(api.post("/v1/hosts", {"name": "derived-w", "cloud": "derived", "tunnel_ip": "198.18.10.1",
                              "capacity": 4, "ovsdb": "unix:/run/sky/dw/db.sock",
                              "openflow": "unix:/run/sky/dw/br.mgmt"}), 201)
    cloud0, _ = snapshot_and_database(a, "/v1/clouds/derived")
    host0, _ = snapshot_and_database(a, "/v1/hosts/derived-w")
    ok(api.post("/v1/hosts", {"name": "derived-gw", "cloud": "derived", "role": "gateway",
                              "tunnel_ip": "198.18.10.2", "public_ip": "203.0.113.10",
                              "capacity": 4, "ovsdb": "unix:/run/sky/dg/db.sock",
                              "openflow": "unix:/run/sky/dg/br.mgmt"}), 201)
    ok(api.post("/v1/tenants", {"name": "derived-t"}), 201)
    ok(api.post("/v1/tenants/derived-t/networks", {"name": "n", "subnet": "10.10.0.0/24"}), 201)
    ok(api.post("/v1/tenants/derived-t/networks/n/switches", {"name": "s"}), 201)
    ok(api.post("/v1/tenants/derived-t/networks/n/vms",
                {"name": "v", "mac": "02:00:00:00:10:01", "ip": "10.10.0.1", "switch": "s",
                 "placement": {"host": "derived-w"}}), 201)
    for path, before, what in (("/v1/clouds/derived", cloud0, "gateway"),
                               ("/v1/hosts/derived-w", host0, "vm_count")):
        snap, db = snapshot_and_database(a, path)
        assert snap[2][what] != before[2][what]
        assert snap[1]["etag"] == db[1]["etag"] != before[1]["etag"]
        assert a.api().get(path, headers={"If-None-Match": before[1]["etag"]})[0] == 200


def test_a_kind_without_rows_hides_no_other_kind(pg):
    """A snapshot is read kind by kind (clouds, hosts, tenants); one that
    has no rows yet must not leave the later kinds out: with no cloud and no
    host declared, a tenant is listed, also once the list is answered from
    the snapshot."""
    d = Skyvisord(db_url=pg.url(pg.fresh_db())).start()
    try:
        ok(d.api().post("/v1/tenants", {"name": "alone"}), 201)
        served = counters(d)["snapshot"]

        def listed_from_snapshot():
            names = [t["name"] for t in ok(d.api().get("/v1/tenants"))["items"]]
            assert "alone" in names, names
            return counters(d)["snapshot"] > served

        wait_for(listed_from_snapshot, "a tenants list answered from the snapshot")
    finally:
        assert d.stop() == 0
