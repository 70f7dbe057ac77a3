# forge-test: stores=sqlite,postgresql
"""Admin user management and the permission matrix per role (SPEC §3.1–3.2, issue 3)."""
import uuid

from forgetest import Forge, assert_error, main, token_claims

ADMIN_ROUTES = [
    # method, path template, body, permission
    ("GET", "/api/v1/admin/users", None, "admin:users"),
    ("GET", "/api/v1/admin/users/{id}", None, "admin:users"),
    ("PUT", "/api/v1/admin/users/{id}/trust", {"trust_level": "trusted"}, "admin:users"),
    ("PUT", "/api/v1/admin/users/{id}/roles", {"roles": ["user", "trusted"]}, "admin:users"),
    ("POST", "/api/v1/admin/users/{id}/disable", None, "admin:users"),
    ("POST", "/api/v1/admin/users/{id}/enable", None, "admin:users"),
    ("GET", "/api/v1/immune/responses", None, "admin:system"),
]


def test_permission_matrix(f: Forge):
    target = f.make_user()
    callers = {
        "user": f.make_user(role="user"),
        "trusted": f.make_user(role="trusted", trust="trusted"),
        "operator": f.make_user(role="operator", trust="trusted"),
        "admin": f.make_user(role="admin", trust="core"),
    }
    assert token_claims(callers["operator"]["access_token"])["roles"] == ["operator"]
    assert token_claims(callers["admin"]["access_token"])["trust_level"] == "core"
    for method, tmpl, body, perm in ADMIN_ROUTES:
        path = tmpl.replace("{id}", target["id"])
        r = f.request(method, path, body=body)
        assert_error(r, 401, "authentication_error")
        assert r.header("WWW-Authenticate"), r
        for role in ("user", "trusted", "operator"):
            r = f.request(method, path, body=body, token=callers[role]["access_token"])
            assert_error(r, 403, "authorization_error")
            assert r.json["details"]["permission"] == perm, (role, path, r)
            assert perm in r.json["message"], r
        r = f.request(method, path, body=body, token=callers["admin"]["access_token"])
        assert r.status == 200, (path, r)
    # the bootstrap admin has the same rights
    assert f.get("/api/v1/admin/users", token=f.admin_token()).status == 200


def test_list_pagination(f: Forge):
    for i in range(3):
        f.post("/api/v1/auth/register", {"email": "p%d@example.com" % i, "password": "Passw0rd!x"})
    tok = f.admin_token()
    r = f.get("/api/v1/admin/users?per_page=2", token=tok)
    assert r.status == 200, r
    assert r.json["meta"] == {"total": 4, "page": 1, "per_page": 2, "pages": 2}, r.json["meta"]
    first = [u["email"] for u in r.json["data"]]
    assert first == ["p2@example.com", "p1@example.com"], first  # newest first
    r = f.get("/api/v1/admin/users?per_page=2&page=2", token=tok)
    assert [u["email"] for u in r.json["data"]] == ["p0@example.com", Forge.ADMIN_EMAIL]
    assert f.get("/api/v1/admin/users?page=3&per_page=2", token=tok).json["data"] == []
    r = f.get("/api/v1/admin/users", token=tok)
    assert r.json["meta"]["per_page"] == 20 and r.json["meta"]["page"] == 1
    assert "password_hash" not in r.body and "argon2" not in r.body and "mfa_secret" not in r.body
    assert f.get("/api/v1/admin/users?per_page=100", token=tok).status == 200
    for q in ("per_page=0", "per_page=101", "page=0", "page=x"):
        assert_error(f.get("/api/v1/admin/users?" + q, token=tok), 422, "validation_error")


def test_trust_and_roles_take_effect_immediately(f: Forge):
    u = f.make_user()
    tok, admin = u["access_token"], f.admin_token()
    base = "/api/v1/admin/users/" + u["id"]
    assert f.get("/api/v1/auth/me", token=tok).header("X-RateLimit-Limit") == "1000"
    # trust: each level changes the caller's per-minute limit at once (live state, old token)
    for level, limit in (("core", "10000"), ("trusted", "2000"), ("sandbox", "100"),
                         ("standard", "1000")):
        r = f.put(base + "/trust", {"trust_level": level}, token=admin)
        assert r.status == 200 and r.json["data"]["trust_level"] == level, r
        me = f.get("/api/v1/auth/me", token=tok)
        assert me.json["data"]["trust_level"] == level
        assert me.header("X-RateLimit-Limit") == limit, (level, me.headers)
    # roles: promotion and demotion apply to the existing token on the next request
    assert f.get("/api/v1/admin/users", token=tok).status == 403
    r = f.put(base + "/roles", {"roles": ["admin"]}, token=admin)
    assert r.status == 200 and r.json["data"]["roles"] == ["admin"], r
    assert f.get("/api/v1/admin/users", token=tok).status == 200
    r = f.put(base + "/roles", {"roles": ["user"]}, token=admin)
    assert f.get("/api/v1/admin/users", token=tok).status == 403
    # validation
    assert_error(f.put(base + "/trust", {"trust_level": "god"}, token=admin), 422,
                 field="trust_level")
    assert_error(f.put(base + "/trust", {}, token=admin), 422, field="trust_level")
    assert_error(f.put(base + "/roles", {"roles": []}, token=admin), 422, field="roles")
    assert_error(f.put(base + "/roles", {"roles": ["root"]}, token=admin), 422, field="roles")
    assert_error(f.put(base + "/roles", {"roles": "admin"}, token=admin), 422, field="roles")
    missing = "/api/v1/admin/users/" + str(uuid.uuid4())
    assert_error(f.put(missing + "/trust", {"trust_level": "core"}, token=admin), 404, "not_found")
    assert_error(f.get(missing, token=admin), 404, "not_found")
    assert_error(f.get("/api/v1/admin/users/not-a-uuid", token=admin), 404, "not_found")
    # an admin cannot remove their own admin role
    me_id = token_claims(admin)["sub"]
    r = f.put("/api/v1/admin/users/%s/roles" % me_id, {"roles": ["user"]}, token=admin)
    assert_error(r, 409, "conflict")
    # quarantine by an admin is an immune response (SPEC §7.3)
    r = f.put(base + "/trust", {"trust_level": "quarantine"}, token=admin)
    assert r.status == 200
    assert f.get("/api/v1/auth/me", token=tok).header("X-RateLimit-Limit") == "10"
    r = f.get("/api/v1/immune/responses?target_type=user", token=admin)
    items = r.json["data"]
    assert len(items) == 1 and items[0]["target_id"] == u["id"], items
    assert items[0]["threat_type"] == "manual" and items[0]["action"] == "quarantine_user"
    # audited
    r = f.get("/api/v1/admin/audit?action=admin.user_trust_changed", token=admin)
    assert r.status == 200 and len(r.json["data"]) == 5, r


def test_disable_and_enable(f: Forge):
    u = f.make_user()
    admin = f.admin_token()
    base = "/api/v1/admin/users/" + u["id"]
    r = f.post(base + "/disable", token=admin)
    assert r.status == 200 and r.json["data"]["disabled"] is True, r
    # tokens stop working, refresh too, and the correct password cannot log in
    r = f.get("/api/v1/auth/me", token=u["access_token"])
    assert_error(r, 401, "authentication_error")
    assert_error(f.post("/api/v1/auth/refresh", {"refresh_token": u["refresh_token"]}), 401)
    r = f.login(u["email"], u["password"])
    assert_error(r, 403, "authorization_error")
    assert r.json["message"] == "account disabled", r
    # the wrong password still gets the generic answer (no state disclosed)
    assert_error(f.login(u["email"], "Wr0ngPassword"), 401, "authentication_error")
    # an admin cannot disable themselves
    me_id = token_claims(admin)["sub"]
    assert_error(f.post("/api/v1/admin/users/%s/disable" % me_id, token=admin), 409, "conflict")
    r = f.post(base + "/enable", token=admin)
    assert r.status == 200 and r.json["data"]["disabled"] is False, r
    r = f.login(u["email"], u["password"])
    assert r.status == 200, r
    assert f.get("/api/v1/auth/me", token=r.json["data"]["access_token"]).status == 200
    # old session stays revoked after re-enabling
    assert_error(f.get("/api/v1/auth/me", token=u["access_token"]), 401)
    for action in ("admin.user_disabled", "admin.user_enabled"):
        r = f.get("/api/v1/admin/audit?action=" + action, token=admin)
        assert r.status == 200 and len(r.json["data"]) == 1, (action, r)
        assert r.json["data"][0]["resource_id"] == u["id"], r.json


def test_make_user_helper(f: Forge):
    u = f.make_user(role=["trusted", "operator"], trust="trusted", email="helper@example.com")
    assert set(u) == {"id", "email", "password", "access_token", "refresh_token"}
    c = token_claims(u["access_token"])
    assert c["roles"] == ["trusted", "operator"] and c["trust_level"] == "trusted"
    assert c["email"] == "helper@example.com" and c["sub"] == u["id"]


if __name__ == "__main__":
    main(globals())
