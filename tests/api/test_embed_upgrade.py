"""Switching the local embedder from local-hash-v1 (the default) to the experimental local-wordnet-v2 (docs/
embeddings.md, "Upgrading"): a store embedded by v1 makes the new server report reindex_required
naming both spaces, `forge reindex` moves it to local-wordnet-v2, and the reindexed server finds a
capsule through a synonym that v1 cannot match. EMBEDDING_LOCAL_MODEL=local-hash-v1 keeps v1."""
from forgetest import main, sqlite_only

SEARCH = "/api/v1/capsules/search"
TEXTS = ["Staff who are ill should phone their manager before nine",
         "cobalt glaze pottery kiln schedule",
         "basalt column formations in iceland"]


def wait_ready_state(f, timeout=30):
    import time
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            r = f.get("/health/ready", timeout=2)
            if r.json and r.json["checks"].get("index") not in (None, "loading", "starting"):
                return r
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("index never left loading:\n" + f.log())


def top(f, tok, query):
    r = f.post(SEARCH, {"query": query, "mode": "semantic", "min_score": 0}, token=tok)
    assert r.status == 200, r
    if not r.json["data"]:  # nothing at or above 0
        return None, 0.0
    return r.json["data"][0]["capsule"]["id"], r.json["data"][0]["score"]


@sqlite_only
def test_upgrade_v1_to_v2(f):
    tok = f.make_user()["access_token"]
    ids = []
    for t in TEXTS:
        r = f.post("/api/v1/capsules", {"content": t}, token=tok)
        assert r.status == 201, r
        ids.append(r.json["data"]["id"])
    # v1 (the fixture's EMBEDDING_LOCAL_MODEL): "sick" shares nothing with "ill"
    _, s1 = top(f, tok, "sick")
    assert f.stop() == 0

    f.env["EMBEDDING_LOCAL_MODEL"] = "local-wordnet-v2"  # opt in to v2
    f.start(wait_ready=False)
    r = wait_ready_state(f)
    assert r.status == 503 and r.json["checks"]["index"] == "reindex_required", r
    reason = r.json["checks"]["index_reason"]
    assert "local-hash-v1:384" in reason and "local-wordnet-v2:384" in reason, reason
    assert "forge reindex" in reason, reason
    assert f.stop() == 0

    p = f.cli("reindex")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "local-wordnet-v2:384" in p.stdout.splitlines()[0], p.stdout

    f.start()
    tok = f.make_user()["access_token"]
    best, s2 = top(f, tok, "sick")
    assert best == ids[0], (best, ids)
    assert s2 > s1 + 0.1, (s1, s2)
    assert f.stop() == 0

    # Going back to v1 is a change of space too.
    f.env["EMBEDDING_LOCAL_MODEL"] = "local-hash-v1"
    f.start(wait_ready=False)
    assert wait_ready_state(f).json["checks"]["index"] == "reindex_required"


def test_unknown_local_model(f):
    assert f.stop() == 0
    p = f.cli("reindex", env={"EMBEDDING_LOCAL_MODEL": "local-hash-v9"})
    assert p.returncode != 0, p
    assert "EMBEDDING_LOCAL_MODEL" in p.stderr, p.stderr


if __name__ == "__main__":
    main(globals(), fixture_env={"EMBEDDING_LOCAL_MODEL": "local-hash-v1"})
