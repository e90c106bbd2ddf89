"""Whole-network requests: POST .../networks/{network}/batch.

A batch is one transaction of creates, updates and deletes of a network's
switches, links and VMs, each checked by the same rules as its single-object
route.  Against a real skyvisord and PostgreSQL: all or nothing, every
refusal named by a JSON Pointer into the request, later operations seeing
earlier ones, Idempotency-Key replays, dry runs that write nothing, the
route's own body limit, tenant isolation, read-only tokens and the audit
trail.
"""

import json
import uuid

import pytest

from conftest import assert_problem, ok

NET = "/v1/tenants/bat/networks/net"
BATCH = NET + "/batch"


def vm(name, n, switch="s1", **kw):
    return {"name": name, "mac": f"02:00:00:00:07:{n:02x}", "ip": f"10.7.0.{n}",
            "switch": switch, "placement": {"cloud": "c1"}, **kw}


def create(kind, body):
    return {"op": "create", "kind": kind, "body": body}


def names(api, kind):
    return sorted(o["name"] for o in ok(api.get(f"{NET}/{kind}?limit=1000"))["items"])


@pytest.fixture(scope="module")
def world(daemon):
    admin = daemon.api()
    ok(admin.post("/v1/clouds", {"name": "c1", "provider": "aws", "region": "eu-central-1",
                                 "jurisdiction": "DE", "kind": "public"}), 201)
    ok(admin.post("/v1/hosts", {"name": "h1", "cloud": "c1", "tunnel_ip": "198.18.7.1",
                                "capacity": 1000, "ovsdb": "unix:/run/sky/h1/db.sock",
                                "openflow": "unix:/run/sky/h1/br-sky.mgmt"}), 201)
    t = ok(admin.post("/v1/tenants", {"name": "bat"}), 201)
    other = ok(admin.post("/v1/tenants", {"name": "bat-other"}), 201)
    ok(admin.post("/v1/tenants/bat/networks", {"name": "net", "subnet": "10.7.0.0/24"}), 201)
    ro = ok(daemon.api(t["token"]).post("/v1/tenants/bat/tokens",
                                        {"name": "viewer", "scope": "read-only"}), 201)
    return {"id": t["id"], "token": t["token"], "ro": ro["token"], "other": other["token"]}


def test_references_to_objects_created_earlier_in_the_batch(daemon, world):
    api = daemon.api(world["token"])
    ops = [create("switch", {"name": "s1"}), create("switch", {"name": "s2"}),
           create("link", {"a": "s1", "b": "s2", "bandwidth_mbps": 100}),
           create("vm", vm("web", 10)), create("vm", vm("db", 11, switch="s2"))]
    st, _, out = api.post(BATCH, {"operations": ops})
    assert st == 200, out
    assert out["dry_run"] is False
    assert (out["created"], out["updated"], out["deleted"]) == (5, 0, 0)
    assert [(r["op"], r["kind"], r["name"]) for r in out["results"]] == [
        ("create", "switch", "s1"), ("create", "switch", "s2"),
        ("create", "link", "s1--s2"), ("create", "vm", "web"), ("create", "vm", "db")]
    # Each result is the object as stored, the same a GET answers.
    for r in out["results"]:
        kind = {"switch": "switches", "link": "links", "vm": "vms"}[r["kind"]]
        got = ok(api.get(f"{NET}/{kind}/{r['id']}"))
        assert got == r["object"]
    web = out["results"][3]["object"]
    assert web["host"] == "h1" and web["switch"] == "s1" and web["mac"] == "02:00:00:00:07:0a"

    # Updates and deletes in order: a name deleted is free for a create
    # further down; a VM moves to a switch made in the same batch.
    ops = [{"op": "delete", "kind": "vm", "target": "db"},
           {"op": "delete", "kind": "link", "target": "s1--s2"},
           {"op": "delete", "kind": "switch", "target": "s2"},
           create("switch", {"name": "s3"}),
           {"op": "update", "kind": "vm", "target": web["id"],
            "body": {"switch": "s3", "labels": {"tier": "front"}}},
           create("switch", {"name": "s2"}),
           create("vm", vm("db", 11, switch="s2"))]
    out = ok(api.post(BATCH, {"operations": ops}), 200)
    assert (out["created"], out["updated"], out["deleted"]) == (3, 1, 3)
    assert out["results"][0] == {"op": "delete", "kind": "vm", "id": out["results"][0]["id"],
                                 "name": "db"}
    assert out["results"][4]["object"]["switch"] == "s3"
    assert names(api, "switches") == ["s1", "s2", "s3"]
    assert names(api, "links") == []
    assert ok(api.get(f"{NET}/vms/web"))["labels"] == {"tier": "front"}


def test_an_error_in_the_last_operation_leaves_nothing(daemon, world):
    api = daemon.api(world["token"])
    before = {k: names(api, k) for k in ("switches", "links", "vms")}
    ops = [create("switch", {"name": "n1"}), create("vm", vm("n-vm1", 20, switch="n1")),
           create("link", {"a": "n1", "b": "s1"}),
           {"op": "delete", "kind": "vm", "target": "web"},
           create("vm", vm("n-vm2", 21, switch="n1", ip="10.7.0.300"))]
    p = assert_problem(api.post(BATCH, {"operations": ops}), 422, "batch-refused")
    assert [(e["pointer"], e["type"].rsplit(":", 1)[1], e["status"]) for e in p["errors"]] == [
        ("/operations/4/body/ip", "invalid-value", 400)]
    assert "10.7.0.0/24" in p["errors"][0]["detail"] or "IPv4" in p["errors"][0]["detail"]
    assert {k: names(api, k) for k in ("switches", "links", "vms")} == before


def test_every_error_is_named_by_a_pointer_at_once(daemon, world):
    api = daemon.api(world["token"])
    before = names(api, "vms")
    ops = [
        create("vm", vm("e0", 30, mac="not-a-mac")),               # validate hook
        create("vm", vm("e1", 31, switch="nosuch")),               # reference
        {"op": "create", "kind": "vm", "body": {"name": "e2"}},    # field spec
        create("vm", vm("web", 32)),                               # unique name (database)
        create("vm", vm("e4", 33, placement={"host": "nohost"})),  # nested field
        {"op": "update", "kind": "vm", "target": "nosuch", "body": {"labels": {}}},
        {"op": "frobnicate", "kind": "vm"},                        # request shape
        {"op": "delete", "kind": "switch", "target": "s3"},        # in use (database)
        create("vm", vm("e8", 34, color="blue")),                  # unknown field
        create("switch", {"name": "fine"}),                        # no error
    ]
    p = assert_problem(api.post(BATCH, {"operations": ops}), 422, "batch-refused")
    got = [(e["pointer"], e["type"].rsplit(":", 1)[1]) for e in p["errors"]]
    assert got == [
        ("/operations/0/body/mac", "invalid-value"),
        ("/operations/1/body/switch", "invalid-value"),
        ("/operations/2/body/mac", "missing-field"),
        ("/operations/3/body/name", "name-taken"),
        ("/operations/4/body/placement/host", "invalid-value"),
        ("/operations/5/target", "not-found"),
        ("/operations/6/op", "invalid-value"),
        ("/operations/7", "in-use"),
        ("/operations/8/body/color", "unknown-field"),
    ], p
    assert {e["status"] for e in p["errors"]} == {400, 404, 409}
    assert all(e["title"] and e["detail"] for e in p["errors"])
    assert names(api, "vms") == before and "fine" not in names(api, "switches")

    # The envelope: unknown members, a missing list.
    p = assert_problem(api.post(BATCH, {"ops": []}), 422, "batch-refused")
    assert [e["pointer"] for e in p["errors"]] == ["/ops", "/operations"]
    assert_problem(api.request("POST", BATCH, raw=b'{"operations": [}'), 400,
                   "malformed-json")
    assert_problem(api.post(BATCH + "?dry_run=maybe", {"operations": []}), 400,
                   "bad-query", "dry_run")


def test_idempotent_replay(daemon, pg, world):
    api = daemon.api(world["token"])
    key = {"Idempotency-Key": f"batch-{uuid.uuid4()}"}
    body = {"operations": [create("switch", {"name": "idem"}),
                           create("vm", vm("idem-vm", 40, switch="idem"))]}
    first = api.post(BATCH, body, headers=key)
    assert first[0] == 200, first
    again = api.post(BATCH, body, headers=key)
    assert again[0] == 200 and again[2] == first[2]
    assert names(api, "vms").count("idem-vm") == 1
    # The same key with another request is refused.
    other = {"operations": [create("switch", {"name": "idem-2"})]}
    assert_problem(api.post(BATCH, other, headers=key), 422, "idempotency-key-reused")
    assert "idem-2" not in names(api, "switches")


def test_dry_run_validates_and_writes_nothing(daemon, pg, world):
    api = daemon.api(world["token"])
    db = daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]
    audit_before = pg.psql("SELECT count(*) FROM audit", db=db)
    ops = [create("switch", {"name": "dry"}), create("vm", vm("dry-vm", 50, switch="dry")),
           {"op": "delete", "kind": "vm", "target": "web"}]
    for path, body in ((BATCH + "?dry_run=true", {"operations": ops}),
                       (BATCH, {"operations": ops, "dry_run": True})):
        out = ok(api.post(path, body), 200)
        assert out["dry_run"] is True
        assert (out["created"], out["updated"], out["deleted"]) == (2, 0, 1)
        assert [r["name"] for r in out["results"]] == ["dry", "dry-vm", "web"]
        assert out["results"][1]["object"]["host"] == "h1"
    assert "dry" not in names(api, "switches") and "web" in names(api, "vms")
    assert pg.psql("SELECT count(*) FROM audit", db=db) == audit_before
    # A dry run refuses what the real run would refuse.
    bad = [create("vm", vm("dry-bad", 51, ip="10.7.0.300"))]
    p = assert_problem(api.post(BATCH + "?dry_run=true", {"operations": bad}), 422,
                       "batch-refused")
    assert p["errors"][0]["pointer"] == "/operations/0/body/ip"


def test_the_batch_has_its_own_body_limit(daemon, world):
    api = daemon.api(world["token"])
    # Over 1 MiB is fine for a batch (the single routes stop there) ...
    many = [create("switch", {"name": f"big-{i}", "labels": {"pad": "x" * 200}})
            for i in range(4000)]
    raw = json.dumps({"operations": many, "dry_run": True}).encode()
    assert len(raw) > 1024 * 1024
    st, _, out = api.request("POST", BATCH, raw=raw)
    assert st == 200 and out["created"] == 4000, out
    st, _, _ = api.request("POST", NET + "/switches", raw=raw)
    assert st == 413
    # ... over 16 MiB is not; nor are more than 10000 operations.
    huge = b'{"operations": [], "pad": "' + b"x" * (16 * 1024 * 1024) + b'"}'
    assert_problem(api.request("POST", BATCH, raw=huge), 413, "body-too-large")
    p = assert_problem(api.post(BATCH, {"operations": [{}] * 10001}), 422, "batch-refused")
    assert p["errors"][0]["pointer"] == "/operations"


def test_tenant_isolation_and_read_only_tokens(daemon, world):
    ops = {"operations": [create("switch", {"name": "intruder"})]}
    assert_problem(daemon.api(world["other"]).post(BATCH, ops), 404, "not-found")
    assert_problem(daemon.api(world["ro"]).post(BATCH, ops), 403, "read-only-token")
    assert_problem(daemon.api(world["ro"]).post(BATCH + "?dry_run=true", ops), 403,
                   "read-only-token")
    assert_problem(daemon.api(world["token"]).post(
        "/v1/tenants/bat/networks/nosuch/batch", ops), 404, "not-found")
    assert "intruder" not in names(daemon.api(), "switches")


def test_the_audit_trail_records_the_batch(daemon, world):
    api = daemon.api(world["token"])
    ops = [create("switch", {"name": "aud"}), create("vm", vm("aud-vm", 60, switch="aud")),
           {"op": "update", "kind": "vm", "target": "aud-vm", "body": {"labels": {"a": "b"}}},
           {"op": "delete", "kind": "vm", "target": "aud-vm"}]
    out = ok(api.post(BATCH, {"operations": ops}), 200)
    sw, v = out["results"][0]["id"], out["results"][1]["id"]
    admin = daemon.api()
    rows = ok(admin.get(f"/v1/audit?object={v}"))["items"]
    assert [r["op"] for r in rows] == ["delete", "update", "create"]
    actor = f"tenant:{world['id']}"
    assert all(r["actor"].startswith(actor) and r["kind"] == "vm" for r in rows)
    assert [r["op"] for r in ok(admin.get(f"/v1/audit?object={sw}"))["items"]] == ["create"]


def test_placement_counts_the_batchs_own_vms(daemon, world):
    """A batch reads the placement candidates once and counts each VM it
    creates against its host: least-loaded spreading and capacity hold as
    they do for VMs POSTed one at a time, and a VM deleted earlier in the
    batch frees its slot for a later one."""
    admin = daemon.api()
    ok(admin.post("/v1/clouds", {"name": "cap", "provider": "gcp", "region": "r",
                                 "jurisdiction": "FR", "kind": "public"}), 201)
    for i, h in enumerate(["cap-a", "cap-b"]):
        ok(admin.post("/v1/hosts", {"name": h, "cloud": "cap", "tunnel_ip": f"198.18.8.{i + 1}",
                                    "capacity": 2, "ovsdb": f"unix:/run/sky/{h}/db.sock",
                                    "openflow": f"unix:/run/sky/{h}/br-sky.mgmt"}), 201)
    api = daemon.api(world["token"])
    ok(api.post("/v1/tenants/bat/networks", {"name": "capnet", "subnet": "10.8.0.0/24"}), 201)
    url = "/v1/tenants/bat/networks/capnet/batch"

    def capvm(n):
        return create("vm", {"name": f"cv{n}", "mac": f"02:00:00:00:08:{n:02x}",
                             "ip": f"10.8.0.{n}", "switch": "cs",
                             "placement": {"cloud": "cap"}})

    # Five VMs for four slots: the fifth is refused, by its pointer.
    ops = [create("switch", {"name": "cs"})] + [capvm(n) for n in range(1, 6)]
    p = assert_problem(api.post(url, {"operations": ops}), 422, "batch-refused")
    assert [(e["pointer"], e["type"].rsplit(":", 1)[1]) for e in p["errors"]] == [
        ("/operations/5/body/placement", "placement-failed")], p
    st, _, out = api.post(url, {"operations": ops[:5]})
    assert st == 200, out
    assert [r["object"]["host"] for r in out["results"][1:]] == ["cap-a", "cap-b",
                                                                  "cap-a", "cap-b"]
    # Full: a create alone fails, after a delete in the same batch it fits.
    p = assert_problem(api.post(url, {"operations": [capvm(9)]}), 422, "batch-refused")
    assert p["errors"][0]["pointer"] == "/operations/0/body/placement", p
    st, _, out = api.post(url, {"operations": [
        {"op": "delete", "kind": "vm", "target": "cv2"}, capvm(9)]})
    assert st == 200, out
    assert out["results"][1]["object"]["host"] == "cap-b"
