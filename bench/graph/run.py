#!/usr/bin/python3
"""bench/graph: knowledge-graph traversal over HTTP at 100 000 capsules and ~500 000 typed edges
(issue 16), with networkx on the same graph in memory as the anchor, in the same run.

usage: bench/graph/run.py [capsules=100000] [m=5] [requests=300] [stores=sqlite,postgresql]

1. Graph: networkx.barabasi_albert_graph(N, m, seed=16) — preferential attachment, power-law
   degrees, N*m - m*m edges (499 975 for the defaults). Each undirected edge gets a random
   direction and one of the five types (seeded).
2. Load: a fresh server migrates the store and registers the reader; the server is stopped and
   the capsules and edges are bulk-loaded straight into the store (SQLite: one transaction through
   Python's sqlite3; PostgreSQL: COPY) — the same rows the API writes (the change-feed and
   full-text triggers run), minus the per-edge outbox/audit rows; then the server starts again.
   BENCH_GRAPH_CACHE=dir keeps the loaded SQLite file there and reuses it on the next run (the
   load takes minutes on a busy machine; same seed, same graph).
   The vector index is built with a cheap HNSW (M=4, ef_construction=10) because this bench does
   not measure it; the measurements start once /health/ready answers 200.
3. Queries over HTTP, one persistent connection, sequential, `requests` of each: neighbors depth
   1, 2, 3 (limit 1000, both directions, every type) from random capsules, and graph/path with
   max_depth 6 between random pairs. Client-side latency p50/p90/p99.
4. Anchor: the same queries in networkx on the same graph (undirected view): BFS to the depth
   (single_source_shortest_path_length with cutoff, then cut to the same 1000 nodes) and
   shortest_path (bidirectional BFS). Ratio = HTTP / networkx at p50.
"""
import csv
import hashlib
import http.client
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid

import networkx as nx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
os.environ.setdefault("FORGE_BIN", os.path.join(ROOT, "build", "forge"))
from forgetest import Forge  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
M = int(sys.argv[2]) if len(sys.argv) > 2 else 5
REQS = int(sys.argv[3]) if len(sys.argv) > 3 else 300
STORES = (sys.argv[4] if len(sys.argv) > 4 else "sqlite,postgresql").split(",")
TYPES = ["supports", "contradicts", "supersedes", "related_to", "references"]
LIMIT = 1000
TRUST_STANDARD = 60
T0 = 1767225600000  # 2026-01-01, ms


def build_graph():
    t = time.time()
    g = nx.barabasi_albert_graph(N, M, seed=16)
    rnd = random.Random(16)
    ids = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(N)]
    edges = []
    for a, b in g.edges():
        if rnd.random() < 0.5:
            a, b = b, a
        typ = TYPES[rnd.randrange(len(TYPES))]
        if typ == "supersedes" and a > b:  # keep supersedes acyclic (newer supersedes older)
            a, b = b, a
        edges.append((a, b, typ))
    print("graph: %d capsules, %d edges, max degree %d, built in %.1fs" % (
        N, len(edges), max(d for _, d in g.degree()), time.time() - t), flush=True)
    return g, ids, edges


def capsule_rows(ids, owner):
    for i, cid in enumerate(ids):
        content = "graph bench capsule %d" % i
        h = hashlib.sha256(content.encode()).hexdigest()
        at = T0 + i
        yield (cid, content, "knowledge", "{}", "1.0.0", owner, TRUST_STANDARD, None, at, at, 0,
               None, h, at, owner)


def link_rows(ids, edges, owner):
    rnd = random.Random(17)
    for k, (a, b, typ) in enumerate(edges):
        yield (str(uuid.UUID(int=rnd.getrandbits(128), version=4)), ids[a], ids[b], typ, None,
               1.0, owner, T0 + N + k)


CAP_COLS = ("id, content, type, metadata, version, owner_id, trust_level, parent_id, created_at, "
            "updated_at, is_deleted, deleted_at, content_hash, version_created_at, "
            "version_author_id")
LINK_COLS = "id, source_id, target_id, type, note, weight, creator_id, created_at"


def load_sqlite(path, ids, edges, owner):
    t = time.time()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN")
    db.executemany("INSERT INTO capsules (%s) VALUES (%s)" % (CAP_COLS, ",".join("?" * 15)),
                   capsule_rows(ids, owner))
    db.executemany("INSERT INTO capsule_links (%s) VALUES (%s)" % (LINK_COLS, ",".join("?" * 8)),
                   link_rows(ids, edges, owner))
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    print("sqlite bulk load: %.1fs" % (time.time() - t), flush=True)


def load_pg(pg, ids, edges, owner):
    t = time.time()
    tmp = tempfile.mkdtemp(prefix="forge-graph-bench-")
    cf, lf = os.path.join(tmp, "caps.csv"), os.path.join(tmp, "links.csv")
    with open(cf, "w", newline="") as fh:
        w = csv.writer(fh)
        for r in capsule_rows(ids, owner):
            w.writerow(["" if v is None else v for v in r])
    with open(lf, "w", newline="") as fh:
        w = csv.writer(fh)
        for r in link_rows(ids, edges, owner):
            w.writerow(["" if v is None else v for v in r])
    pg.psql("\\copy capsules (%s) FROM '%s' WITH (FORMAT csv)" % (CAP_COLS, cf))
    pg.psql("\\copy capsule_links (%s) FROM '%s' WITH (FORMAT csv)" % (LINK_COLS, lf))
    pg.psql("ANALYZE")
    os.unlink(cf)
    os.unlink(lf)
    os.rmdir(tmp)
    print("postgresql bulk load: %.1fs" % (time.time() - t), flush=True)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def summary(name, ms, extra=""):
    print("%-32s n=%4d p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms  mean %8.3f ms %s" % (
        name, len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), statistics.mean(ms), extra),
        flush=True)
    return {"p50": pct(ms, 50), "p90": pct(ms, 90), "p99": pct(ms, 99),
            "mean": statistics.mean(ms), "n": len(ms)}


def http_queries(f, token, ids, starts, pairs):
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=60)
    hdr = {"Authorization": "Bearer " + token}

    def get(path):
        t = time.perf_counter()
        conn.request("GET", path, headers=hdr)
        r = conn.getresponse()
        body = r.read()
        dt = (time.perf_counter() - t) * 1e3  # parsing the JSON below is not timed
        assert r.status == 200, (r.status, body[:300])
        return dt, json.loads(body)["data"]

    for s in starts[:20]:  # warm-up (page cache, statement cache)
        get("/api/v1/capsules/%s/neighbors?depth=2&limit=%d" % (ids[s], LIMIT))
    res = {}
    # baseline in the same run: a plain capsule read (auth, one row, JSON) on the same server
    res["get_capsule"] = summary("http GET capsule (baseline)",
                                 [get("/api/v1/capsules/%s" % ids[s])[0] for s in starts])
    for depth in (1, 2, 3):
        ms, sizes, trunc = [], [], 0
        for s in starts:
            dt, d = get("/api/v1/capsules/%s/neighbors?depth=%d&limit=%d" % (ids[s], depth, LIMIT))
            ms.append(dt)
            sizes.append(len(d["nodes"]))
            trunc += d["truncated"]
        res["neighbors_d%d" % depth] = summary(
            "http neighbors depth %d" % depth, ms,
            "(nodes median %d, truncated %d/%d)" % (statistics.median(sizes), trunc, len(starts)))
    ms, trunc = [], 0
    for s in starts:  # the default bound (limit 100)
        dt, d = get("/api/v1/capsules/%s/neighbors?depth=2" % ids[s])
        ms.append(dt)
        trunc += d["truncated"]
    res["neighbors_d2_limit100"] = summary("http neighbors depth 2 limit 100", ms,
                                           "(truncated %d/%d)" % (trunc, len(starts)))
    ms, lens, found = [], [], 0
    for a, b in pairs:
        dt, d = get("/api/v1/graph/path?from=%s&to=%s&max_depth=6" % (ids[a], ids[b]))
        ms.append(dt)
        if d["found"]:
            found += 1
            lens.append(d["length"])
    res["path"] = summary("http path max_depth 6", ms, "(found %d/%d, length median %s)" % (
        found, len(pairs), statistics.median(lens) if lens else "-"))
    res["path_lengths"] = lens
    conn.close()
    return res


def nx_queries(g, starts, pairs):
    res = {}
    for depth in (1, 2, 3):
        ms = []
        for s in starts:
            t = time.perf_counter()
            d = nx.single_source_shortest_path_length(g, s, cutoff=depth)
            _ = sorted(d.items(), key=lambda kv: kv[1])[:LIMIT]
            ms.append((time.perf_counter() - t) * 1e3)
        res["neighbors_d%d" % depth] = summary("networkx neighbors depth %d" % depth, ms)
    ms, lens = [], []
    for a, b in pairs:
        t = time.perf_counter()
        try:
            p = nx.shortest_path(g, a, b)
            lens.append(len(p) - 1)
        except nx.NetworkXNoPath:
            pass
        ms.append((time.perf_counter() - t) * 1e3)
    res["path"] = summary("networkx shortest_path", ms, "(length median %s)" % (
        statistics.median(lens) if lens else "-"))
    res["path_lengths"] = lens
    return res


def run_store(store, g, ids, edges, starts, pairs):
    env = {"RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "warning", "HNSW_M": "4",
           "HNSW_EF_CONSTRUCTION": "10", "WORKERS": "4"}
    pg = None
    if store == "postgresql":
        from services import PgServer
        pg = PgServer()
        env["DATABASE_URL"] = pg.url
    cache = os.environ.get("BENCH_GRAPH_CACHE")  # SQLite only: reuse a loaded file
    cached = cache and not pg and os.path.exists(os.path.join(cache, "forge.db"))
    if cached:
        d = tempfile.mkdtemp(prefix="forge-graph-bench-")
        for name in os.listdir(cache):  # forge.db and the index checkpoint (warm start)
            if name.startswith("forge."):
                shutil.copy(os.path.join(cache, name), os.path.join(d, name))
        with open(os.path.join(cache, "user.json")) as fh:
            u = json.load(fh)
        f = Forge(env=env, data_dir=d, start=False)
        print("sqlite: loaded file reused from %s" % cache, flush=True)
    else:
        f = Forge(env=env)
    try:
        if not cached:
            u = f.make_user()
            f.stop()
            if pg:
                load_pg(pg, ids, edges, u["id"])
            else:
                load_sqlite(os.path.join(f.dir, "forge.db"), ids, edges, u["id"])
                if cache:
                    os.makedirs(cache, exist_ok=True)
                    shutil.copy(os.path.join(f.dir, "forge.db"), os.path.join(cache, "forge.db"))
                    with open(os.path.join(cache, "user.json"), "w") as fh:
                        json.dump(u, fh)
        t = time.time()
        f.start(timeout=600)
        print("%s: server ready in %.1fs" % (store, time.time() - t), flush=True)
        tok = f.login(u["email"], u["password"]).json["data"]["access_token"]
        return http_queries(f, tok, ids, starts, pairs)
    finally:
        f.stop()  # writes the index checkpoint
        if cache and not pg and not cached:
            for name in os.listdir(f.dir):
                if name.startswith("forge.index"):
                    shutil.copy(os.path.join(f.dir, name), os.path.join(cache, name))
        f.close()
        if cached:
            shutil.rmtree(f.dir, ignore_errors=True)
        if pg:
            pg.close()


def main():
    print("# bench/graph %s, %d cores, load average %.1f (shared machine), networkx %s, "
          "python %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.cpu_count(),
                         os.getloadavg()[0], nx.__version__, sys.version.split()[0]))
    g, ids, edges = build_graph()
    rnd = random.Random(18)
    starts = [rnd.randrange(N) for _ in range(REQS)]
    pairs = [(rnd.randrange(N), rnd.randrange(N)) for _ in range(REQS)]
    results = {"networkx": nx_queries(g, starts, pairs)}
    for store in STORES:
        results[store] = run_store(store, g, ids, edges, starts, pairs)
        # path lengths must agree with networkx (both are shortest paths, undirected)
        if results[store]["path_lengths"] != results["networkx"]["path_lengths"]:
            print("WARNING: %s path lengths differ from networkx" % store)
        else:
            print("%s: every path length equals networkx's" % store)
    for store in STORES:
        for q in ("neighbors_d1", "neighbors_d2", "neighbors_d3", "path"):
            if q not in results["networkx"]:
                continue
            print("ratio %s/networkx %-13s p50 %.1f" % (
                store, q, results[store][q]["p50"] / results["networkx"][q]["p50"]))
    for r in results.values():
        r.pop("path_lengths", None)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
