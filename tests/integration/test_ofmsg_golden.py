"""The OpenFlow golden messages are what Open vSwitch says they are.

Each message of tests/data/ofmsg_golden.txt (captured from OvS by
tests/ctrl/golden_capture.py, or built by the controller) is handed to
`ovs-ofctl ofp-print`, Open vSwitch's own decoder: it must decode as the
message type the test data claims, so the codec's golden tests
(tests/unit/test_ofmsg.c) rest on an independent reading of the bytes."""

import os
import subprocess

from conftest import ROOT

OFPT = {0: "OFPT_HELLO", 1: "OFPT_ERROR", 2: "OFPT_ECHO_REQUEST", 3: "OFPT_ECHO_REPLY",
        5: "OFPT_FEATURES_REQUEST", 6: "OFPT_FEATURES_REPLY",
        7: "OFPT_GET_CONFIG_REQUEST", 8: "OFPT_GET_CONFIG_REPLY", 9: "OFPT_SET_CONFIG",
        10: "OFPT_PACKET_IN", 11: "OFPT_FLOW_REMOVED", 12: "OFPT_PORT_STATUS",
        13: "OFPT_PACKET_OUT", 14: "OFPT_FLOW_MOD", 15: "OFPT_GROUP_MOD",
        18: "OFPST", 19: "OFPST", 20: "OFPT_BARRIER_REQUEST", 21: "OFPT_BARRIER_REPLY",
        24: "OFPT_ROLE_REQUEST", 25: "OFPT_ROLE_REPLY", 29: "OFPT_METER_MOD"}


def golden():
    with open(os.path.join(ROOT, "tests", "data", "ofmsg_golden.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, hexdata = line.split()
                yield name, bytes.fromhex(hexdata)


def test_open_vswitch_decodes_every_golden_message():
    seen = 0
    for name, data in golden():
        out = subprocess.run(["ovs-ofctl", "ofp-print", data.hex()], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, (name, out.stderr)
        first = out.stdout.splitlines()[0]
        assert first.startswith(OFPT[data[1]]), (name, first)
        if name != "error_bad_type":       # that one quotes a bad message
            assert "decode error" not in out.stdout, (name, out.stdout)
        seen += 1
    assert seen >= 40
