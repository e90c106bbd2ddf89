"""Tenant tokens, read-only scope, revocation across processes, admin token
rotation and the audit trail.

A tenant holds several tokens under /v1/tenants/{tenant}/tokens, each
read-write or read-only; a read-only token gets 403 on every write route
the router has for tenants (read from `skyvisord --list-routes`, so a route
added later is covered without touching this file).  A revoked token fails
on the very next request of every skyvisord of the database.  The admin
token file is re-read when it changes, with no restart.  Every committed
change leaves one audit record with its actor, and a rolled-back one none.
"""

import hashlib
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import BUILD, ROOT, Skyvisord, assert_problem, ok

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def db_name(daemon):
    return daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]


def routes():
    out = subprocess.run([os.path.join(BUILD, "skyvisord"), "--list-routes"],
                         check=True, capture_output=True, text=True).stdout
    return [tuple(line.split(" ", 1)) for line in out.splitlines()]


def fill(pattern, tenant):
    """A concrete path for a route pattern: the tenant, then made-up names."""
    path = pattern.replace("{tenant}", tenant)
    return re.sub(r"\{\w+\*?\}", "nosuch", path)


@pytest.fixture(scope="module")
def tenant(daemon):
    admin = daemon.api()
    t = ok(admin.post("/v1/tenants", {"name": "tok-a"}), 201)
    ok(admin.post("/v1/tenants/tok-a/networks", {"name": "net", "subnet": "10.9.0.0/24"}), 201)
    ro = ok(daemon.api(t["token"]).post("/v1/tenants/tok-a/tokens",
                                        {"name": "viewer", "scope": "read-only"}), 201)
    return {"id": t["id"], "rw": t["token"], "ro": ro["token"], "ro_id": ro["id"]}


def test_a_tenant_holds_several_tokens(daemon, pg, tenant):
    admin, rw = daemon.api(), daemon.api(tenant["rw"])
    st, _, page = rw.get("/v1/tenants/tok-a/tokens")
    assert st == 200
    assert [(k["name"], k["scope"]) for k in page["items"]] == [
        ("initial", "read-write"), ("viewer", "read-only")]
    assert all("token" not in k and "hash" not in k for k in page["items"])
    initial = page["items"][0]
    assert initial["created_by"] == "admin" and initial["last_used_at"] is not None

    # The tenant mints a token for itself; the secret is in this answer only.
    st, hdrs, made = rw.post("/v1/tenants/tok-a/tokens",
                             {"name": "deploy", "expires_at": "2099-06-30T12:00:00+02:00"})
    assert st == 201 and re.fullmatch(r"svt_[0-9a-f]{64}", made["token"])
    assert made["scope"] == "read-write" and made["expires_at"].startswith("2099-06-30T10:00:00")
    assert made["created_by"] == f"tenant:{tenant['id']}/token:{initial['id']}"
    assert hdrs["location"].endswith("/v1/tenants/tok-a/tokens/" + made["id"])
    for key in (made["id"], "deploy"):
        st, _, got = admin.get(f"/v1/tenants/tok-a/tokens/{key}")
        assert st == 200 and got["id"] == made["id"] and "token" not in got
    assert ok(daemon.api(made["token"]).get("/v1/tenants/tok-a/networks"))
    # Only the SHA-256 of the secret is stored.
    db = db_name(daemon)
    digest = hashlib.sha256(made["token"].encode()).hexdigest()
    assert pg.psql(f"SELECT encode(hash, 'hex') FROM token WHERE id = '{made['id']}'",
                   db=db) == digest
    assert made["token"][4:] not in pg.psql("SELECT k::text FROM token k", db=db)

    assert_problem(rw.post("/v1/tenants/tok-a/tokens", {"name": "deploy"}), 409, "name-taken",
                   "name")
    for body, field in [({"name": "x", "scope": "admin"}, "scope"),
                        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
                        ({"name": "x", "expires_at": "2099-02-30T00:00:00Z"}, "expires_at"),
                        ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
                        ({"name": "Bad Name"}, "name")]:
        assert_problem(rw.post("/v1/tenants/tok-a/tokens", body), 400, "invalid-value", field)
    assert_problem(rw.post("/v1/tenants/tok-a/tokens", {"name": "x", "token": "svt_" + "0" * 64}),
                   400, "read-only-field", "token")

    # Another tenant sees none of it, and cannot learn that tok-a exists.
    other = ok(admin.post("/v1/tenants", {"name": "tok-b"}), 201)
    assert_problem(daemon.api(other["token"]).get("/v1/tenants/tok-a/tokens"), 404, "not-found")
    assert_problem(daemon.api(other["token"]).delete("/v1/tenants/tok-a/tokens/deploy"), 404,
                   "not-found")

    # An expired token is refused like an unknown one.
    pg.psql(f"UPDATE token SET expires_at = now() - interval '1 second' WHERE id = '{made['id']}'",
            db=db)
    assert_problem(daemon.api(made["token"]).get("/v1/tenants/tok-a"), 401, "unauthorized")

    # A token may revoke itself; deleting the tenant takes its tokens.
    own = ok(rw.post("/v1/tenants/tok-a/tokens", {"name": "short-lived"}), 201)
    me = daemon.api(own["token"])
    assert me.delete("/v1/tenants/tok-a/tokens/short-lived")[0] == 204
    assert_problem(me.get("/v1/tenants/tok-a"), 401, "unauthorized")
    assert admin.delete("/v1/tenants/tok-b")[0] == 204
    assert_problem(daemon.api(other["token"]).get("/v1/tenants/tok-b"), 401, "unauthorized")
    assert pg.psql(f"SELECT count(*) FROM token WHERE tenant_id = '{other['id']}'", db=db) == "0"


def test_read_only_token_gets_403_on_every_tenant_write_route(daemon, pg, tenant):
    ro, rw = daemon.api(tenant["ro"]), daemon.api(tenant["rw"])
    tenant_routes = [(m, p) for m, p in routes() if p.startswith("/v1/tenants/{tenant}")]
    writes = [(m, p) for m, p in tenant_routes if m in WRITES]
    assert ("POST", "/v1/tenants/{tenant}/tokens") in writes
    assert ("DELETE", "/v1/tenants/{tenant}/tokens/{token}") in writes
    assert ("PATCH", "/v1/tenants/{tenant}/networks/{network}") in writes
    db = db_name(daemon)
    audit_before = pg.psql("SELECT count(*) FROM audit", db=db)
    refused = 0
    admin_only = []
    for method, pattern in writes:
        path = fill(pattern, "tok-a")
        body = {} if method in ("POST", "PUT", "PATCH") else None
        as_rw = rw.request(method, path, body)
        if as_rw[0] == 403:
            # An admin-only route (the tenant's own DELETE and PATCH):
            # forbidden to every tenant token, whatever its scope.
            assert_problem(as_rw, 403, "forbidden")
            assert_problem(ro.request(method, path, body), 403, "forbidden")
            admin_only.append((method, pattern))
            continue
        # The read-write token reaches the handler (400/404 for these
        # made-up requests); the read-only one is stopped before it.
        assert as_rw[0] != 401, (method, path, as_rw)
        assert_problem(ro.request(method, path, body), 403, "read-only-token")
        refused += 1
    assert sorted(admin_only) == [("DELETE", "/v1/tenants/{tenant}"),
                                  ("PATCH", "/v1/tenants/{tenant}")], admin_only
    assert refused == len(writes) - len(admin_only)
    # Writes that would succeed with a read-write token are refused as well.
    assert_problem(ro.post("/v1/tenants/tok-a/tokens", {"name": "escalate"}), 403,
                   "read-only-token")
    assert_problem(ro.delete("/v1/tenants/tok-a/tokens/initial"), 403, "read-only-token")
    assert_problem(ro.patch("/v1/tenants/tok-a/networks/net", {"labels": {"k": "v"}}), 403,
                   "read-only-token")
    assert_problem(ro.delete("/v1/tenants/tok-a/networks/net"), 403, "read-only-token")
    assert pg.psql("SELECT count(*) FROM audit", db=db) == audit_before
    # Reads work; admin routes stay forbidden; another tenant's path stays 404.
    for method, pattern in tenant_routes:
        if method == "GET":
            assert ro.get(fill(pattern, "tok-a"))[0] not in (401, 403), pattern
    assert ok(ro.get("/v1/tenants/tok-a/networks/net"))["name"] == "net"
    assert ok(ro.get("/v1/tenants/tok-a/tokens/viewer"))["scope"] == "read-only"
    assert_problem(ro.post("/v1/clouds", {"name": "c"}), 403, "forbidden")
    assert_problem(ro.get("/v1/audit"), 403, "forbidden")
    assert_problem(ro.post("/v1/tenants/elsewhere/networks", {"name": "n"}), 404, "not-found")


def test_revoked_token_fails_at_once_on_a_second_skyvisord(daemon, pg, tenant):
    url = daemon.args[daemon.args.index("--db") + 1]
    second = Skyvisord(db_url=url).start()
    try:
        pair = [daemon, second]
        for i in range(10):
            issuer, other = pair[i % 2], pair[1 - i % 2]
            made = ok(issuer.api(tenant["rw"]).post("/v1/tenants/tok-a/tokens",
                                                     {"name": f"rev-{i}"}), 201)
            on_other, on_issuer = other.api(made["token"]), issuer.api(made["token"])
            for _ in range(3):                       # used, on both, just before
                assert ok(on_other.get("/v1/tenants/tok-a/networks"))
                assert ok(on_issuer.get("/v1/tenants/tok-a"))
            assert issuer.api(tenant["rw"]).delete(f"/v1/tenants/tok-a/tokens/rev-{i}")[0] == 204
            assert_problem(on_other.get("/v1/tenants/tok-a/networks"), 401, "unauthorized")
            assert_problem(on_issuer.get("/v1/tenants/tok-a"), 401, "unauthorized")
            assert_problem(on_other.post("/v1/tenants/tok-a/networks",
                                         {"name": f"late-{i}", "subnet": "10.8.0.0/24"}),
                           401, "unauthorized")
        # The token that came with the tenant is revocable like any other.
        fresh = ok(daemon.api().post("/v1/tenants", {"name": "tok-c"}), 201)
        assert ok(second.api(fresh["token"]).get("/v1/tenants/tok-c"))
        assert daemon.api().delete("/v1/tenants/tok-c/tokens/initial")[0] == 204
        assert_problem(second.api(fresh["token"]).get("/v1/tenants/tok-c"), 401, "unauthorized")
    finally:
        assert second.stop() == 0


def write_atomically(path, text):
    tmp = f"{path}.{uuid.uuid4().hex}"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def test_admin_token_rotation_without_restart(pg, tmp_path):
    old, new, newer = ("admin-old-" + "a" * 20, "admin-new-" + "b" * 20, "admin-newer-" + "c" * 20)
    path = str(tmp_path / "admin-tokens")
    write_atomically(path, f"# skyvisor admin tokens\n{old}\n")
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), extra=["--admin-token-file", path])
    d.env["SKYVISOR_ADMIN_TOKEN"] = ""
    d.start()
    try:
        pid = d.proc.pid
        assert ok(d.api(old).get("/v1/clouds"))
        assert_problem(d.api(new).get("/v1/clouds"), 401, "unauthorized")
        # Overlap: both valid while clients move over.
        write_atomically(path, f"{old}\n{new}\n")
        assert ok(d.api(new).get("/v1/clouds")) and ok(d.api(old).get("/v1/clouds"))
        # The old one is removed: refused on the very next request.
        write_atomically(path, f"{new}\n")
        assert_problem(d.api(old).get("/v1/clouds"), 401, "unauthorized")
        assert ok(d.api(new).post("/v1/clouds", {"name": "rotated", "provider": "aws",
                                                 "region": "r", "jurisdiction": "IE",
                                                 "kind": "public"}), 201)
        # Rewritten in place, to the same length, at once: still seen.
        with open(path, "w") as f:
            f.write(f"{newer[:len(new)]}\n")
        assert_problem(d.api(new).get("/v1/clouds"), 401, "unauthorized")
        assert ok(d.api(newer[:len(new)]).get("/v1/clouds"))
        # No file: no admin token at all, until it is back.
        os.remove(path)
        assert_problem(d.api(newer[:len(new)]).get("/v1/clouds"), 401, "unauthorized")
        write_atomically(path, f"{newer}\n")
        assert ok(d.api(newer).get("/v1/clouds/rotated"))
        assert d.proc.poll() is None and d.proc.pid == pid
        log = d.read_log()
        assert "read 1 admin token from" in log and "read 2 admin tokens from" in log
        assert "cannot read the admin token file" in log
    finally:
        assert d.stop() == 0


def test_admin_token_file_bad_invocations(tmp_path):
    path = str(tmp_path / "tokens")
    with open(path, "w") as f:
        f.write("# only a comment\nshort\n")
    cases = [
        ({}, ["--admin-token-file", path], "holds no token"),
        ({}, ["--admin-token-file", str(tmp_path / "missing")], "cannot read"),
        ({"SKYVISOR_ADMIN_TOKEN": "x" * 20}, ["--admin-token-file", path], "not both"),
    ]
    for env, extra, message in cases:
        sk = Skyvisord(extra=extra)
        sk.env.update({"SKYVISOR_ADMIN_TOKEN": ""}, **env)
        out = subprocess.run(sk.args, env=sk.env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)


def audit(api, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return ok(api.get("/v1/audit?" + query))["items"]


def test_audit_records_every_committed_change_with_its_actor(daemon, pg, tenant):
    admin, rw = daemon.api(), daemon.api(tenant["rw"])
    db = db_name(daemon)
    cloud = ok(admin.post("/v1/clouds", {"name": "aud-c", "provider": "gcp", "region": "eu",
                                         "jurisdiction": "DE", "kind": "public"}), 201)
    ok(admin.patch("/v1/clouds/aud-c", {"region": "eu-west", "labels": {"tier": "1"}}))
    assert admin.delete("/v1/clouds/aud-c")[0] == 204
    rows = audit(admin, object=cloud["id"])
    assert [(r["op"], r["actor"], r["kind"]) for r in rows] == [
        ("delete", "admin", "cloud"), ("update", "admin", "cloud"), ("create", "admin", "cloud")]
    deleted, updated, created = rows
    assert created["old"] is None and created["new"]["name"] == "aud-c"
    assert created["new"]["region"] == "eu" and "state" not in created["new"]
    assert updated["old"] == {"region": "eu", "labels": {}}
    assert updated["new"] == {"region": "eu-west", "labels": {"tier": "1"}}
    assert deleted["new"] is None and deleted["old"]["region"] == "eu-west"
    assert rows[0]["id"] > rows[1]["id"] > rows[2]["id"]

    # A tenant's changes carry its tenant and token ids.
    token_id = ok(rw.get("/v1/tenants/tok-a/tokens/initial"))["id"]
    actor = f"tenant:{tenant['id']}/token:{token_id}"
    sw = ok(rw.post("/v1/tenants/tok-a/networks/net/switches", {"name": "aud-s"}), 201)
    ok(rw.patch("/v1/tenants/tok-a/networks/net/switches/aud-s", {"labels": {"a": "b"}}))
    assert rw.delete("/v1/tenants/tok-a/networks/net/switches/aud-s")[0] == 204
    rows = audit(admin, object=sw["id"])
    assert [(r["op"], r["actor"], r["kind"]) for r in rows] == [
        ("delete", actor, "switch"), ("update", actor, "switch"), ("create", actor, "switch")]
    assert rows[1]["new"] == {"labels": {"a": "b"}}
    assert {r["object_id"] for r in audit(admin, actor=actor, kind="switch")} == {sw["id"]}
    by_tenant = audit(admin, actor=f"tenant:{tenant['id']}", limit=1000)
    assert {r["actor"] for r in by_tenant} >= {actor}
    assert all(r["actor"].startswith(f"tenant:{tenant['id']}/") for r in by_tenant)
    ro_made = [r for r in audit(admin, kind="token") if r["object_id"] == tenant["ro_id"]]
    assert [(r["op"], r["actor"], r["new"]["scope"]) for r in ro_made] == [
        ("create", actor, "read-only")]
    assert "hash" not in ro_made[0]["new"]

    # Status written back (as the reconciler does) records nothing; a change
    # of desired state outside the API is recorded as the database user's.
    count = pg.psql("SELECT count(*) FROM audit", db=db)
    pg.psql("UPDATE network SET state = 'realized', detail = 'ok', observed_generation = 1"
            " WHERE name = 'net'", db=db)
    assert pg.psql("SELECT count(*) FROM audit", db=db) == count
    pg.psql("UPDATE network SET labels = '{\"by\": \"psql\"}' WHERE name = 'net'", db=db)
    top = audit(admin, limit=1)[0]
    assert (top["actor"], top["kind"], top["op"]) == ("db:postgres", "network", "update")

    # Pages walk the whole trail newest first.
    everything = audit(admin, limit=1000)
    seen, cursor = [], None
    while True:
        page = ok(admin.get("/v1/audit?limit=4" + (f"&cursor={cursor}" if cursor else "")))
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [r["id"] for r in seen] == [r["id"] for r in everything]
    assert [r["id"] for r in seen] == sorted((r["id"] for r in seen), reverse=True)

    for query, field in [("kind=vswitch", "kind"), ("object=nope", "object"),
                         ("actor=a%27b", "actor"), ("cursor=7a7a", "cursor"),
                         ("limit=0", "limit")]:
        assert_problem(admin.get("/v1/audit?" + query), 400, "bad-query", field)
    assert_problem(daemon.api(tenant["rw"]).get("/v1/audit"), 403, "forbidden")


def test_no_audit_record_for_a_change_that_rolled_back(daemon, pg, tenant):
    """A deferred trigger refuses the COMMIT after the audit trigger ran: the
    change and its record go together."""
    admin = daemon.api()
    db = db_name(daemon)
    cloud = ok(admin.post("/v1/clouds", {"name": "aud-rb", "provider": "aws", "region": "r",
                                         "jurisdiction": "IE", "kind": "public"}), 201)
    pg.psql("""
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation'; END $$;
        CREATE CONSTRAINT TRIGGER test_refuse AFTER UPDATE OR DELETE ON cloud
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (OLD.name = 'aud-rb') EXECUTE FUNCTION test_refuse();""", db=db)
    try:
        st, _, body = admin.patch("/v1/clouds/aud-rb", {"region": "changed"})
        assert st >= 400, body
        st, _, body = admin.delete("/v1/clouds/aud-rb")
        assert st >= 400, body
    finally:
        pg.psql("DROP TRIGGER test_refuse ON cloud; DROP FUNCTION test_refuse()", db=db)
    assert ok(admin.get("/v1/clouds/aud-rb"))["region"] == "r"
    assert [r["op"] for r in audit(admin, object=cloud["id"])] == ["create"]
    ok(admin.patch("/v1/clouds/aud-rb", {"region": "changed"}))
    assert [r["op"] for r in audit(admin, object=cloud["id"])] == ["update", "create"]


def test_tokens_of_existing_tenants_survive_the_migration(pg):
    """A database at schema version 2 (one token per tenant, in
    tenant.token_hash): its tenants keep their tokens, now named 'initial'."""
    db = pg.fresh_db()
    migrations = os.path.join(ROOT, "migrations")
    secret = "svt_" + "5a" * 32
    for name in ("001_init.sql", "002_wire.sql"):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pg.url(db), "-f",
                        os.path.join(migrations, name)], check=True, capture_output=True)
    pg.psql("CREATE TABLE schema_migration (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now());"
            " INSERT INTO schema_migration (version, name) VALUES (1, '001_init.sql'),"
            " (2, '002_wire.sql');"
            " INSERT INTO tenant (name, tag, token_hash)"
            f" VALUES ('old', 1, sha256(convert_to('{secret}', 'UTF8')))", db=db)
    d = Skyvisord(db_url=pg.url(db)).start()
    try:
        assert "applied migration 003_tokens_audit.sql" in d.read_log()
        assert ok(d.api(secret).get("/v1/tenants/old"))["name"] == "old"
        items = ok(d.api(secret).get("/v1/tenants/old/tokens"))["items"]
        assert [(k["name"], k["scope"]) for k in items] == [("initial", "read-write")]
        assert ok(d.api(secret).post("/v1/tenants/old/networks",
                                     {"name": "n", "subnet": "10.0.0.0/24"}), 201)
    finally:
        assert d.stop() == 0
