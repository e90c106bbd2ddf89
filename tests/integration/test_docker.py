"""The compose stack and its images, checked without a Docker engine.

No engine runs on these machines, so the stack is validated by what can run
without one: docker-compose's own parser, and the cross-checks that keep the
files honest: every flag the images pass to skyvisord exists, every API path
the cloud entrypoint calls is a real route, every long-running service has a
health check, and the build stage uses the same `make all` as the tests.
"""

import os
import re
import subprocess

import yaml

from conftest import BUILD, ROOT

COMPOSE = os.path.join(ROOT, "docker", "compose.yaml")
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
ENTRYPOINT = os.path.join(ROOT, "docker", "cloud-entrypoint.sh")


def compose_config():
    env = dict(os.environ, SKYVISOR_ADMIN_TOKEN="compose-test-token-0123456789")
    out = subprocess.run(["docker-compose", "-f", COMPOSE, "config"], env=env,
                         check=True, capture_output=True, text=True, timeout=60)
    return yaml.safe_load(out.stdout)


def test_compose_file_is_valid_and_complete():
    cfg = compose_config()
    services = cfg["services"]
    assert set(services) == {"postgres", "postgres-standby", "skyvisord", "skyvisord-2",
                             "cloud-aws", "cloud-gcp", "cloud-onprem", "demo"}
    # Two instances on one database that follows its primary; the standby
    # streams synchronously from it.
    for name in ("skyvisord", "skyvisord-2"):
        db = services[name]["command"][services[name]["command"].index("--db") + 1]
        assert "postgres:5432,postgres-standby:5432" in db, db
        assert "target_session_attrs=read-write" in db, db
    assert "synchronous_standby_names=*" in services["postgres"]["command"]
    assert "pg_basebackup" in " ".join(services["postgres-standby"]["entrypoint"])
    assert services["postgres-standby"]["depends_on"]["postgres"]["condition"] \
        == "service_healthy"
    for name, svc in services.items():
        if name != "demo":
            assert "healthcheck" in svc, f"{name} has no health check"
    for name in ("cloud-aws", "cloud-gcp", "cloud-onprem"):
        dep = services[name]["depends_on"]["skyvisord"]
        assert dep["condition"] == "service_healthy"
        assert services[name]["volumes"], f"{name} keeps no state"
    assert set(cfg["volumes"]) >= {"pgdata", "ovs-aws", "ovs-gcp", "ovs-onprem"}
    # Three distinct clouds with distinct underlay addresses.
    envs = [services[n]["environment"] for n in ("cloud-aws", "cloud-gcp", "cloud-onprem")]
    assert len({e["CLOUD_NAME"] for e in envs}) == 3
    assert len({e["TUNNEL_IP"] for e in envs}) == 3


def test_compose_refuses_to_run_without_admin_token():
    env = {k: v for k, v in os.environ.items() if k != "SKYVISOR_ADMIN_TOKEN"}
    out = subprocess.run(["docker-compose", "-f", COMPOSE, "config", "-q"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "SKYVISOR_ADMIN_TOKEN" in out.stderr


def test_flags_the_images_pass_exist():
    helptext = subprocess.run([os.path.join(BUILD, "skyvisord"), "--help"],
                              check=True, capture_output=True, text=True).stdout
    cfg = compose_config()
    dockerfile = open(DOCKERFILE).read()
    used = set(re.findall(r'"(--[a-z-]+)"', dockerfile))
    for name in ("skyvisord", "skyvisord-2"):
        used |= {a for a in cfg["services"][name]["command"] if a.startswith("--")}
    assert used, "no flags found"
    for flag in used:
        assert flag in helptext, f"skyvisord has no {flag}"
    assert "make -j\"$(nproc)\" BUILD=/out all" in dockerfile


def test_entrypoint_calls_real_routes():
    script = open(ENTRYPOINT).read()
    subprocess.run(["sh", "-n", ENTRYPOINT], check=True)
    routes = subprocess.run([os.path.join(BUILD, "skyvisord"), "--list-routes"],
                            check=True, capture_output=True, text=True).stdout.split("\n")
    calls = re.findall(r"api (GET|POST|PUT|PATCH|DELETE) (/\S+)", script)
    assert calls
    for method, path in calls:
        assert f"{method} {path}" in routes, f"{method} {path} is not a route"
