"""The data-plane probe (tools/udpprobe, built as $SKYVISOR_BUILD/udpprobe)
from Python: an echo in one network namespace, a sender in another.

    with Echo(ns_b, "10.0.0.2:7001"):
        with Sender(ns_a, "10.0.0.2:7001") as s:
            ...; s.mark(); <fault>; s.mark(); ...
        s.result        # the sender's JSON line: lost, duplicated, reordered,
                        # max_gap_ms, max_loss_run, and one entry per window

Both return from start() only once the program says it is ready (the echo
bound, the sender's SIGUSR1 handler installed), so a mark is never lost and
never kills the sender.  'ns' None runs in the caller's namespace.
"""

import json
import os
import signal
import subprocess

from conftest import BUILD

PROBE = os.path.join(BUILD, "udpprobe")


class _Proc:
    def __init__(self, ns, argv, ready):
        self.argv = (["ip", "netns", "exec", ns] if ns else []) + [PROBE, *argv]
        self.ready = ready
        self.proc = None
        self.result = None

    def start(self):
        # `ip netns exec` execs the program: the pid is udpprobe's own.
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if self.ready not in line:
            out, err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"{' '.join(self.argv)}: {line}{err}{out}")
        return self

    def finish(self, sig=None, timeout=30):
        """Stops the program with 'sig' (None: waits for it to end by
        itself) and returns its JSON line."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0 or not out.strip():
            raise RuntimeError(f"{' '.join(self.argv)} exited {self.proc.returncode}: {err}")
        self.result = json.loads(out.strip().splitlines()[-1])
        return self.result

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def __enter__(self):
        return self.start()


class Echo(_Proc):
    """`udpprobe echo`; 'impair' are extra arguments (--drop, --dup, --hold)."""

    def __init__(self, ns, listen, *impair):
        super().__init__(ns, ["echo", "--listen", listen, *impair], "echo listening on")

    def __exit__(self, exc, *rest):
        if exc:
            self.kill()
        else:
            self.finish(signal.SIGTERM)
        return False


class Sender(_Proc):
    """`udpprobe send --to TO` with extra arguments; leaving the block stops
    it (SIGINT) and reads its result, unless it ended by itself first."""

    def __init__(self, ns, to, *args):
        super().__init__(ns, ["send", "--to", to, *args], "sending to")

    def mark(self):
        """Closes the current window and opens the next (SIGUSR1)."""
        self.proc.send_signal(signal.SIGUSR1)

    def __exit__(self, exc, *rest):
        if exc:
            self.kill()
        elif self.result is None:
            self.finish(signal.SIGINT)
        return False
