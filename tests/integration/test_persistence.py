"""Durability and lifecycle: data survives restarts of skyvisord and of
PostgreSQL; the embedded cluster is created, reused and stopped; migrations
are recorded, idempotent, and a newer schema is refused."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import PgCluster, Skyvisord, assert_problem

CLOUD = {"name": "durable", "provider": "gcp", "region": "europe-west3",
         "jurisdiction": "DE", "kind": "public"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) [a-z]+: \S")


@pytest.fixture
def own_pg():
    """A cluster of its own: these tests stop and start PostgreSQL."""
    cluster = PgCluster()
    yield cluster
    cluster.destroy()


def test_restart_of_skyvisord_and_of_postgresql(own_pg):
    url = own_pg.url(own_pg.fresh_db())
    d = Skyvisord(db_url=url).start()
    api = d.api()
    assert api.post("/v1/clouds", CLOUD)[0] == 201
    tenant = api.post("/v1/tenants", {"name": "keep"})[2]
    assert d.stop() == 0
    log = d.read_log()
    assert "received Terminated, shutting down" in log and log.rstrip().endswith("main: stopped")
    for line in log.splitlines():
        assert LOG_LINE.match(line), f"not a log line: {line!r}"

    d2 = Skyvisord(db_url=url).start()
    api = d2.api()
    assert api.get("/v1/clouds/durable")[2]["region"] == "europe-west3"
    # The tenant token, known only by its hash, still works.
    assert d2.api(token=tenant["token"]).get("/v1/tenants/keep")[0] == 200

    # PostgreSQL goes away under a running skyvisord: clear 503s, no crash.
    own_pg.stop()
    assert_problem(api.get("/v1/clouds/durable"), 503, "db-unavailable")
    assert_problem(api.post("/v1/clouds", {**CLOUD, "name": "during-outage"}), 503,
                   "db-unavailable")
    st, _, body = d2.api(token=None).get("/readyz")
    assert st == 503 and body["type"] == "urn:skyvisor:problem:db-unavailable"
    assert d2.api(token=None).get("/healthz")[0] == 200
    own_pg.start()
    deadline = time.time() + 20
    while time.time() < deadline and api.get("/v1/clouds/durable")[0] != 200:
        time.sleep(0.2)
    assert api.get("/v1/clouds/durable")[0] == 200
    assert api.post("/v1/clouds", {**CLOUD, "name": "after-outage"})[0] == 201
    assert d2.proc.poll() is None
    assert d2.stop() == 0


def postgres_processes(data_dir):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "postgres" in l and data_dir in l]


def test_embedded_cluster_created_reused_and_stopped():
    base = tempfile.mkdtemp(prefix="skyv-emb-")
    os.chmod(base, 0o755)
    data = os.path.join(base, "data")
    try:
        d = Skyvisord(data_dir=data).start(timeout=120)
        assert os.path.exists(os.path.join(data, "pgdata", "PG_VERSION"))
        assert d.api().post("/v1/clouds", CLOUD)[0] == 201
        assert postgres_processes(data), "the embedded PostgreSQL is not running"
        assert d.stop() == 0
        assert not postgres_processes(data), "the embedded PostgreSQL outlived skyvisord"
        assert "creating PostgreSQL cluster" in d.read_log()

        d2 = Skyvisord(data_dir=data).start(timeout=120)
        assert d2.api().get("/v1/clouds/durable")[0] == 200
        assert "creating PostgreSQL cluster" not in d2.read_log()
        assert d2.stop(signal.SIGINT) == 0
        assert not postgres_processes(data)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_migrations_recorded_idempotent_and_newer_schema_refused(pg):
    db = pg.fresh_db()
    url = pg.url(db)
    d = Skyvisord(db_url=url).start()
    assert d.stop() == 0
    files = sorted(f for f in os.listdir(os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "migrations")) if f.endswith(".sql"))
    rows = pg.psql("SELECT version, name FROM schema_migration ORDER BY version", db=db)
    assert [r.split("|")[1] for r in rows.splitlines()] == files
    d = Skyvisord(db_url=url).start()                   # re-running changes nothing
    assert d.stop() == 0
    assert pg.psql("SELECT count(*) FROM schema_migration", db=db) == str(len(files))
    assert "applied migration" not in d.read_log()

    pg.psql("INSERT INTO schema_migration (version, name) VALUES (999, '999_future.sql')", db=db)
    d = Skyvisord(db_url=url)
    d.start(wait=False)
    assert d.proc.wait(30) != 0
    log = d.read_log()
    assert "newer than this skyvisord" in log and "999" in log


def test_bad_invocations():
    sk = Skyvisord()
    out = subprocess.run([sk.args[0], "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--db", "--data-dir", "--listen", "--threads", "--log-level", "--list-routes",
                 "SKYVISOR_ADMIN_TOKEN"):
        assert flag in out.stdout
    env = {k: v for k, v in os.environ.items() if k != "SKYVISOR_ADMIN_TOKEN"}
    out = subprocess.run([sk.args[0], "--db", "postgresql:///x"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "SKYVISOR_ADMIN_TOKEN" in out.stderr
    out = subprocess.run([sk.args[0], "--threads", "0"], env=sk.env, capture_output=True, text=True)
    assert out.returncode == 2 and "--threads" in out.stderr
    out = subprocess.run([sk.args[0], "--bogus"], env=sk.env, capture_output=True, text=True)
    assert out.returncode == 2
    # An unreachable database is a clear failure at start-up.
    out = subprocess.run([sk.args[0], "--db", "postgresql://nobody@127.0.0.1:1/none"],
                         env=sk.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "cannot connect to the database" in out.stderr


def test_openflow_listener(pg):
    """--openflow-listen: bridges that point their controller at skyvisord
    get an OpenFlow 1.3 handshake; a peer without 1.3 gets HELLO_FAILED."""
    import socket
    import struct

    from conftest import free_port

    ofport = free_port()
    url = pg.url(pg.fresh_db())
    # The listener is the reconciler's: asking for it without one is a
    # usage error, not a silently missing port.
    lone = Skyvisord(db_url=url, extra=("--openflow-listen", f"127.0.0.1:{ofport}"))
    out = subprocess.run(lone.args, env=lone.env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "--openflow-listen needs the reconciler" in out.stderr
    d = Skyvisord(db_url=url, reconcile=True,
                  extra=("--openflow-listen", f"127.0.0.1:{ofport}")).start()
    try:
        def messages(sock, count):
            buf, out = b"", []
            sock.settimeout(10)
            while len(out) < count:
                while len(buf) < 8 or len(buf) < struct.unpack("!H", buf[2:4])[0]:
                    chunk = sock.recv(4096)
                    assert chunk, f"connection closed after {out}"
                    buf += chunk
                n = struct.unpack("!H", buf[2:4])[0]
                out.append(buf[:n])
                buf = buf[n:]
            return out

        s = socket.create_connection(("127.0.0.1", ofport))
        s.sendall(struct.pack("!BBHIHHI", 4, 0, 16, 1, 1, 8, 1 << 4))     # HELLO 1.3
        hello, features = messages(s, 2)
        assert hello[:2] == b"\x04\x00" and features[:2] == b"\x04\x05"
        s.close()

        s = socket.create_connection(("127.0.0.1", ofport))
        s.sendall(struct.pack("!BBHI", 1, 0, 8, 7))                         # HELLO 1.0
        hello, error = messages(s, 2)
        assert error[1] == 1                                               # OFPT_ERROR
        assert struct.unpack("!HH", error[8:12]) == (0, 0)                 # HELLO_FAILED
        s.close()
    finally:
        assert d.stop() == 0, d.read_log()
