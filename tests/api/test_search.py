"""POST /api/v1/capsules/search through the real binary (SPEC §4.3, docs/search.md): relevance on a
small corpus with known answers (semantic, keyword/BM25, hybrid with the lineage hop boost),
filters (type, trust, deleted), limit and min_score, validation, the context capsule, metrics,
readiness, read-your-writes, a second process following the same database, restart without
re-embedding, and the embedding-provider failure path (fake OpenAI server)."""
import os
import re
import subprocess
import time

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main, sqlite_only

SEARCH = "/api/v1/capsules/search"
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes", "openai_server.py")
FAKE_KEY = "sk-test-0123456789abcdef"

# Known answers: every query shares words (or word forms) with exactly one passage; the local
# embedder is lexical (docs/embeddings.md), so the right passage must come first.
CORPUS = {
    "tls": ("config", "Rotate the TLS certificates on the ingress controller before they expire; "
                      "cert-manager renews them thirty days ahead."),
    "password": ("knowledge", "To reset a forgotten password, open the login page, choose forgot "
                              "password and follow the emailed reset link, which expires after "
                              "one hour."),
    "backup": ("knowledge", "Database backups run every night with pg_dump and are kept for thirty "
                         "days in object storage; restores are tested monthly."),
    "ratelimit": ("config", "The API rate limiter allows one thousand requests per minute for "
                            "standard users and returns HTTP 429 beyond that."),
    "postgres": ("decision", "Decision: we chose PostgreSQL over MongoDB for the billing service "
                             "because we need transactions and foreign keys."),
    "probe": ("knowledge", "Kubernetes restarts a pod when its liveness probe fails three times "
                           "in a row."),
    "cake": ("knowledge", "Chocolate cake recipe: melt dark chocolate with butter, whisk in eggs "
                          "and sugar, fold in flour and bake for twenty five minutes."),
    "retry": ("code", "def retry(call, attempts=3): sleep with exponential backoff and random "
                      "jitter between failed attempts"),
    "onboarding": ("knowledge", "Onboarding checklist for new engineers: laptop setup, accounts, "
                                "security training and a first pull request."),
    "incident": ("insight", "Insight: most production incidents last quarter were caused by "
                            "configuration changes deployed on Fridays."),
}
QUERIES = [
    ("how do I reset my password", "password"),
    ("chocolate cake recipe", "cake"),
    ("kubernetes liveness probe restarts", "probe"),
    ("TLS certificate renewal", "tls"),
    ("nightly database backups", "backup"),
    ("why did we choose postgresql", "postgres"),
    ("rate limit requests per minute", "ratelimit"),
    ("exponential backoff retry", "retry"),
    ("onboarding new engineers", "onboarding"),
    ("what causes production incidents", "incident"),
]


def create(f, token, content, type_=None, parent=None):
    body = {"content": content}
    if type_:
        body["type"] = type_
    if parent:
        body["parent_id"] = parent
    r = f.post("/api/v1/capsules", body, token=token)
    assert r.status == 201, r
    return r.json["data"]["id"]


def load_corpus(f, token):
    return {k: create(f, token, text, type_) for k, (type_, text) in CORPUS.items()}


def search(f, token, expect=200, **body):
    r = f.post(SEARCH, body, token=token)
    assert r.status == expect, (body, r)
    return r.json


def ids_of(res):
    return [x["capsule"]["id"] for x in res["data"]]


def rrf(a, b, k=60):
    s = (1.0 / (k + a) if a else 0) + (1.0 / (k + b) if b else 0)
    return s / (2.0 / (k + 1))


def metric(f, name, labels=""):
    text = f.get("/metrics").body
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


# ---- relevance -----------------------------------------------------------------------------

def test_semantic_known_answers(f):
    tok = f.make_user()["access_token"]
    ids = load_corpus(f, tok)
    for query, want in QUERIES:
        res = search(f, tok, query=query)
        assert res["data"], (query, res)
        assert res["data"][0]["capsule"]["id"] == ids[want], (query, want, res["data"][:3])
        assert set(res["data"][0]) == {"capsule", "score"}, res["data"][0]
        scores = [x["score"] for x in res["data"]]
        assert scores == sorted(scores, reverse=True), scores
        assert all(s >= res["meta"]["min_score"] for s in scores), res
        assert 0 < scores[0] <= 1.0001
    meta = search(f, tok, query="chocolate cake")["meta"]
    assert meta["mode"] == "semantic" and meta["min_score"] == 0.18, meta  # local default
    assert meta["count"] >= 1 and isinstance(meta["took_ms"], float), meta
    # The result is the same JSON as GET /capsules/{id} (no embedding).
    res = search(f, tok, query="chocolate cake recipe", limit=1)
    got = f.get("/api/v1/capsules/" + ids["cake"], token=tok).json["data"]
    assert res["data"][0]["capsule"] == got, (res["data"][0]["capsule"], got)
    # A query that shares nothing with the corpus returns nothing above the threshold.
    assert search(f, tok, query="zzyzx quokka")["data"] == []


def test_keyword_bm25_order(f):
    tok = f.make_user()["access_token"]
    dense = create(f, tok, "latency latency latency: the p99 latency budget is 200 ms")
    medium = create(f, tok, "We measured API latency after the cache change and it improved.")
    sparse = create(f, tok, "The quarterly review covered hiring, budgets, the office move, "
                            "vendor contracts, travel policy, the new expense tool and, briefly, "
                            "the latency two customers saw during the migration weekend.")
    create(f, tok, "Chocolate cake recipe")  # no match
    res = search(f, tok, query="latency", mode="keyword")
    assert ids_of(res) == [dense, medium, sparse], res
    assert [x["keyword_rank"] for x in res["data"]] == [1, 2, 3]
    assert res["data"][0]["score"] == 1.0
    scores = [x["score"] for x in res["data"]]
    bm = [x["bm25"] for x in res["data"]]
    assert scores == sorted(scores, reverse=True) and bm == sorted(bm, reverse=True), res
    assert all(0 < s <= 1 for s in scores) and all(b > 0 for b in bm)
    assert abs(scores[1] - bm[1] / bm[0]) < 1e-5
    assert res["meta"]["mode"] == "keyword" and res["meta"]["min_score"] is None
    # More matching words rank higher; stemming joins word forms; no FTS syntax leaks through.
    two = create(f, tok, "cache latency regression")
    res = search(f, tok, query="Cache latencies", mode="keyword")
    assert ids_of(res)[0] == two, res
    for q in ['latency" OR "cake', "latency*", "NEAR(latency cake)", "content:latency", "(latency",
              "-cake latency", "latency AND", "'; DROP TABLE capsules; --"]:
        r = f.post(SEARCH, {"query": q, "mode": "keyword"}, token=tok)
        assert r.status == 200, (q, r)
    # min_score in keyword mode is relative to the best result (explicit only).
    res = search(f, tok, query="latency", mode="keyword", min_score=0.99)
    assert ids_of(res) == [dense], res


def test_hybrid_hop_boost(f):
    tok = f.make_user()["access_token"]
    ctx = create(f, tok, "Parent design note")
    text = "Replay buffer sizing for the ingestion workers"
    unrelated = create(f, tok, text)            # created first: wins ties without the boost
    child = create(f, tok, text, parent=ctx)    # 1 hop from the context
    grandchild = create(f, tok, text, parent=child)  # 2 hops
    query = "replay buffer sizing ingestion workers"

    plain = search(f, tok, query=query, mode="hybrid")
    assert ids_of(plain)[:3] == [unrelated, child, grandchild], plain
    for x in plain["data"]:
        assert set(x) == {"capsule", "score", "semantic_score", "semantic_rank", "keyword_rank",
                          "hops"}, x
        assert x["hops"] is None
        assert abs(x["score"] - rrf(x["semantic_rank"], x["keyword_rank"])) < 1e-5, x
    top = plain["data"][0]
    assert top["semantic_rank"] == 1 and top["keyword_rank"] == 1 and top["score"] == 1.0

    boosted = search(f, tok, query=query, mode="hybrid", context_capsule_id=ctx)
    assert ids_of(boosted)[:3] == [child, grandchild, unrelated], boosted
    hops = {x["capsule"]["id"]: x["hops"] for x in boosted["data"]}
    assert hops[child] == 1 and hops[grandchild] == 2 and hops[unrelated] is None, hops
    for x in boosted["data"]:
        d = x["hops"]
        boost = 1 + 0.1 * (2 - d + 1) if d is not None else 1.0
        assert abs(x["score"] - rrf(x["semantic_rank"], x["keyword_rank"]) * boost) < 1e-5, x
    assert boosted["meta"]["context_capsule_id"] == ctx and boosted["meta"]["max_hops"] == 2

    one = search(f, tok, query=query, mode="hybrid", context_capsule_id=ctx, max_hops=1)
    assert ids_of(one)[:3] == [child, unrelated, grandchild], one
    hops = {x["capsule"]["id"]: x["hops"] for x in one["data"]}
    assert hops[child] == 1 and hops[grandchild] is None, hops
    # The context capsule itself is 0 hops away (boost 1 + 0.1 × (max_hops + 1)).
    ctx_hit = search(f, tok, query="parent design note", mode="hybrid", context_capsule_id=ctx)
    first = ctx_hit["data"][0]
    assert first["capsule"]["id"] == ctx and first["hops"] == 0, ctx_hit
    # A keyword-only candidate still reports its exact cosine.
    kw_only = search(f, tok, query="workers zzyzx", mode="hybrid", min_score=0.99)
    for x in kw_only["data"]:
        assert x["keyword_rank"] is not None and x["semantic_rank"] is None
        assert isinstance(x["semantic_score"], float), x


# ---- filters, limit, thresholds -----------------------------------------------------------

def test_filters_type_trust_deleted(f):
    std = f.make_user()
    sand = f.make_user(trust="sandbox")
    s_tok, w_tok = std["access_token"], sand["access_token"]
    standard = create(f, s_tok, "glacier survey report alpha")
    coded = create(f, s_tok, "glacier survey report parser", "code")
    sandboxed = create(f, w_tok, "glacier survey report beta")
    got = f.get("/api/v1/capsules/" + sandboxed, token=w_tok).json["data"]
    assert got["trust_level"] == "sandbox"
    for mode in ("semantic", "keyword", "hybrid"):
        res = search(f, w_tok, query="glacier survey report", mode=mode)
        assert ids_of(res) == [sandboxed], (mode, res)  # never a standard capsule
        res = search(f, s_tok, query="glacier survey report", mode=mode)
        assert set(ids_of(res)) == {standard, coded, sandboxed}, (mode, res)
        res = search(f, s_tok, query="glacier survey report", mode=mode, type="code")
        assert ids_of(res) == [coded], (mode, res)
    r = f.delete("/api/v1/capsules/" + standard, token=f.admin_token())
    assert r.status in (200, 204), r
    for mode in ("semantic", "keyword", "hybrid"):
        res = search(f, s_tok, query="glacier survey report alpha", mode=mode)
        assert standard not in ids_of(res), (mode, res)
        assert all(not x["capsule"]["is_deleted"] for x in res["data"])
    # A context the caller may not read is 404, like a missing one.
    r = f.post(SEARCH, {"query": "glacier", "mode": "hybrid", "context_capsule_id": coded},
               token=w_tok)
    assert_error(r, 404, "not_found")


def test_limit_and_min_score(f):
    tok = f.make_user()["access_token"]
    words = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "glacier", "harbor",
             "indigo", "jasper", "kelp", "lagoon", "meadow", "nickel", "onyx", "prairie"]
    for i in range(30):
        create(f, tok, "widget inventory note %d %s %s" % (i, words[i % 16], words[(i * 5) % 16]))
    create(f, tok, "unrelated chocolate cake")
    for mode in ("semantic", "keyword", "hybrid"):
        assert len(search(f, tok, query="widget inventory", mode=mode)["data"]) == 10, mode
        res = search(f, tok, query="widget inventory", mode=mode, limit=25)
        assert len(res["data"]) == 25 and res["meta"]["count"] == 25, (mode, res["meta"])
        assert len(set(ids_of(res))) == 25
        res = search(f, tok, query="widget inventory", mode=mode, limit=100)
        assert len(res["data"]) == 30 if mode != "hybrid" else len(res["data"]) >= 30, mode
    for ms in (0.0, 0.3, 0.5):
        res = search(f, tok, query="widget inventory note", min_score=ms, limit=100)
        assert res["meta"]["min_score"] == ms
        assert all(x["score"] >= ms for x in res["data"]), (ms, res)
        if ms == 0.0:
            assert len(res["data"]) >= 30  # every widget (cosine may be < 0 for the cake)
    assert search(f, tok, query="widget inventory", min_score=1.0)["data"] == []
    # hybrid: min_score applies to the semantic candidates
    res = search(f, tok, query="widget inventory", mode="hybrid", min_score=1.0, limit=5)
    assert all(x["semantic_rank"] is None for x in res["data"]), res


def test_validation(f):
    tok = f.make_user()["access_token"]
    cases = [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "?!... ---"}, "query"),
        ({"query": "\U0001F525\U0001F525"}, "query"),
        ({"query": "x" * 10001}, "query"),
        ({"query": 5}, "query"),
        ({"query": "a", "mode": "fuzzy"}, "mode"),
        ({"query": "a", "limit": 0}, "limit"),
        ({"query": "a", "limit": 101}, "limit"),
        ({"query": "a", "limit": "5"}, "limit"),
        ({"query": "a", "min_score": 1.5}, "min_score"),
        ({"query": "a", "min_score": -0.1}, "min_score"),
        ({"query": "a", "type": "poem"}, "type"),
        ({"query": "a", "mode": "hybrid", "context_capsule_id": "nope"}, "context_capsule_id"),
        ({"query": "a", "mode": "hybrid", "max_hops": 6}, "max_hops"),
        ({"query": "a", "mode": "hybrid", "max_hops": -1}, "max_hops"),
        ({"query": "a", "context_capsule_id": "01900000-0000-7000-8000-000000000000"},
         "context_capsule_id"),
        ({"query": "a", "mode": "keyword", "max_hops": 1}, "max_hops"),
        ({"query": "a", "filter": {}}, "filter"),
    ]
    for body, field in cases:
        r = f.post(SEARCH, body, token=tok)
        assert_error(r, 422, "validation_error", field)
    for mode in ("semantic", "keyword", "hybrid"):
        r = f.post(SEARCH, {"query": "x" * 10000, "mode": mode}, token=tok)
        assert r.status == 200, (mode, r)
    r = f.post(SEARCH, {"query": "a", "mode": "hybrid",
                        "context_capsule_id": "01900000-0000-7000-8000-000000000000"}, token=tok)
    assert_error(r, 404, "not_found")
    assert "context capsule" in r.json["message"]
    r = f.post(SEARCH, raw=b"{not json", token=tok, headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    r = f.post(SEARCH, {"query": "a"})
    assert_error(r, 401, "authentication_error")


# ---- index lifecycle through the API --------------------------------------------------------

def test_read_your_writes_update_and_metrics(f):
    tok = f.make_user()["access_token"]
    before = metric(f, "forge_search_requests_total", '{mode="semantic"}')
    cid = create(f, tok, "heliograph semaphore relay station")
    res = search(f, tok, query="heliograph semaphore relay")  # no wait: applied synchronously
    assert ids_of(res)[:1] == [cid], res
    r = f.patch("/api/v1/capsules/" + cid, {"content": "carrier pigeon loft schedule"},
                token=tok)
    assert r.status == 200, r
    assert ids_of(search(f, tok, query="carrier pigeon loft"))[:1] == [cid]
    assert cid not in ids_of(search(f, tok, query="heliograph semaphore relay"))
    emb = f.get("/api/v1/capsules/%s?include=embedding" % cid, token=tok).json["data"]
    assert len(emb["embedding"]) == 384  # written back by the index
    assert metric(f, "forge_search_requests_total", '{mode="semantic"}') >= before + 3
    assert metric(f, "forge_search_duration_seconds_count", '{mode="semantic"}') >= 3
    assert metric(f, "forge_embeddings_total", '{provider="local"}') >= 5
    assert metric(f, "forge_index_vectors") == 1
    ready = f.get("/health/ready").json
    assert ready["checks"]["index"] == "ok" and ready["checks"]["index_lag"] == 0, ready
    assert ready["checks"]["index_vectors"] == 1


def wait_for(pred, timeout, step=0.02):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return time.time() - t0
        time.sleep(step)
    raise AssertionError("condition not met within %.1f s" % timeout)


def test_second_process_follows(f):
    tok = f.make_user()["access_token"]
    first = create(f, tok, "aurora borealis photography tips")
    # a second server on the same database (SQLite file or PostgreSQL database)
    g = Forge(data_dir=f.dir, env={"DATABASE_URL": f.env["DATABASE_URL"]})
    try:
        assert g.get("/health/ready").json["checks"]["index_vectors"] == 1
        # Created on the first: the second's follower applies it without any request to it.
        cid = create(f, tok, "basalt column formations in iceland")
        took = wait_for(lambda: g.get("/health/ready").json["checks"]["index_vectors"] == 2, 2.0)
        assert took < 2.0
        print("  follower: created on one process, indexed by the other after %.3f s" % took)
        assert ids_of(search(g, tok, query="basalt column formations"))[:1] == [cid]
        # And the other way round, with read-your-writes on the writer.
        other = create(g, tok, "cobalt glaze pottery kiln")
        assert ids_of(search(g, tok, query="cobalt glaze pottery"))[:1] == [other]
        wait_for(lambda: f.get("/health/ready").json["checks"]["index_vectors"] == 3, 2.0)
        assert ids_of(search(f, tok, query="cobalt glaze pottery"))[:1] == [other]
        # A delete on one disappears from the other.
        assert f.delete("/api/v1/capsules/" + first, token=f.admin_token()).status in (200, 204)
        wait_for(lambda: g.get("/health/ready").json["checks"]["index_vectors"] == 2, 2.0)
        assert first not in ids_of(search(g, tok, query="aurora borealis photography"))
        ready = g.get("/health/ready").json["checks"]
        assert ready["index_lag"] == 0, ready
    finally:
        g.stop()


@sqlite_only
def test_restart_keeps_index(f):
    tok = f.make_user()["access_token"]
    ids = load_corpus(f, tok)
    assert ids_of(search(f, tok, query="chocolate cake recipe"))[:1] == [ids["cake"]]
    assert f.stop() == 0
    assert any(l.get("event") == "index_checkpoint" for l in f.log_lines())
    n_before = len(f.log_lines())
    f.start()
    ready = [l for l in f.log_lines()[n_before:] if l.get("event") == "index_ready"]
    assert ready, f.log()
    assert ready[-1]["source"] == "checkpoint" and ready[-1]["embedded"] == 0, ready[-1]
    assert ready[-1]["vectors"] == len(CORPUS) and ready[-1]["replayed"] == 0, ready[-1]
    assert metric(f, "forge_embeddings_total", '{provider="local"}') == 0  # nothing re-embedded
    assert f.get("/health/ready").json["checks"]["index_vectors"] == len(CORPUS)
    for query, want in QUERIES:
        assert ids_of(search(f, tok, query=query))[:1] == [ids[want]], query
    assert metric(f, "forge_embeddings_total", '{provider="local"}') == len(QUERIES)


class FakeOpenAI:
    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def openai_env(fake, model):
    return {"EMBEDDING_PROVIDER": "openai", "EMBEDDING_BASE_URL": "http://127.0.0.1:%d" % fake.port,
            "EMBEDDING_MODEL": model, "OPENAI_API_KEY": FAKE_KEY, "EMBEDDING_DIMENSIONS": "16",
            "EMBEDDING_TIMEOUT_MS": "2000"}


def test_provider_failure_is_503():
    fake = FakeOpenAI()
    f = Forge(env=openai_env(fake, "fake-500"))
    try:
        tok = f.make_user()["access_token"]
        cid = create(f, tok, "kestrel migration survey")
        for mode in ("semantic", "hybrid"):
            r = f.post(SEARCH, {"query": "kestrel migration", "mode": mode}, token=tok)
            assert_error(r, 503, "service_unavailable")
            assert r.header("Retry-After"), r.headers
            assert "key" not in r.json["message"].lower() or FAKE_KEY not in r.json["message"]
        # Keyword search does not need the provider.
        assert ids_of(search(f, tok, query="kestrel migration", mode="keyword")) == [cid]
        # The capsule waits for an embedding; the instance stays ready.
        ready = f.get("/health/ready")
        assert ready.status == 200 and ready.json["checks"]["index_pending"] == 1, ready
        assert metric(f, "forge_embedding_errors_total", '{provider="openai"}') >= 2
    finally:
        f.close()
        fake.close()


def test_openai_provider_roundtrip():
    fake = FakeOpenAI()
    f = Forge(env=openai_env(fake, "fake-model"))
    try:
        tok = f.make_user()["access_token"]
        a = create(f, tok, "exact text one")
        create(f, tok, "exact text two")
        # The fake's vectors are hashes of the text: only the identical text scores 1.
        res = search(f, tok, query="exact text one", min_score=0.99)
        assert ids_of(res) == [a] and res["data"][0]["score"] > 0.999, res
        assert search(f, tok, query="exact text")["meta"]["min_score"] == 0.7  # neural default
        emb = f.get("/api/v1/capsules/%s?include=embedding" % a, token=tok).json["data"]
        assert len(emb["embedding"]) == 16
    finally:
        f.close()
        fake.close()


if __name__ == "__main__":
    main(globals())
