"""Each host's used slots as a counter (migrations/015_host_slots.sql),
against a real skyvisord (--no-reconciler) on a real PostgreSQL.

After every step of a mix of VM creates and deletes, stops and starts,
migrations through every phase (done, rolled back, failed) and host
inserts and deletes, host_slots.used must equal the count placement
used to make on every placement (db/store.h's rule), for every host.
The same for host_slots.vms (migrations/016_host_vm_count.sql), every
VM whose host it is, which the API's vm_count shows.  The counters' writes
are no change of the host: no change-log row, no audit row, no revision
move.  And the migration's backfill counts a
database that already holds VMs and migrations.  The reconciler's writes
(phases) are made by tests/ctrl/lifecycle_driver, as the reconciler makes
them."""

import json
import os
import subprocess
import threading

import pytest

from conftest import BUILD, Skyvisord, assert_problem, ok

N = "/v1/tenants/slots/networks/n"
CLOUD = {"provider": "aws", "region": "r", "kind": "public"}
HOSTS = (("sa-1", "sa", 3), ("sa-2", "sa", 3), ("sb-1", "sb", 2))

# db/store.h's rule, counted from scratch: running VMs, and each active
# migration's other copy (the target before activate, the source from
# activate on); and the host's VMs (016's counter, the API's vm_count).
RECOUNT = """
SELECT h.name, s.used,
       (SELECT count(*) FROM vm v WHERE v.host_id = h.id AND v.power = 'running')
       + (SELECT count(*) FROM vm_migration m WHERE m.finished_at IS NULL
            AND CASE WHEN m.phase IN ('prepare', 'clone', 'dual') THEN m.to_host_id
                     ELSE m.from_host_id END = h.id),
       s.vms, (SELECT count(*) FROM vm v WHERE v.host_id = h.id)
  FROM host h LEFT JOIN host_slots s ON s.host_id = h.id ORDER BY h.name
"""


@pytest.fixture(scope="module")
def world(pg):
    db = pg.fresh_db()
    d = Skyvisord(db_url=pg.url(db)).start()
    api = d.api()
    ok(api.post("/v1/clouds", {"name": "sa", "jurisdiction": "SE", **CLOUD}), 201)
    ok(api.post("/v1/clouds", {"name": "sb", "jurisdiction": "NO", **CLOUD}), 201)
    for i, (name, cloud, cap) in enumerate(HOSTS):
        ok(api.post("/v1/hosts", {"name": name, "cloud": cloud, "capacity": cap,
                                  "tunnel_ip": f"198.18.9.{i + 1}",
                                  "ovsdb": f"unix:/run/{name}.sock",
                                  "openflow": f"unix:/run/{name}.mgmt"}), 201)
    ok(api.post("/v1/tenants", {"name": "slots"}), 201)
    ok(api.post("/v1/tenants/slots/networks", {"name": "n", "subnet": "10.9.0.0/24"}), 201)
    ok(api.post(f"{N}/switches", {"name": "s"}), 201)
    yield {"daemon": d, "db": db, "url": pg.url(db)}
    assert d.stop() == 0, d.read_log()


def slots(pg, db):
    """{host name: (used, its recount, vms, its recount)}"""
    rows = pg.psql(RECOUNT, db=db).splitlines()
    out = {}
    for r in rows:
        name, used, recount, vms, vms_recount = r.split("|")
        out[name] = (int(used) if used else None, int(recount),
                     int(vms) if vms else None, int(vms_recount))
    return out


def check(pg, db, api=None):
    """Both counters equal their recounts for every host, and so does each
    host's vm_count in the API when 'api' is given; returns the used
    slots."""
    s = slots(pg, db)
    assert all(c[0] == c[1] and c[2] == c[3] for c in s.values()), s
    if api:
        listed = {h["name"]: h["vm_count"] for h in ok(api.get("/v1/hosts"))["items"]}
        assert listed == {name: c[3] for name, c in s.items()}, (listed, s)
    return {name: c[0] for name, c in s.items()}


def driver(url, *args):
    out = subprocess.run([os.path.join(BUILD, "tests", "lifecycle_driver"), url, *args],
                         check=True, capture_output=True, text=True, timeout=30)
    r = json.loads(out.stdout)
    assert r["result"] == "one", r
    return r


def vm(api, name, n, placement):
    return ok(api.post(f"{N}/vms", {"name": name, "mac": f"02:00:00:00:09:{n:02x}",
                                    "ip": f"10.9.0.{n}", "switch": "s",
                                    "placement": placement}), 201)


def stop_and_capture(api, url, name):
    stopped = ok(api.post(f"{N}/vms/{name}/stop", None), 202)
    driver(url, "snap-capture", stopped["power_snapshot"], '{"flows": []}')


def migrate(api, name, target):
    return ok(api.post(f"{N}/vms/{name}/migrations", target), 202)["id"]


def host_trail(pg, db):
    """What a host change leaves behind: its change-log and audit rows and
    the hosts' revisions."""
    return pg.psql("SELECT (SELECT count(*) FROM change_log WHERE kind = 'host'),"
                   " (SELECT count(*) FROM audit WHERE kind = 'host'),"
                   " (SELECT string_agg(name || '=' || revision, ',' ORDER BY name)"
                   "  FROM host)", db=db)


def test_counter_follows_every_change(world, pg):
    api, db, url = world["daemon"].api(), world["db"], world["url"]
    assert check(pg, db) == {"sa-1": 0, "sa-2": 0, "sb-1": 0}
    trail = host_trail(pg, db)

    # Creates: by cloud (least loaded), by host, by constraints.
    vm(api, "v1", 1, {"cloud": "sa"})
    vm(api, "v2", 2, {"cloud": "sa"})
    vm(api, "v3", 3, {"host": "sa-1"})
    vm(api, "v4", 4, {"jurisdiction": ["NO"]})
    vm(api, "v5", 5, {"host": "sb-1"})
    assert check(pg, db, api) == {"sa-1": 2, "sa-2": 1, "sb-1": 2}
    # sb-1 is full: a creation there is refused and counts nothing.
    assert_problem(api.post(f"{N}/vms", {"name": "v6", "mac": "02:00:00:00:09:06",
                                         "ip": "10.9.0.6", "switch": "s",
                                         "placement": {"host": "sb-1"}}),
                   409, "placement-failed")
    assert check(pg, db)["sb-1"] == 2

    # Stop releases the slot, start takes one where it starts.
    stop_and_capture(api, url, "v5")
    assert check(pg, db)["sb-1"] == 1
    ok(api.post(f"{N}/vms/v5/start", {"placement": {"host": "sa-2"}}), 202)
    assert check(pg, db, api) == {"sa-1": 2, "sa-2": 2, "sb-1": 1}

    # A migration to its end: the target's slot before activate, the
    # source's from activate on, none once done.
    m = migrate(api, "v1", {"host": "sb-1"})
    src = ok(api.get(f"{N}/vms/v1"))["host"]
    assert check(pg, db)["sb-1"] == 2
    driver(url, "mig-advance", m, "prepare", "clone")
    driver(url, "mig-advance", m, "clone", "dual")
    assert check(pg, db)["sb-1"] == 2
    before = check(pg, db)
    driver(url, "mig-advance", m, "dual", "activate")
    assert ok(api.get(f"{N}/vms/v1"))["host"] == "sb-1"
    assert check(pg, db, api) == before
    driver(url, "mig-advance", m, "activate", "cleanup")
    assert check(pg, db) == before
    driver(url, "mig-finish", m)
    after = check(pg, db)
    assert after[src] == before[src] - 1 and after["sb-1"] == 2

    # Rolled back (from clone) and failed (from activate): the slot held
    # goes back.
    m = migrate(api, "v3", {"host": "sa-2"})
    assert check(pg, db)["sa-2"] == 3
    driver(url, "mig-advance", m, "prepare", "clone")
    driver(url, "mig-rollback", m, "clone", "test")
    assert check(pg, db)["sa-2"] == 2
    m = migrate(api, "v4", {"host": "sa-2"})
    driver(url, "mig-advance", m, "prepare", "clone")
    driver(url, "mig-advance", m, "clone", "dual")
    driver(url, "mig-advance", m, "dual", "activate")
    assert check(pg, db)["sa-2"] == 3 and ok(api.get(f"{N}/vms/v4"))["host"] == "sa-2"
    driver(url, "mig-fail", m, "activate", "test")
    counts = check(pg, db)
    assert counts["sa-2"] == 3

    # A stopped VM deleted frees nothing more; a running one its slot.
    stop_and_capture(api, url, "v2")
    freed = check(pg, db)
    assert api.delete(f"{N}/vms/v2")[0] == 204
    assert check(pg, db) == freed
    assert api.delete(f"{N}/vms/v3")[0] == 204
    assert check(pg, db, api)["sa-1"] == freed["sa-1"] - 1
    # None of it was a change of a host.
    assert host_trail(pg, db) == trail

    # Hosts: a new one counts from zero, a deleted one leaves no row, nor
    # does deleting a host that finished migrations name (set to NULL).
    ok(api.post("/v1/hosts", {"name": "sb-2", "cloud": "sb", "capacity": 1,
                              "tunnel_ip": "198.18.9.9", "ovsdb": "unix:/run/sb-2.sock",
                              "openflow": "unix:/run/sb-2.mgmt"}), 201)
    assert check(pg, db)["sb-2"] == 0
    vm(api, "v7", 7, {"host": "sb-2"})
    assert check(pg, db)["sb-2"] == 1
    for name in ("v1", "v5", "v7"):
        assert api.delete(f"{N}/vms/{name}")[0] == 204
    assert check(pg, db, api) == {"sa-1": 0, "sa-2": 1, "sb-1": 0, "sb-2": 0}
    # v4's failed migration still names sb-1, its source.
    for h in ("sb-1", "sb-2"):
        assert api.delete(f"/v1/hosts/{h}")[0] == 204
    assert check(pg, db) == {"sa-1": 0, "sa-2": 1}
    assert pg.psql("SELECT count(*) FROM host_slots", db=db) == "2"
    assert pg.psql("SELECT count(*) FROM vm_migration WHERE from_host_id IS NULL",
                   db=db) == "1"


def test_concurrent_creations_never_exceed_capacity(world, pg):
    """Twelve creations at once for a host with three free slots: three
    are placed, nine answer 409 placement-failed, and the count is the
    capacity (the VM lock serialises placements)."""
    api, db = world["daemon"].api(), world["db"]
    ok(api.post("/v1/hosts", {"name": "sc-1", "cloud": "sb", "capacity": 3,
                              "tunnel_ip": "198.18.9.20", "ovsdb": "unix:/run/sc-1.sock",
                              "openflow": "unix:/run/sc-1.mgmt"}), 201)
    answers = [None] * 12

    def create(i):
        answers[i] = api.post(f"{N}/vms", {"name": f"c{i}", "mac": f"02:00:00:00:0a:{i:02x}",
                                           "ip": f"10.9.0.{100 + i}", "switch": "s",
                                           "placement": {"host": "sc-1"}})

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a[0] for a in answers) == [201] * 3 + [409] * 9, answers
    for a in answers:
        if a[0] == 409:
            assert_problem(a, 409, "placement-failed")
    assert check(pg, db)["sc-1"] == 3
    for i, a in enumerate(answers):
        if a[0] == 201:
            assert api.delete(f"{N}/vms/c{i}")[0] == 204
    assert api.delete("/v1/hosts/sc-1")[0] == 204


def test_backfill_counts_what_is_there(world, pg):
    """The migrations applied to a database with running and stopped VMs and
    an active migration count them: drop what 015 and 016 made, forget that
    they ran, and start skyvisord again."""
    d, db, url = world["daemon"], world["db"], world["url"]
    api = d.api()
    vm(api, "b1", 11, {"host": "sa-1"})
    vm(api, "b2", 12, {"host": "sa-1"})
    vm(api, "b3", 13, {"host": "sa-2"})
    stop_and_capture(api, url, "b3")
    m = migrate(api, "b2", {"host": "sa-2"})
    driver(url, "mig-advance", m, "prepare", "clone")
    expected = check(pg, db)
    assert expected == {"sa-1": 2, "sa-2": 2}
    assert d.stop() == 0, d.read_log()
    pg.psql("DROP TABLE host_slots;"
            " DROP FUNCTION sv_vm_slots, sv_vm_migration_slots, sv_host_slots_row,"
            "  sv_host_slots_move, sv_vm_slot, sv_migration_slot CASCADE;"
            " DELETE FROM schema_migration WHERE version IN (15, 16)", db=db)
    d.start()
    assert check(pg, db, api) == expected
    driver(url, "mig-advance", m, "clone", "dual")
    driver(url, "mig-advance", m, "dual", "activate")
    assert check(pg, db) == expected
