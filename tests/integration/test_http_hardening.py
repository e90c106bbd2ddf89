"""skyvisord's HTTP layer under hostile input, against a real skyvisord and
PostgreSQL.

- text: invalid UTF-8 or %00 in the path or a query parameter is 400
  invalid-utf8 (naming the field) before any token check or database call;
  a problem body is always encodable, whatever a client made it echo;
- connections: one client address holds at most --max-conns-per-ip
  connections, an idle connection or one dripping its request head is closed
  on time, and another address is served meanwhile;
- bodies: a chunked body is not drained past 64 MiB;
- protocol: HEAD, OPTIONS, 414 and 431 with problem bodies, If-None-Match
  with '*', weak tags and lists;
- HTTPS: --tls-listen beside plain HTTP, the certificate reloaded on SIGHUP
  for new connections, skyctl --cacert.

Requests that http.client would normalise (raw bytes in a path, a chunked
body that never ends, a head sent line by line) go over raw sockets.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import ADMIN_TOKEN, BUILD, Skyvisord, assert_problem, free_port, ok


def cloud(name):
    return {"name": name, "provider": "aws", "region": "eu-central-1",
            "jurisdiction": "DE", "kind": "public", "cost_per_hour": "0.096"}


def raw_exchange(port, data, source=None, timeout=10, head_only=False):
    """Sends the bytes of one request and reads one response: (status,
    headers with lower-case names, body bytes)."""
    s = socket.socket()
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
        return read_response(s, head_only)
    finally:
        s.close()


def read_response(s, head_only=False):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, f"connection closed before a response: {buf!r}"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = 0 if head_only else int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        assert chunk, "connection closed inside the body"
        rest += chunk
    return status, hdrs, rest[:n]


def get_raw(port, target, token=ADMIN_TOKEN, extra=b"", method=b"GET"):
    t = target if isinstance(target, bytes) else target.encode()
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n" if token else b""
    return raw_exchange(port, method + b" " + t + b" HTTP/1.1\r\nHost: x\r\n" + auth
                        + extra + b"Connection: close\r\n\r\n", head_only=method == b"HEAD")


def problem(resp, status, slug, field=None):
    st, hdrs, body = resp
    assert st == status, (st, body)
    assert hdrs["content-type"] == "application/problem+json", hdrs
    p = json.loads(body.decode("utf-8"))          # strict: must be UTF-8
    assert p["type"] == f"urn:skyvisor:problem:{slug}" and p["status"] == status, p
    if field is not None:
        assert p.get("field") == field, p
    return p


@pytest.fixture(scope="module")
def tenant(daemon):
    t = ok(daemon.api().post("/v1/tenants", {"name": "hard"}))
    ok(daemon.api().post("/v1/clouds", cloud("x")))
    return t["token"]


# --- 1: text in paths and queries -------------------------------------------

@pytest.mark.parametrize("target,field", [
    (b"/%ff", "path"),
    (b"/v1/clouds/%c3", "path"),                  # cut short
    (b"/v1/clouds/%ed%a0%80", "path"),            # a surrogate
    (b"/v1/clouds/\xff", "path"),                 # a raw byte, not escaped
    (b"/v1/clouds?limit=%ff", "limit"),
    (b"/v1/clouds?cursor=ab%c0%af", "cursor"),    # an overlong '/'
    (b"/v1/clouds?x%ff=1", "x\ufffd"),            # the name itself
])
def test_invalid_utf8_is_400_before_authentication(daemon, target, field):
    p = problem(get_raw(daemon.port, target, token=None), 400, "invalid-utf8", field)
    assert "UTF-8" in p["detail"]


def test_invalid_utf8_with_a_tenant_token_is_400_not_503(daemon, tenant):
    """The token check used to hand the bad bytes to PostgreSQL, whose
    'invalid byte sequence' came back as an outage."""
    for target in (b"/v1/tenants/hard%ff/networks", b"/v1/tenants/%ff/networks/n",
                   b"/v1/tenants/hard/networks?cursor=%fe"):
        problem(get_raw(daemon.port, target, token=tenant), 400, "invalid-utf8")
    # The same tenant's good path still works.
    assert get_raw(daemon.port, "/v1/tenants/hard/networks", token=tenant)[0] == 200


def test_nul_does_not_cut_a_path_or_query_short(daemon, tenant):
    assert get_raw(daemon.port, "/v1/clouds/x")[0] == 200
    p = problem(get_raw(daemon.port, "/v1/clouds/x%00zzz"), 400, "invalid-utf8", "path")
    assert "%00" in p["detail"]
    problem(get_raw(daemon.port, "/v1/clouds?limit=5%00abc"), 400, "invalid-utf8", "limit")
    problem(get_raw(daemon.port, "/v1/clouds?a%00b=1"), 400, "invalid-utf8", "a")


def test_problem_bodies_are_always_encodable(daemon, tenant):
    """Each of these used to answer '500 cannot encode the response'."""
    api = daemon.api()
    # A long non-ASCII label key echoed in a detail that a fixed buffer
    # cuts: at every alignment of the cut.
    for n in range(3):
        st, hdrs, body = api.post("/v1/tenants", {"name": "lbl",
                                                  "labels": {"a" * n + "ключ" * 200: "v"}})
        assert st == 400 and hdrs["content-type"] == "application/problem+json", (st, body)
        assert body["field"] == "labels" and "ключ" in body["detail"], body
    # A header echoed in a detail, with bytes that are not UTF-8.
    p = problem(get_raw(daemon.port, "/v1/clouds/x", method=b"DELETE",
                        extra=b'If-Match: "\xff\xfe"\r\n'), 412, "precondition-failed")
    assert "\ufffd" in p["detail"]


# --- 2: connection slots ------------------------------------------------------

def test_one_address_cannot_take_every_slot_or_hold_a_head_forever(pg):
    """127.0.0.1 opens its limit of connections and drips header lines; the
    next connection from 127.0.0.1 is refused at once, a client at
    127.0.0.2 gets /healthz in under a second, and the dripping connections
    are closed by the head deadline (15 s) although each line comes within
    the idle timeout (10 s).  An idle connection goes after 10 s."""
    limit = 8
    # One worker thread: connections are accepted, and counted, in order.
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), threads=1,
                  extra=["--max-conns-per-ip", str(limit)]).start()
    try:
        time.sleep(0.5)     # until the server has seen the readiness probe close
        drippers = []
        for _ in range(limit - 1):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            drippers.append(s)
        idle = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        opened = time.monotonic()
        time.sleep(0.5)

        # One more from 127.0.0.1: closed without an answer.
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert extra.recv(100) == b""
        except ConnectionResetError:
            pass
        extra.close()

        t0 = time.monotonic()
        st, _, body = raw_exchange(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n", source="127.0.0.2")
        took = time.monotonic() - t0
        assert st == 200 and took < 1.0, (st, took)

        # Drip a header line every 2 s and note when the server hangs up.
        closed = {}
        socks = drippers + [idle]
        for s in socks:
            s.settimeout(0.05)
        n = 0
        while len(closed) < len(socks) and time.monotonic() - opened < 30:
            for s in socks:
                if s in closed:
                    continue
                try:
                    if s.recv(4096) == b"":
                        closed[s] = time.monotonic() - opened
                except socket.timeout:
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    closed[s] = time.monotonic() - opened
            time.sleep(2 - 0.05 * len(socks) if 2 > 0.05 * len(socks) else 0)
            n += 1
            for s in drippers:
                if s not in closed:
                    try:
                        s.sendall(b"X-Drip-%d: 1\r\n" % n)
                    except (ConnectionResetError, BrokenPipeError):
                        closed[s] = time.monotonic() - opened
        assert len(closed) == len(socks), "a connection outlived 30 s"
        assert 9 <= closed[idle] <= 13, closed[idle]
        for s in drippers:
            assert 13 <= closed[s] <= 19, closed[s]     # head deadline 15 s, 1 s reaper
            s.close()
        idle.close()
        # The address has its slots back.
        assert raw_exchange(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n")[0] == 200
    finally:
        d.stop()


def test_default_limit_admits_a_32_connection_benchmark(daemon):
    conns = [socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
             for _ in range(32)]
    try:
        for s in conns:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in conns:
            assert read_response(s)[0] == 200
    finally:
        for s in conns:
            s.close()


# --- 3: chunked bodies -------------------------------------------------------

def test_chunked_body_is_not_drained_past_64_mib(daemon):
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=20)
    s.sendall(b"POST /v1/clouds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + ADMIN_TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
    sent = 0
    try:
        while sent < 96 << 20:
            s.sendall(piece)
            sent += 1 << 20
    except (BrokenPipeError, ConnectionResetError):
        pass
    # The server stopped reading at 64 MiB; what the socket buffers held
    # on the way is all the client could push beyond that.
    assert sent < 80 << 20, f"the server took {sent >> 20} MiB"
    st, hdrs, body = read_response(s)
    s.close()
    p = problem((st, hdrs, body), 413, "body-too-large")
    assert hdrs["connection"].lower() == "close" and "67108864" in p["detail"]


# --- 4: HEAD, OPTIONS, 414, 431, If-None-Match ------------------------------

def test_head_answers_like_get_without_a_body(daemon, tenant):
    for path, token in (("/v1/clouds/x", ADMIN_TOKEN), ("/v1/clouds", ADMIN_TOKEN),
                        ("/healthz", None), ("/v1/tenants/hard", tenant)):
        g = get_raw(daemon.port, path, token=token)
        s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
                  .encode())
        st, hdrs, _ = read_response(s, head_only=True)
        rest = s.recv(100)
        s.close()
        assert st == g[0] == 200 and rest == b"", (path, st, rest)
        assert hdrs["content-length"] == str(len(g[2])), path
        for k in ("content-type", "etag", "cache-control"):
            assert hdrs.get(k) == g[1].get(k), (path, k)
    assert get_raw(daemon.port, "/v1/clouds", token=None, method=b"HEAD")[0] == 401


def test_options_lists_the_methods(daemon):
    api = daemon.api(token=None)
    st, hdrs, body = api.request("OPTIONS", "/v1/hosts/x")
    assert st == 204 and hdrs["allow"] == "GET, HEAD, PATCH, DELETE, OPTIONS" and body == ""
    st, hdrs, _ = api.request("OPTIONS", "/healthz")
    assert st == 204 and hdrs["allow"] == "GET, HEAD, OPTIONS"
    assert_problem(api.request("OPTIONS", "/v1/nothing"), 404, "no-route")
    st, hdrs, _ = daemon.api().request("PUT", "/v1/clouds", {"name": "x"})
    assert st == 405 and hdrs["allow"] == "GET, HEAD, POST, OPTIONS"


def test_uri_too_long_and_headers_too_large_are_problems(daemon):
    problem(get_raw(daemon.port, "/v1/clouds/" + "a" * 9000), 414, "uri-too-long")
    problem(get_raw(daemon.port, "/v1/clouds?x=" + "%41" * 20000, token=None),
            414, "uri-too-long")
    big = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
    problem(get_raw(daemon.port, "/healthz", extra=big), 431, "headers-too-large")
    # Just under the limits is served.
    assert get_raw(daemon.port, "/healthz?x=" + "a" * 8000)[0] == 200
    assert get_raw(daemon.port, "/healthz", extra=big[:30000])[0] == 200


def test_if_none_match_star_weak_tags_and_lists(daemon, tenant):
    api = daemon.api()
    for path in ("/v1/clouds/x", "/v1/clouds"):      # a row, a computed page
        st, hdrs, _ = api.get(path)
        etag = hdrs["etag"]
        for inm, want in (("*", 304), (etag, 304), ("W/" + etag, 304),
                          ('"nope", ' + etag, 304), ('"nope",W/' + etag + ' , "x"', 304),
                          ('"nope"', 200), ('W/"nope", "other"', 200), ("garbage", 200)):
            st, h2, _ = api.get(path, headers={"If-None-Match": inm})
            assert st == want, (path, inm, st)
            if st == 304:
                assert h2["etag"] == etag


# --- 5: HTTPS -------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def issue(d, name, cn, ca="ca"):
    """A P-256 key and a certificate for 127.0.0.1 signed by the test CA."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", "san.ext", cwd=d)


@pytest.fixture(scope="module")
def tls(pg):
    d = tempfile.mkdtemp(prefix="skyv-tls-")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=skyvisor test CA", cwd=d)
    issue(d, "first", "first")
    issue(d, "second", "second")
    shutil.copy(os.path.join(d, "first.pem"), os.path.join(d, "server.pem"))
    shutil.copy(os.path.join(d, "first.key"), os.path.join(d, "server.key"))
    port = free_port()
    sv = Skyvisord(db_url=pg.url(pg.fresh_db()), extra=[
        "--tls-listen", f"127.0.0.1:{port}", "--tls-cert", os.path.join(d, "server.pem"),
        "--tls-key", os.path.join(d, "server.key")]).start()
    sv.tls_port, sv.tls_dir = port, d
    yield sv
    assert sv.stop() == 0, sv.read_log()
    shutil.rmtree(d, ignore_errors=True)


def https(sv, method, path, token=ADMIN_TOKEN, conn=None):
    ctx = ssl.create_default_context(cafile=os.path.join(sv.tls_dir, "ca.pem"))
    c = conn or http.client.HTTPSConnection("127.0.0.1", sv.tls_port, context=ctx, timeout=10)
    c.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
    r = c.getresponse()
    body = r.read()
    return c, r.status, body


def peer_cn(conn):
    subject = dict(x[0] for x in conn.sock.getpeercert()["subject"])
    return subject["commonName"]


def test_https_serves_the_api_beside_plain_http(tls):
    c, st, body = https(tls, "GET", "/healthz", token=None)
    assert st == 200 and peer_cn(c) == "first"
    _, st, body = https(tls, "GET", "/v1/clouds", conn=c)      # keep-alive
    assert st == 200 and json.loads(body)["items"] == []
    _, st, body = https(tls, "GET", "/%ff", token=None, conn=c)
    assert st == 400 and json.loads(body)["type"].endswith("invalid-utf8")
    _, st, body = https(tls, "GET", "/ui/", token=None, conn=c)  # the dashboard
    assert st == 200 and b"<html" in body.lower()
    c.close()
    assert tls.api().get("/v1/clouds")[0] == 200                # plain HTTP stays


def test_sighup_reloads_the_certificate_for_new_connections(tls):
    old, st, _ = https(tls, "GET", "/healthz", token=None)
    assert st == 200 and peer_cn(old) == "first"
    d = tls.tls_dir
    for ext in ("pem", "key"):
        shutil.copy(os.path.join(d, f"second.{ext}"), os.path.join(d, f"server.{ext}"))
    tls.proc.send_signal(signal.SIGHUP)
    wait_log(tls, "TLS certificate reloaded", 1)
    new, st, _ = https(tls, "GET", "/healthz", token=None)
    assert st == 200 and peer_cn(new) == "second"
    # The connection made before the reload goes on with its own.
    _, st, _ = https(tls, "GET", "/healthz", token=None, conn=old)
    assert st == 200 and peer_cn(old) == "first"
    old.close()
    new.close()
    # A pair that does not match keeps the current one.
    shutil.copy(os.path.join(d, "first.key"), os.path.join(d, "server.key"))
    tls.proc.send_signal(signal.SIGHUP)
    wait_log(tls, "TLS certificate not reloaded", 1)
    c, st, _ = https(tls, "GET", "/healthz", token=None)
    assert st == 200 and peer_cn(c) == "second"
    c.close()
    shutil.copy(os.path.join(d, "second.key"), os.path.join(d, "server.key"))


def wait_log(sv, text, count, timeout=10):
    deadline = time.monotonic() + timeout
    while sv.read_log().count(text) < count:
        assert time.monotonic() < deadline, f"no '{text}' in the log:\n" + sv.read_log()
        time.sleep(0.05)


def test_skyctl_over_https_with_cacert(tls):
    skyctl = os.path.join(BUILD, "skyctl")
    url = f"https://127.0.0.1:{tls.tls_port}"
    ca = os.path.join(tls.tls_dir, "ca.pem")
    env = dict(os.environ, SKYVISOR_TOKEN=ADMIN_TOKEN)
    env.pop("SKYVISOR_CACERT", None)
    run = lambda *a, **kw: subprocess.run([skyctl, "--url", url, *a], capture_output=True,
                                          text=True, timeout=60, **kw)
    r = run("--cacert", ca, "get", "clouds", "-o", "json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stderr
    r = run("get", "clouds", "-o", "json", env=dict(env, SKYVISOR_CACERT=ca))
    assert r.returncode == 0, r.stderr
    r = run("get", "clouds", env=env)                  # the system CAs do not know it
    assert r.returncode != 0 and "certificate" in r.stderr.lower(), r.stderr
