"""Shared state in a real Redis (REDIS_URL): rate-limit windows, sessions, IP state and the
embedding cache shared by two replicas on one store, and the behaviour while Redis is down: authentication state fails
closed (503), rate limiting fails open (requests still served, logged)."""
import threading

from forgetest import Forge, assert_error, main
from services import RedisServer


def two_replicas(redis, extra=None):
    """Two forge serve processes on one SQLite file and one Redis."""
    env = {"REDIS_URL": redis.url}
    env.update(extra or {})
    a = Forge(env=env)
    b = Forge(env=dict(env, DATABASE_URL=a.env["DATABASE_URL"]), data_dir=a.dir)
    return a, b


def test_anonymous_limit_shared_across_replicas():
    redis = RedisServer()
    a = b = None
    try:
        a, b = two_replicas(redis, {"RATE_LIMIT_REQUESTS_PER_MINUTE": "100"})
        statuses = []
        for i in range(100):
            statuses.append((a if i % 2 else b).get("/openapi.json").status)
        assert statuses.count(200) == 100, statuses
        r = a.get("/openapi.json")
        assert_error(r, 429, "rate_limit_exceeded")
        assert r.header("Retry-After")
        r = b.get("/openapi.json")
        assert_error(r, 429, "rate_limit_exceeded")
        assert a.get("/health").status == 200  # exempt
        assert redis.cli("DBSIZE") != "0"
    finally:
        for f in (a, b):
            if f:
                f.close()
        redis.close()


def test_refresh_revocation_seen_by_other_replica():
    redis = RedisServer()
    a = b = None
    try:
        a, b = two_replicas(redis)
        u = a.make_user()
        r = b.get("/api/v1/auth/me", token=u["access_token"])
        assert r.status == 200, r
        r = a.post("/api/v1/auth/logout", body={"refresh_token": u["refresh_token"]},
                   token=u["access_token"])
        assert r.status == 204, r
        r = b.post("/api/v1/auth/refresh", body={"refresh_token": u["refresh_token"]})
        assert_error(r, 401, "authentication_error")
        r = b.get("/api/v1/auth/me", token=u["access_token"])
        assert_error(r, 401, "authentication_error")
    finally:
        for f in (a, b):
            if f:
                f.close()
        redis.close()


def test_redis_down_fails_closed_for_auth_open_for_limits():
    redis = RedisServer()
    f = None
    try:
        f = Forge(env={"REDIS_URL": redis.url, "RATE_LIMIT_REQUESTS_PER_MINUTE": "1000"})
        u = f.make_user()
        assert f.get("/api/v1/auth/me", token=u["access_token"]).status == 200
        redis.close()
        # the IP-block check and rate limiting fail open: anonymous routes still answer
        r = f.get("/openapi.json")
        assert r.status == 200, r
        assert r.header("X-RateLimit-Limit") is None  # no window could be counted
        events = [l.get("event") for l in f.log_lines()]
        assert "rate_limit_unavailable" in events and "ip_block_check_unavailable" in events
        # authentication state fails closed
        r = f.login(u["email"], u["password"])
        assert_error(r, 503, "service_unavailable")
        r = f.get("/api/v1/auth/me", token=u["access_token"])
        assert_error(r, 503, "service_unavailable")
        assert f.proc.poll() is None
        assert f.get("/health").status == 200
    finally:
        if f:
            f.close()


def test_embedding_cache_shared_through_redis():
    import json
    import urllib.request
    from test_search import FakeOpenAI, openai_env
    fake, redis = FakeOpenAI(), RedisServer()
    a = b = None
    try:
        a, b = two_replicas(redis, openai_env(fake, "text-embedding-3-small"))
        tok = a.make_user()["access_token"]

        def provider_requests():
            url = "http://127.0.0.1:%d/_control/stats" % fake.port
            return json.load(urllib.request.urlopen(url))["requests"]
        q = {"query": "kestrel migration survey notes", "mode": "semantic", "min_score": 0}
        assert a.post("/api/v1/capsules/search", token=tok, body=q).status == 200
        n = provider_requests()
        assert n >= 1
        # the other replica finds the query's embedding in Redis: no provider call
        assert b.post("/api/v1/capsules/search", token=tok, body=q).status == 200
        assert provider_requests() == n
        keys = redis.cli("--scan", "--pattern", "emb:*").split()
        assert keys and int(redis.cli("PTTL", keys[0])) > 6 * 86400 * 1000  # 7-day TTL
    finally:
        for f in (a, b):
            if f:
                f.close()
        redis.close()
        fake.close()


def test_start_refused_when_redis_unreachable():
    f = Forge(env={"REDIS_URL": "redis://127.0.0.1:1/0"}, start=False)
    try:
        p = f.cli("serve", timeout=30)
        assert p.returncode != 0 and "REDIS_URL" in (p.stderr + p.stdout), (p.returncode, p.stderr)
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())
