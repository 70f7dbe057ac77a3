# forge-test: stores=sqlite,postgresql
"""The `forge` client and the knowledge graph / time travel API (docs/knowledge-graph.md,
docs/cli.md): `capsule diff`, `capsule get --as-of/--version`, `capsule links/link/unlink`,
`graph neighbors/path/contradictions`, each in human, --json and -q form, with exit codes."""
import json
import os
import pty
import subprocess
import time

from clitest import Client
from forgetest import FORGE_BIN, Forge, main

ADMIN = (Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)


def user_client(f):
    u = f.make_user()
    c = Client(f)
    c.login(u["email"], u["password"]).check_returncode()
    return c, u


def new_capsule(c, content):
    return c.ok("capsule", "create", content, "-q").stdout.strip()


def on_tty(c, *args):
    """Runs forge with stdout on a pseudo-terminal; returns (exit code, output)."""
    master, slave = pty.openpty()
    env = dict(c.env)
    env["TERM"] = "xterm"
    p = subprocess.Popen([FORGE_BIN] + list(args), env=env, stdout=slave, stderr=slave,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=60), out.decode()


# ---- time travel ------------------------------------------------------------------------------
def test_diff_get_as_of_and_version(f: Forge):
    c, u = user_client(f)
    tok = u["access_token"]
    cid = new_capsule(c, "alpha\nbeta\ngamma\n")
    # only one version: no default --from
    r = c.run("capsule", "diff", cid, check=1)
    assert "only one version" in r.stderr, r.stderr
    c.ok("capsule", "edit", cid, "alpha\nBETA\ngamma\ndelta\n")
    time.sleep(0.02)  # distinct version timestamps for as_of
    c.ok("capsule", "edit", cid, "alpha\nBETA\ngamma\ndelta\nepsilon\n", "--meta", "k=v")

    # default: the version before the current one (2 -> 3)
    r = c.ok("capsule", "diff", cid)
    assert "--- %s version 1.1.0" % cid in r.stdout and "+++ %s version 1.2.0" % cid in r.stdout, r.stdout
    assert "+epsilon" in r.stdout and "-BETA" not in r.stdout
    assert "metadata + k: v" in r.stdout and "1 line added, 0 removed" in r.stdout, r.stdout
    assert "\033[" not in r.stdout  # no colour off a terminal
    # explicit versions, context, json equal to the API, -q counts
    r = c.ok("capsule", "diff", cid, "--from", "1.0.0", "--to", "1.2.0", "-U", "0")
    assert "@@ -2,1 +2,1 @@" in r.stdout and "-beta" in r.stdout and "+BETA" in r.stdout, r.stdout
    assert " alpha" not in r.stdout  # no context lines with -U 0
    api = f.get("/api/v1/capsules/%s/diff?from=1.0.0&to=1.2.0&context=0" % cid, token=tok).json
    assert c.json("capsule", "diff", cid, "--from", "1.0.0", "--to", "1.2.0", "-U", "0") == api
    assert c.ok("capsule", "diff", cid, "--from", "1.0.0", "-q").stdout.strip() == "3 1"
    r = c.ok("capsule", "diff", cid, "--to", "1.1.0")
    assert "--- %s version 1.0.0" % cid in r.stdout and "+BETA" in r.stdout, r.stdout
    assert "no version before --to" in c.run("capsule", "diff", cid, "--to", "1.0.0",
                                             check=1).stderr
    r = c.ok("capsule", "diff", cid, "--from", "1.2.0", "--to", "current")
    assert "No differences." in r.stdout
    # colour on a terminal: added green, removed red
    rc, out = on_tty(c, "capsule", "diff", cid, "--from", "1.0.0")
    assert rc == 0 and "\033[32m+BETA" in out and "\033[31m-beta" in out, repr(out)
    # errors: unknown version 404 -> 2, bad context -> 1 before any request
    assert c.run("capsule", "diff", cid, "--from", "9.9.9").returncode == 2
    assert "--unified must be an integer from 0 to 100" in c.run(
        "capsule", "diff", cid, "-U", "500", check=1).stderr

    # --version: a stored revision
    r = c.ok("capsule", "get", cid, "--version", "1.0.0")
    assert "alpha\nbeta\ngamma" in r.stdout and "superseded_at" in r.stdout, r.stdout
    api = f.get("/api/v1/capsules/%s/revisions/1.0.0" % cid, token=tok).json
    assert c.json("capsule", "get", cid, "--version", "1.0.0") == api
    assert c.ok("capsule", "get", cid, "--version", "1.0.0", "-q").stdout.strip() == cid
    assert "epsilon" in c.ok("capsule", "get", cid, "--version", "current").stdout
    assert c.run("capsule", "get", cid, "--version", "9.9.9").returncode == 2

    # --as-of: the version current at that time
    revs = {x["version"]: x for x in c.json("capsule", "revisions", cid)["data"]}
    t2 = revs["1.1.0"]["created_at"]
    r = c.ok("capsule", "get", cid, "--as-of", t2)
    assert "as it was on %s" % t2 in r.stdout and "BETA\ngamma\ndelta\n" in r.stdout
    assert "epsilon" not in r.stdout, r.stdout
    j = c.json("capsule", "get", cid, "--as-of", t2)
    assert j["data"]["version"] == "1.1.0" and j["data"]["content"].endswith("delta\n"), j
    api = f.get("/api/v1/capsules/%s?as_of=%s" % (cid, t2.replace("+", "%2B")), token=tok).json
    assert j == api
    r = c.run("capsule", "get", cid, "--as-of", "yesterday", check=1)
    assert "as_of" in r.stderr, r.stderr
    assert c.run("capsule", "get", cid, "--as-of", "2001-01-01T00:00:00Z").returncode == 2
    r = c.run("capsule", "get", cid, "--as-of", t2, "--version", "1.0.0", check=1)
    assert "either --as-of or --version" in r.stderr


# ---- typed edges ------------------------------------------------------------------------------
def test_link_links_unlink(f: Forge):
    c, u = user_client(f)
    tok = u["access_token"]
    a, b, d = new_capsule(c, "source claim"), new_capsule(c, "target claim"), new_capsule(c, "x")
    r = c.ok("capsule", "link", a, b, "--type", "supports", "--note", "because", "--weight",
             "0.5")
    assert r.stdout.startswith("Linked %s supports %s (edge " % (a, b)), r.stdout
    eid = r.stdout.strip().split("(edge ")[1].rstrip(")")
    e2 = c.ok("capsule", "link", b, d, "-t", "references", "-q").stdout.strip()
    j = c.json("capsule", "link", d, a, "--type", "contradicts")
    assert j["data"]["type"] == "contradicts" and j["data"]["source_id"] == d
    e3 = j["data"]["id"]
    # refused: duplicate (409 -> 4), missing type, bad weight, self link (422 -> 1)
    r = c.run("capsule", "link", a, b, "--type", "supports", check=4)
    assert "duplicate_edge" in r.stderr or "already" in r.stderr, r.stderr
    assert "--type is required" in c.run("capsule", "link", a, b, check=1).stderr
    assert "--weight" in c.run("capsule", "link", a, b, "-t", "supports", "--weight", "2",
                               check=1).stderr
    c.run("capsule", "link", a, a, "-t", "related_to", check=1)
    assert c.run("capsule", "link", a, "00000000-0000-4000-8000-000000000000", "-t",
                 "supports").returncode == 2
    # someone else may not link from a's capsule (403 -> 4)
    other, _ = user_client(f)
    other.run("capsule", "link", a, d, "-t", "related_to", check=4)

    # links: table, filters, json equal to the API, -q ids
    r = c.ok("capsule", "links", b)
    for s in ("EDGE", "TYPE", eid, e2, "supports", "references", "because", "0.50"):
        assert s in r.stdout, (s, r.stdout)
    assert c.ok("capsule", "links", b, "--direction", "out", "-q").stdout.split() == [e2]
    assert c.ok("capsule", "links", b, "--direction", "in", "-q").stdout.split() == [eid]
    assert c.ok("capsule", "links", b, "--type", "references", "-q").stdout.split() == [e2]
    api = f.get("/api/v1/capsules/%s/edges?page=1&per_page=20" % a, token=tok).json
    assert c.json("capsule", "links", a) == api and len(api["data"]) == 2
    assert "--direction must be out, in or both" in c.run("capsule", "links", a, "--direction",
                                                          "up", check=1).stderr
    # lineage edges are listed, marked
    kid = c.ok("capsule", "derive", a, "child text", "-q").stdout.strip()
    assert "(lineage)" in c.ok("capsule", "links", kid).stdout

    # unlink
    assert c.ok("capsule", "unlink", b, e2).stdout.strip() == "Deleted edge %s." % e2
    assert c.run("capsule", "unlink", b, e2).returncode == 2
    assert c.json("capsule", "unlink", d, e3)["data"] == {"id": e3, "deleted": True}
    assert c.ok("capsule", "links", b, "-q").stdout.split() == [eid]
    assert "not an edge id" in c.run("capsule", "unlink", b, "nope!", check=1).stderr


# ---- traversal ------------------------------------------------------------------------------
def test_graph_neighbors_path_contradictions(f: Forge):
    c, u = user_client(f)
    tok = u["access_token"]
    a, b, x = new_capsule(c, "a"), new_capsule(c, "b"), new_capsule(c, "x")
    cc = new_capsule(c, "c")
    lonely = new_capsule(c, "lonely")
    c.ok("capsule", "link", a, b, "-t", "supports")
    c.ok("capsule", "link", b, cc, "-t", "supersedes")
    cx = c.ok("capsule", "link", x, a, "-t", "contradicts", "--note", "they disagree",
              "-q").stdout.strip()

    # neighbors depth 1: b (a supports b) and x (x contradicts a), drawn from a
    r = c.ok("graph", "neighbors", a)
    lines = r.stdout.splitlines()
    assert lines[0].startswith(a), r.stdout
    assert any("─supports→ %s" % b in l for l in lines), r.stdout
    assert any("←contradicts─ %s" % x in l for l in lines), r.stdout
    assert cc not in r.stdout and "2 capsules, 2 edges" in r.stdout, r.stdout
    # depth 2 reaches c under b, indented
    r = c.ok("graph", "neighbors", a, "--depth", "2")
    cl = [l for l in r.stdout.splitlines() if cc in l]
    assert len(cl) == 1 and "─supersedes→ %s" % cc in cl[0] and cl[0].startswith(("│", " ")), \
        r.stdout
    assert set(c.ok("graph", "neighbors", a, "--depth", "2", "-q").stdout.split()) == {b, x, cc}
    assert c.ok("graph", "neighbors", a, "--types", "supports", "-q").stdout.split() == [b]
    assert c.ok("graph", "neighbors", a, "--direction", "in", "-q").stdout.split() == [x]
    api = f.get("/api/v1/capsules/%s/neighbors?depth=2" % a, token=tok).json
    assert c.json("graph", "neighbors", a, "--depth", "2") == api
    c.run("graph", "neighbors", a, "--depth", "9", check=1)
    assert c.run("graph", "neighbors", "00000000-0000-4000-8000-000000000000").returncode == 2

    # path x -> c: x ←contradicts... no: x contradicts a, a supports b, b supersedes c
    r = c.ok("graph", "path", x, cc)
    ids = [l.split()[0] for l in r.stdout.splitlines() if not l.startswith(" ")]
    assert ids[:4] == [x, a, b, cc], r.stdout
    assert "│ ─contradicts→" in r.stdout and "│ ─supports→" in r.stdout and "3 hops" in r.stdout
    # from the other end the arrows turn round
    assert "│ ←supersedes─" in c.ok("graph", "path", cc, x).stdout
    assert c.ok("graph", "path", x, cc, "-q").stdout.split() == [x, a, b, cc]
    j = c.json("graph", "path", x, cc)
    assert j["data"]["found"] is True and j["data"]["length"] == 3
    api = f.get("/api/v1/graph/path?from=%s&to=%s" % (x, cc), token=tok).json
    assert j == api
    r = c.run("graph", "path", x, lonely, check=2)
    assert "No path from %s to %s within 6 hops." % (x, lonely) in r.stdout, r.stdout
    assert c.run("graph", "path", x, cc, "--max-depth", "2", check=2).stdout.startswith("No path")
    assert json.loads(c.run("graph", "path", x, lonely, "--json", check=2).stdout)["data"][
        "found"] is False

    # contradictions
    r = c.ok("graph", "contradictions")
    assert cx in r.stdout and "%s (knowledge)" % x in r.stdout and "they disagree" in r.stdout
    assert cx in c.ok("graph", "contradictions", "-q").stdout.split()
    j = c.json("graph", "contradictions")
    mine = [e for e in j["data"] if e["id"] == cx]
    assert mine and mine[0]["source"]["id"] == x and mine[0]["target"]["id"] == a
    api = f.get("/api/v1/graph/contradictions?page=1&per_page=20", token=tok).json
    assert j == api
    # not logged in -> 3
    assert Client(f).run("graph", "contradictions").returncode == 3


if __name__ == "__main__":
    main(globals())
