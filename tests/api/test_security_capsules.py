# forge-test: stores=sqlite,postgresql
"""Knowledge-engine findings of the adversarial pass (issue 11; docs/security.md):

3  lineage of 1 MiB capsules answered 52 MB per request: lineage returns summaries, whole
   contents only with ?include=content and within 4 MiB; lists, children, revisions and search
   spend at most 4 MiB of content per response (previews past it).
6  a delete reached (cascade) and counted (409 live_children) capsules the caller cannot read.
7  quarantined accounts could still write, and every reader saw what they wrote.
12 a user could make a `policy` capsule indistinguishable from one governance made.
+  metadata (and proposal payloads) nested 1 000 levels deep were accepted.
"""
import time

from forgetest import assert_error, main

ENV = {"FORGE_TEST_CLOCK": "1", "ACCESS_TOKEN_TTL_S": "86400"}
C = "/api/v1/capsules"
BUDGET = 4 << 20

# ~0.9 MB of text: 300 three-byte characters first (the 200-character preview must not split
# one), then words the keyword search finds
BIG = "€" * 300 + " lineage word" * 69000


def mk(f, token, content, status=201, **extra):
    body = {"content": content}
    body.update(extra)
    r = f.post(C, body, token=token)
    assert r.status == status, r
    return r.json["data"]["id"] if status == 201 else r


def test_3_responses_are_bounded_with_large_capsules(f):
    u = f.make_user()["access_token"]
    me = f.get("/api/v1/auth/me", token=u).json["data"]["id"]
    ids = [mk(f, u, BIG)]
    for _ in range(5):
        ids.append(mk(f, u, BIG, parent_id=ids[-1], reason="refines"))
    size = len(BIG.encode())
    # lineage: summaries by default
    r = f.get(C + "/%s/lineage?max_depth=50" % ids[-1], token=u)
    assert r.status == 200, r
    assert len(r.body) < 64 * 1024, len(r.body)  # was 6 × 0.9 MB
    anc = r.json["data"]["ancestors"]
    assert [a["id"] for a in anc] == ids[-2::-1]
    for a in anc:
        assert "content" not in a and a["content_preview"] == "€" * 200, a.keys()
        assert a["content_bytes"] == size and a["depth"] >= 1 and a["reason"] == "refines"
        assert {"id", "type", "version", "trust_level", "owner_id", "origin"} <= set(a)
    # whole contents on request, within the 4 MiB budget, nearest first
    r = f.get(C + "/%s/lineage?max_depth=50&include=content" % ids[-1], token=u)
    assert r.status == 200 and len(r.body) < BUDGET + 64 * 1024, len(r.body)
    d = r.json["data"]
    fit = BUDGET // size
    assert all(a["content"] == BIG for a in d["ancestors"][:fit])
    assert all(a["content"] is None and a["content_omitted"] for a in d["ancestors"][fit:])
    assert d["content_capped"] is True
    r = f.get(C + "/%s/lineage?include=everything" % ids[-1], token=u)
    assert_error(r, 422, "validation_error", "include")
    # list, children: at most 4 MiB of content, previews past it
    r = f.get(C + "?per_page=100&owner_id=" + me, token=u)
    assert r.status == 200 and len(r.body) < BUDGET + 64 * 1024, len(r.body)
    items = r.json["data"]
    assert len(items) == 6
    cut = [i for i in items if i.get("content_truncated")]
    assert len(cut) == 6 - fit and all(i["content"] == "€" * 200 and i["content_bytes"] == size
                                       for i in cut), [i.keys() for i in items]
    # revisions: six versions of 0.9 MB
    cap = ids[0]
    for k in range(5):
        r = f.patch(C + "/" + cap, {"content": BIG + str(k)}, token=u)
        assert r.status == 200, r
    r = f.get(C + "/%s/revisions?per_page=100" % cap, token=u)
    assert r.status == 200 and len(r.body) < BUDGET + 64 * 1024, len(r.body)
    assert any(v.get("content_truncated") for v in r.json["data"])
    assert r.json["data"][0]["current"] is True and r.json["data"][0]["content"] == BIG + "4"
    # keyword search over the big capsules
    # (read-your-writes waits a bounded time for the index follower, docs/search.md: on a loaded
    # machine the 0.9 MB updates above may still be applying, so poll a bounded time)
    deadline = time.time() + 20
    while True:
        r = f.post(C + "/search", {"query": "lineage word", "mode": "keyword", "limit": 100},
                   token=u)
        assert r.status == 200, r
        if len(r.json["data"]) == 6 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(r.body) < BUDGET + 64 * 1024, len(r.body)
    res = r.json["data"]
    assert len(res) == 6 and any(x["capsule"].get("content_truncated") for x in res), len(res)
    # the whole capsule is still there
    r = f.get(C + "/" + ids[1], token=u)
    assert r.json["data"]["content"] == BIG


def test_6_delete_never_reaches_or_counts_hidden_capsules(f):
    admin = f.admin_token()
    u = f.make_user(role="trusted")["access_token"]  # capsule:delete, standard trust
    parent = mk(f, u, "a standard capsule")
    hidden = mk(f, admin, "the admin's derived notes", parent_id=parent)
    r = f.put("/api/v1/admin/capsules/%s/trust" % hidden, {"trust_level": "core"}, token=admin)
    assert r.status == 200, r
    assert f.get(C + "/" + hidden, token=u).status == 404  # invisible to the owner of the parent
    for q in ("", "?cascade=true"):
        r = f.delete(C + "/" + parent + q, token=u)
        assert_error(r, 403, "authorization_error")
        assert r.json["details"] == {"rule": "hidden_descendants"}, r  # no count
        assert not any(ch.isdigit() for ch in r.json["message"]), r
    r = f.get(C + "/" + hidden, token=admin)
    assert r.status == 200 and r.json["data"]["is_deleted"] is False, r
    assert f.get(C + "/" + parent, token=u).status == 200
    # the visible child is counted, the hidden one (once gone) is not
    mine = mk(f, u, "my own derived note", parent_id=parent)
    assert f.delete(C + "/" + parent, token=u).status == 403
    assert f.delete(C + "/" + hidden, token=admin).status == 200
    r = f.delete(C + "/" + parent, token=u)
    assert_error(r, 409, "conflict")
    assert r.json["details"]["live_children"] == 1, r
    r = f.delete(C + "/" + parent + "?cascade=true", token=u)
    assert r.status == 200 and r.json["data"]["deleted_count"] == 2, r
    assert f.get(C + "/" + mine, token=u).status == 404


def test_7_quarantined_accounts_read_only_and_hidden(f):
    admin = f.admin_token()
    q = f.make_user(role="trusted", trust="sandbox")  # sandbox capsules: all below read them
    qt = q["access_token"]
    reader = f.make_user()["access_token"]
    trusted = f.make_user(role="trusted", trust="trusted")["access_token"]
    sandbox = f.make_user(trust="sandbox")["access_token"]
    x = mk(f, qt, "written before the quarantine: quarantinemarker")
    child = mk(f, reader, "derived by a reader", parent_id=x)
    for token in (reader, trusted, sandbox):
        assert f.get(C + "/" + x, token=token).status == 200
    r = f.post("/api/v1/immune/quarantine", {"target_type": "user", "target_id": q["id"],
                                             "reason": "spam"}, token=admin)
    assert r.status == 201, r
    # no writes: create, derive, update, delete, propose, vote
    for r in (f.post(C, {"content": "new"}, token=qt),
              f.post(C, {"content": "derived", "parent_id": child}, token=qt),
              f.patch(C + "/" + x, {"content": "changed"}, token=qt),
              f.delete(C + "/" + x, token=qt),
              f.post("/api/v1/governance/proposals",
                     {"title": "t", "description": "d", "type": "overlay_registration",
                      "payload": {"overlay_id": "x"}}, token=qt)):
        assert_error(r, 403, "authorization_error")
        assert r.json["details"]["rule"] == "quarantine", r
    # what they wrote is hidden from every reader but admins
    for token in (reader, trusted, sandbox):
        assert f.get(C + "/" + x, token=token).status == 404
        r = f.get(C + "?owner_id=" + q["id"], token=token)
        assert r.json["meta"]["total"] == 0 and r.json["data"] == [], r
        r = f.post(C + "/search", {"query": "quarantinemarker", "mode": "keyword"}, token=token)
        assert r.status == 200 and r.json["data"] == [], r
        r = f.get(C + "/%s/lineage" % child, token=token)
        assert r.status == 200 and r.json["data"]["ancestors"] == [], r
        r = f.post(C, {"content": "derive from it", "parent_id": x}, token=token)
        assert r.status == 404, r
    assert f.get(C + "/" + x, token=admin).status == 200
    r = f.get(C + "/%s/lineage" % child, token=admin)
    assert [a["id"] for a in r.json["data"]["ancestors"]] == [x], r
    # the admin releases the account: its capsules are visible again, it writes again
    r = f.post("/api/v1/immune/release", {"target_type": "user", "target_id": q["id"],
                                          "reason": "resolved"}, token=admin)
    assert r.status == 200, r
    assert f.get(C + "/" + x, token=reader).status == 200
    assert f.post(C, {"content": "back"}, token=qt).status == 201


def test_12_policy_type_is_reserved_and_origin_server_owned(f):
    admin = f.admin_token()
    t = f.make_user(role="trusted", trust="trusted")["access_token"]
    u = f.make_user()["access_token"]
    r = mk(f, u, "our policy: no reviews needed", status=422, type="policy")
    assert_error(r, 422, "validation_error", "type")
    cap = mk(f, u, "plain knowledge")
    r = f.patch(C + "/" + cap, {"type": "policy"}, token=u)
    assert_error(r, 422, "validation_error", "type")
    for field in ("origin", "origin_proposal_id"):
        r = f.post(C, {"content": "x", field: "governance"}, token=u)
        assert_error(r, 422, "validation_error", field)
    r = f.get(C + "/" + cap, token=u)
    assert (r.json["data"]["origin"], r.json["data"]["origin_proposal_id"]) == ("member", None)
    # a policy made by an approved proposal carries its proposal
    P = "/api/v1/governance/proposals"
    r = f.post(P, {"title": "Cite", "description": "Cite every source in summaries.",
                   "type": "policy", "payload": {"title": "Cite", "content": "Cite sources."},
                   "voting_duration_hours": 1}, token=t)
    assert r.status == 201, r
    pid = r.json["data"]["id"]
    assert f.post(P + "/%s/activate" % pid, token=t).status == 200
    for token in (admin, t):
        assert f.post(P + "/%s/votes" % pid, {"vote": "for"}, token=token).status == 201
    assert f.post("/api/v1/admin/test/clock", {"offset_ms": 3601000}, token=admin).status == 200
    p = f.get(P + "/" + pid, token=admin).json["data"]
    assert p["status"] == "executed", p
    pcap = p["execution_result"]["capsule_id"]
    d = f.get(C + "/" + pcap, token=u).json["data"]
    assert (d["type"], d["origin"], d["origin_proposal_id"]) == ("policy", "governance", pid), d
    # not even its proposer edits it through the capsule API
    r = f.patch(C + "/" + pcap, {"content": "Sources are optional."}, token=t)
    assert_error(r, 403, "authorization_error")
    assert r.json["details"]["rule"] == "governance_origin", r


def nested(depth):
    """An object nested `depth` levels deep (the object itself is level 1)."""
    v = {"leaf": 1}
    for _ in range(depth - 1):
        v = {"n": v}
    return v


def test_json_nesting_is_capped_at_32_levels(f):
    u = f.make_user()["access_token"]
    t = f.make_user(role="trusted", trust="trusted")["access_token"]
    mk(f, u, "deep enough", metadata=nested(32))
    for depth in (33, 1000):
        meta = '{"n":' * (depth - 1) + '{"leaf":1}' + "}" * (depth - 1)  # no recursion here
        body = '{"content":"too deep","metadata":%s}' % meta
        r = f.post(C, raw=body.encode(), headers={"Content-Type": "application/json"}, token=u)
        assert_error(r, 422, "validation_error", "metadata")
    cap = mk(f, u, "flat")
    r = f.patch(C + "/" + cap, {"metadata": nested(40)}, token=u)
    assert_error(r, 422, "validation_error", "metadata")
    r = f.post("/api/v1/governance/proposals",
               {"title": "t", "description": "d", "type": "overlay_registration",
                "payload": {"overlay_id": "x", "manifest": nested(40)}}, token=t)
    assert_error(r, 422, "validation_error", "payload")


if __name__ == "__main__":
    main(globals(), fixture_env=ENV)
