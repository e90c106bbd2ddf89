"""OpenFlow and OVSDB over TLS between skyvisord and real Open vSwitch.

A PKI made with ovs-pki in a temp dir: skyvisord holds a certificate from
the controller CA and trusts the switch CA; every ovsdb-server and
ovs-vswitchd holds a switch-CA certificate ("NAME id:UUID", as ovs-pki
writes it) and trusts the controller CA.  skyvisord runs with --ssl-key,
--ssl-cert, --ssl-ca-cert and --openflow-listen pssl:.  Three hosts, each
an ovsdb-server in the root namespace (listening pssl: on loopback, which
skyvisord dials as ssl:) and, for two of them, an ovs-vswitchd in a
namespace of its own, whose bridge dials skyvisord's pssl: listener over a
veth (its `controller` is ssl:):

  tls-a  everything names tls-a: its VM gets realized, flows installed;
  tls-b  its OVSDB server is tls-b, but its switch holds tls-a's
         certificate: the OpenFlow connection is refused, nothing is
         installed, the host's status says why;
  tls-c  its OVSDB server holds tls-a's certificate: the OVSDB session is
         refused, no bridge is made, the host's status says why.

Open vSwitch checks only the CA chain, so tls-b's switch and tls-c's server
would be accepted without skyvisord's own check that a certificate names
the host.
"""

import os
import subprocess
import time

import pytest

from conftest import BUILD, Skyvisord, free_port, ok
from ovs_helpers import Netns, OvsInstance, run

TAG = f"{os.getpid() % 10000}"


class Pki:
    """ovs-pki's controller and switch CAs, and certificates on demand."""

    def __init__(self, root):
        self.dir = str(root)
        self.pki = os.path.join(self.dir, "pki")
        self._ovs_pki("init")
        self.ctl_key, self.ctl_cert = self.req_sign("ctl", "controller")
        self.controller_ca = os.path.join(self.pki, "controllerca", "cacert.pem")
        self.switch_ca = os.path.join(self.pki, "switchca", "cacert.pem")

    def _ovs_pki(self, *args):
        subprocess.run(["ovs-pki", f"--dir={self.pki}", f"--log={self.dir}/pki.log",
                        *args], check=True, cwd=self.dir, capture_output=True, timeout=60)

    def req_sign(self, name, ca="switch"):
        """A key and a certificate for 'name' ("NAME id:UUID") from 'ca'."""
        self._ovs_pki("req+sign", name, ca)
        return (os.path.join(self.dir, f"{name}-privkey.pem"),
                os.path.join(self.dir, f"{name}-cert.pem"))


class TlsHost(OvsInstance):
    """An ovsdb-server in the root namespace that listens pssl: on loopback
    with 'db_cert', and (if 'switch_cert') an ovs-vswitchd in namespace of
    its own whose SSL table holds 'switch_cert', joined to the root
    namespace by a veth 169.254.N.1 (root) -- 169.254.N.2."""

    def __init__(self, name, n, pki, db_cert, switch_cert=None):
        self.n = n
        self.pki = pki
        self.db_cert = db_cert
        self.switch_cert = switch_cert
        self.db_port = free_port()
        self.veth = f"sktls{TAG}{n}"
        self.root_ip = f"169.254.{200 + n}.1"
        super().__init__(f"tls-{name}", netns=f"sktls{TAG}n{n}" if switch_cert else None,
                         own_netns=bool(switch_cert), switch=bool(switch_cert))

    def start_db(self):
        key, cert = self.db_cert
        run(["ovsdb-server", self.db_path, f"--remote=punix:{self.db_sock}",
             f"--remote=pssl:{self.db_port}:127.0.0.1",
             f"--private-key={key}", f"--certificate={cert}",
             f"--ca-cert={self.pki.controller_ca}",
             f"--pidfile={self._path('ovsdb-server.pid')}",
             f"--unixctl={self._path('ovsdb-server.ctl')}",
             f"--log-file={self._path('ovsdb-server.log')}",
             "-vconsole:off", "--detach"], env=self.env)
        self._wait_for(self.db_sock)

    def start_switch(self):
        key, cert = self.switch_cert
        self.vsctl("--no-wait", "set-ssl", key, cert, self.pki.controller_ca)
        run(["ip", "link", "del", self.veth], check=False)
        run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "up0",
             "netns", self.netns])
        run(["ip", "addr", "add", f"{self.root_ip}/30", "dev", self.veth])
        run(["ip", "link", "set", self.veth, "up"])
        Netns(self.netns).exec("ip", "addr", "add", f"169.254.{200 + self.n}.2/30",
                               "dev", "up0")
        Netns(self.netns).exec("ip", "link", "set", "up0", "up")
        super().start_switch()

    def stop(self):
        run(["ip", "link", "del", self.veth], check=False)
        super().stop()

    def flows(self):
        if not os.path.exists(self._path("br-sky.mgmt")):
            return []
        out = run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows",
                   f"unix:{self._path('br-sky.mgmt')}"], check=False)
        return [line for line in out.splitlines() if "cookie=0xa" in line]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def world(pg, pki):
    cert_a = pki.req_sign("tls-a")
    hosts = {
        "tls-a": TlsHost("a", 1, pki, cert_a, cert_a),
        "tls-b": TlsHost("b", 2, pki, pki.req_sign("tls-b"), cert_a),
        "tls-c": TlsHost("c", 3, pki, cert_a),
    }
    of_port = free_port()
    d = Skyvisord(db_url=pg.url(pg.fresh_db()), reconcile=True,
                  extra=("--ssl-key", pki.ctl_key, "--ssl-cert", pki.ctl_cert,
                         "--ssl-ca-cert", pki.switch_ca,
                         "--openflow-listen", f"pssl:0.0.0.0:{of_port}"))
    try:
        for h in hosts.values():
            h.start()
        d.start()
        api = d.api()
        ok(api.post("/v1/clouds", {"name": "tlsc", "provider": "aws", "region": "r1",
                                   "jurisdiction": "DE", "kind": "public"}))
        for i, (name, h) in enumerate(hosts.items(), start=1):
            body = {"name": name, "cloud": "tlsc", "tunnel_ip": f"198.18.77.{i}",
                    "ovsdb": f"ssl:127.0.0.1:{h.db_port}", "datapath": "netdev",
                    "controller": f"ssl:{h.root_ip}:{of_port}"}
            if name == "tls-a":
                body.update(role="gateway", public_ip="198.19.77.1")
            created = ok(api.post("/v1/hosts", body), 201)
            assert created["ovsdb"] == body["ovsdb"]
            assert created["controller"] == body["controller"]
        ok(api.post("/v1/tenants", {"name": "tlst"}))
        base = "/v1/tenants/tlst/networks"
        ok(api.post(base, {"name": "n", "subnet": "10.7.0.0/24", "tagging": "mac-prefix"}))
        ok(api.post(f"{base}/n/switches", {"name": "s"}))
        ok(api.post(f"{base}/n/vms", {"name": "v1", "mac": "02:00:00:00:77:01",
                                      "ip": "10.7.0.1", "switch": "s",
                                      "placement": {"host": "tls-a"}}))
        yield d, api, hosts
    finally:
        rc = d.stop()
        log = d.read_log() if d.proc else ""
        for h in hosts.values():
            h.stop()
        print("\n".join(line for line in log.splitlines() if " http" not in line)[-8000:])
        assert rc in (0, None), f"skyvisord exited {rc}"   # a sanitizer's report


def wait_host(api, name, pred, timeout=40):
    deadline = time.time() + timeout
    while True:
        st = ok(api.get(f"/v1/hosts/{name}"))["status"]
        if pred(st):
            return st
        assert time.time() < deadline, f"{name}: {st}"
        time.sleep(0.3)


def test_host_over_tls_is_realized(world):
    d, api, hosts = world
    wait_host(api, "tls-a", lambda st: st["state"] == "realized")
    # v1 has no `iface`: its hypervisor plugs a port carrying its id.
    vm_id = ok(api.get("/v1/tenants/tlst/networks/n/vms/v1"))["id"]
    hosts["tls-a"].vsctl("add-port", "br-sky", "v1tap", "--", "set", "interface", "v1tap",
                         "type=internal", f"external_ids:skyvisor-vm-id={vm_id}")
    deadline = time.time() + 30
    while ok(api.get("/v1/tenants/tlst/networks/n/vms/v1"))["status"]["state"] != "realized":
        assert time.time() < deadline
        time.sleep(0.3)
    # Flows went in over the TLS OpenFlow connection the bridge made to
    # the pssl: listener; OVSDB made the bridge over ssl:.
    assert hosts["tls-a"].flows()
    assert hosts["tls-a"].vsctl("get-controller", "br-sky").startswith("ssl:")


def test_switch_naming_another_host_is_refused(world):
    d, api, hosts = world
    st = wait_host(api, "tls-b", lambda st: st["state"] == "error"
                   and "refused" in (st["detail"] or ""))
    assert 'certificate names "tls-a id:' in st["detail"], st
    assert 'not host "tls-b"' in st["detail"], st
    assert st["detail"].startswith("openflow: bridge br-sky refused"), st
    # Its OVSDB server was fine: the bridge exists, pointed at skyvisord,
    # but nothing was installed on it.
    assert "br-sky" in hosts["tls-b"].vsctl("list-br").split()
    assert hosts["tls-b"].flows() == []
    assert any("refused" in line and "tls-b" in line and "ofconn" in line
               for line in d.read_log().splitlines())


def test_ovsdb_server_naming_another_host_is_refused(world):
    d, api, hosts = world
    st = wait_host(api, "tls-c", lambda st: st["state"] == "error"
                   and "refused" in (st["detail"] or ""))
    assert st["detail"].startswith(f"ovsdb ssl:127.0.0.1:{hosts['tls-c'].db_port}: "
                                   "not connected: refused: certificate names \"tls-a id:"), st
    assert 'not host "tls-c"' in st["detail"], st
    assert hosts["tls-c"].vsctl("list-br").strip() == ""
    assert any("disconnected: refused" in line and "tls-c" in line
               for line in d.read_log().splitlines())


def test_pssl_listener_needs_certificates():
    p = subprocess.run([os.path.join(BUILD, "skyvisord"), "--openflow-listen",
                        "pssl:127.0.0.1:6653"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, SKYVISOR_ADMIN_TOKEN="x" * 40))
    assert p.returncode == 2
    assert "--ssl-key" in p.stderr
    p = subprocess.run([os.path.join(BUILD, "skyvisord"), "--ssl-key", "/nonexistent"],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, SKYVISOR_ADMIN_TOKEN="x" * 40))
    assert p.returncode == 2
    assert "all of --ssl-key, --ssl-cert and --ssl-ca-cert" in p.stderr
