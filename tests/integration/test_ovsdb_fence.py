"""OVSDB fencing (ctrl/ovsdb_vswitch.h, "Fencing") against a real
ovsdb-server: the owner of a host raises external_ids:skyvisor-epoch of the
Open_vSwitch row once after taking over, and every transaction it sends
waits on that value, so a transaction of a stale owner fails whole and
changes nothing, and no one lowers the epoch.  Driven through
tests/ctrl/ovsdb_driver (raise-epoch, --fence)."""

from test_ovsdb import BRIDGE_ARGS, drive, ovs  # noqa: F401  (the fixture)


def epoch(ovs):
    out = ovs.vsctl("--if-exists", "get", "Open_vSwitch", ".",
                    "external_ids:skyvisor-epoch").strip().strip('"')
    return int(out) if out else 0


def test_stale_epoch_transaction_fails_and_changes_nothing(ovs):  # noqa: F811
    ovs.vsctl("set", "Open_vSwitch", ".", "external_ids:system-id=h-fence")
    # The first owner raises to 7 (other keys kept) and writes under it.
    assert drive(ovs, "raise-epoch", "7")["ops"] == 2
    assert epoch(ovs) == 7
    assert ovs.vsctl("get", "Open_vSwitch", ".",
                     "external_ids:system-id").strip().strip('"') == "h-fence"
    assert drive(ovs, "raise-epoch", "7")["ops"] == 0       # already there
    assert drive(ovs, "ensure-bridge", "fzb1", *BRIDGE_ARGS, "--fence", "7")["ops"] > 0
    assert "fzb1" in ovs.vsctl("list-br").split()

    # A new owner takes over with epoch 9.
    assert drive(ovs, "raise-epoch", "9")["ok"] is True
    assert epoch(ovs) == 9

    # The old owner's transaction (fenced with 7) fails whole: no bridge.
    out = drive(ovs, "ensure-bridge", "fzb2", *BRIDGE_ARGS, "--fence", "7", ok=False)
    assert out["ops"] > 0 and out["error"], out
    assert "fzb2" not in ovs.vsctl("list-br").split()
    # ... and it cannot lower the epoch back.
    out = drive(ovs, "raise-epoch", "8", ok=False)
    assert out["error"] == "stale" and out["epoch"] == 9
    assert epoch(ovs) == 9

    # The new owner's fenced writes go through.
    assert drive(ovs, "ensure-bridge", "fzb3", *BRIDGE_ARGS, "--fence", "9")["ops"] > 0
    assert {"fzb1", "fzb3"} <= set(ovs.vsctl("list-br").split())
