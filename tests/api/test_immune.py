# forge-test: stores=sqlite,postgresql
"""Immune system: IP blocking after failed logins (SPEC §3.3, §7.2) and the responses list.

Clients are told apart through X-Forwarded-For from a trusted proxy (127.0.0.1), so the attacker
can be blocked while the admin, connecting directly, still reads the responses."""
import datetime
import time

from forgetest import Forge, assert_error, main

ATTACKER = {"X-Forwarded-For": "198.51.100.9"}
BYSTANDER = {"X-Forwarded-For": "198.51.100.10"}


def fail_login(f, headers, i):
    # distinct unknown emails: only the per-IP counter moves, no account lockout
    return f.login("nobody%d@example.com" % i, "Wr0ngPassword", headers=headers)


def test_ip_block_after_failures_and_listing():
    f = Forge(env={"IP_MAX_FAILURES": "4", "TRUSTED_PROXIES": "127.0.0.1"})
    try:
        admin = f.admin_token()
        for i in range(4):
            r = fail_login(f, ATTACKER, i)
            assert_error(r, 401, "authentication_error")
        # blocked: 403 on every route, including ones that need no auth and unknown ones
        for method, path in (("GET", "/openapi.json"), ("GET", "/api/v1/auth/me"),
                             ("POST", "/api/v1/auth/login"), ("GET", "/no/such/route")):
            r = f.request(method, path, headers=ATTACKER)
            assert_error(r, 403, "authorization_error")
            assert r.json["details"]["rule"] == "ip_block" and "blocked_until" in r.json["details"]
            assert int(r.header("Retry-After")) > 3500, r.headers
        # a correct login from the blocked IP is refused too
        assert f.login(Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD, headers=ATTACKER).status == 403
        # liveness and metrics stay reachable; other clients are unaffected
        assert f.get("/health", headers=ATTACKER).status == 200
        assert f.get("/openapi.json", headers=BYSTANDER).status == 200
        assert f.get("/openapi.json").status == 200

        r = f.get("/api/v1/immune/responses", token=admin)
        assert r.status == 200, r
        assert r.json["meta"] == {"total": 1, "page": 1, "per_page": 20, "pages": 1}, r.json
        x = r.json["data"][0]
        assert x["threat_type"] == "brute_force" and x["level"] == "high", x
        assert x["target_type"] == "ip" and x["target_id"] == "198.51.100.9", x
        assert x["action"] == "block_ip" and x["reason"] == "4 failed logins within 5 minutes", x
        assert x["details"] == {"failures": 4, "window_s": 300, "block_s": 3600}, x
        created = datetime.datetime.fromisoformat(x["created_at"].replace("Z", "+00:00"))
        expires = datetime.datetime.fromisoformat(x["expires_at"].replace("Z", "+00:00"))
        assert abs((expires - created).total_seconds() - 3600) < 1, x
        assert abs(created.timestamp() - time.time()) < 120, x
        # filters
        q = "/api/v1/immune/responses?"
        assert len(f.get(q + "threat_type=brute_force", token=admin).json["data"]) == 1
        assert f.get(q + "threat_type=manual", token=admin).json["data"] == []
        assert f.get(q + "target_type=user", token=admin).json["data"] == []
        assert len(f.get(q + "target_type=ip", token=admin).json["data"]) == 1
        assert f.get(q + "since=2999-01-01T00:00:00Z", token=admin).json["data"] == []
        assert len(f.get(q + "since=2000-01-01T00:00:00Z", token=admin).json["data"]) == 1
        for bad in ("threat_type=virus", "target_type=planet", "since=yesterday", "per_page=101",
                    "page=0"):
            assert_error(f.get(q + bad, token=admin), 422, "validation_error")
        # admins only
        u = f.make_user()
        r = f.get("/api/v1/immune/responses", token=u["access_token"])
        assert_error(r, 403, "authorization_error")
        assert_error(f.get("/api/v1/immune/responses"), 401)
        m = f.get("/metrics").body
        assert 'forge_immune_responses_total{threat_type="brute_force"} 1' in m, \
            [x for x in m.splitlines() if "immune" in x]
        # the block survives a restart (reloaded from the store)
        f.stop()
        f.start()
        assert f.get("/openapi.json", headers=ATTACKER).status == 403
        assert f.get("/openapi.json", headers=BYSTANDER).status == 200
    finally:
        f.close()


def test_ip_block_expires():
    f = Forge(env={"IP_MAX_FAILURES": "2", "IP_BLOCK_S": "2", "TRUSTED_PROXIES": "127.0.0.1"})
    try:
        fail_login(f, ATTACKER, 0)
        fail_login(f, ATTACKER, 1)
        assert f.get("/openapi.json", headers=ATTACKER).status == 403
        deadline = time.time() + 10
        while f.get("/openapi.json", headers=ATTACKER).status == 403:
            assert time.time() < deadline, "block did not expire"
            time.sleep(0.25)
        # counting starts afresh after the block: one failure does not block again
        assert fail_login(f, ATTACKER, 2).status == 401
        assert f.get("/openapi.json", headers=ATTACKER).status == 200
    finally:
        f.close()


def test_ip_failure_window():
    """Failures count within IP_FAILURE_WINDOW_S of the first one; older ones are forgotten."""
    f = Forge(env={"IP_MAX_FAILURES": "3", "IP_FAILURE_WINDOW_S": "2",
                   "TRUSTED_PROXIES": "127.0.0.1"})
    try:
        fail_login(f, ATTACKER, 0)
        fail_login(f, ATTACKER, 1)
        time.sleep(2.3)  # the window itself is what is under test
        fail_login(f, ATTACKER, 2)
        fail_login(f, ATTACKER, 3)
        assert f.get("/openapi.json", headers=ATTACKER).status == 200
        fail_login(f, ATTACKER, 4)
        assert f.get("/openapi.json", headers=ATTACKER).status == 403
    finally:
        f.close()


def test_default_ip_threshold_is_ten(f: Forge):
    f.stop()
    f.env["TRUSTED_PROXIES"] = "127.0.0.1"
    f.start()
    for i in range(9):
        assert fail_login(f, ATTACKER, i).status == 401
    assert f.get("/openapi.json", headers=ATTACKER).status == 200
    assert fail_login(f, ATTACKER, 9).status == 401
    r = f.get("/openapi.json", headers=ATTACKER)
    assert_error(r, 403, "authorization_error")


if __name__ == "__main__":
    main(globals())
