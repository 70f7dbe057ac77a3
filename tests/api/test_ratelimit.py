# forge-test: stores=sqlite,postgresql
"""Rate limits (SPEC §3.6): fixed one-minute windows per user (by trust) or per client IP,
X-RateLimit-* headers, 429 at limit + 1 with Retry-After, exemptions, TRUSTED_PROXIES."""
import time

from forgetest import Forge, assert_error, main

PROBE = "/openapi.json"  # anonymous, not exempt, cheap


def fresh_window(f, path=PROBE, **kw):
    """Makes sure the current window has ≥ 15 s left (waiting out the minute if needed), then
    returns the first response of a new window."""
    r = f.get(path, **kw)
    reset = int(r.header("X-RateLimit-Reset"))
    if reset < 15:
        time.sleep(reset + 0.3)
        r = f.get(path, **kw)
    return r


def test_anonymous_limit_headers_and_429():
    f = Forge(env={"RATE_LIMIT_REQUESTS_PER_MINUTE": "5", "FORGE_TEST_CLOCK": "1"})
    try:
        admin = f.admin_token()  # per-user bucket: does not touch the anonymous one
        clock = [0]

        def advance(seconds):  # the service clock (windows follow it), not a sleep
            clock[0] += int(seconds * 1000)
            assert f.post("/api/v1/admin/test/clock", {"offset_ms": clock[0]},
                          token=admin).status == 200

        r = f.get(PROBE)
        advance(int(r.header("X-RateLimit-Reset")))  # the start of a fresh window
        r = f.get(PROBE)
        assert r.status == 200, r
        assert r.header("X-RateLimit-Limit") == "5"
        seen = [int(r.header("X-RateLimit-Remaining"))]
        reset = int(r.header("X-RateLimit-Reset"))
        assert 1 <= reset <= 60, reset
        while True:
            r = f.get(PROBE)
            if r.status == 429:
                break
            assert r.status == 200, r
            seen.append(int(r.header("X-RateLimit-Remaining")))
        assert seen == [4, 3, 2, 1, 0], seen  # 5 admitted; the 429 is request 6
        assert_error(r, 429, "rate_limit_exceeded")
        assert r.header("X-RateLimit-Limit") == "5" and r.header("X-RateLimit-Remaining") == "0"
        retry = int(r.header("Retry-After"))
        assert 1 <= retry <= 60 and r.json["details"]["limit"] == 5, r
        assert r.json["details"]["retry_after_s"] == retry
        # refused before the handler: a POST with a bad body is 429, not 400
        assert f.post("/api/v1/auth/login", raw=b"{").status == 429
        # exempt routes: no limit, no headers
        for p in ("/health", "/health/ready", "/metrics"):
            h = f.get(p)
            assert h.status == 200 and h.header("X-RateLimit-Limit") is None, (p, h.headers)
        m = f.get("/metrics").body
        line = [x for x in m.splitlines() if x.startswith("forge_rate_limited_total")]
        assert line and float(line[0].split()[-1]) >= 2, line
        # the next window admits requests again
        advance(retry)
        r = f.get(PROBE)
        assert r.status == 200 and r.header("X-RateLimit-Remaining") == "4", r
    finally:
        f.close()


def test_per_user_limit_by_trust():
    f = Forge(env={"RATE_LIMIT_STANDARD": "3", "RATE_LIMIT_SANDBOX": "2"})
    try:
        u = f.make_user()
        tok = u["access_token"]
        r = fresh_window(f, "/api/v1/auth/me", token=tok)
        statuses = [r.status]
        while r.status == 200 and len(statuses) < 10:
            r = f.get("/api/v1/auth/me", token=tok)
            statuses.append(r.status)
        assert statuses[-1] == 429 and r.header("X-RateLimit-Limit") == "3", (statuses, r)
        assert statuses == [200, 200, 200, 429], statuses
        # the per-user bucket is not the per-IP one: anonymous requests still pass
        assert f.get(PROBE).status == 200
        # another user has their own bucket; the admin (core) limit is the default 10000
        assert f.get("/api/v1/admin/users", token=f.admin_token()).header(
            "X-RateLimit-Limit") == "10000"
        v = f.make_user(trust="sandbox")
        r = f.get("/api/v1/auth/me", token=v["access_token"])
        assert r.status == 200 and r.header("X-RateLimit-Limit") == "2", r.headers
    finally:
        f.close()


def test_rate_limit_disabled():
    f = Forge(env={"RATE_LIMIT_ENABLED": "false", "RATE_LIMIT_REQUESTS_PER_MINUTE": "1"})
    try:
        for _ in range(4):
            r = f.get(PROBE)
            assert r.status == 200 and r.header("X-RateLimit-Limit") is None, r.headers
    finally:
        f.close()


def test_client_ip_from_trusted_proxy_only():
    f = Forge(env={"RATE_LIMIT_REQUESTS_PER_MINUTE": "2", "TRUSTED_PROXIES": "127.0.0.1"})
    try:
        a = {"X-Forwarded-For": "203.0.113.7"}
        b = {"X-Forwarded-For": "203.0.113.8"}
        fresh_window(f, headers={"X-Forwarded-For": "203.0.113.99"})
        assert f.get(PROBE, headers=a).status == 200
        assert f.get(PROBE, headers=a).status == 200
        assert f.get(PROBE, headers=a).status == 429
        assert f.get(PROBE, headers=b).status == 200  # another client behind the proxy
    finally:
        f.close()
    # without TRUSTED_PROXIES the header is ignored: every request is the socket's address
    f = Forge(env={"RATE_LIMIT_REQUESTS_PER_MINUTE": "2"})
    try:
        fresh_window(f)
        codes = [f.get(PROBE, headers={"X-Forwarded-For": "198.51.100.%d" % i}).status
                 for i in range(3)]
        assert 429 in codes, codes
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())
