"""An acknowledged write is a committed write: COMMIT made to fail on every
write route skyvisord has.

A test-only deferred constraint trigger (installed by this module with psql,
never by a migration) sits on every desired-state table; it does nothing
unless the row of ``commit_fault`` says so, and then it fails at COMMIT
time, after the handler has built its 2xx answer:

- ``constraint``: RAISE with SQLSTATE 23000 -> the write answers 409;
- ``error``: RAISE with an internal-error SQLSTATE -> 503 db-unavailable;
- ``disconnect``: the backend terminates itself during COMMIT -> 503
  commit-outcome-unknown (the client must re-read).

Each write route that ``skyvisord --list-routes`` prints has a request
below; a route without one fails the test, so routes added later are
covered by construction.  After every refused write the object is read
back: a create left nothing, a patch left the old value, a delete left the
object.
"""

import subprocess

import pytest

from conftest import BUILD, assert_problem

TABLES = ("cloud", "cloud_link", "host", "tenant", "token", "network", "vswitch", "vlink",
          "vm", "vm_snapshot", "vm_migration")

FAULT_SQL = """
CREATE TABLE IF NOT EXISTS commit_fault (mode text);
CREATE OR REPLACE FUNCTION commit_fault_fire() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE m text;
BEGIN
  SELECT mode INTO m FROM commit_fault LIMIT 1;
  IF m = 'constraint' THEN
    RAISE EXCEPTION 'commit_fault: deferred check failed'
      USING ERRCODE = 'integrity_constraint_violation';
  ELSIF m = 'error' THEN
    RAISE EXCEPTION 'commit_fault: storage failure' USING ERRCODE = 'XX000';
  ELSIF m = 'disconnect' THEN
    PERFORM pg_terminate_backend(pg_backend_pid());
    PERFORM pg_sleep(5);
  END IF;
  RETURN NULL;
END $$;
"""

TRIGGER_SQL = """
DROP TRIGGER IF EXISTS commit_fault ON {t};
CREATE CONSTRAINT TRIGGER commit_fault AFTER INSERT OR UPDATE OR DELETE ON {t}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_fault_fire();
"""

T = "/v1/tenants/acme/networks/net"


def cloud(name):
    return {"name": name, "provider": "aws", "region": "eu-central-1",
            "jurisdiction": "DE", "kind": "public"}


def host(name, cloud_name, n, **kw):
    return {"name": name, "cloud": cloud_name, "tunnel_ip": f"198.18.1.{n}",
            "ovsdb": f"unix:/run/sky/{name}/db.sock",
            "openflow": f"unix:/run/sky/{name}/br-sky.mgmt", **kw}


def vm(name, mac, ip, switch="s1"):
    return {"name": name, "mac": mac, "ip": ip, "switch": switch,
            "placement": {"cloud": "c1"}}


# Per write route: (request path, body, path to read back afterwards, what
# the read must show).  "absent": 404; "unchanged": equal to the read before.
CASES = {
    "POST /v1/clouds": ("/v1/clouds", cloud("c-new"), "/v1/clouds/c-new", "absent"),
    "PATCH /v1/clouds/{cloud}": ("/v1/clouds/c1", {"region": "us-east-1"},
                                 "/v1/clouds/c1", "unchanged"),
    "DELETE /v1/clouds/{cloud}": ("/v1/clouds/c-spare", None, "/v1/clouds/c-spare",
                                  "unchanged"),
    "PUT /v1/cloud-links/{cloud_a}/{cloud_b}": ("/v1/cloud-links/c1/c2",
                                                {"cost": 7, "bandwidth_mbps": 1000},
                                                "/v1/cloud-links/c1/c2", "unchanged"),
    "DELETE /v1/cloud-links/{cloud_a}/{cloud_b}": ("/v1/cloud-links/c1/c2", None,
                                                   "/v1/cloud-links/c1/c2", "unchanged"),
    "POST /v1/hosts": ("/v1/hosts", host("h-new", "c1", 50), "/v1/hosts/h-new", "absent"),
    "PATCH /v1/hosts/{host}": ("/v1/hosts/c1-w", {"capacity": 9}, "/v1/hosts/c1-w",
                               "unchanged"),
    "DELETE /v1/hosts/{host}": ("/v1/hosts/h-spare", None, "/v1/hosts/h-spare",
                                "unchanged"),
    "POST /v1/tenants": ("/v1/tenants", {"name": "t-new"}, "/v1/tenants/t-new", "absent"),
    "PATCH /v1/tenants/{tenant}": ("/v1/tenants/acme", {"controller_allow": ["192.0.2.0/24"],
                                                        "wan_limit_mbps": 10},
                                   "/v1/tenants/acme", "unchanged"),
    "DELETE /v1/tenants/{tenant}": ("/v1/tenants/t-spare", None, "/v1/tenants/t-spare",
                                    "unchanged"),
    "POST /v1/tenants/{tenant}/tokens": (
        "/v1/tenants/acme/tokens", {"name": "ci", "scope": "read-only"},
        "/v1/tenants/acme/tokens/ci", "absent"),
    "DELETE /v1/tenants/{tenant}/tokens/{token}": (
        "/v1/tenants/acme/tokens/spare", None, "/v1/tenants/acme/tokens/spare", "unchanged"),
    "POST /v1/tenants/{tenant}/networks": (
        "/v1/tenants/acme/networks", {"name": "n-new", "subnet": "10.9.0.0/24"},
        "/v1/tenants/acme/networks/n-new", "absent"),
    "PATCH /v1/tenants/{tenant}/networks/{network}": (
        T, {"labels": {"env": "prod"}}, T, "unchanged"),
    "DELETE /v1/tenants/{tenant}/networks/{network}": (
        "/v1/tenants/acme/networks/n-spare", None, "/v1/tenants/acme/networks/n-spare",
        "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/switches": (
        f"{T}/switches", {"name": "s-new"}, f"{T}/switches/s-new", "absent"),
    "PATCH /v1/tenants/{tenant}/networks/{network}/switches/{switch}": (
        f"{T}/switches/s1", {"labels": {"x": "y"}}, f"{T}/switches/s1", "unchanged"),
    "DELETE /v1/tenants/{tenant}/networks/{network}/switches/{switch}": (
        f"{T}/switches/s-free", None, f"{T}/switches/s-free", "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/links": (
        f"{T}/links", {"name": "l-new", "a": "s1", "b": "s3"}, f"{T}/links/l-new",
        "absent"),
    "PATCH /v1/tenants/{tenant}/networks/{network}/links/{link}": (
        f"{T}/links/l1", {"bandwidth_mbps": 50}, f"{T}/links/l1", "unchanged"),
    "DELETE /v1/tenants/{tenant}/networks/{network}/links/{link}": (
        f"{T}/links/l1", None, f"{T}/links/l1", "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/vms": (
        f"{T}/vms", vm("v-new", "02:00:00:00:01:99", "10.0.0.99"), f"{T}/vms/v-new",
        "absent"),
    "PATCH /v1/tenants/{tenant}/networks/{network}/vms/{vm}": (
        f"{T}/vms/v1", {"labels": {"role": "db"}, "rate_mbps": 50}, f"{T}/vms/v1",
        "unchanged"),
    "DELETE /v1/tenants/{tenant}/networks/{network}/vms/{vm}": (
        f"{T}/vms/v1", None, f"{T}/vms/v1", "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/vms/{vm}/stop": (
        f"{T}/vms/v-run/stop", None, f"{T}/vms/v-run", "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/vms/{vm}/start": (
        f"{T}/vms/v-off/start", None, f"{T}/vms/v-off", "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/vms/{vm}/snapshots": (
        f"{T}/vms/v1/snapshots", {"name": "sn-new"}, f"{T}/vms/v1/snapshots/sn-new",
        "absent"),
    "DELETE /v1/tenants/{tenant}/networks/{network}/vms/{vm}/snapshots/{snapshot}": (
        f"{T}/vms/v1/snapshots/sn-del", None, f"{T}/vms/v1/snapshots/sn-del",
        "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/vms/{vm}/migrations": (
        f"{T}/vms/v1/migrations", {"host": "c2-w"}, f"{T}/vms/v1/migrations",
        "unchanged"),
    "DELETE /v1/tenants/{tenant}/networks/{network}/vms/{vm}/migrations/{migration}": (
        f"{T}/vms/v-mig/migrations/{{mig}}", None, f"{T}/vms/v-mig/migrations/{{mig}}",
        "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/vms/{vm}/migrations/{migration}/activate": (
        f"{T}/vms/v-mig/migrations/{{mig}}/activate", None,
        f"{T}/vms/v-mig/migrations/{{mig}}", "unchanged"),
    "POST /v1/tenants/{tenant}/networks/{network}/batch": (
        f"{T}/batch", {"operations": [
            {"op": "create", "kind": "switch", "body": {"name": "s-batch"}},
            {"op": "create", "kind": "vm",
             "body": vm("v-batch", "02:00:00:00:01:98", "10.0.0.98", switch="s-batch")},
            {"op": "delete", "kind": "vm", "target": "v1"}]},
        f"{T}/switches/s-batch", "absent"),
}

# Ids the world fixture learns, for the paths above that name them.
IDS = {}

EXPECT = {
    "constraint": (409, "conflict"),
    "error": (503, "db-unavailable"),
    "disconnect": (503, "commit-outcome-unknown"),
}


def write_routes():
    out = subprocess.run([f"{BUILD}/skyvisord", "--list-routes"], check=True,
                         capture_output=True, text=True).stdout
    return [l.strip() for l in out.splitlines()
            if l.split(" ", 1)[0] in ("POST", "PUT", "PATCH", "DELETE")]


@pytest.fixture(scope="module")
def world(daemon, pg):
    api = daemon.api()
    for c in ("c1", "c2", "c-spare"):
        assert api.post("/v1/clouds", cloud(c))[0] == 201
    assert api.put("/v1/cloud-links/c1/c2", {"cost": 3})[0] == 201
    assert api.post("/v1/hosts", host("c1-w", "c1", 1, capacity=4))[0] == 201
    assert api.post("/v1/hosts", host("h-spare", "c2", 2))[0] == 201
    for t in ("acme", "t-spare"):
        assert api.post("/v1/tenants", {"name": t})[0] == 201
    assert api.post("/v1/tenants/acme/tokens", {"name": "spare"})[0] == 201
    for n, subnet in (("net", "10.0.0.0/24"), ("n-spare", "10.1.0.0/24")):
        assert api.post("/v1/tenants/acme/networks", {"name": n, "subnet": subnet})[0] == 201
    for s in ("s1", "s2", "s3", "s-free"):
        assert api.post(f"{T}/switches", {"name": s})[0] == 201
    assert api.post(f"{T}/links", {"name": "l1", "a": "s1", "b": "s2"})[0] == 201
    assert api.post(f"{T}/vms", vm("v1", "02:00:00:00:01:01", "10.0.0.10"))[0] == 201
    # The VM lifecycle: a running VM to stop, a stopped one with a captured
    # snapshot to start, a snapshot to delete, a migrating VM.
    for name, n in (("v-run", 2), ("v-off", 3), ("v-mig", 4)):
        assert api.post(f"{T}/vms", vm(name, f"02:00:00:00:01:0{n}", f"10.0.0.1{n}"))[0] == 201
    assert api.post(f"{T}/vms/v-off/stop", None)[0] == 202
    assert api.post(f"{T}/vms/v1/snapshots", {"name": "sn-del"})[0] == 202
    assert api.post("/v1/hosts", host("c2-w", "c2", 3))[0] == 201
    st, _, mig = api.post(f"{T}/vms/v-mig/migrations", {"host": "c2-w"})
    assert st == 202
    IDS["mig"] = mig["id"]
    db = daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]
    pg.psql("UPDATE vm_snapshot SET state = 'ready', content = '{}' WHERE reason = 'stop'",
            db=db)
    pg.psql(FAULT_SQL + "".join(TRIGGER_SQL.format(t=t) for t in TABLES), db=db)
    return db


def set_fault(pg, db, mode):
    pg.psql("DELETE FROM commit_fault"
            + (f"; INSERT INTO commit_fault VALUES ('{mode}')" if mode else ""), db=db)


def test_every_write_route_is_covered():
    missing = [r for r in write_routes() if r not in CASES]
    assert not missing, f"write routes without a commit-fault case: {missing}"
    stale = [r for r in CASES if r not in write_routes()]
    assert not stale, f"cases for routes that no longer exist: {stale}"


@pytest.mark.parametrize("mode", sorted(EXPECT))
def test_a_failed_commit_is_never_acknowledged(daemon, pg, world, mode):
    api = daemon.api()
    status, slug = EXPECT[mode]
    failures = []
    for route in write_routes():
        method = route.split(" ", 1)[0]
        path, body, read, expect = CASES[route]
        path, read = path.format_map(IDS), read.format_map(IDS)
        before = api.get(read)
        set_fault(pg, world, mode)
        try:
            resp = api.request(method, path, body)
        finally:
            set_fault(pg, world, None)
        if resp[0] != status or resp[2].get("type") != f"urn:skyvisor:problem:{slug}":
            failures.append(f"{route}: {resp[0]} {resp[2]}")
            continue
        assert_problem(resp, status, slug)
        assert "location" not in resp[1] and "etag" not in resp[1], (route, resp[1])
        after = api.get(read)
        if expect == "absent":
            assert after[0] == 404, (route, after)
        else:
            assert after[0] == 200 and after[2] == before[2], (route, before, after)
    assert not failures, "\n".join(failures)
    # The daemon is healthy afterwards: the same writes now succeed where
    # they are meant to (one of each kind).
    assert api.patch("/v1/clouds/c1", {"region": "us-east-1"})[0] == 200
    assert api.patch("/v1/clouds/c1", {"region": "eu-central-1"})[0] == 200


def test_idempotent_create_after_an_unknown_commit_outcome(daemon, pg, world):
    """The answer to an unknown outcome is to retry with the same
    Idempotency-Key: the retry creates the object exactly once."""
    api = daemon.api()
    hdr = {"Idempotency-Key": "commit-fault-retry-1"}
    set_fault(pg, world, "disconnect")
    try:
        assert_problem(api.post("/v1/clouds", cloud("c-idem"), headers=hdr), 503,
                       "commit-outcome-unknown")
    finally:
        set_fault(pg, world, None)
    assert api.get("/v1/clouds/c-idem")[0] == 404
    st, _, first = api.post("/v1/clouds", cloud("c-idem"), headers=hdr)
    assert st == 201
    st, _, again = api.post("/v1/clouds", cloud("c-idem"), headers=hdr)
    assert st == 201 and again["id"] == first["id"]
