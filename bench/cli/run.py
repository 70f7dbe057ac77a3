#!/usr/bin/python3
"""bench/cli: `forge import` of 1 000 Markdown files against the server's own create throughput
(wrk POST /api/v1/capsules, bench/capsules/create.lua), on the same server, alternated, in one
run (issue 18: import must reach >= 80 % of the server's create rate).

usage: bench/cli/run.py [rounds=3] [wrk_seconds=5] [wrk_connections=16] [jobs=8]
Needs: a build (build/forge) and wrk. One fresh SQLite server (WORKERS=8, rate limit off, as
bench/stores); each round runs wrk, then imports a fresh 1 000-file tree (different content
every round) and times the whole `forge import` process (start to exit, files/s)."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
os.environ.setdefault("FORGE_BIN", os.path.join(ROOT, "build", "forge"))
from forgetest import FORGE_BIN, Forge  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
DUR = int(sys.argv[2]) if len(sys.argv) > 2 else 5
CONNS = int(sys.argv[3]) if len(sys.argv) > 3 else 16
JOBS = int(sys.argv[4]) if len(sys.argv) > 4 else 8
FILES = 1000


def wrk_create(url, token):
    out = subprocess.run(["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % DUR, "-s",
                          os.path.join(ROOT, "bench/capsules/create.lua"), url],
                         env=dict(os.environ, FORGE_TOKEN=token), capture_output=True, text=True,
                         check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert not non2xx, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def make_tree(root, rnd):
    for i in range(FILES):
        d = os.path.join(root, "s%d" % (i % 10))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "p%04d.md" % i), "w") as fh:
            if i % 3 == 0:
                fh.write("---\ntype: decision\ntags: [bench, r%d]\n---\n\n" % rnd)
            fh.write("# Round %d page %d\n\nThe quick brown fox %d-%d jumps over the lazy dog.\n"
                     % (rnd, i, rnd, i))


def main():
    f = Forge(env={"RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "warning",
                   "WORKERS": os.environ.get("WORKERS", "8")})
    tmp = tempfile.mkdtemp(prefix="forge-bench-cli-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    env.update(HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "cfg"))
    try:
        u = f.make_user()
        subprocess.run([FORGE_BIN, "login", f.url, "--email", u["email"], "--password-stdin"],
                       input=u["password"] + "\n", env=env, text=True, check=True,
                       capture_output=True)
        print("# bench/cli %s, %d cores, wrk -t2 -c%d -d%ds vs forge import of %d files "
              "--jobs %d, %d rounds" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                         os.cpu_count(), CONNS, DUR, FILES, JOBS, ROUNDS))
        server, client = [], []
        for rnd in range(ROUNDS):
            server.append(wrk_create(f.url, u["access_token"]))
            tree = os.path.join(tmp, "tree%d" % rnd)
            make_tree(tree, rnd)
            t0 = time.time()
            r = subprocess.run([FORGE_BIN, "import", tree, "--jobs", str(JOBS), "--json"],
                               env=env, capture_output=True, text=True, check=True)
            dt = time.time() - t0
            meta = json.loads(r.stdout)["meta"]
            assert meta["created"] == FILES and meta["failed"] == 0, meta
            client.append(FILES / dt)
            print("round %d: server create %.0f req/s, forge import %.0f files/s (%.2f s), "
                  "ratio %.2f" % (rnd + 1, server[-1], client[-1], dt, client[-1] / server[-1]),
                  flush=True)
        ms, mc = statistics.median(server), statistics.median(client)
        print("median: server %.0f req/s (%.0f-%.0f), import %.0f files/s (%.0f-%.0f), "
              "ratio %.2f" % (ms, min(server), max(server), mc, min(client), max(client),
                              mc / ms))
    finally:
        f.close()


if __name__ == "__main__":
    main()
