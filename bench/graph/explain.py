#!/usr/bin/python3
"""Prints the query plans of the knowledge-graph statements on both stores (docs/knowledge-graph.md)
for a graph loaded like bench/graph/run.py (default 20 000 capsules, m=5: ~100 000 edges).

usage: bench/graph/explain.py [capsules=20000]"""
import json
import os
import re
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
N = sys.argv[1] if len(sys.argv) > 1 else "20000"
sys.argv = [sys.argv[0], N, "5", "10", "sqlite"]
import run  # noqa: E402
from services import PgServer  # noqa: E402


def sql_of(path, name):
    src = open(os.path.join(run.ROOT, path)).read()
    m = re.search(r"#define %s\s+\\\n(.*?)\n\n" % name, src, re.S).group(1)
    tb = re.search(r"#define TYPE_BIT_L\s+\\\n(.*?)\n\n", src, re.S)
    tb = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', tb.group(1))) if tb else ""
    out = ""
    for lit, mac in re.findall(r'"((?:[^"\\]|\\.)*)"|(TYPE_BIT_L)', m):
        out += lit if lit else tb
    return out


def main():
    g, ids, edges = run.build_graph()
    three = json.dumps(ids[:3])
    # SQLite
    f = run.Forge(env={"RATE_LIMIT_ENABLED": "false"})
    try:
        u = f.make_user()
        f.stop()
        path = os.path.join(f.dir, "forge.db")
        run.load_sqlite(path, ids, edges, u["id"])
        db = sqlite3.connect(path)
        expand = sql_of("src/store/sqlite/graph.c", "EXPAND_UNION") + " LIMIT ?5"
        qs = [
            ("expand: one BFS level, both directions, every type", expand,
             (three, 3, 63, 60, 1000)),
            ("duplicate check", "SELECT id FROM capsule_links WHERE source_id = ?1 AND "
             "target_id = ?2 AND type = ?3", (ids[0], ids[1], "supports")),
            ("edges leaving a capsule (limit)", "SELECT count(*) FROM capsule_links WHERE "
             "source_id = ?1", (ids[0],)),
            ("superseded_by", "SELECT l.target_id, l.source_id FROM json_each(?1) f CROSS JOIN "
             "capsule_links l ON l.target_id = f.value AND l.type = 'supersedes' CROSS JOIN "
             "capsules s ON s.id = l.source_id WHERE s.is_deleted = 0 AND s.trust_level <= ?2 "
             "ORDER BY l.target_id, l.created_at DESC, l.id DESC", (three, 60)),
            ("contradictions page", "SELECT l.id FROM capsule_links l CROSS JOIN capsules s "
             "CROSS JOIN capsules t WHERE s.id = l.source_id AND t.id = l.target_id AND "
             "l.type = 'contradicts' AND s.is_deleted = 0 AND s.trust_level <= ?1 AND "
             "t.is_deleted = 0 AND t.trust_level <= ?1 ORDER BY l.created_at DESC, l.id DESC "
             "LIMIT ?2 OFFSET ?3", (60, 20, 0)),
            ("cascade on capsule delete", "DELETE FROM capsule_links WHERE source_id = ?1 OR "
             "target_id = ?1", (ids[0],)),
        ]
        print("## SQLite %s, %s capsules, %d edges\n" % (sqlite3.sqlite_version, N, len(edges)))
        for name, q, a in qs:
            print("-- " + name)
            for r in db.execute("EXPLAIN QUERY PLAN " + q, a):
                print("   " + r[3])
            print()
        db.close()
    finally:
        f.close()
    # PostgreSQL
    pg = PgServer()
    try:
        f = run.Forge(env={"RATE_LIMIT_ENABLED": "false", "DATABASE_URL": pg.url})
        u = f.make_user()
        f.stop()
        run.load_pg(pg, ids, edges, u["id"])
        arr = "{%s}" % ",".join(ids[:3])
        expand = sql_of("src/store/pg/graph.c", "EXPAND_UNION") + " LIMIT $5::bigint"
        pgq = [
            ("expand: one BFS level, both directions, every type", expand,
             [arr, "3", "63", "60", "1000"]),
            ("duplicate check", "SELECT id FROM capsule_links WHERE source_id = $1 AND "
             "target_id = $2 AND type = $3", [ids[0], ids[1], "supports"]),
            ("superseded_by", "SELECT l.target_id, l.source_id FROM unnest($1::text[]) f(id) "
             "JOIN capsule_links l ON l.target_id = f.id AND l.type = 'supersedes' JOIN "
             "capsules s ON s.id = l.source_id WHERE s.is_deleted = 0 AND s.trust_level <= "
             "$2::int ORDER BY l.target_id, l.created_at DESC, l.id DESC", [arr, "60"]),
            ("contradictions page", "SELECT l.id FROM capsule_links l JOIN capsules s ON s.id = "
             "l.source_id JOIN capsules t ON t.id = l.target_id WHERE l.type = 'contradicts' "
             "AND s.is_deleted = 0 AND s.trust_level <= $1::int AND t.is_deleted = 0 AND "
             "t.trust_level <= $1::int ORDER BY l.created_at DESC, l.id DESC LIMIT $2::bigint "
             "OFFSET $3::bigint", ["60", "20", "0"]),
        ]
        print("## PostgreSQL %s, %s capsules, %d edges\n" % (
            pg.psql("SHOW server_version"), N, len(edges)))
        for name, q, a in pgq:
            # PREPARE/EXECUTE so the plan is the one of a parameterised statement
            lit = ", ".join("'%s'" % x.replace("'", "''") for x in a)
            plan = pg.psql("PREPARE q AS %s; EXPLAIN (COSTS OFF) EXECUTE q(%s)" % (q, lit))
            print("-- " + name)
            for line in plan.splitlines():
                print("   " + line)
            print()
        f.close()
    finally:
        pg.close()


if __name__ == "__main__":
    main()
