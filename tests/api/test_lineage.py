"""Lineage through the API (SPEC §4.2 isnad): nearest first with depths, max_depth bounds and
`truncated`, ancestors above the reader's trust left out, and a 1 000-deep chain built through
the API whose walk is capped at 50 and stays fast."""
import time
import uuid

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main

CAPS = "/api/v1/capsules"


def chain(f, token, n, reasons=False):
    ids = []
    parent = None
    for i in range(n):
        body = {"content": "link %d" % i}
        if parent:
            body["parent_id"] = parent
            if reasons:
                body["reason"] = "step %d" % i
        r = f.post(CAPS, body, token=token)
        assert r.status == 201, r
        parent = r.json["data"]["id"]
        ids.append(parent)
    return ids


def lineage(f, token, cid, q=""):
    r = f.get("%s/%s/lineage%s" % (CAPS, cid, q), token=token)
    assert r.status == 200, r
    return r.json["data"]


def test_lineage_basics(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    ids = chain(f, tok, 5, reasons=True)
    d = lineage(f, tok, ids[4])
    assert d["id"] == ids[4] and d["truncated"] is False and d["max_depth"] == 10
    assert [a["id"] for a in d["ancestors"]] == ids[3::-1]  # nearest first
    assert [a["depth"] for a in d["ancestors"]] == [1, 2, 3, 4]
    assert [a["reason"] for a in d["ancestors"]] == ["step 4", "step 3", "step 2", "step 1"]
    assert all(a["relation"] == "DERIVED_FROM" for a in d["ancestors"])
    # summaries since issue 11: a preview, whole contents only with ?include=content
    assert d["ancestors"][0]["content_preview"] == "link 3"
    assert "content" not in d["ancestors"][0] and d["ancestors"][0]["content_bytes"] == 6
    d = lineage(f, tok, ids[4], "?include=content")
    assert d["ancestors"][0]["content"] == "link 3" and d["content_capped"] is False
    d = lineage(f, tok, ids[4], "?max_depth=2")
    assert [a["depth"] for a in d["ancestors"]] == [1, 2] and d["truncated"] is True
    d = lineage(f, tok, ids[4], "?max_depth=4")
    assert len(d["ancestors"]) == 4 and d["truncated"] is False
    d = lineage(f, tok, ids[0])
    assert d["ancestors"] == [] and d["truncated"] is False
    for bad in ("0", "51", "-1", "ten"):
        assert_error(f.get("%s/%s/lineage?max_depth=%s" % (CAPS, ids[4], bad), token=tok), 422,
                     "validation_error", "max_depth")
    assert_error(f.get("%s/%s/lineage" % (CAPS, uuid.uuid4()), token=tok), 404, "not_found")


def test_lineage_leaves_out_unreadable_ancestors(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    ids = chain(f, tok, 4)
    # the root becomes core: a standard reader's walk skips it (and says nothing about it)
    r = f.put("/api/v1/admin/capsules/%s/trust" % ids[0], {"trust_level": "core"},
              token=f.admin_token())
    assert r.status == 200, r
    d = lineage(f, tok, ids[3])
    assert [a["depth"] for a in d["ancestors"]] == [1, 2]
    assert ids[0] not in [a["id"] for a in d["ancestors"]]
    d = lineage(f, tok, ids[3], "?max_depth=2")
    assert d["truncated"] is True  # the chain goes on, even if not readable
    # the middle one too: the walk passes through it
    f.put("/api/v1/admin/capsules/%s/trust" % ids[1], {"trust_level": "trusted"},
          token=f.admin_token())
    d = lineage(f, tok, ids[3])
    assert [a["depth"] for a in d["ancestors"]] == [1]
    # an admin sees everything
    d = lineage(f, f.admin_token(), ids[3])
    assert [a["depth"] for a in d["ancestors"]] == [1, 2, 3]


def test_lineage_1000_deep(f: Forge):
    u = f.make_user()
    tok = u["access_token"]
    t0 = time.time()
    ids = chain(f, tok, 1001)  # 1 000 ancestors above the leaf
    print("  built a 1001-capsule chain through the API in %.1fs" % (time.time() - t0))
    leaf = ids[-1]
    t0 = time.time()
    d = lineage(f, tok, leaf, "?max_depth=50")
    dt = time.time() - t0
    print("  lineage max_depth=50 of the 1000-deep leaf: %.1f ms" % (dt * 1e3))
    assert [a["depth"] for a in d["ancestors"]] == list(range(1, 51))
    assert [a["id"] for a in d["ancestors"]] == ids[-2:-52:-1]
    assert d["truncated"] is True
    assert dt < 1.0, dt
    d = lineage(f, tok, leaf)
    assert [a["depth"] for a in d["ancestors"]] == list(range(1, 11)) and d["truncated"] is True
    # 50 hops from the root end: exactly the top of the chain, not truncated
    d = lineage(f, tok, ids[50], "?max_depth=50")
    assert len(d["ancestors"]) == 50 and d["truncated"] is False
    assert d["ancestors"][-1]["id"] == ids[0]
    d = lineage(f, tok, ids[51], "?max_depth=50")
    assert len(d["ancestors"]) == 50 and d["truncated"] is True
    # every link is listed as the child of its parent
    r = f.get("%s/%s/children" % (CAPS, ids[500]), token=tok)
    assert [c["id"] for c in r.json["data"]] == [ids[501]]


if __name__ == "__main__":
    main(globals(), fixture_env={"RATE_LIMIT_ENABLED": "false"})
