"""Several skyvisord instances on one database: cloud leases, takeover on
kill -9, a paused owner that finds it lost, the --clouds preference, and
GET /v1/instances, /readyz and /metrics that show it.  Real PostgreSQL,
real processes; the reconciler is off (the leases are the subject).

Leases here are 1000 ms with a 250 ms heartbeat to keep the suite fast;
the bound the issue sets (takeover within lease + heartbeat) is checked
against those values."""

import os
import re
import signal
import time

import pytest

from conftest import Skyvisord, ok

LEASE_MS = 1000
HEARTBEAT_MS = 250
# Time a round takes on a loaded two-core machine (three statements on
# loopback), added to the bound, plus the polling step.
SLACK_S = 0.4
POLL_S = 0.02

CLOUD = {"provider": "aws", "region": "eu-central-1", "jurisdiction": "DE",
         "kind": "public"}


def instance(db_url, *extra):
    return Skyvisord(db_url=db_url, extra=("--lease-ms", str(LEASE_MS),
                                           "--heartbeat-ms", str(HEARTBEAT_MS),
                                           *extra))


def owned(d, timeout=5):
    """{cloud: epoch} as d's own keeper says now (by its own clock)."""
    st, _, body = d.api().request("GET", "/v1/instances")
    assert st == 200, body
    return {g["cloud"]: g["epoch"] for g in body["self"]["owns"]}


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(POLL_S)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def world(pg):
    url = pg.url(pg.fresh_db())
    first = instance(url).start()
    for name in ("c1", "c2", "c3"):
        ok(first.api().post("/v1/clouds", {**CLOUD, "name": name}), 201)
    procs = [first]
    yield url, procs
    for d in procs:
        if d.proc and d.proc.poll() is None:
            try:
                os.kill(d.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            d.stop()


def all_owned(procs, clouds=("c1", "c2", "c3")):
    """{cloud: (proc index, epoch)} when every cloud is owned by exactly one
    of 'procs' (None otherwise; an overlap fails at once)."""
    seen = {}
    for i, d in enumerate(procs):
        for cloud, epoch in owned(d).items():
            assert cloud not in seen, f"{cloud} owned by {seen[cloud][0]} and {i}"
            seen[cloud] = (i, epoch)
    return seen if set(seen) == set(clouds) else None


def test_each_cloud_one_owner_and_the_listing(world):
    url, procs = world
    procs += [instance(url).start(), instance(url).start()]
    wait_for(lambda: all_owned(procs), 10, "every cloud owned")
    # Owned by exactly one at every sample for several leases.
    end = time.monotonic() + 3 * LEASE_MS / 1000
    while time.monotonic() < end:
        all_owned(procs)
        time.sleep(0.05)
    st, _, doc = procs[1].api().get("/v1/instances")
    assert st == 200
    alive = [i for i in doc["instances"] if i["alive"]]
    assert len(alive) == 3 and all(i["lease_ms"] == LEASE_MS for i in alive)
    leases = {l["cloud"]: l for l in doc["leases"]}
    assert set(leases) == {"c1", "c2", "c3"}
    by_id = {i["id"]: i for i in alive}
    for cloud, lease in leases.items():
        assert not lease["expired"] and lease["holder"] in by_id
        assert cloud in by_id[lease["holder"]]["owns"]
        assert lease["epoch"] >= 2 ** 32      # timeline 1 folded in
    assert len({l["epoch"] for l in leases.values()}) == 3
    # The instance answering is one of them, and says what it holds.
    me = doc["self"]
    assert me["id"] in by_id and me["healthy"] is True
    assert sorted(g["cloud"] for g in me["owns"]) == by_id[me["id"]]["owns"]
    # Tenant tokens and no token are refused.
    assert procs[0].api(token=None).get("/v1/instances")[0] == 401
    st, _, metrics = procs[0].api().get("/metrics")
    held = sum(len(owned(d)) for d in procs)
    assert held == 3
    assert re.search(r"^skyvisor_leases_held \d+$", metrics, re.M)
    assert re.search(r"^skyvisor_lease_acquisitions_total [1-9]", metrics, re.M) or \
        not owned(procs[0])


def test_kill_9_owner_clouds_taken_within_lease_plus_heartbeat(world):
    url, procs = world
    procs += [instance(url).start(), instance(url).start()]
    before = wait_for(lambda: all_owned(procs), 10, "every cloud owned")
    victim = max(range(3), key=lambda i: sum(1 for v in before.values() if v[0] == i))
    lost = {c: e for c, (i, e) in before.items() if i == victim}
    assert lost
    survivors = [d for i, d in enumerate(procs) if i != victim]
    t0 = time.monotonic()
    procs[victim].proc.kill()
    procs[victim].proc.wait()

    def taken():
        now = {}
        for d in survivors:
            now.update(owned(d))
        return now if all(c in now for c in lost) else None
    now = wait_for(taken, 10, "the victim's clouds taken over")
    elapsed = time.monotonic() - t0
    bound = (LEASE_MS + HEARTBEAT_MS) / 1000 + SLACK_S
    assert elapsed <= bound, f"takeover took {elapsed:.3f} s, bound {bound:.3f} s"
    for cloud, epoch in lost.items():
        assert now[cloud] > epoch, (cloud, epoch, now[cloud])
    print(f"takeover after kill -9: {elapsed * 1000:.0f} ms "
          f"(lease {LEASE_MS} ms, heartbeat {HEARTBEAT_MS} ms)")
    st, _, metrics = survivors[0].api().get("/metrics")
    total = sum(int(re.search(r"^skyvisor_lease_takeovers_total (\d+)$",
                              d.api().get("/metrics")[2], re.M).group(1))
                for d in survivors)
    assert total >= len(lost)


def test_paused_owner_finds_it_lost_before_writing(world):
    url, procs = world
    procs += [instance(url).start(), instance(url).start()]
    before = wait_for(lambda: all_owned(procs), 10, "every cloud owned")
    cloud, (idx, epoch) = sorted(before.items())[0]
    paused = procs[idx]
    others = [d for i, d in enumerate(procs) if i != idx]
    os.kill(paused.proc.pid, signal.SIGSTOP)
    try:
        def taken():
            for d in others:
                e = owned(d).get(cloud)
                if e:
                    return e
            return None
        new_epoch = wait_for(taken, 10, f"{cloud} taken from the paused owner")
        assert new_epoch > epoch
        time.sleep(HEARTBEAT_MS / 1000)
    finally:
        os.kill(paused.proc.pid, signal.SIGCONT)
    # Its first answer after SIGCONT: not the owner any more, by its own
    # clock, whatever its keeper thread has or has not run yet.
    mine = owned(paused)
    assert cloud not in mine, mine
    st, _, doc = paused.api().get("/v1/instances")
    assert all(g["epoch"] != epoch for g in doc["self"]["owns"])
    lease = {l["cloud"]: l for l in doc["leases"]}[cloud]
    assert lease["epoch"] == new_epoch and lease["holder"] != doc["self"]["id"]
    # It stays a follower for that cloud and becomes ready again.
    paused.wait_ready(10)
    time.sleep(2 * HEARTBEAT_MS / 1000)
    holders = [i for i, d in enumerate(procs) if cloud in owned(d)]
    assert holders and idx not in holders
    assert "passed its deadline unrenewed" in paused.read_log() or \
        "lost the lease" in paused.read_log()


def test_readyz_reflects_the_heartbeat(world, pg):
    """/readyz answers 503 instance-unhealthy while the instance's heartbeat
    is not recorded (the database answers, but refuses the heartbeat)."""
    url, procs = world
    d = procs[0]
    db = url.rsplit("/", 1)[1]
    pg.psql("CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'heartbeat refused'; END$$;"
            " CREATE TRIGGER t_refuse BEFORE UPDATE ON instance"
            " FOR EACH ROW EXECUTE FUNCTION t_refuse()", db=db)
    try:
        def unready():
            st, _, body = d.api(token=None).get("/readyz")
            return body if st == 503 else None
        body = wait_for(unready, 5, "/readyz to answer 503")
        assert body["type"].endswith("instance-unhealthy"), body
        # ... and its leases lapse by its own clock (their deadlines were set
        # when the last renewal was sent, after the last heartbeat).
        wait_for(lambda: not owned(d), HEARTBEAT_MS / 1000, "its leases lapsed")
    finally:
        pg.psql("DROP TRIGGER t_refuse ON instance", db=db)
    d.wait_ready(10)
    wait_for(lambda: len(owned(d)) == 3, 10, "the clouds back")


def test_pinned_instance_takes_its_cloud_back_once_settled(world):
    url, procs = world
    procs.append(instance(url).start())
    before = wait_for(lambda: all_owned(procs), 10, "every cloud owned")
    t0 = time.monotonic()
    pinned = instance(url, "--clouds", "c2").start()
    procs.append(pinned)
    got = wait_for(lambda: owned(pinned).get("c2"), 15, "c2 back with its pinned instance")
    elapsed = time.monotonic() - t0
    # Not before it had been healthy for two leases (the settle time).
    assert elapsed >= 2 * LEASE_MS / 1000, elapsed
    assert got > before["c2"][1]
    # It takes only what it is pinned to while the others are alive.
    time.sleep(LEASE_MS / 1000)
    assert set(owned(pinned)) == {"c2"}
    assert all_owned(procs)
    assert "yielding to its pinned instance" in "".join(d.read_log() for d in procs)
