"""The REST API end to end: every resource and every error class, over real
HTTP against skyvisord and a real PostgreSQL (fixtures in conftest.py)."""

import http.client
import subprocess
import threading
import time
import uuid

import pytest

from conftest import ADMIN_TOKEN, assert_problem

CLOUD = {"name": "aws-fra", "provider": "aws", "region": "eu-central-1",
         "jurisdiction": "DE", "kind": "public", "cost_per_hour": "0.096"}


def cloud(name, **kw):
    return {**CLOUD, "name": name, **kw}


def host(name, cloud_name, n, **kw):
    return {"name": name, "cloud": cloud_name, "tunnel_ip": f"198.18.0.{n}",
            "ovsdb": f"unix:/run/sky/{name}/db.sock",
            "openflow": f"unix:/run/sky/{name}/br-sky.mgmt", **kw}


def created(resp):
    st, hdrs, body = resp
    assert st == 201, body
    assert hdrs["etag"].startswith('"') and hdrs["location"].endswith(body["id"])
    return body


@pytest.fixture(scope="module")
def world(daemon):
    """Clouds in DE (two, different prices), US and PT, each with a gateway
    and workers; a tenant with a network and two switches."""
    api = daemon.api()
    created(api.post("/v1/clouds", cloud("de-cheap", cost_per_hour="0.05")))
    created(api.post("/v1/clouds", cloud("de-dear", cost_per_hour="0.50")))
    created(api.post("/v1/clouds", cloud("us", jurisdiction="US")))
    created(api.post("/v1/clouds", cloud("pt", jurisdiction="PT", provider="private",
                                         kind="private")))
    n = 1
    for c in ("de-cheap", "de-dear", "us", "pt"):
        created(api.post("/v1/hosts", host(f"{c}-gw", c, n, role="gateway",
                                           public_ip=f"203.0.113.{n}")))
        created(api.post("/v1/hosts", host(f"{c}-w1", c, n + 1, capacity=2)))
        created(api.post("/v1/hosts", host(f"{c}-w2", c, n + 2, capacity=2)))
        n += 3
    t = created(api.post("/v1/tenants", {"name": "acme"}))
    created(api.post("/v1/tenants/acme/networks", {"name": "net", "subnet": "10.0.0.0/24"}))
    for s in ("s1", "s2", "s3"):
        created(api.post("/v1/tenants/acme/networks/net/switches", {"name": s}))
    return {"token": t["token"], "tenant": t}


# --- clouds ---------------------------------------------------------------

def test_cloud_crud_and_etags(api):
    c = created(api.post("/v1/clouds", cloud("c-crud")))
    assert c["cost_per_hour"] == "0.096" and c["gateway"] is None
    assert c["status"] == {"state": "pending", "detail": None, "generation": 1,
                           "observed_generation": 0}
    st, hdrs, got = api.get("/v1/clouds/c-crud")
    assert st == 200 and got == c
    etag = hdrs["etag"]
    assert api.get(f"/v1/clouds/{c['id']}")[2] == c            # by id
    st, _, _ = api.get("/v1/clouds/c-crud", headers={"If-None-Match": etag})
    assert st == 304
    st, h2, p = api.patch("/v1/clouds/c-crud", {"region": "eu-west-1"},
                          headers={"If-Match": etag})
    assert st == 200 and p["region"] == "eu-west-1" and p["provider"] == "aws"
    assert p["status"]["generation"] == 2 and p["status"]["observed_generation"] == 0
    assert h2["etag"] != etag
    assert_problem(api.patch("/v1/clouds/c-crud", {"region": "x"},
                             headers={"If-Match": etag}), 412, "precondition-failed")
    assert_problem(api.delete("/v1/clouds/c-crud", headers={"If-Match": etag}),
                   412, "precondition-failed")
    assert_problem(api.patch("/v1/clouds/c-crud", {"id": str(uuid.uuid4())}), 400,
                   "read-only-field", "id")
    assert_problem(api.patch("/v1/clouds/c-crud", {"gateway": None}), 400,
                   "read-only-field", "gateway")
    assert api.delete("/v1/clouds/c-crud", headers={"If-Match": h2["etag"]})[0] == 204
    assert_problem(api.get("/v1/clouds/c-crud"), 404, "not-found")
    assert_problem(api.delete("/v1/clouds/c-crud"), 404, "not-found")


@pytest.mark.parametrize("field,value,slug", [
    ("provider", "ibm", "invalid-value"),
    ("kind", "hybrid", "invalid-value"),
    ("jurisdiction", "de", "invalid-value"),
    ("jurisdiction", "DEU", "invalid-value"),
    ("cost_per_hour", "1e3", "invalid-value"),
    ("cost_per_hour", "-1", "invalid-value"),
    ("cost_per_hour", 0.5, "wrong-type"),
    ("region", "", "invalid-value"),
    ("name", "Upper", "invalid-value"),
    ("name", "x" * 64, "invalid-value"),
    ("name", "123e4567-e89b-12d3-a456-426614174000", "invalid-value"),
    ("name", 7, "wrong-type"),
])
def test_cloud_validation(api, field, value, slug):
    assert_problem(api.post("/v1/clouds", {**cloud("c-bad"), field: value}), 400, slug, field)


def test_cloud_name_taken_and_gateway_shown(api, world):
    assert_problem(api.post("/v1/clouds", cloud("us")), 409, "name-taken", "name")
    st, _, us = api.get("/v1/clouds/us")
    assert us["gateway"]["name"] == "us-gw" and us["gateway"]["public_ip"] == "203.0.113.7"
    body = assert_problem(api.delete("/v1/clouds/us"), 409, "in-use")
    assert "hosts" in body["detail"]


def test_cloud_links(api, world):
    st, _, link = api.put("/v1/cloud-links/us/de-cheap", {"cost": 10, "rtt_ms": 98.5})
    assert st == 201
    assert (link["cloud_a"], link["cloud_b"]) == ("de-cheap", "us")
    assert link["cost"] == 10 and link["rtt_ms"] == 98.5 and link["bandwidth_mbps"] is None
    st, hdrs, again = api.put("/v1/cloud-links/de-cheap/us", {"cost": 12, "bandwidth_mbps": 1000})
    assert st == 200 and again["cost"] == 12 and again["rtt_ms"] is None
    assert api.get("/v1/cloud-links/us/de-cheap")[2] == again
    # The ETag of a PUT is the one a GET shows, so it works as If-Match.
    assert api.get("/v1/cloud-links/us/de-cheap")[1]["etag"] == hdrs["etag"]
    assert api.put("/v1/cloud-links/us/de-cheap", {"cost": 12, "bandwidth_mbps": 1000},
                   headers={"If-Match": hdrs["etag"]})[0] == 200
    assert_problem(api.put("/v1/cloud-links/us/de-cheap", {"cost": 1},
                           headers={"If-Match": '"stale"'}), 412, "precondition-failed")
    api.put("/v1/cloud-links/pt/us", {"cost": 3})
    st, _, page = api.get("/v1/cloud-links")
    assert [(l["cloud_a"], l["cloud_b"]) for l in page["items"]] == [("de-cheap", "us"), ("pt", "us")]
    assert_problem(api.put("/v1/cloud-links/us/us", {"cost": 1}), 400, "invalid-value", "cloud_b")
    assert_problem(api.put("/v1/cloud-links/us/mars", {"cost": 1}), 404, "not-found", "cloud_b")
    assert_problem(api.put("/v1/cloud-links/us/pt", {"cost": 0}), 400, "invalid-value", "cost")
    assert_problem(api.put("/v1/cloud-links/us/pt", {"cost": "1"}), 400, "wrong-type", "cost")
    assert_problem(api.put("/v1/cloud-links/us/pt", {}), 400, "missing-field", "cost")
    assert api.delete("/v1/cloud-links/pt/us")[0] == 204
    assert_problem(api.get("/v1/cloud-links/us/pt"), 404, "not-found")


# --- hosts ----------------------------------------------------------------

def test_host_defaults_and_rules(api, world):
    h = created(api.post("/v1/hosts", {"name": "h-def", "cloud": "pt", "tunnel_ip": "198.18.9.9",
                                       "ovsdb": "tcp:127.0.0.1:6640",
                                       "controller": "tcp:127.0.0.1:6653"}))
    assert (h["role"], h["bridge"], h["datapath"], h["capacity"]) == ("host", "br-sky", "system", 16)
    assert h["cloud"] == "pt" and h["vm_count"] == 0 and h["openflow"] is None
    # A second gateway in a cloud (migrations/011), with its own public_ip;
    # a third is refused.
    gw = api.get("/v1/hosts/pt-gw")[2]
    assert_problem(api.post("/v1/hosts", host("gw2", "pt", 99, role="gateway",
                                              public_ip=gw["public_ip"])), 409, "conflict",
                   "public_ip")
    created(api.post("/v1/hosts", host("gw2", "pt", 99, role="gateway",
                                       public_ip="203.0.113.99")))
    cloud = api.get("/v1/clouds/pt")[2]
    assert [g["name"] for g in cloud["gateways"]] == sorted([gw["name"], "gw2"])
    assert cloud["gateway"]["name"] == min(gw["name"], "gw2")
    assert_problem(api.post("/v1/hosts", host("gw2b", "pt", 88, role="gateway",
                                              public_ip="203.0.113.98")), 409,
                   "cloud-gateways-full", "role")
    assert_problem(api.patch("/v1/hosts/h-def", {"role": "gateway",
                                                 "public_ip": "203.0.113.97"}), 409,
                   "cloud-gateways-full", "role")
    assert api.delete("/v1/hosts/gw2")[0] == 204
    assert_problem(api.post("/v1/hosts", host("gw3", "pt", 98, role="gateway")), 400,
                   "missing-field", "public_ip")
    assert_problem(api.post("/v1/hosts", host("h3", "pt", 97, public_ip="203.0.113.9")), 400,
                   "invalid-value", "public_ip")
    assert_problem(api.post("/v1/hosts", host("h4", "mars", 96)), 400, "invalid-value", "cloud")
    both = host("h5", "pt", 95, controller="tcp:127.0.0.1:6653")
    assert_problem(api.post("/v1/hosts", both), 400, "invalid-value", "openflow")
    neither = host("h6", "pt", 94)
    del neither["openflow"]
    assert_problem(api.post("/v1/hosts", neither), 400, "missing-field", "openflow")
    assert_problem(api.post("/v1/hosts", host("h7", "pt", 93, controller="unix:/x", openflow=None)),
                   400, "invalid-value", "controller")
    assert_problem(api.post("/v1/hosts", host("h8", "pt", 92, ovsdb="ssl:1.2.3.4")), 400,
                   "invalid-value", "ovsdb")
    assert_problem(api.post("/v1/hosts", host("h9", "pt", 91, capacity=0)), 400,
                   "invalid-value", "capacity")
    assert_problem(api.post("/v1/hosts", host("h10", "pt", 90, tunnel_ip="198.18.0.256")), 400,
                   "invalid-value", "tunnel_ip")
    assert_problem(api.post("/v1/hosts", host("h11", "pt", 89, datapath="dpdk")), 400,
                   "invalid-value", "datapath")
    # The cloud is fixed once created; repeating it is fine.
    assert_problem(api.patch("/v1/hosts/h-def", {"cloud": "us"}), 400, "read-only-field", "cloud")
    st, _, p = api.patch("/v1/hosts/h-def", {"cloud": "pt", "capacity": 4, "controller": None,
                                             "openflow": "tcp:127.0.0.1:6633"})
    assert st == 200 and p["capacity"] == 4 and p["controller"] is None
    assert api.delete("/v1/hosts/h-def")[0] == 204


# --- tenants and access ---------------------------------------------------

def test_tenant_token_shown_once_and_stored_hashed(api, pg, daemon, world):
    t = world["tenant"]
    assert t["token"].startswith("svt_") and len(t["token"]) == 68 and t["tag"] >= 1
    st, _, got = api.get("/v1/tenants/acme")
    assert "token" not in got and got["tag"] == t["tag"]
    db = daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]
    row = pg.psql("SELECT length(k.hash), k.name, k.scope FROM token k JOIN tenant t"
                  " ON t.id = k.tenant_id WHERE t.name = 'acme'", db=db)
    assert row == "32|initial|read-write"
    dump = pg.psql("SELECT t::text FROM tenant t", db=db)
    dump += pg.psql("SELECT k::text FROM token k", db=db)
    assert t["token"] not in dump and t["token"][4:] not in dump


def test_tags_are_lowest_free(api):
    tags = [created(api.post("/v1/tenants", {"name": f"tag-{i}"}))["tag"] for i in range(3)]
    assert tags == sorted(tags) and tags[1] == tags[0] + 1
    assert api.delete("/v1/tenants/tag-1")[0] == 204
    assert created(api.post("/v1/tenants", {"name": "tag-again"}))["tag"] == tags[1]


def test_access_control(daemon, world):
    admin, anon = daemon.api(), daemon.api(token=None)
    tenant = daemon.api(token=world["token"])
    other = created(admin.post("/v1/tenants", {"name": "other"}))
    created(admin.post("/v1/tenants/other/networks", {"name": "secret", "subnet": "10.0.0.0/24"}))
    intruder = daemon.api(token=other["token"])

    st, hdrs, _ = anon.get("/v1/clouds")
    assert st == 401 and hdrs["www-authenticate"].startswith("Bearer")
    assert_problem(anon.get("/v1/tenants/acme"), 401, "unauthorized")
    assert_problem(daemon.api(token="svt_" + "0" * 64).get("/v1/tenants/acme"), 401, "unauthorized")
    assert_problem(daemon.api(token="not-a-token").get("/v1/clouds"), 401, "unauthorized")
    assert_problem(tenant.get("/v1/clouds"), 403, "forbidden")
    assert_problem(tenant.post("/v1/tenants", {"name": "x"}), 403, "forbidden")
    assert_problem(tenant.delete("/v1/tenants/acme"), 403, "forbidden")
    # Own tenant: by name and by id.
    assert tenant.get("/v1/tenants/acme")[0] == 200
    assert tenant.get(f"/v1/tenants/{world['tenant']['id']}")[0] == 200
    assert tenant.get("/v1/tenants/acme/networks/net/switches")[0] == 200
    # Another tenant's objects, and a tenant that does not exist, look alike.
    a = assert_problem(intruder.get("/v1/tenants/acme/networks"), 404, "not-found")
    b = assert_problem(intruder.get("/v1/tenants/no-such-tenant/networks"), 404, "not-found")
    assert a["detail"].replace("acme", "X") == b["detail"].replace("no-such-tenant", "X")
    assert_problem(intruder.get("/v1/tenants/acme/networks/net/status"), 404, "not-found")
    assert_problem(intruder.post("/v1/tenants/acme/networks", {"name": "n", "subnet": "10.1.0.0/16"}),
                   404, "not-found")
    assert_problem(tenant.get("/v1/tenants/other/networks/secret"), 404, "not-found")
    # Delete refused while the tenant has networks.
    assert_problem(admin.delete("/v1/tenants/other"), 409, "in-use")


# --- networks, switches, links, VMs ---------------------------------------

def vm(name, mac, ip, switch="s1", placement=None, **kw):
    return {"name": name, "mac": mac, "ip": ip, "switch": switch,
            "placement": {"cloud": "de-cheap"} if placement is None else placement, **kw}


def test_networks(daemon, world):
    t = daemon.api(token=world["token"])
    base = "/v1/tenants/acme/networks"
    n = created(t.post(base, {"name": "n2", "subnet": "172.16.0.0/16", "tagging": "rewrite"}))
    assert n["tenant"] == "acme" and n["tagging"] == "rewrite" and n["subnet"] == "172.16.0.0/16"
    assert created(t.post(base, {"name": "n3", "subnet": "10.0.0.0/24"}))["tagging"] == "mac-prefix"
    # Overlapping subnets across tenants are fine (acme/net is 10.0.0.0/24 too).
    admin = daemon.api()
    created(admin.post("/v1/tenants", {"name": "overlap"}))
    created(admin.post("/v1/tenants/overlap/networks", {"name": "net", "subnet": "10.0.0.0/24"}))
    for subnet in ("10.0.0.1/24", "10.0.0.0/31", "10.0.0.0/7", "10.0.0.0", "fe80::/64"):
        assert_problem(t.post(base, {"name": "bad", "subnet": subnet}), 400, "invalid-value", "subnet")
    assert_problem(t.post(base, {"name": "bad", "subnet": "10.0.0.0/8", "tagging": "vlan"}), 400,
                   "invalid-value", "tagging")
    assert_problem(t.post(base, {"name": "n2", "subnet": "10.9.0.0/16"}), 409, "name-taken", "name")
    st, _, p = t.patch(f"{base}/n2", {"subnet": "172.17.0.0/16"})
    assert st == 200 and p["subnet"] == "172.17.0.0/16"
    assert t.delete(f"{base}/n3")[0] == 204


def test_links(daemon, world):
    t = daemon.api(token=world["token"])
    base = "/v1/tenants/acme/networks/net/links"
    l1 = created(t.post(base, {"a": "s2", "b": "s1", "bandwidth_mbps": 100}))
    assert (l1["name"], l1["a"], l1["b"], l1["bandwidth_mbps"]) == ("s1--s2", "s2", "s1", 100)
    assert_problem(t.post(base, {"a": "s1", "b": "s2", "name": "dup"}), 409, "conflict", "b")
    assert_problem(t.post(base, {"a": "s1", "b": "s1"}), 400, "invalid-value", "b")
    assert_problem(t.post(base, {"a": "s1", "b": "nope"}), 400, "invalid-value", "b")
    assert_problem(t.post(base, {"a": "s1", "b": "s3", "bandwidth_mbps": 0}), 400,
                   "invalid-value", "bandwidth_mbps")
    st, _, p = t.patch(f"{base}/s1--s2", {"bandwidth_mbps": None})
    assert st == 200 and p["bandwidth_mbps"] is None
    assert_problem(t.delete("/v1/tenants/acme/networks/net/switches/s1"), 409, "in-use")
    assert t.delete(f"{base}/s1--s2")[0] == 204


def test_vms_validation_and_placement(daemon, world):
    t = daemon.api(token=world["token"])
    base = "/v1/tenants/acme/networks/net/vms"
    v = created(t.post(base, vm("v1", "02:AA:00:00:00:01", "10.0.0.10")))
    assert v["mac"] == "02:aa:00:00:00:01" and v["cloud"] == "de-cheap"
    assert v["host"] in ("de-cheap-w1", "de-cheap-w2") and v["switch"] == "s1"
    # MAC and IP syntax and rules.
    for mac in ("01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00:00:00:00", "zz:00:00:00:00:01"):
        assert_problem(t.post(base, vm("vx", mac, "10.0.0.11")), 400, "invalid-value", "mac")
    for ip in ("10.0.1.1", "10.0.0.0", "10.0.0.255", "10.0.0", "::1"):
        assert_problem(t.post(base, vm("vx", "02:00:00:00:00:11", ip)), 400, "invalid-value", "ip")
    assert_problem(t.post(base, vm("vx", "02-aa-00-00-00-01", "10.0.0.12")), 409, "conflict", "mac")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:12", "10.0.0.10")), 409, "conflict", "ip")
    assert_problem(t.post(base, vm("v1", "02:00:00:00:00:13", "10.0.0.13")), 409, "name-taken", "name")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:14", "10.0.0.14", switch="nope")), 400,
                   "invalid-value", "switch")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:15", "10.0.0.15", iface="x" * 16)), 400,
                   "invalid-value", "iface")
    # Placements: explicit host (even a gateway), cloud, constraints.
    g = created(t.post(base, vm("on-gw", "02:00:00:00:00:20", "10.0.0.20", placement={"host": "pt-gw"})))
    assert g["host"] == "pt-gw"
    c = created(t.post(base, vm("in-us", "02:00:00:00:00:21", "10.0.0.21",
                                placement={"jurisdiction": ["US", "DE"]})))
    assert c["cloud"] == "de-cheap"              # the cheapest cloud among DE and US
    c = created(t.post(base, vm("not-de", "02:00:00:00:00:22", "10.0.0.22",
                                placement={"avoid_clouds": ["de-cheap", "de-dear", "pt"]})))
    assert c["cloud"] == "us"
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:23", "10.0.0.23", placement={"host": "nope"})),
                   400, "invalid-value", "placement.host")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:24", "10.0.0.24", placement={})),
                   400, "invalid-value", "placement")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:25", "10.0.0.25",
                                   placement={"host": "pt-gw", "cloud": "pt"})), 400, "invalid-value",
                   "placement")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:26", "10.0.0.26",
                                   placement={"jurisdiction": ["XX1"]})), 400, "invalid-value",
                   "placement.jurisdiction")
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:27", "10.0.0.27", placement={"zone": "a"})),
                   400, "unknown-field", "placement")
    # Fill the PT workers (2 x capacity 2), then PT is full.
    for i in range(4):
        created(t.post(base, vm(f"pt{i}", f"02:00:00:00:01:{i:02x}", f"10.0.0.{40 + i}",
                                placement={"jurisdiction": ["PT"]})))
    body = assert_problem(t.post(base, vm("pt-full", "02:00:00:00:01:10", "10.0.0.50",
                                          placement={"jurisdiction": ["PT"]})), 409,
                          "placement-failed", "placement")
    assert "capacity" in body["detail"] and "PT" in body["detail"]
    assert_problem(t.post(base, vm("vx", "02:00:00:00:00:28", "10.0.0.28",
                                   placement={"jurisdiction": ["FR"]})), 409, "placement-failed")
    # A PATCH that keeps the placement keeps the host.
    st, _, p = t.patch(f"{base}/pt0", {"ip": "10.0.0.60", "labels": {"role": "db"}})
    assert st == 200 and p["host"] == t.get(f"{base}/pt0")[2]["host"] and p["labels"] == {"role": "db"}
    # Hosts and networks with VMs cannot go.
    admin = daemon.api()
    assert_problem(admin.delete(f"/v1/hosts/{p['host']}"), 409, "in-use")
    assert_problem(t.delete("/v1/tenants/acme/networks/net"), 409, "in-use")
    assert_problem(t.delete("/v1/tenants/acme/networks/net/switches/s1"), 409, "in-use")
    assert_problem(t.patch("/v1/tenants/acme/networks/net", {"subnet": "10.1.0.0/16"}), 409,
                   "conflict", "subnet")
    assert admin.get(f"/v1/hosts/{p['host']}")[2]["vm_count"] >= 1


def test_network_status_and_delete_cascade(daemon, world):
    t = daemon.api(token=world["token"])
    base = "/v1/tenants/acme/networks/st"
    created(t.post("/v1/tenants/acme/networks", {"name": "st", "subnet": "192.168.0.0/24"}))
    created(t.post(f"{base}/switches", {"name": "a"}))
    created(t.post(f"{base}/switches", {"name": "b"}))
    created(t.post(f"{base}/links", {"a": "a", "b": "b"}))
    v = created(t.post(f"{base}/vms", vm("v", "02:00:00:00:09:01", "192.168.0.5", switch="a")))
    st, hdrs, s = t.get(f"{base}/status")
    assert st == 200
    assert s["network"]["name"] == "st" and [x["name"] for x in s["switches"]] == ["a", "b"]
    assert [x["name"] for x in s["links"]] == ["a--b"] and s["vms"][0]["id"] == v["id"]
    assert s["summary"] == {"pending": 5, "realized": 0, "error": 0}
    assert t.get(f"{base}/status", headers={"If-None-Match": hdrs["etag"]})[0] == 304
    assert t.delete(f"{base}/vms/v")[0] == 204
    assert t.get(f"{base}/status", headers={"If-None-Match": hdrs["etag"]})[0] == 200
    assert t.delete(base)[0] == 204                         # switches and links go with it
    assert_problem(t.get(f"{base}/switches"), 404, "not-found")


GW = {"host": "de-dear-gw"}     # explicit, clear of the workers other tests fill


def test_virtual_topology(daemon, world):
    """GET .../topology: switches with their VMs, links by switch name and
    the segments (which switches, so which VMs, can reach each other)."""
    t = daemon.api(token=world["token"])
    base = "/v1/tenants/acme/networks/topo"
    created(t.post("/v1/tenants/acme/networks", {"name": "topo", "subnet": "192.168.7.0/24"}))
    for s in ("a", "b", "c", "d"):
        created(t.post(f"{base}/switches", {"name": s}))
    created(t.post(f"{base}/links", {"a": "c", "b": "a"}))
    created(t.post(f"{base}/vms", vm("va", "02:00:00:07:00:01", "192.168.7.1", switch="a", placement=GW)))
    created(t.post(f"{base}/vms", vm("vc", "02:00:00:07:00:03", "192.168.7.3", switch="c",
                                     placement={"host": "us-gw"})))
    created(t.post(f"{base}/vms", vm("vd", "02:00:00:07:00:04", "192.168.7.4", switch="d", placement=GW)))
    st, hdrs, topo = t.get(f"{base}/topology")
    assert st == 200, topo
    assert topo["network"]["name"] == "topo" and topo["network"]["tagging"] == "mac-prefix"
    assert [s["name"] for s in topo["switches"]] == ["a", "b", "c", "d"]
    by = {s["name"]: s for s in topo["switches"]}
    assert [v["name"] for v in by["a"]["vms"]] == ["va"] and by["b"]["vms"] == []
    vc = by["c"]["vms"][0]
    assert (vc["host"], vc["cloud"], vc["ip"], vc["mac"]) == ("us-gw", "us", "192.168.7.3",
                                                               "02:00:00:07:00:03")
    assert vc["status"]["state"] == "pending"
    assert [(l["a"], l["b"]) for l in topo["links"]] == [("c", "a")]
    assert topo["segments"] == [{"switches": ["a", "c"], "vms": ["va", "vc"]},
                                {"switches": ["b"], "vms": []},
                                {"switches": ["d"], "vms": ["vd"]}]
    assert t.get(f"{base}/topology", headers={"If-None-Match": hdrs["etag"]})[0] == 304
    # Joining b and d merges their segments; the validator changes.
    created(t.post(f"{base}/links", {"a": "b", "b": "d"}))
    st, hdrs2, topo = t.get(f"{base}/topology", headers={"If-None-Match": hdrs["etag"]})
    assert st == 200 and hdrs2["etag"] != hdrs["etag"]
    assert [s["switches"] for s in topo["segments"]] == [["a", "c"], ["b", "d"]]
    # Another tenant sees none of it; an unknown network is a 404.
    admin = daemon.api()
    other = created(admin.post("/v1/tenants", {"name": "topo-other"}))
    assert_problem(daemon.api(token=other["token"]).get(f"{base}/topology"), 404, "not-found")
    assert_problem(t.get("/v1/tenants/acme/networks/nope/topology"), 404, "not-found")
    assert admin.get(f"{base}/topology")[0] == 200


def test_physical_topology_without_reconciler(daemon, world):
    """GET /v1/topology with --no-reconciler: the tunnels the desired state
    asks for, nothing connected, no LLDP link; tenants may not see it."""
    admin = daemon.api()
    st, hdrs, topo = admin.get("/v1/topology")
    assert st == 200, topo
    assert topo["layout"] == "mst+backup" and topo["lldp_links"] == []   # the default
    clouds = {c["name"] for c in admin.get("/v1/clouds?limit=100")[2]["items"]}
    hosts = admin.get("/v1/hosts?limit=100")[2]["items"]
    assert {b["host"] for b in topo["bridges"]} == {h["name"] for h in hosts}
    assert not any(b["connected"] for b in topo["bridges"])
    inter = [t for t in topo["tunnels"] if t["kind"] == "inter-cloud"]
    intra = [t for t in topo["tunnels"] if t["kind"] == "intra-cloud"]
    with_gw = {h["cloud"] for h in hosts if h["role"] == "gateway"}
    tree = [t for t in inter if t["role"] == "tree"]
    assert len(tree) == len(with_gw) - 1                     # a spanning tree
    if len(with_gw) >= 3:                                    # and its backups
        assert len(inter) > len(tree)
    assert all(t["role"] == "backup" for t in inter if t not in tree)
    assert all(t["state"] == "unknown" for t in topo["tunnels"])    # no BFD read
    assert all(a.endswith("-gw") and b.endswith("-gw") for a, b in
               ((t["a"], t["b"]) for t in inter))
    workers = [h for h in hosts if h["role"] != "gateway" and h["cloud"] in with_gw]
    assert len(intra) == len(workers)                         # one to its gateway each
    assert with_gw <= clouds
    assert admin.get("/v1/topology", headers={"If-None-Match": hdrs["etag"]})[0] == 304
    assert_problem(daemon.api(token=world["token"]).get("/v1/topology"), 403, "forbidden")


def test_mac_prefix_wire_identity(daemon, world):
    """mac-prefix carries a VM's lower 32 MAC bits on the wire: within one
    tenant they must be unique across its mac-prefix networks; rewrite
    networks have no such rule."""
    t = daemon.api(token=world["token"])
    nets = "/v1/tenants/acme/networks"
    created(t.post(nets, {"name": "wire1", "subnet": "192.168.8.0/24"}))
    created(t.post(nets, {"name": "wire2", "subnet": "192.168.9.0/24"}))
    created(t.post(nets, {"name": "wire3", "subnet": "192.168.8.0/24", "tagging": "rewrite"}))
    for n in ("wire1", "wire2", "wire3"):
        created(t.post(f"{nets}/{n}/switches", {"name": "s1"}))
    created(t.post(f"{nets}/wire1/vms", vm("w1", "02:00:0a:0b:0c:0d", "192.168.8.1", placement=GW)))
    # Same lower 32 bits, other upper 16: 409 in the same or another
    # mac-prefix network of the tenant.
    body = assert_problem(t.post(f"{nets}/wire1/vms", vm("w2", "06:00:0a:0b:0c:0d",
                                                          "192.168.8.2")), 409, "conflict", "mac")
    assert "32" in body["detail"]
    assert_problem(t.post(f"{nets}/wire2/vms", vm("w3", "0a:00:0a:0b:0c:0d", "192.168.9.3", placement=GW)),
                   409, "conflict", "mac")
    # A rewrite network may reuse the very same MAC and IP.
    created(t.post(f"{nets}/wire3/vms", vm("w4", "02:00:0a:0b:0c:0d", "192.168.8.1", placement=GW)))
    # Another tenant's mac-prefix network may too.
    admin = daemon.api()
    created(admin.post("/v1/tenants", {"name": "wire-other"}))
    created(admin.post("/v1/tenants/wire-other/networks", {"name": "n", "subnet": "192.168.8.0/24"}))
    created(admin.post("/v1/tenants/wire-other/networks/n/switches", {"name": "s1"}))
    created(admin.post("/v1/tenants/wire-other/networks/n/vms",
                       vm("w5", "06:00:0a:0b:0c:0d", "192.168.8.1", placement=GW)))


# --- protocol -------------------------------------------------------------

def raw(daemon, method, path, body=b"", headers=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    h = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json",
         **(headers or {})}
    if chunked:
        conn.putrequest(method, path)
        for k, v in {**h, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(k, v)
        conn.endheaders()
        for i in range(0, len(body), 65536):
            part = body[i:i + 65536]
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
    else:
        conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


@pytest.mark.parametrize("body,slug,field", [
    (b'{"name": "x",', "malformed-json", None),
    (b'{"name": "a", "name": "b"}', "duplicate-key", None),
    (b'[1, 2]', "wrong-type", None),
    (b'"text"', "wrong-type", None),
    (b'', "malformed-json", None),
    (b'{"name": "x", "extra": 1}', "unknown-field", "extra"),
    (b'{"name": ["x"]}', "wrong-type", "name"),
    (b'{"provider": "aws"}', "missing-field", "name"),
    (b'{"name": "a\\u0000b"}', "malformed-json", None),
    (b'\xff\xfe', "malformed-json", None),
])
def test_bad_bodies(daemon, body, slug, field):
    st, hdrs, data = raw(daemon, "POST", "/v1/clouds", body)
    assert st == 400 and hdrs["content-type"] == "application/problem+json"
    p = __import__("json").loads(data)
    assert p["type"] == f"urn:skyvisor:problem:{slug}" and p["instance"] == "/v1/clouds"
    if field:
        assert p["field"] == field


def test_media_type_size_routes_methods(daemon, api):
    st, _, _ = raw(daemon, "POST", "/v1/clouds", b'{}', headers={"Content-Type": "text/plain"})
    assert st == 415
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    st, hdrs, data = raw(daemon, "POST", "/v1/clouds", big)
    assert st == 413 and b"body-too-large" in data
    st, hdrs, data = raw(daemon, "POST", "/v1/clouds", big, chunked=True)
    assert st == 413 and b"body-too-large" in data
    assert_problem(api.get("/v1/nothing"), 404, "no-route")
    assert_problem(api.get("/v1/clouds/"), 404, "no-route")
    st, hdrs, body = api.request("PUT", "/v1/clouds", {"name": "x"})
    assert st == 405 and hdrs["allow"] == "GET, HEAD, POST, OPTIONS"
    assert body["type"] == "urn:skyvisor:problem:method-not-allowed"
    st, hdrs, _ = raw(daemon, "OPTIONS", "/v1/hosts/x")
    assert st == 204 and hdrs["allow"] == "GET, HEAD, PATCH, DELETE, OPTIONS"


def test_pagination(api):
    names = [f"page-{i:02d}" for i in range(23)]
    for n in reversed(names):
        created(api.post("/v1/clouds", cloud(n)))
    seen, cursor = [], None
    while True:
        st, _, page = api.get("/v1/clouds?limit=5" + (f"&cursor={cursor}" if cursor else ""))
        assert st == 200 and len(page["items"]) <= 5
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    ours = [n for n in seen if n.startswith("page-")]
    assert ours == names and seen == sorted(seen) and len(seen) == len(set(seen))
    for q in ("limit=0", "limit=1001", "limit=abc", "limit=", "cursor=zz", "cursor=6"):
        assert_problem(api.get(f"/v1/clouds?{q}"), 400, "bad-query")


def test_idempotency_keys(api, pg, daemon):
    body = cloud("idem")
    k = {"Idempotency-Key": "create-idem-1"}
    st1, h1, b1 = api.post("/v1/clouds", body, headers=k)
    st2, h2, b2 = api.post("/v1/clouds", body, headers=k)
    assert (st1, st2) == (201, 201) and b1 == b2 and h1["location"] == h2["location"]
    db = daemon.args[daemon.args.index("--db") + 1].rsplit("/", 1)[1]
    assert pg.psql("SELECT count(*) FROM cloud WHERE name = 'idem'", db=db) == "1"
    assert_problem(api.post("/v1/clouds", cloud("idem-2"), headers=k), 422, "idempotency-key-reused")
    assert_problem(api.post("/v1/clouds", cloud("idem-3"), headers={"Idempotency-Key": "a b"}),
                   400, "bad-header")
    # A failed request does not consume its key: fixed, it goes through.
    k2 = {"Idempotency-Key": "create-idem-4"}
    assert_problem(api.post("/v1/clouds", cloud("idem-4", kind="x"), headers=k2), 400, "invalid-value")
    assert api.post("/v1/clouds", cloud("idem-4"), headers=k2)[0] == 201


def test_concurrent_tenant_creation_gets_distinct_tags(daemon):
    results = []

    def create(i):
        results.append(daemon.api().post("/v1/tenants", {"name": f"conc-{i}"}))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [201] * 20
    tags = [r[2]["tag"] for r in results]
    assert len(set(tags)) == 20


def test_health_metrics_openapi(daemon, api):
    anon = daemon.api(token=None)
    assert anon.get("/healthz")[2] == {"status": "ok"}
    assert anon.get("/readyz")[2] == {"status": "ready"}
    api.get("/v1/clouds")
    api.get("/v1/no-route-here")
    st, hdrs, text = anon.get("/metrics")
    assert st == 200 and hdrs["content-type"].startswith("text/plain")
    assert 'skyvisor_http_requests_total{route="/v1/clouds",method="GET",status="200"}' in text
    assert 'route="(none)",method="GET",status="404"' in text
    assert 'skyvisor_http_request_duration_seconds_bucket{route="/v1/clouds",le="+Inf"}' in text
    assert "skyvisor_db_pool_connections 2" in text
    for line in text.splitlines():
        if line.startswith("skyvisor_http_requests_total{route=\"/v1/clouds\",method=\"GET\",status=\"200\"}"):
            assert int(line.rsplit(" ", 1)[1]) >= 1


def test_notify_in_the_same_transaction(pg, daemon, api):
    db = daemon.args[daemon.args.index("--db") + 1]
    listener = subprocess.Popen(["psql", "-X", "-At", db, "-c", "LISTEN skyvisor_desired",
                                 "-c", "SELECT pg_sleep(3)"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    c = created(api.post("/v1/clouds", cloud("notified")))
    dbname = db.rsplit("/", 1)[1]
    # A status-only update, as the reconciler makes, does not notify.
    pg.psql("UPDATE cloud SET state = 'realized', observed_generation = 1 WHERE name = 'notified'",
            db=dbname)
    out = listener.communicate(timeout=30)[0]
    notes = [l for l in out.splitlines() if "Asynchronous notification" in l]
    assert len(notes) == 1, out
    assert c["id"] in notes[0] and '"insert"' in notes[0] and '"cloud"' in notes[0]
    st, _, got = api.get("/v1/clouds/notified")
    assert got["status"]["state"] == "realized"
