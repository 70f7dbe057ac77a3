"""The scaled shape (SPEC §1, issue 6): two `forge serve` replicas on one PostgreSQL and one Redis.
A capsule written on one is readable and searchable on the other (the other replica's vector index
follows the store's change feed: within 2 s), a refresh token revoked on one is refused on the
other, and the anonymous per-IP limit is shared (the 101st request across both gets 429)."""
import time

from forgetest import Forge, assert_error, main
from services import PgServer, RedisServer


# Replicas of one deployment share FORGE_MASTER_KEY (it opens the shared key store, schema
# forge_keys); without it each would generate a development key file of its own.
MASTER_KEY = "6d" * 32


def replicas(pg, redis, extra=None):
    env = {"DATABASE_URL": pg.url, "REDIS_URL": redis.url, "FORGE_MASTER_KEY": MASTER_KEY}
    env.update(extra or {})
    a = Forge(env=env)
    b = Forge(env=env)
    return a, b


def test_two_replicas_share_store_and_state():
    pg, redis = PgServer(), RedisServer()
    a = b = None
    try:
        a, b = replicas(pg, redis)
        u = a.make_user()
        tok = u["access_token"]
        r = a.post("/api/v1/capsules", token=tok, body={
            "content": "Rotate the signing keys of the payment gateway every ninety days",
            "type": "decision"})  # policy is reserved for governance (issue 11)
        assert r.status == 201, r
        cid = r.json["data"]["id"]
        # read on the other replica
        r = b.get("/api/v1/capsules/" + cid, token=tok)
        assert r.status == 200 and r.json["data"]["id"] == cid, r
        # searchable on the other replica within 2 s (its own index follows the change feed)
        t0 = time.time()
        found = False
        while time.time() - t0 < 2.0:
            r = b.post("/api/v1/capsules/search", token=tok, body={
                "query": "payment gateway signing keys rotation", "mode": "semantic",
                "min_score": 0.05})
            assert r.status == 200, r
            if any(x["capsule"]["id"] == cid for x in r.json["data"]):
                found = True
                break
            time.sleep(0.1)
        assert found, "not found on the other replica within 2 s"
        ready = b.get("/health/ready")
        assert ready.status == 200, ready
        # keyword search too (the store's full-text engine)
        r = b.post("/api/v1/capsules/search", token=tok,
                   body={"query": "payment gateway", "mode": "keyword"})
        assert r.status == 200 and r.json["data"][0]["capsule"]["id"] == cid, r
        # refresh token revoked on A is refused on B
        r = a.post("/api/v1/auth/logout", body={"refresh_token": u["refresh_token"]}, token=tok)
        assert r.status == 204, r
        assert_error(b.post("/api/v1/auth/refresh", body={"refresh_token": u["refresh_token"]}),
                     401, "authentication_error")
    finally:
        for f in (a, b):
            if f:
                f.close()
        redis.close()
        pg.close()


def test_per_ip_limit_shared():
    pg, redis = PgServer(), RedisServer()
    a = b = None
    try:
        a, b = replicas(pg, redis, {"RATE_LIMIT_REQUESTS_PER_MINUTE": "100"})
        codes = [(a if i % 2 else b).get("/openapi.json").status for i in range(100)]
        assert codes.count(200) == 100, codes
        assert_error(a.get("/openapi.json"), 429, "rate_limit_exceeded")
        assert_error(b.get("/openapi.json"), 429, "rate_limit_exceeded")
    finally:
        for f in (a, b):
            if f:
                f.close()
        redis.close()
        pg.close()


if __name__ == "__main__":
    main(globals())
