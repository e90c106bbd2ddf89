"""A VM's lifecycle as desired state (migrations/006_snapshots_migrations.sql):
snapshots, stop and start, counters and live migrations, through the REST
API of a real skyvisord (--no-reconciler) on a real PostgreSQL, and the
reconciler's side of it (db/snapshots.h, db/vm_migrations.h,
db/vm_stats.h) through tests/ctrl/lifecycle_driver: what the reconciler
is told (its work lists, the change log), and that its writes are guarded
(a stale writer moves nothing; a phase never goes back or skips one).

The realization (capture from the switches, cloning, dual delivery,
activation, cleanup) is the reconciler's and is not exercised here: the
driver stands in for the reconciler's writes."""

import json
import os
import re
import subprocess

import pytest

from conftest import ADMIN_TOKEN, BUILD, assert_problem, ok

N = "/v1/tenants/acme/networks/n"
CLOUD = {"provider": "aws", "region": "r", "kind": "public"}


def vm_body(name, mac, ip, placement, switch="s1"):
    return {"name": name, "mac": mac, "ip": ip, "switch": switch, "placement": placement}


@pytest.fixture(scope="module")
def url(daemon):
    return daemon.args[daemon.args.index("--db") + 1]


def driver(url, *args):
    out = subprocess.run([os.path.join(BUILD, "tests", "lifecycle_driver"), url, *args],
                         check=True, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


def changes(url, watermark=None):
    args = [os.path.join(BUILD, "tests", "changelog_driver"), url, "read"]
    if watermark:
        args.append(watermark)
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def world(daemon):
    """Clouds de (hosts de-1 with 2 slots, de-2 with 8) and us (us-1 with 1);
    tenants acme (network n, switches s1 s2) and other."""
    api = daemon.api()
    ok(api.post("/v1/clouds", {"name": "de", "jurisdiction": "DE", **CLOUD}), 201)
    ok(api.post("/v1/clouds", {"name": "us", "jurisdiction": "US", **CLOUD}), 201)
    for i, (name, cloud, cap) in enumerate((("de-1", "de", 2), ("de-2", "de", 8),
                                            ("us-1", "us", 1))):
        ok(api.post("/v1/hosts", {"name": name, "cloud": cloud, "capacity": cap,
                                  "tunnel_ip": f"198.18.0.{i + 1}",
                                  "ovsdb": f"unix:/run/{name}.sock",
                                  "openflow": f"unix:/run/{name}.mgmt"}), 201)
    acme = ok(api.post("/v1/tenants", {"name": "acme"}), 201)
    other = ok(api.post("/v1/tenants", {"name": "other"}), 201)
    ok(api.post("/v1/tenants/acme/networks", {"name": "n", "subnet": "10.0.0.0/24"}), 201)
    for s in ("s1", "s2"):
        ok(api.post(f"{N}/switches", {"name": s}), 201)
    ro = ok(daemon.api(acme["token"]).post("/v1/tenants/acme/tokens",
                                           {"name": "viewer", "scope": "read-only"}), 201)
    return {"acme": daemon.api(acme["token"]), "ro": daemon.api(ro["token"]),
            "other": daemon.api(other["token"])}


def host_used(pg, url, host):
    """Slots of 'host' that placement counts as used."""
    db = url.rsplit("/", 1)[1]
    return int(pg.psql(
        "SELECT (SELECT count(*) FROM vm v WHERE v.host_id = h.id AND v.power = 'running')"
        " + (SELECT count(*) FROM vm_migration m WHERE m.finished_at IS NULL AND"
        "    CASE WHEN m.phase IN ('prepare', 'clone', 'dual') THEN m.to_host_id"
        "    ELSE m.from_host_id END = h.id)"
        f" FROM host h WHERE h.name = '{host}'", db=db))


# --- snapshots -----------------------------------------------------------

def test_snapshot_is_accepted_pending_then_settled_once(daemon, world, url):
    api = world["acme"]
    v = ok(api.post(f"{N}/vms", vm_body("snap-vm", "02:00:00:00:00:01", "10.0.0.1",
                                        {"host": "de-2"})), 201)
    st, hdrs, snap = api.post(f"{N}/vms/snap-vm/snapshots", {})
    assert st == 202, snap
    assert hdrs["location"] == f"{N}/vms/snap-vm/snapshots/{snap['id']}"
    assert snap["state"] == "pending" and snap["reason"] == "request"
    assert re.fullmatch(r"snap-\d{8}-\d{6}-[0-9a-f]{6}", snap["name"]), snap["name"]
    assert (snap["mac"], snap["ip"], snap["switch"], snap["host"]) == (
        "02:00:00:00:00:01", "10.0.0.1", "s1", "de-2")
    assert snap["size_bytes"] is None and snap["vm_id"] == v["id"]
    named = ok(api.post(f"{N}/vms/snap-vm/snapshots", {"name": "before",
                                                       "labels": {"k": "v"}}), 202)
    assert_problem(api.post(f"{N}/vms/snap-vm/snapshots", {"name": "before"}), 409,
                   "name-taken")
    assert_problem(api.post(f"{N}/vms/snap-vm/snapshots", {"name": "Bad_Name"}), 400,
                   "invalid-value", "name")
    assert_problem(api.post(f"{N}/vms/snap-vm/snapshots", {"content": {}}), 400,
                   "read-only-field", "content")

    # What the reconciler is given: both, oldest first, with the VM's host.
    pending = [p for p in driver(url, "snap-pending")["items"] if p["vm_id"] == v["id"]]
    assert [p["id"] for p in pending] == [snap["id"], named["id"]]
    assert pending[0]["host_id"] == v["host_id"] and pending[0]["reason"] == "request"

    content = {"flows": [{"table": 0, "priority": 100, "cookie": "0x1", "packets": 7}],
               "port": {"name": "vm-1", "ofport": 3}}
    r = driver(url, "snap-capture", snap["id"], json.dumps(content),
               json.dumps({"de-2": "2023-11-14T22:13:20Z"}))
    assert r["result"] == "one", r
    # A second writer (or a stale one) settles nothing.
    assert driver(url, "snap-capture", snap["id"], "{}")["result"] == "none"
    assert driver(url, "snap-error", snap["id"], "late failure")["result"] == "none"
    got = ok(api.get(f"{N}/vms/snap-vm/snapshots/{snap['name']}"))
    assert got["state"] == "ready" and got["content"] == content
    assert got["size_bytes"] == len(json.dumps(content, separators=(", ", ": ")))
    assert got["captured_at"].startswith("2023-11-14T22:13:20.5")
    assert got["capture_times"] == {"de-2": "2023-11-14T22:13:20Z"}
    assert driver(url, "snap-error", named["id"], "bridge br-sky of de-2 did not "
                  "answer the barrier")["result"] == "one"
    failed = ok(api.get(f"{N}/vms/snap-vm/snapshots/before"))
    assert failed["state"] == "error" and "barrier" in failed["detail"]
    assert failed["content"] is None
    listed = ok(api.get(f"{N}/vms/snap-vm/snapshots"))["items"]
    assert [s["name"] for s in listed] == sorted([snap["name"], "before"])
    assert all("content" not in s for s in listed)
    assert [p for p in driver(url, "snap-pending")["items"] if p["vm_id"] == v["id"]] == []

    assert api.delete(f"{N}/vms/snap-vm/snapshots/before")[0] == 204
    assert_problem(api.get(f"{N}/vms/snap-vm/snapshots/before"), 404, "not-found")
    assert_problem(api.get(f"{N}/vms/nosuch/snapshots"), 404, "not-found", "vm")


def test_tokens_read_only_and_other_tenants(daemon, world):
    api, ro, other = world["acme"], world["ro"], world["other"]
    ok(api.post(f"{N}/vms", vm_body("iso-vm", "02:00:00:00:00:02", "10.0.0.2",
                                    {"host": "de-2"})), 201)
    snap = ok(api.post(f"{N}/vms/iso-vm/snapshots", {"name": "s"}), 202)
    for method, path, body in (
            ("POST", f"{N}/vms/iso-vm/snapshots", {}),
            ("DELETE", f"{N}/vms/iso-vm/snapshots/s", None),
            ("POST", f"{N}/vms/iso-vm/stop", None),
            ("POST", f"{N}/vms/iso-vm/start", None),
            ("POST", f"{N}/vms/iso-vm/migrations", {"cloud": "us"})):
        assert_problem(ro.request(method, path, body), 403, "read-only-token")
        assert_problem(other.request(method, path, body), 404, "not-found")
    assert ok(ro.get(f"{N}/vms/iso-vm/snapshots/s"))["id"] == snap["id"]
    assert ok(ro.get(f"{N}/vms/iso-vm/stats"))["vm"] == "iso-vm"
    for path in (f"{N}/vms/iso-vm/snapshots", f"{N}/vms/iso-vm/snapshots/s",
                 f"{N}/vms/iso-vm/stats", f"{N}/vms/iso-vm/migrations"):
        assert_problem(other.get(path), 404, "not-found")
    assert api.delete(f"{N}/vms/iso-vm")[0] == 204    # its snapshots go with it
    assert_problem(api.get(f"{N}/vms/iso-vm/snapshots/s"), 404, "not-found")


# --- stop and start ------------------------------------------------------

def test_stop_releases_the_slot_and_start_checks_the_snapshot(daemon, world, url, pg):
    api = world["acme"]
    v = ok(api.post(f"{N}/vms", vm_body("sleeper", "02:00:00:00:00:03", "10.0.0.3",
                                        {"host": "de-1"})), 201)
    filler = vm_body("filler", "02:00:00:00:00:04", "10.0.0.4", {"host": "de-1"})
    ok(api.post(f"{N}/vms", filler), 201)
    assert host_used(pg, url, "de-1") == 2
    late = vm_body("late", "02:00:00:00:00:05", "10.0.0.5", {"host": "de-1"})
    assert_problem(api.post(f"{N}/vms", late), 409, "placement-failed")

    st, hdrs, stopped = api.post(f"{N}/vms/sleeper/stop", None)
    assert st == 202, stopped
    assert stopped["power"] == "stopped" and stopped["power_snapshot"]
    assert stopped["status"]["generation"] == v["status"]["generation"] + 1
    assert hdrs["location"] == f"{N}/vms/sleeper/snapshots/{stopped['power_snapshot']}"
    snap = ok(api.get(hdrs["location"]))
    assert snap["reason"] == "stop" and snap["state"] == "pending"
    # The addresses stay reserved; the slot is free.
    assert_problem(api.post(f"{N}/vms", vm_body("dup", "02:00:00:00:00:03", "10.0.0.99",
                                                {"host": "de-2"})), 409, "conflict", "mac")
    assert host_used(pg, url, "de-1") == 1
    ok(api.post(f"{N}/vms", late), 201)
    assert host_used(pg, url, "de-1") == 2

    assert_problem(api.post(f"{N}/vms/sleeper/stop", None), 409, "conflict")
    assert_problem(api.post(f"{N}/vms/sleeper/snapshots", {}), 409, "conflict")
    assert_problem(api.post(f"{N}/vms/sleeper/start", None), 409, "conflict", "snapshot")
    assert_problem(api.post(f"{N}/vms/sleeper/migrations", {"cloud": "us"}), 409,
                   "conflict")
    assert_problem(api.delete(f"{N}/vms/sleeper/snapshots/{snap['id']}"), 409, "in-use")
    assert driver(url, "snap-capture", snap["id"], '{"flows": []}')["result"] == "one"

    # Its own host is full now: start where there is room, or refuse.
    assert_problem(api.post(f"{N}/vms/sleeper/start", None), 409, "placement-failed")
    # MAC, IP or switch changed since the snapshot: 409 naming each.
    ok(api.patch(f"{N}/vms/sleeper", {"ip": "10.0.0.30", "switch": "s2"}))
    p = assert_problem(api.post(f"{N}/vms/sleeper/start",
                                {"placement": {"host": "de-2"}}), 409, "conflict", "ip")
    assert "ip, switch changed" in p["detail"] and "10.0.0.3" in p["detail"]
    ok(api.patch(f"{N}/vms/sleeper", {"ip": "10.0.0.3", "switch": "s1"}))
    assert_problem(api.post(f"{N}/vms/sleeper/start", {"snapshot": "nosuch"}), 400,
                   "invalid-value", "snapshot")

    st, hdrs, started = api.post(f"{N}/vms/sleeper/start",
                                 {"snapshot": snap["name"], "placement": {"cloud": "us"}})
    assert st == 202, started
    assert hdrs["location"] == f"{N}/vms/sleeper"
    assert (started["power"], started["host"], started["cloud"]) == ("running", "us-1", "us")
    assert started["placement"] == {"cloud": "us"} and started["power_snapshot"] == snap["id"]
    assert host_used(pg, url, "us-1") == 1
    assert_problem(api.post(f"{N}/vms/sleeper/start", None), 409, "conflict")


def test_stats_before_and_after_a_sample(daemon, world, url):
    api = world["acme"]
    v = ok(api.post(f"{N}/vms", vm_body("counted", "02:00:00:00:00:06", "10.0.0.6",
                                        {"host": "de-2"})), 201)
    st, hdrs, s = api.get(f"{N}/vms/counted/stats")
    assert st == 200 and hdrs["etag"]
    assert s["as_of"] is None and s["host"] == "de-2" and s["power"] == "running"
    assert all(s[k] is None for k in ("rx_packets", "rx_bytes", "rx_dropped", "tx_packets",
                                      "tx_bytes", "tx_dropped", "duplicated"))
    assert driver(url, "stats-record", v["id"], "1700000000", "10", "1000", "1", "20",
                  "2000", "2", "3")["result"] == "one"
    s = ok(api.get(f"{N}/vms/counted/stats"))
    assert s["as_of"].startswith("2023-11-14T22:13:20")
    assert (s["rx_packets"], s["rx_bytes"], s["rx_dropped"], s["tx_packets"],
            s["tx_bytes"], s["tx_dropped"], s["duplicated"]) == (10, 1000, 1, 20, 2000, 2, 3)
    # An older sample never replaces a newer one.
    assert driver(url, "stats-record", v["id"], "1699999999", "1", "1", "1", "1", "1",
                  "1", "1")["result"] == "none"
    assert ok(api.get(f"{N}/vms/counted/stats"))["rx_packets"] == 10


# --- migrations ----------------------------------------------------------

def test_migration_rules(daemon, world, url, pg):
    api = world["acme"]
    v = ok(api.post(f"{N}/vms", vm_body("mover", "02:00:00:00:00:07", "10.0.0.7",
                                        {"host": "de-2"})), 201)
    base = f"{N}/vms/mover/migrations"
    assert_problem(api.post(base, {"host": "de-2"}), 409, "conflict", "host")
    assert_problem(api.post(base, {"host": "nosuch"}), 400, "invalid-value", "host")
    assert_problem(api.post(base, {"host": "de-1", "cloud": "de"}), 400, "invalid-value")
    assert_problem(api.post(base, {"cloud": "us"}), 409, "placement-failed")  # us-1 full
    assert_problem(api.post(base, {"host": "de-1", "dual_timeout_s": 0}), 400,
                   "invalid-value", "dual_timeout_s")
    assert_problem(api.post(base, {"hots": "de-1"}), 400, "unknown-field", "hots")
    # de-1 is full (sleeper moved away, filler and late remain): free a slot.
    assert api.delete(f"{N}/vms/late")[0] == 204
    used_de1 = host_used(pg, url, "de-1")

    st, hdrs, m = api.post(base, {"cloud": "de", "dual_timeout_s": 60})
    assert st == 202, m
    assert hdrs["location"] == f"{base}/{m['id']}"
    assert (m["from_host"], m["to_host"], m["from_cloud"], m["to_cloud"]) == (
        "de-2", "de-1", "de", "de")
    assert m["phase"] == "prepare" and list(m["phase_times"]) == ["prepare"]
    assert m["counters"] == {"duplicated": 0, "to_controller": 0, "flows_cloned": 0}
    assert m["target"] == {"cloud": "de"} and m["dual_timeout_s"] == 60
    assert m["detail"] is None and m["finished_at"] is None
    assert host_used(pg, url, "de-1") == used_de1 + 1        # the target's slot held
    vm_now = ok(api.get(f"{N}/vms/mover"))
    assert vm_now["migration"] == {"id": m["id"], "phase": "prepare", "to_host": "de-1"}
    assert vm_now["host"] == "de-2"

    assert_problem(api.post(base, {"cloud": "de"}), 409, "conflict")
    for field, value in (("ip", "10.0.0.70"), ("mac", "02:00:00:00:00:70"),
                         ("switch", "s2"), ("placement", {"host": "de-1"})):
        assert_problem(api.patch(f"{N}/vms/mover", {field: value}), 409, "conflict", field)
    assert ok(api.patch(f"{N}/vms/mover", {"labels": {"moving": "yes"}}))["labels"] == {
        "moving": "yes"}
    assert_problem(api.delete(f"{N}/vms/mover"), 409, "in-use")
    assert_problem(api.post(f"{N}/vms/mover/stop", None), 409, "conflict")
    refused = api.post(f"{N}/batch", {"operations": [
        {"op": "update", "kind": "vm", "target": "mover", "body": {"ip": "10.0.0.71"}}]})
    assert refused[0] == 422 and refused[2]["errors"][0]["type"].endswith(":conflict")
    assert_problem(admin_delete_host(daemon, "de-1"), 409, "in-use")

    assert ok(api.get(base))["items"][0]["id"] == m["id"]
    assert ok(api.get(f"{base}/{m['id']}"))["phase"] == "prepare"
    assert_problem(api.get(f"{base}/nosuch"), 404, "not-found")
    assert_problem(api.get(f"{base}/00000000-0000-0000-0000-000000000000"), 404,
                   "not-found")


def admin_delete_host(daemon, name):
    return daemon.api().delete(f"/v1/hosts/{name}")


def test_phases_move_forward_only_and_are_logged(daemon, world, url, pg):
    """The reconciler's writes: guarded by the phase read, never backwards,
    never skipping; entering activate moves the VM; each step is in the
    change log and the audit trail."""
    api = world["acme"]
    mover = ok(api.get(f"{N}/vms/mover"))
    mig = mover["migration"]["id"]
    path = f"{N}/vms/mover/migrations/{mig}"
    w = changes(url)["watermark"]

    work = driver(url, "mig-active", "prepare")["items"]
    assert [x["id"] for x in work] == [mig]
    assert work[0]["vm_id"] == mover["id"] and work[0]["network_id"] == mover_network(api)
    assert work[0]["dual_timeout_s"] == 60 and not work[0]["rollback_requested"]

    assert driver(url, "mig-advance", mig, "prepare", "clone", "0", "0", "12")["result"] == "one"
    # A writer that read "prepare" before is stale now: nothing moves.
    assert driver(url, "mig-advance", mig, "prepare", "clone")["result"] == "none"
    assert driver(url, "mig-rollback", mig, "prepare")["result"] == "none"
    # Skipping a phase, going back, or leaving it for a phase out of order.
    for frm, to in (("clone", "activate"), ("clone", "prepare"), ("clone", "done")):
        r = driver(url, "mig-advance", mig, frm, to)
        assert r["result"] == "hard" and "cannot move" in r["message"], r
    db = url.rsplit("/", 1)[1]
    with pytest.raises(subprocess.CalledProcessError):      # the database says so too
        pg.psql(f"UPDATE vm_migration SET phase = 'prepare' WHERE id = '{mig}'", db=db)
    m = ok(api.get(path))
    assert m["phase"] == "clone" and m["counters"]["flows_cloned"] == 12
    assert set(m["phase_times"]) == {"prepare", "clone"}

    st, _, asked = api.post(f"{path}/activate", None)
    assert st == 202 and asked["activate_requested_at"], asked
    assert driver(url, "mig-active", "clone")["items"][0]["activate_requested"]
    assert driver(url, "mig-counters", mig, "clone", "5", "2", "-1")["result"] == "one"
    assert driver(url, "mig-counters", mig, "dual", "9", "9", "9")["result"] == "none"
    assert driver(url, "mig-advance", mig, "clone", "dual")["result"] == "one"
    assert driver(url, "mig-advance", mig, "dual", "activate", "40", "3", "12",
                  "first frame from the target")["result"] == "one"
    m = ok(api.get(path))
    assert m["phase"] == "activate" and m["detail"] == "first frame from the target"
    assert m["counters"] == {"duplicated": 40, "to_controller": 3, "flows_cloned": 12}
    moved = ok(api.get(f"{N}/vms/mover"))
    assert (moved["host"], moved["placement"]) == ("de-1", {"cloud": "de"})
    assert moved["status"]["generation"] == mover["status"]["generation"] + 1
    assert moved["migration"]["phase"] == "activate"
    # From activate on: no rollback, no second activation.
    assert_problem(api.delete(path), 409, "conflict")
    assert_problem(api.post(f"{path}/activate", None), 409, "conflict")
    assert driver(url, "mig-rollback", mig, "activate")["result"] == "hard"

    assert driver(url, "mig-advance", mig, "activate", "cleanup")["result"] == "one"
    assert driver(url, "mig-finish", mig)["result"] == "one"
    assert driver(url, "mig-finish", mig)["result"] == "none"
    assert driver(url, "mig-fail", mig, "done")["result"] == "hard"
    m = ok(api.get(path))
    assert m["phase"] == "done" and m["finished_at"]
    times = m["phase_times"]
    assert sorted(times, key=times.get) == ["prepare", "clone", "dual", "activate",
                                            "cleanup", "done"]
    assert ok(api.get(f"{N}/vms/mover"))["migration"] is None
    assert mig not in [x["id"] for x in driver(url, "mig-active")["items"]]

    log = [(c["kind"], c["id"], c["op"]) for c in changes(url, w)["changes"]]
    steps = [c for c in log if c[0] == "vm_migration"]
    # activate asked (1), five phase moves; counters alone are not desired state.
    assert steps == [("vm_migration", mig, "update")] * 6, log
    assert ("vm", mover["id"], "update") in log             # the move at activate
    audit = ok(daemon.api().get(f"/v1/audit?kind=migration&object={mig}"))["items"]
    phases = [a["new"]["phase"] for a in audit if a["new"] and "phase" in a["new"]]
    assert phases == ["done", "cleanup", "activate", "dual", "clone", "prepare"]


def mover_network(api):
    return ok(api.get(N))["id"]


def test_rollback_and_dual_timeout(daemon, world, url, pg):
    api = world["acme"]
    ok(api.post(f"{N}/vms", vm_body("back", "02:00:00:00:00:08", "10.0.0.8",
                                    {"host": "de-2"})), 201)
    base = f"{N}/vms/back/migrations"
    assert api.delete(f"{N}/vms/filler")[0] == 204        # a slot on de-1
    w = changes(url)["watermark"]
    m = ok(api.post(base, {"host": "de-1"}), 202)
    assert m["dual_timeout_s"] == 300
    log = changes(url, w)["changes"]
    assert [(c["kind"], c["id"], c["op"], c["network"]) for c in log
            if c["kind"] == "vm_migration"] == [
        ("vm_migration", m["id"], "create", mover_network(api))]
    assert [p for p in driver(url, "mig-active")["items"] if p["id"] == m["id"]]
    used = host_used(pg, url, "de-1")

    assert driver(url, "mig-advance", m["id"], "prepare", "clone")["result"] == "one"
    assert driver(url, "mig-advance", m["id"], "clone", "dual")["result"] == "one"
    db = url.rsplit("/", 1)[1]
    assert not driver(url, "mig-active", "dual")["items"][0]["dual_expired"]
    pg.psql("UPDATE vm_migration SET phase_times = jsonb_set(phase_times, '{dual}',"
            " to_jsonb(now() - interval '301 seconds')) WHERE id = '" + m["id"] + "'", db=db)
    assert driver(url, "mig-active", "dual")["items"][0]["dual_expired"]

    st, _, asked = api.delete(f"{base}/{m['id']}")
    assert st == 202 and asked["rollback_requested_at"] and asked["phase"] == "dual"
    assert_problem(api.post(f"{base}/{m['id']}/activate", None), 409, "conflict")
    assert driver(url, "mig-active", "dual")["items"][0]["rollback_requested"]
    assert ok(api.delete(f"{base}/{m['id']}"), 202)["rollback_requested_at"] == \
        asked["rollback_requested_at"]
    r = driver(url, "mig-rollback", m["id"], "dual", "rolled back: asked by DELETE")
    assert r["result"] == "one", r
    done = ok(api.get(f"{base}/{m['id']}"))
    assert done["phase"] == "rolled-back" and done["detail"].startswith("rolled back")
    assert ok(api.delete(f"{base}/{m['id']}"), 202)["phase"] == "rolled-back"
    assert host_used(pg, url, "de-1") == used - 1           # the reservation ended
    vm_now = ok(api.get(f"{N}/vms/back"))
    assert vm_now["host"] == "de-2" and vm_now["migration"] is None
    # The VM may migrate again, and be deleted.
    again = ok(api.post(base, {"host": "de-1"}), 202)
    assert driver(url, "mig-fail", again["id"], "prepare", "target host de-1 down"
                  )["result"] == "one"
    assert ok(api.get(f"{base}/{again['id']}"))["phase"] == "failed"
    assert [x["id"] for x in ok(api.get(base))["items"]] == [m["id"], again["id"]]
    assert api.delete(f"{N}/vms/back")[0] == 204


def test_idempotent_migration_create(daemon, world, url):
    api = world["acme"]
    ok(api.post(f"{N}/vms", vm_body("twice", "02:00:00:00:00:09", "10.0.0.9",
                                    {"host": "de-2"})), 201)
    hdr = {"Idempotency-Key": "mig-twice-1"}
    first = api.post(f"{N}/vms/twice/migrations", {"host": "de-1"}, headers=hdr)
    again = api.post(f"{N}/vms/twice/migrations", {"host": "de-1"}, headers=hdr)
    assert first[0] == again[0] == 202
    assert first[2]["id"] == again[2]["id"] and again[1]["location"] == first[1]["location"]
    assert len(ok(api.get(f"{N}/vms/twice/migrations"))["items"]) == 1
    assert driver(url, "mig-rollback", first[2]["id"], "prepare")["result"] == "one"


# --- skyctl --------------------------------------------------------------

def skyctl(daemon, *args, popen=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYVISOR_")}
    env.update(SKYVISOR_URL=f"http://127.0.0.1:{daemon.port}", SKYVISOR_TOKEN=ADMIN_TOKEN)
    cmd = [os.path.join(BUILD, "skyctl"), *args]
    if popen:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_skyctl_snapshot_stop_start(daemon, world, url):
    api = world["acme"]
    ok(api.post(f"{N}/vms", vm_body("cli", "02:00:00:00:00:0a", "10.0.0.10",
                                    {"host": "de-2"})), 201)
    p = skyctl(daemon, "snapshot", "acme/n/cli")
    assert p.returncode == 0, p.stderr
    assert re.match(r"snapshot snap-\S+ of acme/n/cli: pending", p.stdout), p.stdout
    p = skyctl(daemon, "stop", "acme/n/cli")
    assert p.returncode == 0 and "acme/n/cli: stopped" in p.stdout, p.stderr
    stopped = ok(api.get(f"{N}/vms/cli"))
    assert stopped["power"] == "stopped"
    p = skyctl(daemon, "start", "acme/n/cli", "--from", stopped["power_snapshot"])
    assert p.returncode == 1 and "is pending" in p.stderr, p.stderr
    assert driver(url, "snap-capture", stopped["power_snapshot"], "{}")["result"] == "one"
    p = skyctl(daemon, "start", "acme/n/cli", "--from", stopped["power_snapshot"])
    assert p.returncode == 0 and "acme/n/cli: running on de-2" in p.stdout, p.stderr
    for args in (("stop",), ("stop", "acme/n"), ("start", "acme/n/cli", "--to", "cloud=us"),
                 ("migrate", "acme/n/cli"), ("migrate", "acme/n/cli", "--to", "rack=r1"),
                 ("snapshot", "acme/n/cli", "--from", "x")):
        assert skyctl(daemon, *args).returncode == 64, args


def test_skyctl_migrate_prints_each_phase(daemon, world, url):
    api = world["acme"]
    ok(api.post(f"{N}/vms", vm_body("cli-m", "02:00:00:00:00:0b", "10.0.0.11",
                                    {"host": "de-2"})), 201)
    p = skyctl(daemon, "migrate", "acme/n/cli-m", "--to", "host=de-1", "--no-wait")
    assert p.returncode == 0, p.stderr
    first = ok(api.get(f"{N}/vms/cli-m"))["migration"]["id"]
    assert p.stdout.startswith(f"migration {first}: acme/n/cli-m from de-2 (de) to de-1")
    assert driver(url, "mig-rollback", first, "prepare", "asked")["result"] == "one"

    proc = skyctl(daemon, "migrate", "acme/n/cli-m", "--to", "host=de-1", popen=True)
    try:
        head = proc.stdout.readline()
        assert head.startswith("migration ") and " to de-1 (de)" in head, head
        mig = head.split()[1].rstrip(":")
        assert proc.stdout.readline().split()[0] == "prepare"
        # The reconciler's part, one phase after skyctl has shown the last.
        for frm, to in (("prepare", "clone"), ("clone", "dual"), ("dual", "activate"),
                        ("activate", "cleanup"), ("cleanup", "done")):
            assert driver(url, "mig-advance", mig, frm, to, "7", "1", "3")["result"] == "one"
            line = proc.stdout.readline()
            assert line.split()[0] == to, line
            assert "flows cloned 3, duplicated 7, to controller 1" in line, line
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert ok(api.get(f"{N}/vms/cli-m"))["host"] == "de-1"

    proc = skyctl(daemon, "migrate", "acme/n/cli-m", "--to", "host=de-2", popen=True)
    try:
        mig = proc.stdout.readline().split()[1].rstrip(":")
        assert driver(url, "mig-fail", mig, "prepare", "target host de-2: OVSDB "
                      "unreachable")["result"] == "one"
        assert proc.wait(timeout=30) == 1
        assert "ended failed: target host de-2: OVSDB unreachable" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


def test_concurrent_writers_move_a_phase_once(daemon, world, url):
    """Eight writers that all read "prepare" race to move it: one wins, the
    others change nothing."""
    api = world["acme"]
    ok(api.post(f"{N}/vms", vm_body("raced", "02:00:00:00:00:0c", "10.0.0.12",
                                    {"host": "de-2"})), 201)
    ok(daemon.api().post("/v1/hosts", {"name": "de-3", "cloud": "de",
                                       "tunnel_ip": "198.18.0.9",
                                       "ovsdb": "unix:/run/de-3.sock",
                                       "openflow": "unix:/run/de-3.mgmt"}), 201)
    m = ok(api.post(f"{N}/vms/raced/migrations", {"host": "de-3"}), 202)
    cmd = [os.path.join(BUILD, "tests", "lifecycle_driver"), url, "mig-advance", m["id"],
           "prepare", "clone"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(8)]
    results = sorted(json.loads(p.communicate(timeout=30)[0])["result"] for p in procs)
    assert results == ["none"] * 7 + ["one"]
    got = ok(api.get(f"{N}/vms/raced/migrations/{m['id']}"))
    assert got["phase"] == "clone" and got["generation"] == m["generation"] + 1
    assert driver(url, "mig-rollback", m["id"], "clone")["result"] == "one"
