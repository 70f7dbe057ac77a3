#!/usr/bin/python3
"""bench/stores: capsule create, get and semantic-search throughput through HTTP on the embedded
SQLite store and on PostgreSQL 15, in one run, same machine, same wrk settings (issue 6).

usage: bench/stores/run.py [duration_s=10] [connections=16]
Needs: a build (build/forge), wrk, Debian's postgresql (started here on loopback, temp dir).
The per-user rate limit is off (the bench would measure it otherwise). PostgreSQL runs with its
defaults except fsync/synchronous_commit on (durable, like SQLite's synchronous=FULL)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
os.environ.setdefault("FORGE_BIN", os.path.join(ROOT, "build", "forge"))
from forgetest import Forge  # noqa: E402
from services import PgServer  # noqa: E402

DUR = int(sys.argv[1]) if len(sys.argv) > 1 else 10
CONNS = int(sys.argv[2]) if len(sys.argv) > 2 else 16
QUERIES = ["quick brown fox", "lazy dog jumps", "bench capsule knowledge", "fox over the dog",
           "brown dog", "quick capsule"]


def wrk(script, url, env):
    out = subprocess.run(["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % DUR, "--latency", "-s",
                          script, url], env=dict(os.environ, **env), capture_output=True,
                         text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(non2xx.group(1)) if non2xx else 0


def bench(name, env):
    f = Forge(env=dict(env, RATE_LIMIT_ENABLED="false", LOG_LEVEL="warning",
                       WORKERS=os.environ.get("WORKERS", "8")))
    try:
        u = f.make_user()
        tok = u["access_token"]
        tmp = tempfile.mkdtemp(prefix="forge-bench-")
        res = {}
        res["create"] = wrk(os.path.join(ROOT, "bench/capsules/create.lua"), f.url,
                            {"FORGE_TOKEN": tok})
        ids, page = [], 1
        while len(ids) < 20000:
            r = f.get("/api/v1/capsules?per_page=100&page=%d" % page, token=tok)
            items = r.json["data"]
            if not items:
                break
            ids += [c["id"] for c in items]
            page += 1
        with open(os.path.join(tmp, "ids"), "w") as fh:
            fh.write("\n".join(ids) + "\n")
        with open(os.path.join(tmp, "queries"), "w") as fh:
            fh.write("\n".join(QUERIES) + "\n")
        res["get"] = wrk(os.path.join(ROOT, "bench/capsules/get.lua"), f.url,
                         {"FORGE_TOKEN": tok, "FORGE_IDS": os.path.join(tmp, "ids")})
        res["search"] = wrk(os.path.join(ROOT, "bench/search/search.lua"), f.url,
                            {"FORGE_TOKEN": tok, "FORGE_QUERIES": os.path.join(tmp, "queries"),
                             "SEARCH_MODE": "semantic"})
        return res
    finally:
        f.close()


def main():
    print("# bench/stores %s, %d cores, wrk -t2 -c%d -d%ds" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.cpu_count(), CONNS, DUR))
    results = {"sqlite": bench("sqlite", {})}
    pg = PgServer()
    try:
        # durable PostgreSQL (the test cluster turns fsync off for speed)
        pg.psql("ALTER SYSTEM SET fsync = on", db="postgres")
        pg.psql("ALTER SYSTEM SET synchronous_commit = on", db="postgres")
        pg.psql("SELECT pg_reload_conf()", db="postgres")
        results["postgresql"] = bench("postgresql", {"DATABASE_URL": pg.url})
    finally:
        pg.close()
    print("%-10s %-7s %10s %10s %10s %8s" % ("store", "op", "req/s", "p50", "p99", "non-2xx"))
    for store, res in results.items():
        for op, (rps, p50, p99, bad) in res.items():
            print("%-10s %-7s %10.0f %10s %10s %8d" % (store, op, rps, p50, p99, bad))
    for op in ("create", "get", "search"):
        print("ratio postgresql/sqlite %-7s %.2f" % (
            op, results["postgresql"][op][0] / results["sqlite"][op][0]))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
