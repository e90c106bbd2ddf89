"""Fixtures shared by skyvisor's integration suites.

Everything here is real: a throwaway PostgreSQL cluster (the installed
PostgreSQL 15 binaries, run as the unprivileged user ``postgres`` when the
tests run as root, which PostgreSQL insists on) and the skyvisord binary of
the build under test ($SKYVISOR_BUILD, default ./build).  A missing binary is
a failure, never a skip.

- ``pg``: one cluster per test session; ``pg.fresh_db()`` gives each test
  module its own empty database, so suites never see each other's rows.
- ``Skyvisord``: start/stop/kill a daemon against a database URL (or the
  embedded default), wait until /readyz answers, capture its log.
- ``api``: a small HTTP client for the REST API (stdlib only).
"""

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SKYVISOR_BUILD", os.path.join(ROOT, "build"))


def _sanitized():
    try:
        with open(os.path.join(BUILD, "skyvisord"), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Whether skyvisord is the AddressSanitizer build (make sanitize).  Its own
# CPU cost distorts what a suite measures of the data plane under load (a
# packet lost while the machine is starved, a BFD session timing out):
# those few assertions are made on the plain build only, and the
# sanitized run still drives the same scenarios for memory errors.
SANITIZED = _sanitized()
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def pg_bindir():
    base = "/usr/lib/postgresql"
    versions = sorted((int(v) for v in os.listdir(base) if v.isdigit()), reverse=True)
    for v in versions:
        if os.path.exists(f"{base}/{v}/bin/initdb"):
            return f"{base}/{v}/bin"
    raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A PostgreSQL cluster in a temporary directory, listening on loopback."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="skyv-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        self.start()

    def _run(self, tool, *args, check=True):
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, cwd=self.dir, capture_output=True,
                              text=True, timeout=120)

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"),
                  "-w", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}"
                  " -c fsync=off -c synchronous_commit=off -c max_connections=200",
                  "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def url(self, db="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="postgres"):
        out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                              self.url(db), "-c", sql],
                             check=True, capture_output=True, text=True, timeout=60)
        return out.stdout.strip()

    def fresh_db(self):
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return name

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg():
    cluster = PgCluster()
    yield cluster
    cluster.destroy()


class Skyvisord:
    """One skyvisord process."""

    def __init__(self, db_url=None, data_dir=None, threads=2, extra=(), env=None,
                 reconcile=False):
        self.port = free_port()
        self.args = [os.path.join(BUILD, "skyvisord"), "--listen",
                     f"127.0.0.1:{self.port}", "--threads", str(threads), *extra]
        # API suites check statuses the reconciler would rewrite: it runs
        # only where a suite asks for it (the end-to-end suites).
        if not reconcile:
            self.args.append("--no-reconciler")
        if db_url:
            self.args += ["--db", db_url]
        if data_dir:
            self.args += ["--data-dir", data_dir]
        self.env = dict(os.environ, SKYVISOR_ADMIN_TOKEN=ADMIN_TOKEN, **(env or {}))
        self.logpath = tempfile.mktemp(prefix="skyvisord-", suffix=".log")
        self.proc = None

    def start(self, wait=True, timeout=60):
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"skyvisord exited {self.proc.returncode}:\n"
                                   + self.read_log())
            try:
                st, _, _ = Api(self.port).request("GET", "/readyz", token=None)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("skyvisord did not become ready:\n" + self.read_log())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def read_log(self):
        with open(self.logpath, "r", errors="replace") as f:
            return f.read()

    def api(self, token=ADMIN_TOKEN):
        return Api(self.port, token)


class Api:
    """Minimal JSON client: request() returns (status, headers, body) where
    body is parsed JSON when the response is JSON, else text."""

    def __init__(self, port, token=ADMIN_TOKEN):
        self.port = port
        self.token = token

    def request(self, method, path, body=None, token="default", headers=None,
                raw=None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        tok = self.token if token == "default" else token
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type:
            h["Content-Type"] = content_type
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        ct = hdrs.get("content-type", "")
        if "json" in ct and text:
            return r.status, hdrs, json.loads(text)
        return r.status, hdrs, text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="module")
def daemon(pg):
    """A skyvisord on a fresh database, shared by the tests of one module."""
    d = Skyvisord(db_url=pg.url(pg.fresh_db())).start()
    yield d
    rc = d.stop()
    assert rc == 0, "skyvisord did not exit cleanly:\n" + d.read_log()


@pytest.fixture
def api(daemon):
    return daemon.api()


def assert_problem(resp, status, slug, field=None):
    """Checks an application/problem+json answer."""
    st, hdrs, body = resp
    assert st == status, body
    assert hdrs["content-type"] == "application/problem+json", hdrs
    assert body["type"] == f"urn:skyvisor:problem:{slug}", body
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


def ok(resp, *codes):
    """The body of an API answer (Api.request's tuple) whose status is one of
    'codes' (default: any 2xx a write or read gives)."""
    status, body = resp[0], resp[2]
    assert status in (codes or (200, 201, 204)), (status, body)
    return body


class Capture:
    """IPv4 frames a VM receives while the block runs (tcpdump on its
    eth0).  Counting all frames would not do: the host end of a VM's veth
    sends its own IPv6 router solicitations straight to the VM."""

    def __init__(self, sim, vm):
        self.cmd = ["ip", "netns", "exec", sim.vm_ns(vm), "tcpdump", "-i", "eth0", "-nn",
                    "-l", "--immediate-mode", "ip"]

    def __enter__(self):
        self.p = subprocess.Popen(self.cmd, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = ""
        while "listening" not in line:            # "listening on eth0, ..."
            line = self.p.stderr.readline()
            assert line, "tcpdump did not start"
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)
        self.p.terminate()
        out, _ = self.p.communicate(timeout=10)
        self.frames = [l for l in out.splitlines() if l.strip()]
        return False
