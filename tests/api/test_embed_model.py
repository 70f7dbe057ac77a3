"""EMBEDDING_PROVIDER=model end to end (docs/embeddings.md, "In-process models"): a small random
BERT written by tests/unit/embed/model/gen_tiny_bert.py (python3 + numpy) serves semantic search,
the index records the model id, and a bad EMBEDDING_MODEL_PATH is a clear startup error."""
import atexit
import os
import shutil
import subprocess
import tempfile

from forgetest import main

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = tempfile.mkdtemp(prefix="forge-api-model-")
atexit.register(shutil.rmtree, MODELS, True)
subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "unit", "embed", "model",
                                                  "gen_tiny_bert.py"), MODELS], check=True)
SEARCH = "/api/v1/capsules/search"


def test_model_search(f):
    tok = f.make_user()["access_token"]
    ids = []
    for t in ("hello world", "the server crash", "travel pay for the car"):
        r = f.post("/api/v1/capsules", {"content": t}, token=tok)
        assert r.status == 201, r
        ids.append(r.json["data"]["id"])
    r = f.post(SEARCH, {"query": "the server crash", "mode": "semantic", "min_score": 0},
               token=tok)
    assert r.status == 200, r
    assert r.json["data"][0]["capsule"]["id"] == ids[1], r.json
    assert r.json["data"][0]["score"] > 0.99, r.json


def test_bad_model_path(f):
    assert f.stop() == 0
    p = f.cli("reindex", env={"EMBEDDING_MODEL_PATH": os.path.join(MODELS, "missing")})
    assert p.returncode != 0, p
    assert "config.json" in p.stderr, p.stderr


if __name__ == "__main__":
    main(globals(), fixture_env={"EMBEDDING_PROVIDER": "model",
                                 "EMBEDDING_MODEL_PATH": os.path.join(MODELS, "mean")})
