"""skyvisord --tunnels: the layouts it accepts, and that mst+backup, whose
backup tunnels the reconciler does not realize yet, says so at start and
keeps the tree of mst (core/tunnels.c computes the backups; its unit test,
tests/unit/test_tunnels.c, checks them)."""

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


def test_mst_backup_is_announced_and_realizes_the_tree(pg):
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), extra=["--tunnels", "mst+backup"]).start()
    try:
        api = d.api()
        clouds_with_gateways(api, ["ta", "tb", "tc", "td", "te"])
        topo = ok(api.get("/v1/topology"))
        inter = [t for t in topo["tunnels"] if t["kind"] == "inter-cloud"]
        assert topo["layout"] == "mst"
        assert len(inter) == 5 - 1                     # the tree, no backup
        log = d.read_log()
        assert "--tunnels mst+backup: backup tunnels are not yet realized" in log
        assert "the switches get the mst tree only" in log
    finally:
        assert d.stop() == 0, d.read_log()


def test_layouts_accepted_and_refused():
    exe = os.path.join(BUILD, "skyvisord")
    p = subprocess.run([exe, "--tunnels", "ring"], capture_output=True, text=True)
    assert p.returncode == 2
    assert "--tunnels wants mst, mst+backup or full-mesh" in p.stderr
    p = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "mst+backup" in p.stdout
