"""`forge reindex` through the real binary (SPEC §5, docs/search.md "Reindex"): after a change of
EMBEDDING_DIMENSIONS the server refuses to serve stale vectors (readiness 503 naming the reason,
semantic search 503, keyword search still answers), reindex refuses while a server holds the
index, re-embeds every live capsule with progress lines, and the restarted server loads the new
index without embedding anything."""
import re

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main, sqlite_only

SEARCH = "/api/v1/capsules/search"
TEXTS = ["aurora borealis photography tips", "basalt column formations in iceland",
         "cobalt glaze pottery kiln schedule", "dune ecology field notes",
         "ember glow in forge welding"]


def wait_ready_state(f, timeout=20):
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


@sqlite_only
def test_reindex_after_dimension_change(f):
    tok = f.make_user()["access_token"]
    ids = []
    for t in TEXTS:
        r = f.post("/api/v1/capsules", {"content": t}, token=tok)
        assert r.status == 201, r
        ids.append(r.json["data"]["id"])
    gone = ids.pop()
    assert f.delete("/api/v1/capsules/" + gone, token=f.admin_token()).status in (200, 204)
    r = f.post(SEARCH, {"query": "pottery kiln"}, token=tok)
    assert r.status == 200 and r.json["data"][0]["capsule"]["id"] == ids[2], r
    assert f.stop() == 0

    f.env["EMBEDDING_DIMENSIONS"] = "256"
    f.start(wait_ready=False)
    r = wait_ready_state(f)
    assert r.status == 503, r
    checks = r.json["checks"]
    assert checks["index"] == "reindex_required", checks
    assert "forge reindex" in checks["index_reason"] and "local-wordnet-v2:384" in \
        checks["index_reason"], checks
    tok = f.make_user()["access_token"]
    r = f.post(SEARCH, {"query": "pottery kiln"}, token=tok)
    assert_error(r, 503, "service_unavailable")
    assert "reindex" in r.json["message"], r
    r = f.post(SEARCH, {"query": "pottery kiln", "mode": "keyword"}, token=tok)
    assert r.status == 200 and r.json["data"][0]["capsule"]["id"] == ids[2], r

    # Not while a server holds the index on this host.
    p = f.cli("reindex")
    assert p.returncode != 0, p
    assert "stop it" in p.stderr and ".lock" in p.stderr, p.stderr
    assert f.stop() == 0

    p = f.cli("reindex")
    assert p.returncode == 0, (p.stdout, p.stderr)
    lines = p.stdout.splitlines()
    assert any(re.fullmatch(r"reindex: 4/4 \(100%\)", l) for l in lines), p.stdout
    assert "local-wordnet-v2:256" in lines[0], p.stdout
    assert re.search(r"reindex: done: 4 vectors, 4 texts embedded", p.stdout), p.stdout

    n_before = len(f.log_lines())
    f.start()
    ready = [l for l in f.log_lines()[n_before:] if l.get("event") == "index_ready"][-1]
    assert ready["source"] == "checkpoint" and ready["embedded"] == 0, ready
    assert ready["space"] == "local-wordnet-v2:256" and ready["vectors"] == 4, ready
    r = f.get("/api/v1/capsules/%s?include=embedding" % ids[0], token=tok)
    assert len(r.json["data"]["embedding"]) == 256, r
    r = f.get("/api/v1/capsules/%s?include=embedding&include_deleted=true" % gone,
              token=f.admin_token())
    assert r.status == 200 and r.json["data"]["embedding"] is None, r  # stale one cleared
    for i, t in enumerate(TEXTS[:4]):
        r = f.post(SEARCH, {"query": t}, token=tok)
        assert r.status == 200 and r.json["data"][0]["capsule"]["id"] == ids[i], (t, r)

    # Going back to 384 needs another reindex (the stored embeddings are 256 now).
    assert f.stop() == 0
    del f.env["EMBEDDING_DIMENSIONS"]
    f.start(wait_ready=False)
    assert wait_ready_state(f).json["checks"]["index"] == "reindex_required"


def test_reindex_empty_and_usage(f):
    assert f.stop() == 0
    p = f.cli("reindex")
    assert p.returncode == 0, p
    assert "reindex: done: 0 vectors" in p.stdout, p.stdout
    p = f.cli("reindex", "--bogus")
    assert p.returncode == 2 and "unknown option" in p.stderr, p
    p = f.cli("reindex", "--help")
    assert p.returncode == 0 and "usage: forge reindex" in p.stdout, p


if __name__ == "__main__":
    main(globals())
