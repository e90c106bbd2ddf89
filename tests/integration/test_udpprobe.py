"""The data-plane probe's own counting (tools/udpprobe).

An echo that impairs on purpose (--drop, --dup, --hold) gives exact
expected counts over loopback in a namespace of its own; two namespaces
joined by a veth whose link goes down for a while show marks (SIGUSR1)
putting the loss of an outage in the window between them.
"""

import os
import subprocess
import time

import pytest

from udpprobe import PROBE, Echo, Sender

PREFIX = f"svp{os.getpid() % 1000}"


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def lo_ns():
    ns = f"{PREFIX}-lo"
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "set", "lo", "up")
        yield ns
    finally:
        ip("netns", "del", ns)


@pytest.fixture
def veth_pair():
    a, b = f"{PREFIX}-a", f"{PREFIX}-b"
    ip("netns", "add", a)
    ip("netns", "add", b)
    try:
        ip("link", "add", "p0", "netns", a, "type", "veth", "peer", "name", "p0", "netns", b)
        for ns, addr in ((a, "192.0.2.1/24"), (b, "192.0.2.2/24")):
            ip("-n", ns, "addr", "add", addr, "dev", "p0")
            ip("-n", ns, "link", "set", "p0", "up")
        yield a, b
    finally:
        ip("netns", "del", a)
        ip("netns", "del", b)


def test_counts_what_the_echo_dropped_duplicated_and_reordered(lo_ns):
    impair = ("--drop", "500-599", "--drop", "900-904", "--dup", "100", "--dup", "800",
              "--hold", "450")
    with Echo(lo_ns, "127.0.0.1:7001", *impair) as echo:
        with Sender(lo_ns, "127.0.0.1:7001", "--count", "1000", "--linger", "300",
                    "--mark-at", "400", "--mark-at", "700") as s:
            r = s.finish()
    assert echo.result == {"echoed": 1000 - 105 + 2, "dropped": 105, "duplicated": 2,
                           "held": 1, "ignored": 0}
    assert {k: r[k] for k in ("sent", "received", "lost", "duplicated", "reordered",
                              "max_loss_run", "send_errors", "stray")} == {
        "sent": 1000, "received": 895, "lost": 105, "duplicated": 2, "reordered": 1,
        "max_loss_run": 100, "send_errors": 0, "stray": 0}
    assert r["max_loss_run_ms"] == 100.0
    w = [{k: x[k] for k in ("first_seq", "sent", "received", "lost", "duplicated",
                            "reordered", "max_loss_run")} for x in r["windows"]]
    assert w == [
        {"first_seq": 0, "sent": 400, "received": 400, "lost": 0, "duplicated": 1,
         "reordered": 0, "max_loss_run": 0},
        {"first_seq": 400, "sent": 300, "received": 200, "lost": 100, "duplicated": 0,
         "reordered": 1, "max_loss_run": 100},
        {"first_seq": 700, "sent": 300, "received": 295, "lost": 5, "duplicated": 1,
         "reordered": 0, "max_loss_run": 5},
    ]
    # 100 slots of 1 ms without an echo: the gap spans them (a late
    # schedule sends missed slots at once, never more than 50 ms' worth).
    assert r["windows"][1]["max_gap_ms"] >= 50


def test_nothing_comes_back(lo_ns):
    """No echo at all: everything sent is lost, in one run, and the gap is
    the whole run."""
    with Sender(lo_ns, "127.0.0.1:7009", "--count", "200", "--rate", "2000",
                "--linger", "0") as s:
        r = s.finish()
    assert (r["sent"], r["received"], r["lost"], r["max_loss_run"]) == (200, 0, 200, 200)
    assert r["rtt_ms"] is None
    assert r["max_gap_ms"] == pytest.approx(r["duration_ms"], abs=0.01)


def test_marks_put_an_outage_in_its_window(veth_pair):
    a, b = veth_pair
    with Echo(b, "192.0.2.2:7001"):
        with Sender(a, "192.0.2.2:7001", "--linger", "300") as s:
            time.sleep(0.3)
            s.mark()
            ip("-n", b, "link", "set", "p0", "down")
            time.sleep(0.3)
            ip("-n", b, "link", "set", "p0", "up")
            time.sleep(0.2)
            s.mark()
            time.sleep(0.3)
    r = s.result
    before, during, after = r["windows"]
    assert before["lost"] == 0 and before["sent"] > 0
    assert during["lost"] > 0 and during["max_loss_run"] > 0
    assert after["lost"] == 0 and after["received"] == after["sent"] > 0
    assert r["lost"] == during["lost"] and r["max_loss_run"] == during["max_loss_run"]
    assert sum(w["sent"] for w in r["windows"]) == r["sent"]
    assert during["max_gap_ms"] >= 250          # nothing crosses a link down for 0.3 s


def test_usage_errors():
    for argv in ([], ["send"], ["send", "--to", "nowhere"], ["send", "--to", "127.0.0.1:1",
                 "--rate", "0"], ["echo", "--drop", "9-3"], ["fly"]):
        p = subprocess.run([PROBE, *argv], capture_output=True, text=True, timeout=10)
        assert p.returncode == 64 and "usage: udpprobe" in p.stderr, (argv, p.stderr)
    p = subprocess.run([PROBE, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "udpprobe send" in p.stdout
