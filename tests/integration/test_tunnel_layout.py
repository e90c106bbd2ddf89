"""skyvisord --tunnels: the layouts it accepts, and that mst+backup (the
default) lays out the tree plus the backup tunnels core/tunnels.c computes
(its unit test, tests/unit/test_tunnels.c, checks the choice), each with
its role in GET /v1/topology."""

import os
import subprocess

from conftest import BUILD, Skyvisord, ok


def clouds_with_gateways(api, names):
    for i, c in enumerate(names):
        ok(api.post("/v1/clouds", {"name": c, "provider": "aws", "region": "r",
                                   "jurisdiction": "DE", "kind": "public",
                                   "cost_per_hour": "0.1"}))
        ok(api.post("/v1/hosts", {"name": f"{c}-gw", "cloud": c, "role": "gateway",
                                  "tunnel_ip": f"198.18.1.{i + 1}",
                                  "public_ip": f"203.0.113.{i + 1}",
                                  "ovsdb": f"unix:/run/sky/{c}/db.sock",
                                  "openflow": f"unix:/run/sky/{c}/br.mgmt"}))


def inter(api):
    topo = ok(api.get("/v1/topology"))
    return topo, [t for t in topo["tunnels"] if t["kind"] == "inter-cloud"]


def test_mst_backup_is_the_default_and_adds_backups(pg):
    d = Skyvisord(db_url=pg.url(pg.fresh_db())).start()
    try:
        api = d.api()
        clouds_with_gateways(api, ["ta", "tb", "tc", "td", "te"])
        topo, tunnels = inter(api)
        assert topo["layout"] == "mst+backup"
        tree = [t for t in tunnels if t["role"] == "tree"]
        backup = [t for t in tunnels if t["role"] == "backup"]
        assert len(tree) == 5 - 1
        # Equal costs: a 2-edge-connected overlay of 5 clouds needs 5 tunnels
        # at least (a ring), so one backup at least closes the tree.
        assert len(backup) >= 1 and len(tree) + len(backup) >= 5
        assert "not yet realized" not in d.read_log()
    finally:
        assert d.stop() == 0, d.read_log()


def test_mst_has_no_backups(pg):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), extra=["--tunnels", "mst"]).start()
    try:
        api = d.api()
        clouds_with_gateways(api, ["ta", "tb", "tc", "td"])
        topo, tunnels = inter(api)
        assert topo["layout"] == "mst"
        assert len(tunnels) == 3 and all(t["role"] == "tree" for t in tunnels)
    finally:
        assert d.stop() == 0, d.read_log()


def test_layouts_accepted_and_refused():
    exe = os.path.join(BUILD, "skyvisord")
    p = subprocess.run([exe, "--tunnels", "ring"], capture_output=True, text=True)
    assert p.returncode == 2
    assert "--tunnels wants mst, mst+backup or full-mesh" in p.stderr
    p = subprocess.run([exe, "--bfd-ms", "-1"], capture_output=True, text=True)
    assert p.returncode == 2 and "--bfd-ms wants 0 to 60000" in p.stderr
    p = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "mst+backup (the default" in p.stdout
