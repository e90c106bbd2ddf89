#!/usr/bin/env python3
"""Runs the HTTP fuzz target against a real PostgreSQL (make fuzz-http-pg).

usage: fuzz_http_pg.py FUZZ_HTTP_PG CORPUS RUNS [libFuzzer flags...]

Starts a throwaway cluster the way the integration suites do
(tests/integration/conftest.py's PgCluster), gives the target an empty
database in $SKYVISOR_FUZZ_DB (the target applies skyvisord's migrations
itself, with db/migrate.c), runs RUNS inputs starting from a scratch copy
of CORPUS, prints libFuzzer's final statistics and the per-route table
($FUZZ_HTTP_REPORT), and fails when the target does."""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import PgCluster  # noqa: E402


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    target, corpus, runs = sys.argv[1:4]
    extra = sys.argv[4:]
    pg = PgCluster()
    scratch = tempfile.mkdtemp(prefix="fuzz-http-pg-")
    try:
        db = pg.fresh_db()
        shutil.copytree(corpus, os.path.join(scratch, "corpus"))
        report = os.path.join(scratch, "routes.txt")
        env = dict(os.environ, SKYVISOR_FUZZ_DB=pg.url(db), FUZZ_HTTP_REPORT=report)
        cmd = [os.path.abspath(target), f"-runs={runs}", "-print_final_stats=1",
               *extra, os.path.join(scratch, "corpus")]
        proc = subprocess.run(cmd, env=env, cwd=scratch, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        lines = proc.stdout.splitlines()
        print("\n".join(lines[-40:] if proc.returncode else
                        [l for l in lines if l.startswith(("stat::", "Done"))
                         or "DONE" in l.split()]))
        if os.path.exists(report):
            with open(report) as f:
                print(f.read(), end="")
        if proc.returncode:
            sys.exit(f"fuzz_http_pg failed ({proc.returncode})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        pg.destroy()


if __name__ == "__main__":
    main()
