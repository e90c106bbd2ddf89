"""Private Open vSwitch instances for integration tests.

``OvsInstance(name, netns=...)`` runs one ovsdb-server and (optionally) one
ovs-vswitchd with the userspace datapath, all state in a temp directory, the
daemons inside network namespace ``netns`` (created and deleted by
``Netns``/the instance if ``own_netns=True``).  Nothing touches the system
Open vSwitch: every command gets --db / OVS_RUNDIR pointing at the private
directory, and only processes started here are ever stopped or killed (by
the pid in their own pidfile).

    with OvsInstance("h2a", netns="h2a-ns", own_netns=True) as ovs:
        ovs.vsctl("add-br", "br0", "--", "set", "bridge", "br0",
                  "datapath_type=netdev")
        ovs.ofctl("add-flow", "br0", "actions=normal")
        ovs.kill_db(); ovs.start_db()      # crash + restart ovsdb-server

Use unique namespace names (parallel test runs share the machine); a test
should create instances in a fixture whose finalizer calls ``stop()``
(``__exit__`` does).
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def run(cmd, check=True, netns=None, env=None, timeout=30):
    """Runs ``cmd`` (a list), in ``netns`` if given; returns stdout (str)."""
    if netns:
        cmd = ["ip", "netns", "exec", netns] + list(cmd)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): "
                           f"{p.stderr.strip()}")
    return p.stdout


class Netns:
    """A network namespace that exists between create() and delete()."""

    def __init__(self, name):
        assert len(name) <= 32
        self.name = name

    def create(self):
        run(["ip", "netns", "del", self.name], check=False)
        run(["ip", "netns", "add", self.name])
        run(["ip", "link", "set", "lo", "up"], netns=self.name)
        return self

    def delete(self):
        run(["ip", "netns", "del", self.name], check=False)

    def exec(self, *cmd, check=True, timeout=30):
        return run(list(cmd), check=check, netns=self.name, timeout=timeout)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class OvsInstance:
    def __init__(self, name, netns=None, own_netns=False, switch=True):
        self.name = name
        self.netns = netns
        self.own_netns = own_netns
        self.with_switch = switch
        self.dir = tempfile.mkdtemp(prefix=f"skyv-{name}-")
        self.run_dir = self.dir
        self.db_path = os.path.join(self.dir, "conf.db")
        self.db_sock = os.path.join(self.dir, "db.sock")
        self.db_target = "unix:" + self.db_sock
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_DBDIR=self.dir,
                        OVS_LOGDIR=self.dir, OVS_SYSCONFDIR=self.dir)

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Creates the namespace (if owned), the database, and starts the
        daemons.  On failure everything started so far is stopped."""
        try:
            if self.own_netns:
                Netns(self.netns).create()
            run(["ovsdb-tool", "create", self.db_path, SCHEMA])
            self.start_db()
            self.vsctl("--no-wait", "init")
            if self.with_switch:
                self.start_switch()
        except Exception:
            self.stop()
            raise
        return self

    def _path(self, what):
        return os.path.join(self.dir, what)

    def start_db(self):
        run([
            "ovsdb-server", self.db_path, f"--remote=punix:{self.db_sock}",
            "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
            f"--pidfile={self._path('ovsdb-server.pid')}",
            f"--unixctl={self._path('ovsdb-server.ctl')}",
            f"--log-file={self._path('ovsdb-server.log')}",
            "-vconsole:off", "--detach"], netns=self.netns, env=self.env)
        self._wait_for(self.db_sock)

    def start_switch(self):
        run([
            "ovs-vswitchd", self.db_target,
            f"--pidfile={self._path('ovs-vswitchd.pid')}",
            f"--unixctl={self._path('ovs-vswitchd.ctl')}",
            f"--log-file={self._path('ovs-vswitchd.log')}",
            "-vconsole:off", "--detach"], netns=self.netns, env=self.env)

    def _wait_for(self, path, timeout=10):
        end = time.time() + timeout
        while not os.path.exists(path):
            if time.time() > end:
                raise RuntimeError(f"{path} did not appear")
            time.sleep(0.05)

    def pid(self, daemon):
        try:
            with open(self._path(f"{daemon}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _kill(self, daemon, sig=signal.SIGKILL):
        pid = self.pid(daemon)
        if pid and _pid_alive(pid):
            os.kill(pid, sig)
            end = time.time() + 5
            while _pid_alive(pid) and time.time() < end:
                time.sleep(0.05)
        for f in (f"{daemon}.pid", f"{daemon}.ctl"):
            try:
                os.unlink(self._path(f))
            except FileNotFoundError:
                pass

    def kill_db(self):
        """SIGKILLs ovsdb-server (a crash); start_db() brings it back."""
        self._kill("ovsdb-server")
        try:
            os.unlink(self.db_sock)
        except FileNotFoundError:
            pass

    def kill_switch(self):
        self._kill("ovs-vswitchd")

    def stop_switch(self):
        ctl = self._path("ovs-vswitchd.ctl")
        if os.path.exists(ctl):
            run(["ovs-appctl", "-t", ctl, "exit", "--cleanup"], check=False,
                timeout=10)
        self._kill("ovs-vswitchd")

    def restart_switch(self):
        self.stop_switch()
        self.start_switch()

    def stop(self):
        """Stops both daemons, deletes the namespace if owned and the temp
        directory.  Safe to call more than once."""
        self.stop_switch()
        ctl = self._path("ovsdb-server.ctl")
        if os.path.exists(ctl):
            run(["ovs-appctl", "-t", ctl, "exit"], check=False, timeout=10)
        self._kill("ovsdb-server")
        if self.own_netns and self.netns:
            Netns(self.netns).delete()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- tools -------------------------------------------------------------
    def vsctl(self, *args, check=True):
        return run(["ovs-vsctl", f"--db={self.db_target}", "--timeout=10"]
                   + list(args), check=check, netns=self.netns, env=self.env)

    def ofctl(self, *args, check=True):
        """ovs-ofctl -O OpenFlow13 ARGS (bridge names resolve to the
        private run directory's BRIDGE.mgmt socket)."""
        return run(["ovs-ofctl", "-O", "OpenFlow13"] + list(args),
                   check=check, netns=self.netns, env=self.env)

    def appctl(self, *args, check=True):
        return run(["ovs-appctl", "-t", self._path("ovs-vswitchd.ctl")]
                   + list(args), check=check, env=self.env)

    def exec(self, *cmd, check=True, timeout=30):
        """Runs a command inside the instance's namespace."""
        return run(list(cmd), check=check, netns=self.netns, env=self.env,
                   timeout=timeout)

    def log(self, daemon="ovs-vswitchd"):
        try:
            with open(self._path(f"{daemon}.log")) as f:
                return f.read()
        except OSError:
            return ""
