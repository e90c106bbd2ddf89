"""Tenant controllers, the API half (migrations/009): a virtual switch may
name its tenant's OpenFlow controller, only inside the tenant's
controller_allow, which only the admin sets; the virtual flows' table keeps
a tenant's flows with its switch."""

import pytest

from conftest import assert_problem, ok

T = "/v1/tenants/acme"
S = f"{T}/networks/net/switches"


@pytest.fixture(scope="module")
def world(daemon):
    api = daemon.api()
    for t in ("acme", "other"):
        body = ok(api.post("/v1/tenants", {"name": t}), 201)
        assert body["controller_allow"] == []
        tok = body["token"]
        if t == "acme":
            acme_token = tok
    ok(api.post(f"{T}/networks", {"name": "net", "subnet": "10.0.0.0/24"}), 201)
    ok(api.post("/v1/tenants/other/networks", {"name": "net", "subnet": "10.0.0.0/24"}),
       201)
    return {"acme_token": acme_token}


def test_no_controller_by_default(daemon, world):
    api = daemon.api()
    sw = ok(api.post(S, {"name": "plain"}), 201)
    assert sw["controller"] is None and sw["fail_mode"] is None


def test_controller_outside_the_empty_allow_list_is_refused(daemon, world):
    api = daemon.api()
    assert_problem(api.post(S, {"name": "s0", "controller": "tcp:192.0.2.10:6653"}),
                   422, "controller-not-allowed", "controller")
    assert api.get(f"{S}/s0")[0] == 404


def test_malformed_controller_and_fail_mode(daemon, world):
    api = daemon.api()
    for bad in ("192.0.2.10:6653", "tcp:192.0.2.10", "tcp:192.0.2.10:0",
                "tcp:192.0.2.10:70000", "unix:/run/ctl.sock", "ptcp:6653",
                "tcp:example.org:6653", "tcp:192.0.2.300:6653"):
        assert_problem(api.post(S, {"name": "s1", "controller": bad}), 400,
                       "invalid-value", "controller")
    assert_problem(api.post(S, {"name": "s1", "controller": 6653}), 400, "wrong-type",
                   "controller")
    assert_problem(api.post(S, {"name": "s1", "fail_mode": "secure"}), 400,
                   "invalid-value", "fail_mode")
    assert_problem(api.post(S, {"name": "s1", "controller": "tcp:192.0.2.10:6653",
                                "fail_mode": "open"}), 400, "invalid-value", "fail_mode")


def test_allow_list_is_admin_only_and_validated(daemon, world):
    api = daemon.api()
    tenant = daemon.api(world["acme_token"])
    assert_problem(tenant.patch(T, {"controller_allow": ["0.0.0.0/0"]}), 403, "forbidden")
    for bad in (["10.0.0.1/8"], ["10.0.0.0/33"], ["10.0.0.0"], ["fe80::/64"], "10.0.0.0/8",
                [5]):
        st, _, body = api.patch(T, {"controller_allow": bad})
        assert st == 400, body
        assert body["field"] == "controller_allow", body
    got = ok(api.patch(T, {"controller_allow": ["192.0.2.0/24", "198.51.100.7/32"]}))
    assert got["controller_allow"] == ["192.0.2.0/24", "198.51.100.7/32"]
    # The tenant reads its own list.
    assert ok(tenant.get(T))["controller_allow"] == ["192.0.2.0/24", "198.51.100.7/32"]


def test_controller_inside_the_allow_list(daemon, world):
    api = daemon.api()
    ok(api.patch(T, {"controller_allow": ["192.0.2.0/24", "198.51.100.7/32"]}))
    tenant = daemon.api(world["acme_token"])
    sw = ok(tenant.post(S, {"name": "ctl", "controller": "tcp:192.0.2.10:6653"}), 201)
    assert sw["controller"] == "tcp:192.0.2.10:6653" and sw["fail_mode"] == "secure"
    sw = ok(tenant.patch(f"{S}/ctl", {"fail_mode": "standalone"}))
    assert sw["fail_mode"] == "standalone"
    sw = ok(tenant.patch(f"{S}/ctl", {"controller": "ssl:198.51.100.7:6653"}))
    assert sw["controller"] == "ssl:198.51.100.7:6653" and sw["fail_mode"] == "standalone"
    assert_problem(tenant.patch(f"{S}/ctl", {"controller": "tcp:198.51.100.8:6653"}), 422,
                   "controller-not-allowed", "controller")
    assert ok(tenant.get(f"{S}/ctl"))["controller"] == "ssl:198.51.100.7:6653"
    # Another tenant's list does not count.
    assert_problem(api.post("/v1/tenants/other/networks/net/switches",
                            {"name": "ctl", "controller": "tcp:192.0.2.10:6653"}),
                   422, "controller-not-allowed", "controller")
    # The list may not shrink past a switch's controller.
    assert_problem(api.patch(T, {"controller_allow": ["192.0.2.0/24"]}), 409, "conflict",
                   "controller_allow")
    assert ok(api.get(T))["controller_allow"] == ["192.0.2.0/24", "198.51.100.7/32"]
    # Clearing the controller clears fail_mode; then the list may shrink.
    sw = ok(tenant.patch(f"{S}/ctl", {"controller": None}))
    assert sw["controller"] is None and sw["fail_mode"] is None
    ok(api.patch(T, {"controller_allow": []}))


def test_virtual_flows_go_with_their_switch(daemon, world, pg):
    api = daemon.api()
    sw = ok(api.post(S, {"name": "flows"}), 201)
    db = daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]
    pg.psql(f"INSERT INTO vflow (vswitch_id, table_id, priority, match, instructions)"
            f" VALUES ('{sw['id']}', 0, 0, '', '\\x0004000800000000')", db=db)
    assert pg.psql(f"SELECT count(*) FROM vflow WHERE vswitch_id = '{sw['id']}'",
                   db=db).strip() == "1"
    assert api.delete(f"{S}/flows")[0] == 204
    assert pg.psql("SELECT count(*) FROM vflow", db=db).strip() == "0"
