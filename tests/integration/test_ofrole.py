"""OpenFlow fencing against a real ovs-vswitchd (ctrl/ofctl.h, "Fencing"):
the owner of a switch asks ROLE_REQUEST(MASTER, generation_id = its epoch)
first after every (re)connect and writes only once it is granted; a
controller with a stale epoch is refused (STALE) and none of its flow-mods
land, not even one submitted the moment its connection came up (Open
vSwitch gives a new connection full rights until it asks for a role); an
owner whose switch went to a higher epoch is made slave and told at once.

Two or three tests/ctrl/ofctl_driver processes play the instances, each
connected to the bridge's .mgmt socket (Open vSwitch honours roles there as
on controller connections: shared/machine/mechanisms.md)."""

import pytest

from test_ofctl import DPID, Driver, Ovs, flows, wait_for


@pytest.fixture
def ovs():
    o = Ovs("r")
    try:
        o.start()
        o.add_bridge("br0", ports=("ofrp1",))
        yield o
    finally:
        o.stop()


@pytest.fixture
def drivers(ovs):
    ds = []

    def make():
        d = Driver(ovs.ns)
        ds.append(d)
        d.ok("connect unix:" + ovs.mgmt())
        d.ok("wait 1 10000")
        return d
    yield make
    for d in ds:
        log = d.close()
        assert d.p.returncode == 0, log[-4000:]


def cookies(ovs):
    return sorted(l.split(",")[0] for l in flows(ovs))


def test_stale_epoch_refused_and_its_flow_mods_never_land(ovs, drivers):
    a, b = drivers(), drivers()
    a.ok(f"role {DPID} master 10")
    assert a.cmd(f"addflow {DPID} 0xa1") == "ok"
    # b holds a stale epoch: the switch says STALE, b is told, and its
    # write is refused before it leaves the process.
    b.ok(f"role {DPID} master 5")
    wait_for(lambda: b.ok("fenced")[0] == "1", "b fenced")
    assert b.ok("fenced") == ["1", "ESTALE", "5"]
    assert b.cmd(f"addflow {DPID} 0xb1") == "err ESTALE"
    assert cookies(ovs) == ["cookie=0xa1"]
    # a is still the owner.
    assert a.cmd(f"addflow {DPID} 0xa2") == "ok"
    assert a.ok("fenced")[0] == "0"

    # A takeover: b gets a higher epoch; a is made slave, told, and
    # whatever it still tries never lands.
    b.ok(f"role {DPID} master 11")
    assert b.cmd(f"addflow {DPID} 0xb2") == "ok"
    answer = a.cmd(f"addflow {DPID} 0xa3")
    assert answer in ("err EPERM", "rejected 0 1 10"), answer
    wait_for(lambda: a.ok("fenced")[0] != "0", "a fenced")
    assert a.ok("fenced")[1] == "EPERM"
    assert a.cmd(f"addflow {DPID} 0xa4") == "err EPERM"
    assert cookies(ovs) == ["cookie=0xa1", "cookie=0xa2", "cookie=0xb2"]


def test_stale_owner_reconnecting_writes_nothing(ovs, drivers):
    """An old owner that reconnects with its old epoch and writes the moment
    its switch is up (as a reconciler does from switch_up): the write waits
    for the role reply, which is STALE, so nothing lands."""
    owner = drivers()
    owner.ok(f"role {DPID} master 20")
    assert owner.cmd(f"addflow {DPID} 0xc1") == "ok"
    stale = Driver(ovs.ns)
    try:
        stale.ok(f"role {DPID} master 19")
        stale.ok(f"onup {DPID} 0xd1")
        stale.ok("connect unix:" + ovs.mgmt())
        assert stale.cmd("onupresult 5000") == "err ESTALE"
        assert stale.ok("fenced")[:2] == ["1", "ESTALE"]
        # The owner keeps writing; the stale one's flow never appeared.
        assert owner.cmd(f"addflow {DPID} 0xc2") == "ok"
        assert cookies(ovs) == ["cookie=0xc1", "cookie=0xc2"]
    finally:
        log = stale.close()
    assert stale.p.returncode == 0, log[-4000:]


def test_owner_reasks_after_reconnect_and_slave_never_writes(ovs, drivers):
    owner, follower = drivers(), drivers()
    owner.ok(f"role {DPID} master 30")
    follower.ok(f"role {DPID} slave 30")
    assert follower.cmd(f"addflow {DPID} 0xe1") == "err EPERM"
    assert owner.cmd(f"addflow {DPID} 0xf1") == "ok"
    # The owner's connection drops and comes back: it asks for its role
    # again before its first write (made from switch_up) goes out.
    owner.ok(f"onup {DPID} 0xf2")
    owner.ok("disconnect unix:" + ovs.mgmt())
    owner.ok("connect unix:" + ovs.mgmt())
    assert owner.cmd("onupresult 5000") == "ok"
    assert owner.ok("fenced")[0] == "0"
    assert cookies(ovs) == ["cookie=0xf1", "cookie=0xf2"]
    # The follower takes over with a higher epoch: the old owner is made
    # slave, and what it still tries does not land.
    follower.ok(f"role {DPID} master 31")
    assert follower.cmd(f"addflow {DPID} 0xe2") == "ok"
    answer = owner.cmd(f"addflow {DPID} 0xf3")
    assert answer in ("err EPERM", "rejected 0 1 10"), answer
    wait_for(lambda: owner.ok("fenced")[0] != "0", "the old owner fenced")
    assert cookies(ovs) == ["cookie=0xe2", "cookie=0xf1", "cookie=0xf2"]
