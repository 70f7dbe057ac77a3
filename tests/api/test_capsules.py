"""Capsules through the API (SPEC §4.1-4.2, §10): shape, validation (422 naming the field),
permissions, trust inheritance and visibility, list filters and pagination, update versions and
revisions, soft delete with cascade, the admin trust change, and the outbox/audit rows written
with every change."""
import json
import os
import sqlite3
import time
import uuid

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main, sqlite_only

CAPS = "/api/v1/capsules"
FIELDS = {"id", "content", "type", "metadata", "version", "owner_id", "trust_level", "parent_id",
          "created_at", "updated_at", "is_deleted", "superseded_by",
          "origin", "origin_proposal_id"}  # server-owned origin: issue 11


def create(f, token, content="some knowledge", **kw):
    body = dict(content=content, **kw)
    r = f.post(CAPS, body, token=token)
    assert r.status == 201, r
    return r.json["data"]


def db(f):
    """Read-only view of the server's SQLite file (WAL: safe beside the running server)."""
    return sqlite3.connect("file:%s?mode=ro" % os.path.join(f.dir, "forge.db"), uri=True)


def test_create_and_get_shape(f: Forge):
    u = f.make_user()
    r = f.post(CAPS, {"content": "Tabs over spaces", "type": "decision",
                      "metadata": {"team": "core", "n": [1, 2]}}, token=u["access_token"])
    assert r.status == 201, r
    c = r.json["data"]
    assert set(c) == FIELDS, c.keys()
    assert r.header("Location") == "%s/%s" % (CAPS, c["id"])
    assert uuid.UUID(c["id"]).version == 7
    assert c["content"] == "Tabs over spaces" and c["type"] == "decision"
    assert c["metadata"] == {"team": "core", "n": [1, 2]}
    assert c["version"] == "1.0.0" and c["owner_id"] == u["id"]
    assert c["trust_level"] == "standard" and c["parent_id"] is None and c["is_deleted"] is False
    assert c["created_at"].endswith("Z") and c["created_at"] == c["updated_at"]
    g = f.get("%s/%s" % (CAPS, c["id"]), token=u["access_token"])
    assert g.status == 200 and g.json["data"] == c, g
    # the embedding only when asked: null until the index has computed it, then the vector (the
    # index follower may already have run by now on a slow machine)
    g = f.get("%s/%s?include=embedding" % (CAPS, c["id"]), token=u["access_token"])
    assert g.status == 200 and "embedding" in g.json["data"], g
    emb = g.json["data"]["embedding"]
    assert emb is None or (len(emb) == 384 and all(isinstance(x, float) for x in emb)), emb
    assert_error(f.get("%s/%s?include=secrets" % (CAPS, c["id"]), token=u["access_token"]), 422,
                 "validation_error", "include")
    # defaults: type knowledge, metadata {}
    d = create(f, u["access_token"], "plain")
    assert d["type"] == "knowledge" and d["metadata"] == {}
    # unknown / malformed ids are 404
    assert_error(f.get("%s/%s" % (CAPS, uuid.uuid4()), token=u["access_token"]), 404, "not_found")
    assert_error(f.get(CAPS + "/not-a-uuid", token=u["access_token"]), 404, "not_found")
    # unicode round trip
    d = create(f, u["access_token"], "naïve café ✓ 𝄞")
    assert f.get("%s/%s" % (CAPS, d["id"]), token=u["access_token"]).json["data"]["content"] == \
        "naïve café ✓ 𝄞"


def test_validation(f: Forge):
    tok = f.make_user()["access_token"]
    cases = [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": 42}, "content"),
        ({"content": "x" * (1024 * 1024 + 1)}, "content"),
        ({"content": "x", "type": "poem"}, "type"),
        ({"content": "x", "type": 3}, "type"),
        ({"content": "x", "metadata": [1]}, "metadata"),
        ({"content": "x", "metadata": "{}"}, "metadata"),
        ({"content": "x", "metadata": {"k": "v" * (64 * 1024)}}, "metadata"),
        ({"content": "x", "parent_id": "nope"}, "parent_id"),
        ({"content": "x", "trust_level": "core"}, "trust_level"),
        ({"content": "x", "owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"content": "x", "version": "9.9.9"}, "version"),
        ({"content": "x", "colour": "blue"}, "colour"),
        ({"content": "x", "reason": "no parent"}, "reason"),
    ]
    for body, field in cases:
        assert_error(f.post(CAPS, body, token=tok), 422, "validation_error", field)
    # the limit is in bytes: 524 289 two-byte characters are 1 MB + 2 bytes (sent unescaped)
    raw = json.dumps({"content": "é" * (512 * 1024 + 1)}, ensure_ascii=False).encode()
    assert_error(f.request("POST", CAPS, raw=raw, token=tok,
                           headers={"Content-Type": "application/json"}), 422,
                 "validation_error", "content")
    # the limits themselves are accepted
    big = create(f, tok, "x" * (1024 * 1024))
    assert len(big["content"]) == 1024 * 1024
    meta = {"k": "v" * (64 * 1024 - 8)}  # {"k":"…"} = 64 KB exactly
    assert create(f, tok, "m", metadata=meta)["metadata"] == meta
    # malformed JSON is 400, a non-object body 422
    assert_error(f.request("POST", CAPS, raw=b'{"content": ', token=tok,
                           headers={"Content-Type": "application/json"}), 400, "bad_request")
    assert_error(f.request("POST", CAPS, raw=b'["x"]', token=tok,
                           headers={"Content-Type": "application/json"}), 422)
    # invalid UTF-8 in the body never becomes a capsule
    r = f.request("POST", CAPS, raw=b'{"content": "\xff\xfe"}', token=tok,
                  headers={"Content-Type": "application/json"})
    assert r.status in (400, 422), r
    # list/query validation
    for q, field in [("per_page=0", "per_page"), ("per_page=101", "per_page"), ("page=0", "page"),
                     ("type=poem", "type"), ("trust_level=high", "trust_level"),
                     ("owner_id=x", "owner_id"), ("created_after=yesterday", "created_after")]:
        assert_error(f.get(CAPS + "?" + q, token=tok), 422, "validation_error", field)


@sqlite_only
def test_authentication_and_permissions(f: Forge):
    assert_error(f.post(CAPS, {"content": "x"}), 401, "authentication_error")
    assert_error(f.get(CAPS), 401, "authentication_error")
    user = f.make_user()
    c = create(f, user["access_token"])
    # role user has no capsule:delete (SPEC §3.2), not even for its own capsule
    r = f.delete("%s/%s" % (CAPS, c["id"]), token=user["access_token"])
    assert_error(r, 403, "authorization_error")
    assert r.json["details"]["permission"] == "capsule:delete"
    # owner-or-admin for update and delete
    other = f.make_user(role="trusted")
    r = f.patch("%s/%s" % (CAPS, c["id"]), {"content": "mine now"}, token=other["access_token"])
    assert_error(r, 403, "authorization_error")
    assert r.json["details"]["rule"] == "owner_or_admin"
    assert_error(f.delete("%s/%s" % (CAPS, c["id"]), token=other["access_token"]), 403,
                 "authorization_error")
    r = f.patch("%s/%s" % (CAPS, c["id"]), {"content": "admin edit"}, token=f.admin_token())
    assert r.status == 200 and r.json["data"]["version"] == "1.1.0", r
    r = f.delete("%s/%s" % (CAPS, c["id"]), token=f.admin_token())
    assert r.status == 200 and r.json["data"]["deleted_count"] == 1, r
    # a refused change is audited
    with db(f) as h:
        n = h.execute("SELECT count(*) FROM audit_log WHERE outcome = 'denied' AND actor_id = ? "
                      "AND resource_id = ?", (other["id"], c["id"])).fetchone()[0]
    assert n == 2


def test_parent_rules_and_trust_inheritance(f: Forge):
    std = f.make_user()
    trusted = f.make_user(trust="trusted")
    sandbox = f.make_user(trust="sandbox")
    assert create(f, trusted["access_token"])["trust_level"] == "standard"  # no parent: standard
    assert create(f, sandbox["access_token"])["trust_level"] == "sandbox"   # never above creator
    parent = create(f, std["access_token"], "parent")
    # parent must exist and be live: 404
    assert_error(f.post(CAPS, {"content": "x", "parent_id": str(uuid.uuid4())},
                        token=std["access_token"]), 404, "not_found")
    # creator trust must reach the parent's: 403 naming the rule
    r = f.post(CAPS, {"content": "x", "parent_id": parent["id"]}, token=sandbox["access_token"])
    assert_error(r, 403, "authorization_error")
    assert r.json["details"]["rule"] == "trust"
    # the child takes the lower of creator and parent trust and records the derivation
    r = f.post(CAPS, {"content": "child", "parent_id": parent["id"], "reason": "summarises"},
               token=trusted["access_token"])
    assert r.status == 201, r
    child = r.json["data"]
    assert child["parent_id"] == parent["id"] and child["trust_level"] == "standard"
    lin = f.get("%s/%s/lineage" % (CAPS, child["id"]), token=std["access_token"]).json["data"]
    assert lin["ancestors"][0]["reason"] == "summarises"
    assert lin["ancestors"][0]["relation"] == "DERIVED_FROM"
    # a trusted parent: trusted creators derive trusted children; standard ones are refused
    r = f.put("/api/v1/admin/capsules/%s/trust" % parent["id"], {"trust_level": "trusted"},
              token=f.admin_token())
    assert r.status == 200 and r.json["data"]["trust_level"] == "trusted", r
    r = f.post(CAPS, {"content": "t", "parent_id": parent["id"]}, token=trusted["access_token"])
    assert r.status == 201 and r.json["data"]["trust_level"] == "trusted", r
    assert_error(f.post(CAPS, {"content": "s", "parent_id": parent["id"]},
                        token=std["access_token"]), 403, "authorization_error")
    # a deleted parent is 404
    leaf = create(f, std["access_token"], "leaf")
    assert f.delete("%s/%s" % (CAPS, leaf["id"]), token=f.admin_token()).status == 200
    assert_error(f.post(CAPS, {"content": "x", "parent_id": leaf["id"]},
                        token=std["access_token"]), 404, "not_found")


def test_read_needs_trust(f: Forge):
    std = f.make_user()
    trusted = f.make_user(trust="trusted")
    mine = create(f, std["access_token"], "secretish")
    create(f, std["access_token"], "open")
    r = f.put("/api/v1/admin/capsules/%s/trust" % mine["id"], {"trust_level": 80},
              token=f.admin_token())
    assert r.status == 200, r
    # above the reader's trust: 404 (existence is not revealed), even for the owner
    assert_error(f.get("%s/%s" % (CAPS, mine["id"]), token=std["access_token"]), 404, "not_found")
    assert_error(f.patch("%s/%s" % (CAPS, mine["id"]), {"content": "x"},
                         token=std["access_token"]), 404, "not_found")
    for path in ("lineage", "children", "revisions"):
        assert_error(f.get("%s/%s/%s" % (CAPS, mine["id"], path), token=std["access_token"]), 404)
    # neither returned nor counted in lists
    r = f.get(CAPS, token=std["access_token"])
    assert r.json["meta"]["total"] == 1 and [c["content"] for c in r.json["data"]] == ["open"]
    assert f.get(CAPS + "?trust_level=trusted", token=std["access_token"]).json["meta"]["total"] == 0
    r = f.get(CAPS, token=trusted["access_token"])
    assert r.json["meta"]["total"] == 2
    assert f.get("%s/%s" % (CAPS, mine["id"]), token=trusted["access_token"]).status == 200
    assert f.get(CAPS + "?trust_level=trusted",
                 token=trusted["access_token"]).json["meta"]["total"] == 1


def test_list_filters_and_pagination(f: Forge):
    a = f.make_user()
    b = f.make_user()
    ids = []
    t_mid = None
    for i in range(7):
        c = create(f, a["access_token"], "a%d" % i, type="code" if i % 2 else "insight")
        ids.append(c["id"])
        if i == 3:
            time.sleep(0.01)
            t_mid = c["created_at"]
            time.sleep(0.01)
    kid = create(f, b["access_token"], "kid", parent_id=ids[0])
    tok = a["access_token"]
    r = f.get(CAPS, token=tok)
    assert r.json["meta"] == {"total": 8, "page": 1, "per_page": 20, "pages": 1}, r.json["meta"]
    # newest first
    assert [c["id"] for c in r.json["data"]] == [kid["id"]] + ids[::-1]
    r = f.get(CAPS + "?per_page=3&page=2", token=tok)
    assert r.json["meta"] == {"total": 8, "page": 2, "per_page": 3, "pages": 3}
    assert [c["id"] for c in r.json["data"]] == ids[::-1][2:5]
    assert f.get(CAPS + "?per_page=3&page=4", token=tok).json["data"] == []
    assert f.get(CAPS + "?type=code", token=tok).json["meta"]["total"] == 3
    assert f.get(CAPS + "?type=insight", token=tok).json["meta"]["total"] == 4
    r = f.get(CAPS + "?owner_id=" + b["id"], token=tok)
    assert [c["id"] for c in r.json["data"]] == [kid["id"]]
    r = f.get(CAPS + "?parent_id=" + ids[0], token=tok)
    assert [c["id"] for c in r.json["data"]] == [kid["id"]]
    r = f.get(CAPS + "?created_before=" + t_mid, token=tok)
    assert [c["id"] for c in r.json["data"]] == ids[:3][::-1]
    r = f.get(CAPS + "?created_after=" + t_mid + "&type=code", token=tok)
    assert [c["id"] for c in r.json["data"]] == [ids[5]]
    assert f.get(CAPS + "?trust_level=standard", token=tok).json["meta"]["total"] == 8
    # deleted capsules leave the list
    assert f.delete("%s/%s" % (CAPS, ids[6]), token=f.admin_token()).status == 200
    assert f.get(CAPS, token=tok).json["meta"]["total"] == 7
    # children endpoint, paginated
    for i in range(3):
        create(f, b["access_token"], "kid%d" % i, parent_id=ids[0])
    r = f.get("%s/%s/children?per_page=2" % (CAPS, ids[0]), token=tok)
    assert r.json["meta"] == {"total": 4, "page": 1, "per_page": 2, "pages": 2}
    assert all(c["parent_id"] == ids[0] for c in r.json["data"])


def test_update_versions_and_revisions(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    c = create(f, tok, "first", metadata={"a": 1})
    url = "%s/%s" % (CAPS, c["id"])
    r = f.patch(url, {"metadata": {"a": 2}}, token=tok)
    assert r.status == 200 and r.json["data"]["version"] == "1.0.0", r  # metadata only: no bump
    assert r.json["data"]["metadata"] == {"a": 2}
    assert r.json["data"]["updated_at"] >= c["updated_at"]
    r = f.patch(url, {"content": "second"}, token=tok)
    assert r.json["data"]["version"] == "1.1.0" and r.json["data"]["content"] == "second", r
    r = f.patch(url, {"content": "second"}, token=tok)  # same content: no bump
    assert r.json["data"]["version"] == "1.1.0", r
    r = f.put(url, {"content": "third", "type": "insight"}, token=tok)  # PUT behaves the same
    assert r.status == 200 and r.json["data"]["version"] == "1.2.0", r
    assert r.json["data"]["type"] == "insight"
    r = f.get(url + "/revisions", token=tok)
    assert r.status == 200, r
    assert r.json["meta"]["total"] == 3
    revs = r.json["data"]
    assert [v["version"] for v in revs] == ["1.2.0", "1.1.0", "1.0.0"]
    assert [v["content"] for v in revs] == ["third", "second", "first"]
    assert revs[0]["current"] is True and revs[1]["current"] is False
    assert revs[2]["metadata"] == {"a": 2}  # metadata as it was when superseded
    assert all(v["author_id"] == u["id"] for v in revs)
    r = f.get(url + "/revisions?per_page=1&page=3", token=tok)
    assert [v["version"] for v in r.json["data"]] == ["1.0.0"]
    # rules of the body
    assert_error(f.patch(url, {}, token=tok), 422, "validation_error", "content")
    assert_error(f.patch(url, {"content": ""}, token=tok), 422, "validation_error", "content")
    assert_error(f.patch(url, {"type": "poem"}, token=tok), 422, "validation_error", "type")
    assert_error(f.patch(url, {"trust_level": "core"}, token=tok), 422, "validation_error",
                 "trust_level")
    assert_error(f.patch(url, {"parent_id": str(uuid.uuid4())}, token=tok), 422,
                 "validation_error", "parent_id")
    assert_error(f.patch(url, {"version": "2.0.0"}, token=tok), 422, "validation_error",
                 "version")
    assert_error(f.patch("%s/%s" % (CAPS, uuid.uuid4()), {"content": "x"}, token=tok), 404)
    assert f.delete(url, token=f.admin_token()).status == 200
    assert_error(f.patch(url, {"content": "zombie"}, token=tok), 404, "not_found")


@sqlite_only
def test_delete_conflict_and_cascade_three_levels(f: Forge):
    owner = f.make_user(role="trusted")
    helper = f.make_user()
    tok = owner["access_token"]
    root = create(f, tok, "root")
    kids = [create(f, tok, "kid%d" % i, parent_id=root["id"]) for i in range(2)]
    grandkids = [create(f, helper["access_token"], "gk%d" % i, parent_id=kids[i % 2]["id"])
                 for i in range(4)]
    bystander = create(f, tok, "unrelated")
    r = f.delete("%s/%s" % (CAPS, root["id"]), token=tok)
    assert_error(r, 409, "conflict")
    assert r.json["details"]["live_children"] == 2
    assert_error(f.delete("%s/%s?cascade=false" % (CAPS, kids[0]["id"]), token=tok), 409)
    assert_error(f.delete("%s/%s?cascade=maybe" % (CAPS, root["id"]), token=tok), 422,
                 "validation_error", "cascade")
    # a leaf goes without cascade
    r = f.delete("%s/%s" % (CAPS, grandkids[0]["id"]), token=f.admin_token())
    assert r.status == 200 and r.json["data"]["deleted_count"] == 1
    r = f.delete("%s/%s?cascade=true" % (CAPS, root["id"]), token=tok)
    assert r.status == 200, r
    assert r.json["data"]["deleted_count"] == 6  # root, 2 kids, 3 live grandkids
    for c in [root] + kids + grandkids:
        assert_error(f.get("%s/%s" % (CAPS, c["id"]), token=tok), 404, "not_found")
    assert f.get("%s/%s" % (CAPS, bystander["id"]), token=tok).status == 200
    assert f.get(CAPS, token=tok).json["meta"]["total"] == 1
    assert_error(f.delete("%s/%s?cascade=true" % (CAPS, root["id"]), token=tok), 404)
    # admins can still look at deleted capsules
    r = f.get("%s/%s?include_deleted=true" % (CAPS, grandkids[3]["id"]), token=f.admin_token())
    assert r.status == 200 and r.json["data"]["is_deleted"] is True and "deleted_at" in r.json["data"]
    with db(f) as h:
        assert h.execute("SELECT count(*) FROM capsules WHERE is_deleted = 1").fetchone()[0] == 7
        assert h.execute("SELECT count(*) FROM outbox WHERE type = 'capsule.deleted'"
                         ).fetchone()[0] == 7


def test_admin_trust_change(f: Forge):
    u = f.make_user()
    c = create(f, u["access_token"])
    url = "/api/v1/admin/capsules/%s/trust" % c["id"]
    assert_error(f.put(url, {"trust_level": "core"}), 401)
    r = f.put(url, {"trust_level": "core"}, token=u["access_token"])
    assert_error(r, 403, "authorization_error")
    adm = f.admin_token()
    for bad in ("high", 70, None, True):
        assert_error(f.put(url, {"trust_level": bad}, token=adm), 422, "validation_error",
                     "trust_level")
    assert_error(f.put(url, {}, token=adm), 422, "validation_error", "trust_level")
    assert_error(f.put("/api/v1/admin/capsules/%s/trust" % uuid.uuid4(), {"trust_level": "core"},
                       token=adm), 404)
    r = f.put(url, {"trust_level": "sandbox"}, token=adm)
    assert r.status == 200 and r.json["data"]["trust_level"] == "sandbox", r
    assert f.get("%s/%s" % (CAPS, c["id"]), token=u["access_token"]).json["data"][
        "trust_level"] == "sandbox"
    r = f.get("/api/v1/admin/audit?action=capsule.trust_change&resource_id=" + c["id"], token=adm)
    outcomes = sorted(e["outcome"] for e in r.json["data"])
    assert outcomes == ["denied", "success"], r.json
    ok = [e for e in r.json["data"] if e["outcome"] == "success"][0]
    assert ok["details"] == {"from": "standard", "to": "sandbox"}


@sqlite_only
def test_events_and_audit_per_change(f: Forge):
    u = f.make_user(role="trusted")
    tok = u["access_token"]
    c = create(f, tok, "evented")
    f.patch("%s/%s" % (CAPS, c["id"]), {"content": "changed"}, token=tok)
    f.patch("%s/%s" % (CAPS, c["id"]), {"metadata": {"x": 1}}, token=tok)
    f.delete("%s/%s" % (CAPS, c["id"]), token=tok)
    with db(f) as h:
        evs = h.execute("SELECT type, payload, delivered_at FROM outbox WHERE resource_id = ? "
                        "ORDER BY seq", (c["id"],)).fetchall()
        aud = h.execute("SELECT action, actor_id, outcome, correlation_id, client_ip FROM "
                        "audit_log WHERE resource_id = ? ORDER BY seq", (c["id"],)).fetchall()
        feed = h.execute("SELECT op FROM capsule_changes WHERE capsule_id = ? ORDER BY seq",
                         (c["id"],)).fetchall()
    assert [e[0] for e in evs] == ["capsule.created", "capsule.updated", "capsule.updated",
                                   "capsule.deleted"], evs
    assert all(e[2] is None for e in evs)
    assert [a[0] for a in aud] == ["capsule.create", "capsule.update", "capsule.update",
                                   "capsule.delete"], aud
    # the client IP is personal data: sealed at rest (docs/privacy.md), in clear through the API
    assert all(a[1] == u["id"] and a[2] == "success" and a[3] and a[4].startswith("$fe1$")
               and "127.0.0.1" not in a[4] for a in aud), aud
    r = f.get("/api/v1/admin/audit?resource_id=%s" % c["id"], token=f.admin_token())
    assert r.status == 200, r
    assert [e["client_ip"] for e in r.json["data"]] == ["127.0.0.1"] * 4, r.json["data"]
    assert [x[0] for x in feed] == ["create", "update", "update", "delete"]
    # the correlation id of the request is the one audited
    r = f.post(CAPS, {"content": "traced"}, token=tok, headers={"X-Correlation-ID": "trace-42"})
    with db(f) as h:
        got = h.execute("SELECT correlation_id FROM audit_log WHERE resource_id = ?",
                        (r.json["data"]["id"],)).fetchone()[0]
    assert got == "trace-42"
    m = f.get("/metrics").body
    assert 'forge_capsule_operations_total{op="create"} 2' in m
    assert 'forge_capsule_operations_total{op="delete"} 1' in m
    assert "forge_capsules_total 1" in m


if __name__ == "__main__":
    main(globals())
