"""Hostile or unlucky input answered with a precise 400 (never a raw
database message), and no spurious 503 once PostgreSQL is back."""

import threading

import pytest

from conftest import PgCluster, Skyvisord, assert_problem

CLOUD = {"name": "c1", "provider": "aws", "region": "eu-central-1",
         "jurisdiction": "DE", "kind": "public"}


@pytest.fixture(scope="module")
def world(daemon):
    api = daemon.api()
    assert api.post("/v1/clouds", CLOUD)[0] == 201
    assert api.post("/v1/clouds", {**CLOUD, "name": "c2"})[0] == 201
    assert api.post("/v1/hosts", {"name": "h1", "cloud": "c1", "tunnel_ip": "198.18.0.1",
                                  "ovsdb": "unix:/run/h1/db.sock",
                                  "openflow": "unix:/run/h1/br.mgmt"})[0] == 201
    assert api.post("/v1/tenants", {"name": "acme"})[0] == 201
    assert api.post("/v1/tenants/acme/networks",
                    {"name": "net", "subnet": "10.0.0.0/24"})[0] == 201
    for s in ("s1", "s2"):
        assert api.post("/v1/tenants/acme/networks/net/switches", {"name": s})[0] == 201
    return api


def test_integers_beyond_the_column_name_their_field(world):
    api = world
    for v in (2 ** 31, -2 ** 31 - 1, 2 ** 62):
        assert_problem(api.patch("/v1/hosts/h1", {"capacity": v}), 400, "invalid-value",
                       "capacity")
        assert_problem(api.put("/v1/cloud-links/c1/c2", {"cost": 1, "bandwidth_mbps": v}),
                       400, "invalid-value", "bandwidth_mbps")
        assert_problem(api.post("/v1/tenants/acme/networks/net/links",
                                {"a": "s1", "b": "s2", "bandwidth_mbps": v}),
                       400, "invalid-value", "bandwidth_mbps")


@pytest.mark.parametrize("cursor", ["ff", "c3", "e280ae41", "c0af", "zz", "0", "7f"])
def test_a_cursor_not_handed_out_is_a_bad_query(world, cursor):
    body = assert_problem(world.get(f"/v1/clouds?cursor={cursor}"), 400, "bad-query",
                          "cursor")
    assert "database" not in body["detail"]


def test_lengths_count_characters_and_bidi_controls_are_refused(world):
    api = world
    # 64 characters of two bytes each: within the documented maxLength 64.
    st, _, c = api.patch("/v1/clouds/c2", {"region": "\u00e9" * 64})
    assert st == 200 and c["region"] == "\u00e9" * 64
    assert_problem(api.patch("/v1/clouds/c2", {"region": "\u00e9" * 65}), 400,
                   "invalid-value", "region")
    st, _, c = api.patch("/v1/clouds/c2", {"labels": {"note": "\u6771" * 255}})
    assert st == 200 and c["labels"]["note"] == "\u6771" * 255
    assert_problem(api.patch("/v1/clouds/c2", {"labels": {"note": "\u6771" * 256}}), 400,
                   "invalid-value", "labels")
    for bidi in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
                 "\u2066", "\u2067", "\u2068", "\u2069"):
        assert_problem(api.patch("/v1/clouds/c2", {"labels": {"owner": f"ann{bidi}txt.exe"}}),
                       400, "invalid-value", "labels")
        assert_problem(api.patch("/v1/clouds/c2", {"region": f"eu{bidi}west"}), 400,
                       "invalid-value", "region")
        assert_problem(api.post("/v1/tenants", {"name": f"a{bidi}b"}), 400,
                       "invalid-value", "name")
    assert_problem(api.patch("/v1/clouds/c2", {"labels": {"n": "a\u0085b"}}), 400,
                   "invalid-value", "labels")


def test_no_spurious_503_after_postgresql_restarts():
    """Every pooled connection goes stale when PostgreSQL restarts; the
    first requests afterwards, concurrent ones and /readyz included, must
    not see it."""
    cluster = PgCluster()
    d = None
    try:
        d = Skyvisord(db_url=cluster.url(), threads=8).start()
        api = d.api()
        assert api.post("/v1/clouds", CLOUD)[0] == 201
        st, _, tenant = api.post("/v1/tenants", {"name": "acme"})
        assert st == 201
        tenant_api = d.api(token=tenant["token"])
        # Public, admin and tenant-token routes: a tenant token is checked
        # against the database on every request.
        calls = [(api, "/readyz", None), (api, "/v1/clouds", "default"),
                 (api, "/v1/clouds/c1", "default"),
                 (tenant_api, "/v1/tenants/acme/networks", "default")]

        def burst():
            out, threads = [], []
            for i in range(16):
                who, path, tok = calls[i % len(calls)]
                t = threading.Thread(target=lambda w=who, p=path, k=tok: out.append(
                    (p, w.get(p, token=k)[0])))
                threads.append(t)
                t.start()
            for t in threads:
                t.join()
            return out

        assert all(st == 200 for _, st in burst())          # every connection used
        for _ in range(2):
            cluster.stop("fast")
            cluster.start()
            answers = burst()
            assert all(st == 200 for _, st in answers), answers
    finally:
        if d:
            assert d.stop() == 0, d.read_log()
        cluster.destroy()
