"""Keyword search through the in-memory keyword index (docs/search.md "Keyword search", "Query
syntax"): phrases, prefix, required and excluded terms in keyword and hybrid mode, 422 with the
position for malformed queries (and never a 500 on hostile input), filters applied inside the
index so `limit` results come back when they exist, read-your-writes through updates and
deletes, Unicode folding and CJK, and the keyword index saved with the checkpoint (and rebuilt
from the store when its file is missing)."""
import os
import random

# forge-test: stores=sqlite,postgresql
from forgetest import assert_error, main, sqlite_only

SEARCH = "/api/v1/capsules/search"


def create(f, token, content, type_=None, metadata=None):
    body = {"content": content}
    if type_:
        body["type"] = type_
    if metadata is not None:
        body["metadata"] = metadata
    r = f.post("/api/v1/capsules", body, token=token)
    assert r.status == 201, r
    return r.json["data"]["id"]


def search(f, token, expect=200, **body):
    r = f.post(SEARCH, body, token=token)
    assert r.status == expect, (body, r)
    return r.json


def ids(f, token, query, mode="keyword", **kw):
    return [x["capsule"]["id"] for x in search(f, token, query=query, mode=mode, **kw)["data"]]


def test_query_syntax(f):
    tok = f.make_user()["access_token"]
    a = create(f, tok, "Reset the password of the admin account after the audit")
    b = create(f, tok, "Password reset requires the admin to approve it")
    c = create(f, tok, "Deployment pipeline for the account service")
    d = create(f, tok, "Deploying canary builds behind the redis cache")
    e = create(f, tok, "Cache invalidation with memcached")
    # Phrases: the words in this order, next to each other.
    assert ids(f, tok, '"reset the password"') == [a]
    assert ids(f, tok, '"password reset"') == [b]
    assert ids(f, tok, '"admin deployment"') == []
    # Prefix: any indexed term starting with the folded word (stemmed forms included).
    assert set(ids(f, tok, "deploy*")) == {c, d}
    assert set(ids(f, tok, "memcach*")) == {e}
    # Excluded and required terms.
    assert ids(f, tok, "cache -redis") == [e]
    got = ids(f, tok, "+admin account")
    assert got[0] == a and set(got) == {a, b}, got
    assert ids(f, tok, "+account -\"admin account\"") == [c]
    assert ids(f, tok, "+nosuchword cache") == []
    assert set(ids(f, tok, "+deploy* +cache")) == {d}
    # Without '+', words are optional: more (and rarer) matching words rank higher.
    got = ids(f, tok, "password admin audit")
    assert got[0] == a and set(got) == {a, b}, got
    # Hybrid mode uses the same syntax for its keyword ranking.
    res = search(f, tok, query='"password reset"', mode="hybrid")
    kw = [x for x in res["data"] if x["keyword_rank"] is not None]
    assert [x["capsule"]["id"] for x in kw] == [b], res
    # Semantic mode embeds the text as written: quotes are not syntax there.
    assert search(f, tok, query='reset "password')["meta"]["mode"] == "semantic"


def test_syntax_errors_are_422_with_position(f):
    tok = f.make_user()["access_token"]
    create(f, tok, "alpha beta gamma")
    for mode in ("keyword", "hybrid"):
        r = f.post(SEARCH, {"query": 'alpha "beta', "mode": mode}, token=tok)
        assert_error(r, 422, "validation_error", "query")
        assert r.json["details"]["position"] == 7, r.json
        assert "unclosed quote" in r.json["message"] and "7" in r.json["message"], r.json
        r = f.post(SEARCH, {"query": 'é "" x', "mode": mode}, token=tok)
        assert_error(r, 422, "validation_error", "query")
        assert r.json["details"]["position"] == 3, r.json  # characters, not bytes
        r = f.post(SEARCH, {"query": "-alpha -beta", "mode": mode}, token=tok)
        assert_error(r, 422, "validation_error", "query")
        assert "excluded" in r.json["message"], r.json
    # Hostile input never crashes and never leaks syntax: always 200 or a 422.
    rnd = random.Random(17)
    pieces = ['"', "+", "-", "*", " ", "alpha", "é", "中文", "(", ")", ":", "NEAR", "OR", "\\",
              "'", ";", "--", "**", "+-", "\"\"", "\U0001F525"]
    for _ in range(150):
        q = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12)))
        r = f.post(SEARCH, {"query": q, "mode": rnd.choice(["keyword", "hybrid"])}, token=tok)
        assert r.status in (200, 422), (q, r)
        if r.status == 422:
            assert_error(r, 422, "validation_error", "query")


def test_filters_inside_index_fill_limit(f):
    std = f.make_user()["access_token"]
    sand = f.make_user(trust="sandbox")["access_token"]
    # Standard capsules rank higher (the word three times) than every sandbox one.
    for i in range(40):
        create(f, std, "orchid orchid orchid greenhouse %d" % i)
    sandboxed = [create(f, sand, "orchid note number %d for the sandbox" % i) for i in range(12)]
    got = ids(f, sand, "orchid", limit=10)
    assert len(got) == 10 and set(got) <= set(sandboxed), got
    got = ids(f, sand, "orchid", limit=100)
    assert sorted(got) == sorted(sandboxed), got
    res = search(f, sand, query="orchid", mode="hybrid", limit=10)
    assert len(res["data"]) == 10 and {x["capsule"]["id"] for x in res["data"]} <= set(sandboxed)
    # Type filter inside the index: few code capsules among many knowledge ones.
    code = [create(f, std, "orchid watering script %d" % i, "code") for i in range(6)]
    got = ids(f, std, "orchid", type="code", limit=10)
    assert sorted(got) == sorted(code), got
    # Deleted capsules never come back; the others still fill the page.
    admin = f.admin_token()
    for cid in code[:2]:
        r = f.delete("/api/v1/capsules/" + cid, token=admin)
        assert r.status in (200, 204), r
    got = ids(f, std, "orchid", type="code", limit=10)
    assert sorted(got) == sorted(code[2:]), got


def test_read_your_writes_unicode_cjk(f):
    tok = f.make_user()["access_token"]
    cid = create(f, tok, "Crème brûlée at the Straße café", metadata={"tags": ["dessert"]})
    assert ids(f, tok, "creme brulee") == [cid]  # no wait: applied before the search
    assert ids(f, tok, "STRASSE") == [cid]
    assert ids(f, tok, "dessert") == [cid]  # metadata is indexed
    jp = create(f, tok, "東京都の天気予報")
    assert ids(f, tok, "京都") == [jp]
    assert ids(f, tok, "天気") == [jp]
    r = f.patch("/api/v1/capsules/" + cid, {"content": "Apple tart recipe"}, token=tok)
    assert r.status == 200, r
    assert ids(f, tok, "brulee") == []
    assert ids(f, tok, "tarts") == [cid]  # stemming
    r = f.delete("/api/v1/capsules/" + cid, token=f.admin_token())
    assert r.status in (200, 204), r
    assert ids(f, tok, "tart") == []
    res = search(f, tok, query="weather", mode="keyword")
    assert res["data"] == [] and res["meta"]["count"] == 0


@sqlite_only
def test_keyword_index_checkpoint(f):
    tok = f.make_user()["access_token"]
    cid = create(f, tok, "quasar telemetry uplink")
    f.stop()  # writes the checkpoint (vectors + keyword index)
    kw_files = [n for n in os.listdir(f.dir) if n.startswith("forge.index.") and n.endswith(".kw")]
    assert len(kw_files) == 1, os.listdir(f.dir)
    f.start()
    assert ids(f, tok, "telemetry") == [cid]
    assert "index_keyword_rebuilt" not in f.log()
    # A missing keyword file is rebuilt from the store; the vectors still load.
    f.stop()
    for n in os.listdir(f.dir):
        if n.endswith(".kw"):
            os.unlink(os.path.join(f.dir, n))
    f.start()
    assert ids(f, tok, "uplink quasar") == [cid]
    assert f.log().count("index_keyword_rebuilt") == 1
    ready = [line for line in f.log().splitlines() if '"index_ready"' in line]
    assert '"source":"checkpoint"' in ready[-1], ready[-1]
    # The rebuilt keyword index is saved at the next checkpoint: the following start loads it.
    f.stop()
    assert any(n.endswith(".kw") for n in os.listdir(f.dir)), os.listdir(f.dir)
    f.start()
    assert ids(f, tok, "quasar") == [cid]
    assert f.log().count("index_keyword_rebuilt") == 1


if __name__ == "__main__":
    main(globals())
