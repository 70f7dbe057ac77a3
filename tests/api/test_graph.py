"""Knowledge graph through the API (SPEC §4.4, docs/knowledge-graph.md): typed edges (who may
link, visibility, duplicates, supersedes cycles, limits, audit, events, cascade on delete),
neighbors, shortest path, contradictions and the superseded_by mark in reads and search."""
import os
import sqlite3
import uuid

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main, sqlite_only

CAPS = "/api/v1/capsules"


def create(f, token, content="some knowledge", **kw):
    r = f.post(CAPS, dict(content=content, **kw), token=token)
    assert r.status == 201, r
    return r.json["data"]["id"]


def link(f, token, src, dst, typ="supports", status=201, **kw):
    r = f.post("%s/%s/edges" % (CAPS, src), dict(target_id=dst, type=typ, **kw), token=token)
    assert r.status == status, r
    return r.json["data"] if status == 201 else r


def edges(f, token, cid, q=""):
    r = f.get("%s/%s/edges%s" % (CAPS, cid, q), token=token)
    assert r.status == 200, r
    return r.json


def set_trust(f, cid, level):
    r = f.put("/api/v1/admin/capsules/%s/trust" % cid, {"trust_level": level},
              token=f.admin_token())
    assert r.status == 200, r


def test_create_list_delete_edge(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    a, b = create(f, tok, "a"), create(f, tok, "b")
    e = link(f, tok, a, b, "supports", note="because", weight=0.5)
    assert set(e) == {"id", "source_id", "target_id", "type", "note", "weight", "creator_id",
                      "created_at"}
    assert (e["source_id"], e["target_id"], e["type"], e["note"], e["weight"],
            e["creator_id"]) == (a, b, "supports", "because", 0.5, u["id"])
    r = edges(f, tok, a)
    assert [x["id"] for x in r["data"]] == [e["id"]] and r["meta"]["total"] == 1
    # both directions by default; direction filters
    assert [x["id"] for x in edges(f, tok, b)["data"]] == [e["id"]]
    assert edges(f, tok, b, "?direction=out")["data"] == []
    assert [x["id"] for x in edges(f, tok, b, "?direction=in")["data"]] == [e["id"]]
    assert edges(f, tok, a, "?type=contradicts")["data"] == []
    # default weight 1, no note
    e2 = link(f, tok, b, a, "references")
    assert e2["weight"] == 1.0 and e2["note"] is None
    assert [x["id"] for x in edges(f, tok, a)["data"]] == [e2["id"], e["id"]]  # newest first
    # derivation edges are listed too, read-only
    c = create(f, tok, "child", parent_id=a, reason="derived")
    d = edges(f, tok, a, "?type=derived_from")["data"]
    assert len(d) == 1 and d[0]["id"] is None and d[0]["source_id"] == c
    assert d[0]["target_id"] == a and d[0]["note"] == "derived" and d[0]["creator_id"] == u["id"]
    # delete
    r = f.delete("%s/%s/edges/%s" % (CAPS, a, e["id"]), token=tok)
    assert r.status == 200 and r.json["data"] == {"id": e["id"], "deleted": True}, r
    assert_error(f.delete("%s/%s/edges/%s" % (CAPS, a, e["id"]), token=tok), 404, "not_found")
    # an edge is deleted through its source only
    assert_error(f.delete("%s/%s/edges/%s" % (CAPS, a, e2["id"]), token=tok), 404, "not_found")
    assert edges(f, tok, a, "?type=supports")["data"] == []


def test_validation_and_limits(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    a, b = create(f, tok, "a"), create(f, tok, "b")
    p = "%s/%s/edges" % (CAPS, a)
    assert_error(f.post(p, {"target_id": b}, token=tok), 422, "validation_error", "type")
    assert_error(f.post(p, {"type": "supports"}, token=tok), 422, "validation_error", "target_id")
    assert_error(f.post(p, {"target_id": b, "type": "likes"}, token=tok), 422,
                 "validation_error", "type")
    assert_error(f.post(p, {"target_id": b, "type": "derived_from"}, token=tok), 422,
                 "validation_error", "type")
    assert_error(f.post(p, {"target_id": "nope", "type": "supports"}, token=tok), 422,
                 "validation_error", "target_id")
    assert_error(f.post(p, {"target_id": a, "type": "supports"}, token=tok), 422,
                 "validation_error", "target_id")
    for w in (-0.1, 1.5, "1"):
        assert_error(f.post(p, {"target_id": b, "type": "supports", "weight": w}, token=tok), 422,
                     "validation_error", "weight")
    assert_error(f.post(p, {"target_id": b, "type": "supports", "note": "x" * 1001}, token=tok),
                 422, "validation_error", "note")
    assert_error(f.post(p, {"target_id": b, "type": "supports", "extra": 1}, token=tok), 422,
                 "validation_error", "extra")
    assert_error(f.post(p, {"target_id": str(uuid.uuid4()), "type": "supports"}, token=tok), 404,
                 "not_found")
    assert_error(f.post("%s/%s/edges" % (CAPS, uuid.uuid4()), {"target_id": b,
                                                               "type": "supports"}, token=tok),
                 404, "not_found")
    link(f, tok, a, b, "supports", note="x" * 1000)
    # duplicates: same triple; symmetric types also the other way round
    r = link(f, tok, a, b, "supports", status=409)
    assert_error(r, 409, "conflict")
    assert r.json["details"]["rule"] == "duplicate_edge" and r.json["details"]["edge_id"]
    link(f, tok, b, a, "supports")  # supports is directed: allowed
    link(f, tok, a, b, "contradicts")
    r = link(f, tok, b, a, "contradicts", status=409)
    assert r.json["details"]["rule"] == "duplicate_edge"
    for q in ("?direction=sideways", "?type=likes", "?per_page=0"):
        assert_error(f.get("%s/%s/edges%s" % (CAPS, a, q), token=tok), 422, "validation_error")


def test_supersedes_cycles_refused(f: Forge):
    tok = f.make_user()["access_token"]
    a, b, c = create(f, tok, "v1"), create(f, tok, "v2"), create(f, tok, "v3")
    link(f, tok, b, a, "supersedes")
    link(f, tok, c, b, "supersedes")
    for src, dst in ((a, b), (a, c), (b, c)):
        r = link(f, tok, src, dst, "supersedes", status=409)
        assert_error(r, 409, "conflict")
        assert r.json["details"]["rule"] == "supersedes_cycle", r
    link(f, tok, c, a, "supersedes")  # a shortcut is no cycle
    link(f, tok, a, b, "related_to")  # other types may go back


def test_permissions_and_visibility(f: Forge):
    owner = f.make_user()
    other = f.make_user()
    ot, xt = owner["access_token"], other["access_token"]
    a, b = create(f, ot, "a"), create(f, ot, "b")
    mine = create(f, xt, "mine")
    # may not update the source: 403 (and audited as denied)
    r = f.post("%s/%s/edges" % (CAPS, a), {"target_id": mine, "type": "supports"}, token=xt)
    assert_error(r, 403, "authorization_error")
    assert r.json["details"]["rule"] == "owner_or_admin"
    # may link out of an own capsule to any readable one
    e = link(f, xt, mine, a, "references")
    # target above the caller's trust: 404 like a missing capsule
    secret = create(f, ot, "secret")
    set_trust(f, secret, "core")
    assert_error(f.post("%s/%s/edges" % (CAPS, a), {"target_id": secret, "type": "supports"},
                        token=ot), 404, "not_found")
    # an admin links to it; the standard owner does not see nor count the edge
    adm = f.admin_token()
    link(f, adm, a, secret, "supports")
    link(f, adm, secret, b, "supports")
    r = edges(f, ot, a)
    assert r["meta"]["total"] == 1 and [x["id"] for x in r["data"]] == [e["id"]]
    assert edges(f, adm, a)["meta"]["total"] == 2
    assert_error(f.get("%s/%s/edges" % (CAPS, secret), token=ot), 404, "not_found")
    # the edge to the hidden capsule cannot be deleted by the standard owner (not shown: 404)
    hid = [x for x in edges(f, adm, a)["data"] if x["target_id"] == secret][0]
    assert_error(f.delete("%s/%s/edges/%s" % (CAPS, a, hid["id"]), token=ot), 404)
    # another user cannot delete the owner's edges
    e2 = link(f, ot, a, b, "related_to")
    r = f.delete("%s/%s/edges/%s" % (CAPS, a, e2["id"]), token=xt)
    assert_error(r, 403, "authorization_error")
    # a sandbox reader does not see standard capsules' edges at all
    sb = f.make_user(trust="sandbox")
    assert_error(f.get("%s/%s/edges" % (CAPS, a), token=sb["access_token"]), 404)
    # audit: success and denied entries for edges
    r = f.get("/api/v1/admin/audit?action=edge.create", token=adm)
    outcomes = sorted(x["outcome"] for x in r.json["data"])
    assert outcomes.count("denied") == 1 and outcomes.count("success") == 4, outcomes
    r = f.get("/api/v1/admin/audit?action=edge.delete", token=adm)
    assert [x["outcome"] for x in r.json["data"]] == ["denied"], r.json


def test_cascade_on_capsule_delete(f: Forge):
    u = f.make_user(role="trusted")
    tok = u["access_token"]
    a, b, c = create(f, tok, "a"), create(f, tok, "b"), create(f, tok, "c")
    e1 = link(f, tok, a, b, "supports")
    e2 = link(f, tok, c, a, "contradicts")
    e3 = link(f, tok, b, c, "related_to")
    r = f.delete("%s/%s" % (CAPS, a), token=tok)
    assert r.status == 200, r
    assert [x["id"] for x in edges(f, tok, b)["data"]] == [e3["id"]]
    assert [x["id"] for x in edges(f, tok, c)["data"]] == [e3["id"]]
    r = f.get("/api/v1/admin/audit?action=edge.delete", token=f.admin_token())
    got = {x["resource_id"]: x["details"] for x in r.json["data"]}
    assert set(got) == {e1["id"], e2["id"]}, got
    assert all(d["cascade_root"] == a for d in got.values())
    # the graph views no longer mention them
    r = f.get("/api/v1/graph/contradictions", token=tok)
    assert r.json["data"] == []


@sqlite_only
def test_events_in_outbox(f: Forge):
    tok = f.make_user(role="trusted")["access_token"]
    a, b = create(f, tok, "a"), create(f, tok, "b")
    e = link(f, tok, a, b, "supports")
    e2 = link(f, tok, b, a, "supports")
    f.delete("%s/%s/edges/%s" % (CAPS, a, e["id"]), token=tok)
    f.delete("%s/%s" % (CAPS, b), token=tok)
    h = sqlite3.connect("file:%s?mode=ro" % os.path.join(f.dir, "forge.db"), uri=True)
    rows = h.execute("SELECT type, resource_id, payload FROM outbox WHERE type LIKE 'edge.%' "
                     "ORDER BY seq").fetchall()
    h.close()
    assert [(t, r) for t, r, _ in rows] == [("edge.created", e["id"]), ("edge.created", e2["id"]),
                                            ("edge.deleted", e["id"]), ("edge.deleted", e2["id"])]
    import json
    last = json.loads(rows[-1][2])
    assert last["cascade"] is True and last["cascade_root"] == b and last["type"] == "supports"


def test_neighbors(f: Forge):
    tok = f.make_user()["access_token"]
    ids = [create(f, tok, "n%d" % i) for i in range(6)]
    # 0 -> 1 -> 2 -> 3, 0 <- 4, 3 -> 0 (a cycle), 5 isolated
    link(f, tok, ids[0], ids[1], "supports")
    link(f, tok, ids[1], ids[2], "references")
    link(f, tok, ids[2], ids[3], "supports")
    link(f, tok, ids[4], ids[0], "contradicts")
    link(f, tok, ids[3], ids[0], "related_to")

    def nb(q):
        r = f.get("%s/%s/neighbors%s" % (CAPS, ids[0], q), token=tok)
        assert r.status == 200, r
        d = r.json["data"]
        return {n["id"]: n["depth"] for n in d["nodes"]}, d

    nodes, d = nb("")
    assert nodes == {ids[0]: 0, ids[1]: 1, ids[4]: 1, ids[3]: 1} and d["truncated"] is False
    assert len(d["edges"]) == 3 and "content" not in d["nodes"][0]
    nodes, d = nb("?depth=2")
    assert nodes == {ids[0]: 0, ids[1]: 1, ids[4]: 1, ids[3]: 1, ids[2]: 2}
    assert len(d["edges"]) == 5  # every edge once, the cycle included
    nodes, _ = nb("?depth=5&direction=out")
    assert nodes == {ids[0]: 0, ids[1]: 1, ids[2]: 2, ids[3]: 3}
    nodes, _ = nb("?depth=5&direction=in")
    assert nodes == {ids[0]: 0, ids[4]: 1, ids[3]: 1, ids[2]: 2, ids[1]: 3}
    nodes, _ = nb("?depth=3&types=supports")
    assert nodes == {ids[0]: 0, ids[1]: 1}
    nodes, d = nb("?depth=5&limit=3")
    assert len(nodes) == 3 and d["truncated"] is True
    # hidden capsules are not walked through
    set_trust(f, ids[1], "core")
    nodes, _ = nb("?depth=5&direction=out")
    assert nodes == {ids[0]: 0}
    for q in ("?depth=0", "?depth=6", "?types=nope", "?direction=up", "?limit=0", "?limit=1001"):
        assert_error(f.get("%s/%s/neighbors%s" % (CAPS, ids[0], q), token=tok), 422,
                     "validation_error")
    assert_error(f.get("%s/%s/neighbors" % (CAPS, ids[1]), token=tok), 404, "not_found")
    assert_error(f.get("%s/%s/neighbors" % (CAPS, uuid.uuid4()), token=tok), 404, "not_found")


def test_path(f: Forge):
    tok = f.make_user()["access_token"]
    ids = [create(f, tok, "p%d" % i) for i in range(7)]
    # chain 0-1-2-3-4 and a shortcut 0-5-4 ; 6 isolated
    for i in range(4):
        link(f, tok, ids[i], ids[i + 1], "supports")
    link(f, tok, ids[0], ids[5], "related_to")
    link(f, tok, ids[4], ids[5], "references")  # direction does not matter for paths

    def path(a, b, q=""):
        r = f.get("/api/v1/graph/path?from=%s&to=%s%s" % (a, b, q), token=tok)
        assert r.status == 200, r
        return r.json["data"]

    d = path(ids[0], ids[4])
    assert d["found"] is True and d["length"] == 2
    assert [n["id"] for n in d["nodes"]] == [ids[0], ids[5], ids[4]]
    assert [(e["source_id"], e["target_id"]) for e in d["edges"]] == [(ids[0], ids[5]),
                                                                      (ids[4], ids[5])]
    d = path(ids[0], ids[4], "&types=supports")
    assert d["length"] == 4 and [n["id"] for n in d["nodes"]] == ids[:5]
    d = path(ids[0], ids[4], "&types=supports&max_depth=3")
    assert d["found"] is False and d["length"] is None and d["nodes"] == []
    d = path(ids[1], ids[3])
    assert d["length"] == 2
    d = path(ids[0], ids[6])
    assert d["found"] is False
    d = path(ids[2], ids[2])
    assert d["found"] is True and d["length"] == 0 and [n["id"] for n in d["nodes"]] == [ids[2]]
    # only through readable capsules
    set_trust(f, ids[5], "core")
    d = path(ids[0], ids[4])
    assert d["length"] == 4
    assert_error(f.get("/api/v1/graph/path?from=%s&to=%s" % (ids[0], ids[5]), token=tok), 404)
    for q in ("from=%s" % ids[0], "to=%s" % ids[0], "from=x&to=%s" % ids[0],
              "from=%s&to=%s&max_depth=11" % (ids[0], ids[1]),
              "from=%s&to=%s&max_depth=0" % (ids[0], ids[1])):
        assert_error(f.get("/api/v1/graph/path?" + q, token=tok), 422, "validation_error")


def test_contradictions_and_superseded_by(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    a, b, c = create(f, tok, "runbook says x"), create(f, tok, "incident says y"), create(f, tok,
                                                                                          "z")
    e1 = link(f, tok, b, a, "contradicts", note="x failed")
    e2 = link(f, tok, c, a, "contradicts")
    r = f.get("/api/v1/graph/contradictions", token=tok)
    assert r.status == 200 and r.json["meta"]["total"] == 2, r
    assert [x["id"] for x in r.json["data"]] == [e2["id"], e1["id"]]  # newest first
    assert r.json["data"][1]["source"]["id"] == b and r.json["data"][1]["target"]["id"] == a
    set_trust(f, c, "core")
    r = f.get("/api/v1/graph/contradictions", token=tok)
    assert [x["id"] for x in r.json["data"]] == [e1["id"]] and r.json["meta"]["total"] == 1
    # superseded_by in every read
    new = create(f, tok, "decision v2")
    old = create(f, tok, "decision v1")
    assert f.get("%s/%s" % (CAPS, old), token=tok).json["data"]["superseded_by"] is None
    link(f, tok, new, old, "supersedes")
    assert f.get("%s/%s" % (CAPS, old), token=tok).json["data"]["superseded_by"] == new
    assert f.get("%s/%s" % (CAPS, new), token=tok).json["data"]["superseded_by"] is None
    lst = f.get(CAPS + "?per_page=100", token=tok).json["data"]
    got = {x["id"]: x["superseded_by"] for x in lst}
    assert got[old] == new and got[new] is None
    r = f.patch("%s/%s" % (CAPS, old), {"metadata": {"k": 1}}, token=tok)
    assert r.json["data"]["superseded_by"] == new
    # a successor the reader cannot see is not named
    set_trust(f, new, "core")
    assert f.get("%s/%s" % (CAPS, old), token=tok).json["data"]["superseded_by"] is None
    assert f.get("%s/%s" % (CAPS, old), token=f.admin_token()).json["data"][
        "superseded_by"] == new


def test_search_ranks_superseded_lower(f: Forge):
    tok = f.make_user()["access_token"]
    old = create(f, tok, "deployment freeze policy for holidays")
    new = create(f, tok, "deployment freeze policy for holidays revised")
    r = f.post(CAPS + "/search", {"query": "deployment freeze policy holidays", "mode": "keyword"},
               token=tok)
    assert r.status == 200, r
    before = [x["capsule"]["id"] for x in r.json["data"]]
    assert before[0] == old, before  # the shorter text scores higher on BM25
    link(f, tok, new, old, "supersedes")
    r = f.post(CAPS + "/search", {"query": "deployment freeze policy holidays", "mode": "keyword"},
               token=tok)
    res = r.json["data"]
    assert [x["capsule"]["id"] for x in res] == [new, old], res
    assert res[1]["capsule"]["superseded_by"] == new
    assert res[0]["capsule"]["superseded_by"] is None
    for mode in ("semantic", "hybrid"):  # every mode names the successor the same way
        r = f.post(CAPS + "/search", {"query": "deployment freeze policy holidays", "mode": mode,
                                      "min_score": 0}, token=tok)
        got = {x["capsule"]["id"]: x["capsule"]["superseded_by"] for x in r.json["data"]}
        assert got.get(old) == new and got.get(new, None) is None, (mode, got)
    # a successor the reader cannot see is neither named nor counted against the result
    set_trust(f, new, "core")
    r = f.post(CAPS + "/search", {"query": "deployment freeze policy holidays", "mode": "keyword"},
               token=tok)
    res = r.json["data"]
    assert [x["capsule"]["id"] for x in res] == [old], res
    assert res[0]["capsule"]["superseded_by"] is None


def test_openapi_lists_graph_routes(f: Forge):
    doc = f.get("/openapi.json").json
    paths = doc["paths"]
    for p, m in (("/api/v1/capsules/{id}/edges", "post"), ("/api/v1/capsules/{id}/edges", "get"),
                 ("/api/v1/capsules/{id}/edges/{edge_id}", "delete"),
                 ("/api/v1/capsules/{id}/neighbors", "get"), ("/api/v1/graph/path", "get"),
                 ("/api/v1/graph/contradictions", "get"),
                 ("/api/v1/capsules/{id}/revisions/{version}", "get"),
                 ("/api/v1/capsules/{id}/diff", "get")):
        assert m in paths.get(p, {}), (p, m)
    params = [x["name"] for x in paths["/api/v1/capsules/{id}"]["get"].get("parameters", [])]
    assert "as_of" in params, params
    # unauthenticated: 401 on every graph route
    assert_error(f.get("/api/v1/graph/contradictions"), 401)


def rrf(a, b, k=60):
    s = (1.0 / (k + a) if a else 0) + (1.0 / (k + b) if b else 0)
    return s / (2.0 / (k + 1))


def hybrid(f, tok, **kw):
    r = f.post(CAPS + "/search", dict(mode="hybrid", **kw), token=tok)
    assert r.status == 200, r
    return r.json["data"]


def test_hop_boost_over_typed_edges(f: Forge):
    tok = f.make_user()["access_token"]
    ctx = create(f, tok, "Parent design note")
    text = "Replay buffer sizing for the ingestion workers"
    unrelated = create(f, tok, text)  # created first: wins ties without the boost
    sup = create(f, tok, text)
    ref = create(f, tok, text)
    link(f, tok, sup, ctx, "supports")       # 1 hop (incoming edge: undirected walk)
    link(f, tok, ref, sup, "references")     # 2 hops
    q = "replay buffer sizing ingestion workers"
    res = hybrid(f, tok, query=q, context_capsule_id=ctx)
    assert [x["capsule"]["id"] for x in res][:3] == [sup, ref, unrelated], res
    hops = {x["capsule"]["id"]: x["hops"] for x in res}
    assert hops[sup] == 1 and hops[ref] == 2 and hops[unrelated] is None
    for x in res:  # default weights 1: exactly SPEC §4.3's boost
        d = x["hops"]
        boost = 1 + 0.1 * (2 - d + 1) if d is not None else 1.0
        assert abs(x["score"] - rrf(x["semantic_rank"], x["keyword_rank"]) * boost) < 1e-5, x
    # a capsule the caller cannot read is not walked through
    set_trust(f, sup, "core")
    res = hybrid(f, tok, query=q, context_capsule_id=ctx)
    hops = {x["capsule"]["id"]: x["hops"] for x in res}
    assert sup not in hops and hops[ref] is None, hops
    res = hybrid(f, f.admin_token(), query=q, context_capsule_id=ctx)
    assert {x["capsule"]["id"]: x["hops"] for x in res}[ref] == 2


def test_hop_weights_configurable():
    f = Forge(env={"RATE_LIMIT_ENABLED": "false", "SEARCH_HOP_WEIGHT_SUPPORTS": "0.5",
                   "SEARCH_HOP_WEIGHT_REFERENCES": "0"})
    try:
        tok = f.make_user()["access_token"]
        ctx = create(f, tok, "Parent design note")
        text = "Replay buffer sizing for the ingestion workers"
        sup = create(f, tok, text)
        ref = create(f, tok, text)
        link(f, tok, sup, ctx, "supports")
        link(f, tok, ref, ctx, "references")
        res = hybrid(f, tok, query="replay buffer sizing ingestion workers",
                     context_capsule_id=ctx)
        got = {x["capsule"]["id"]: x for x in res}
        assert got[ref]["hops"] is None  # weight 0: not walked
        x = got[sup]
        assert x["hops"] == 1
        boost = 1 + 0.5 * 0.1 * (2 - 1 + 1)
        assert abs(x["score"] - rrf(x["semantic_rank"], x["keyword_rank"]) * boost) < 1e-5, x
    finally:
        f.close()
    bad = Forge(env={"SEARCH_HOP_WEIGHT_SUPPORTS": "2"}, start=False)
    try:
        r = bad.cli("config", "check")
        assert r.returncode != 0 and "SEARCH_HOP_WEIGHT_SUPPORTS" in (r.stdout + r.stderr), r
    finally:
        bad.close()


if __name__ == "__main__":
    main(globals(), fixture_env={"RATE_LIMIT_ENABLED": "false"})
