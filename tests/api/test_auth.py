# forge-test: stores=sqlite,postgresql
"""Identity: accounts, passwords, tokens, lockout, MFA, bootstrap (SPEC §3, issue 3).

Tokens are also forged here with the test JWT_SECRET (Python hmac) to prove the server checks
what it must: expiry, type, algorithm, signature, session state.
"""
import base64
import hashlib
import hmac
import json
import struct
import time

from forgetest import Forge, assert_error, main, token_claims

POLICY = ("password must be 8-128 characters with at least one upper-case letter, "
          "one lower-case letter and one digit")
SECRET = b"test-secret-0123456789-0123456789-abcdef"
PW = "Passw0rd!x"


# ---- helpers ---------------------------------------------------------------------------
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_jwt(header, claims, key=SECRET, alg="sha256"):
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    msg = (h + "." + p).encode()
    sig = hmac.new(key, msg, getattr(hashlib, alg)).digest() if alg else b""
    return h + "." + p + "." + b64url(sig)


def totp(secret_b32, t, digits=6, step=30):
    """RFC 6238 TOTP (HMAC-SHA-1) computed independently of the server."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t // step)), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return "%0*d" % (digits, code)


def register(f, email, password=PW, **extra):
    body = {"email": email, "password": password}
    body.update(extra)
    return f.post("/api/v1/auth/register", body)


def assert_401_bearer(r, message=None):
    assert_error(r, 401, "authentication_error")
    assert (r.header("WWW-Authenticate") or "").startswith("Bearer"), r.headers
    if message:
        assert message in r.json["message"], r


# ---- accounts --------------------------------------------------------------------------
def test_register_validation_and_conflict(f: Forge):
    r = register(f, "Alice.Smith@Example.COM", display_name="Alice")
    assert r.status == 201, r
    u = r.json["data"]
    assert u["email"] == "alice.smith@example.com"
    assert u["trust_level"] == "standard" and u["roles"] == ["user"], u
    assert u["display_name"] == "Alice" and u["mfa_enabled"] is False and u["disabled"] is False
    assert "password" not in r.body and "argon2" not in r.body
    # case-insensitive uniqueness, without account enumeration (issue 11, finding 13: this was a
    # 409): a taken email answers 201 of the same shape, creates nothing, changes nothing
    r2 = register(f, "ALICE.SMITH@example.com", password="An0therPassword")
    assert r2.status == 201 and set(r2.json["data"]) == set(u) and r2.json["data"]["id"] != u["id"]
    assert f.login("alice.smith@example.com", PW).status == 200
    assert f.login("alice.smith@example.com", "An0therPassword").status == 401
    # password policy, exact message; boundaries 8 and 128
    for bad in ["Aa1aaaa", "alllower1x", "ALLUPPER1X", "NoDigitsHere", "Aa1" + "a" * 126, ""]:
        r = register(f, "p%d@example.com" % len(bad), bad)
        assert_error(r, 422, "validation_error", field="password")
        if bad:
            assert r.json["message"] == POLICY, r
    assert register(f, "eight@example.com", "Aa1aaaaa").status == 201
    assert register(f, "long@example.com", "Aa1" + "a" * 125).status == 201
    # emails
    for bad in ["plain", "a@b", "a@@b.com", "a b@example.com", "a@-x.com", ".a@example.com",
                "a..b@example.com", "a@example.c0m", "x" * 245 + "@example.com"]:
        assert_error(register(f, bad), 422, "validation_error", field="email")
    # display name ≤ 100, no unknown fields
    assert_error(register(f, "dn@example.com", display_name="x" * 101), 422, field="display_name")
    assert_error(register(f, "uf@example.com", role="admin"), 422, field="role")
    assert_error(f.post("/api/v1/auth/register", raw=b"{", headers={
        "Content-Type": "application/json"}), 400, "bad_request")


def test_login_tokens_and_me(f: Forge):
    register(f, "bob@example.com")
    r = f.login("BOB@example.com", PW)
    assert r.status == 200, r
    d = r.json["data"]
    assert d["token_type"] == "bearer" and d["expires_in"] == 900, d
    assert d["user"]["email"] == "bob@example.com" and d["user"]["last_login_at"]
    a, rt = token_claims(d["access_token"]), token_claims(d["refresh_token"])
    hdr = json.loads(base64.urlsafe_b64decode(d["access_token"].split(".")[0] + "=="))
    assert hdr == {"alg": "HS256", "typ": "JWT"}, hdr
    assert a["type"] == "access" and a["sub"] == d["user"]["id"] and a["email"] == "bob@example.com"
    assert a["trust_level"] == "standard" and a["roles"] == ["user"], a
    assert a["exp"] - a["iat"] == 900 and abs(a["iat"] - time.time()) < 60, a
    assert a["jti"] and a["sid"], a
    assert rt["type"] == "refresh" and rt["exp"] - rt["iat"] == 7 * 86400 and rt["jti"] != a["jti"]
    assert rt["sid"] == a["sid"] and "roles" not in rt
    me = f.get("/api/v1/auth/me", token=d["access_token"])
    assert me.status == 200 and me.json["data"]["id"] == a["sub"], me
    # PATCH me: display name ≤ 100 characters (code points)
    r = f.patch("/api/v1/auth/me", {"display_name": "é" * 100}, token=d["access_token"])
    assert r.status == 200 and r.json["data"]["display_name"] == "é" * 100, r
    assert_error(f.patch("/api/v1/auth/me", {"display_name": "x" * 101}, token=d["access_token"]),
                 422, field="display_name")
    assert_error(f.patch("/api/v1/auth/me", {"email": "x@example.com"}, token=d["access_token"]),
                 422, field="email")
    # wrong password and unknown email: the same answer
    w = f.login("bob@example.com", "Wrong-passw0rd")
    n = f.login("nobody@example.com", "Wrong-passw0rd")
    assert_401_bearer(w)
    assert_401_bearer(n)
    assert w.json == n.json, (w.json, n.json)


def test_unknown_email_costs_an_argon2_verify(f: Forge):
    register(f, "timing@example.com")
    def t(email):
        t0 = time.monotonic()
        assert f.login(email, "Wrong-passw0rd").status == 401
        return time.monotonic() - t0
    known = sorted(t("timing@example.com") for _ in range(3))[1]
    unknown = sorted(t("ghost-%d@example.com" % i) for i in range(3))[1]
    # both spend one Argon2id verify (~0.1 s and up); a skipped verify would be ~1 ms
    assert unknown > 0.25 * known and unknown > 0.03, (known, unknown)


def test_missing_and_invalid_tokens(f: Forge):
    assert_401_bearer(f.get("/api/v1/auth/me"), "authentication required")
    assert_401_bearer(f.get("/api/v1/auth/me", headers={"Authorization": "Basic YTpi"}))
    assert_401_bearer(f.get("/api/v1/auth/me", token="not-a-jwt"))
    register(f, "carol@example.com")
    d = f.login("carol@example.com", PW).json["data"]
    tok = d["access_token"]
    good = token_claims(tok)
    h, p, s = tok.split(".")
    # tampered signature (flip one character), tampered payload with the old signature
    bad_sig = h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:]
    assert_401_bearer(f.get("/api/v1/auth/me", token=bad_sig), "signature")
    evil = dict(good, roles=["admin"], trust_level="core")
    tampered = h + "." + b64url(json.dumps(evil).encode()) + "." + s
    assert_401_bearer(f.get("/api/v1/admin/users", token=tampered), "signature")
    # truncated, extra segment, padding
    assert_401_bearer(f.get("/api/v1/auth/me", token=h + "." + p))
    assert_401_bearer(f.get("/api/v1/auth/me", token=tok + ".x"))
    assert_401_bearer(f.get("/api/v1/auth/me", token=tok + "="))
    # alg none (no signature), alg HS512 (signed with the right key!), extra header field
    none = b64url(b'{"alg":"none","typ":"JWT"}') + "." + p + "."
    assert_401_bearer(f.get("/api/v1/auth/me", token=none), "algorithm")
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS512", "typ": "JWT"}, good, alg="sha512")), "algorithm")
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS256", "kid": "x"}, good)))
    # correctly signed but expired / from the future / wrong type / wrong key
    now = int(time.time())
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS256", "typ": "JWT"}, dict(good, iat=now - 1000, exp=now - 5))), "expired")
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS256"}, dict(good, iat=now + 3600, exp=now + 4000))), "future")
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS256"}, dict(good, type="refresh"))), "type")
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS256"}, good, key=b"another-secret-0123456789-0123456789")), "signature")
    # a well-formed token for a session that does not exist
    assert_401_bearer(f.get("/api/v1/auth/me", token=forge_jwt(
        {"alg": "HS256"}, dict(good, sid="01890a5d-ac96-774b-bcce-b302099a8057"))), "revoked")
    # the same token re-signed correctly still works (the forgery helper is faithful)
    assert f.get("/api/v1/auth/me", token=forge_jwt({"alg": "HS256"}, good)).status == 200


def test_token_type_confusion(f: Forge):
    register(f, "dave@example.com")
    d = f.login("dave@example.com", PW).json["data"]
    assert_401_bearer(f.get("/api/v1/auth/me", token=d["refresh_token"]), "type")
    assert_401_bearer(f.post("/api/v1/auth/refresh", {"refresh_token": d["access_token"]}), "type")
    assert_error(f.post("/api/v1/auth/refresh", {}), 422, field="refresh_token")


def test_refresh_rotation_and_reuse(f: Forge):
    register(f, "erin@example.com")
    d1 = f.login("erin@example.com", PW).json["data"]
    r = f.post("/api/v1/auth/refresh", {"refresh_token": d1["refresh_token"]})
    assert r.status == 200, r
    d2 = r.json["data"]
    assert d2["access_token"] != d1["access_token"] and d2["refresh_token"] != d1["refresh_token"]
    assert token_claims(d2["refresh_token"])["sid"] == token_claims(d1["refresh_token"])["sid"]
    assert d2["token_type"] == "bearer" and d2["user"]["email"] == "erin@example.com"
    assert f.get("/api/v1/auth/me", token=d2["access_token"]).status == 200
    r = f.post("/api/v1/auth/refresh", {"refresh_token": d2["refresh_token"]})
    assert r.status == 200, r
    d3 = r.json["data"]
    # replaying d1's (already used) refresh token: reuse → the whole session is revoked
    r = f.post("/api/v1/auth/refresh", {"refresh_token": d1["refresh_token"]})
    assert_401_bearer(r, "reuse")
    assert_401_bearer(f.post("/api/v1/auth/refresh", {"refresh_token": d3["refresh_token"]}),
                      "revoked")
    for t in (d1, d2, d3):
        assert_401_bearer(f.get("/api/v1/auth/me", token=t["access_token"]), "revoked")
    # a new login is a new session and works
    d4 = f.login("erin@example.com", PW).json["data"]
    assert f.get("/api/v1/auth/me", token=d4["access_token"]).status == 200


def test_logout_revokes_only_that_session(f: Forge):
    register(f, "frank@example.com")
    a = f.login("frank@example.com", PW).json["data"]
    b = f.login("frank@example.com", PW).json["data"]
    assert_401_bearer(f.post("/api/v1/auth/logout"))
    r = f.post("/api/v1/auth/logout", token=a["access_token"])
    assert r.status == 204 and r.body == "", r
    assert_401_bearer(f.get("/api/v1/auth/me", token=a["access_token"]), "revoked")
    assert_401_bearer(f.post("/api/v1/auth/refresh", {"refresh_token": a["refresh_token"]}))
    assert_401_bearer(f.post("/api/v1/auth/logout", token=a["access_token"]))
    assert f.get("/api/v1/auth/me", token=b["access_token"]).status == 200
    # sessions are in the store: a restart keeps the revocation and the live session
    f.stop()
    f.start()
    assert_401_bearer(f.get("/api/v1/auth/me", token=a["access_token"]))
    assert f.get("/api/v1/auth/me", token=b["access_token"]).status == 200


def test_change_password(f: Forge):
    register(f, "gina@example.com")
    a = f.login("gina@example.com", PW).json["data"]
    b = f.login("gina@example.com", PW).json["data"]
    url = "/api/v1/auth/me/password"
    assert_401_bearer(f.post(url, {"current_password": PW, "new_password": "N3wPassword"}))
    r = f.post(url, {"current_password": "Wr0ngPassword", "new_password": "N3wPassword"},
               token=a["access_token"])
    assert_error(r, 422, "validation_error", field="current_password")
    r = f.post(url, {"current_password": PW, "new_password": "weak"}, token=a["access_token"])
    assert_error(r, 422, field="new_password")
    assert r.json["message"] == POLICY
    r = f.post(url, {"current_password": PW, "new_password": "N3wPassword"},
               token=a["access_token"])
    assert r.status == 204, r
    assert f.get("/api/v1/auth/me", token=a["access_token"]).status == 200  # this session stays
    assert_401_bearer(f.get("/api/v1/auth/me", token=b["access_token"]), "revoked")
    assert_401_bearer(f.post("/api/v1/auth/refresh", {"refresh_token": b["refresh_token"]}))
    assert f.post("/api/v1/auth/refresh", {"refresh_token": a["refresh_token"]}).status == 200
    assert_401_bearer(f.login("gina@example.com", PW))
    assert f.login("gina@example.com", "N3wPassword").status == 200


def test_default_lockout_numbers(f: Forge):
    """5 consecutive failures lock for 15 minutes (defaults), message says so."""
    register(f, "henry@example.com")
    for i in range(4):
        r = f.login("henry@example.com", "Wr0ngPassword")
        assert_401_bearer(r, "invalid email or password")
    r = f.login("henry@example.com", "Wr0ngPassword")
    assert_error(r, 401, "authentication_error")
    assert r.json["message"] == "account locked for 15 minutes after 5 failed logins", r
    assert r.json["details"]["reason"] == "locked" and 895 <= r.json["details"]["retry_after_s"] <= 900
    assert r.header("Retry-After")
    # the lock is checked before the password: the right password is refused too
    r = f.login("henry@example.com", PW)
    assert r.status == 401 and "locked" in r.json["message"], r
    # another account is unaffected
    register(f, "iris@example.com")
    assert f.login("iris@example.com", PW).status == 200


def test_lockout_and_unlock_after_window():
    f = Forge(env={"LOGIN_LOCKOUT_S": "2", "IP_MAX_FAILURES": "1000"})
    try:
        register(f, "jack@example.com")
        for i in range(4):
            assert_401_bearer(f.login("jack@example.com", "Wr0ngPassword"), "invalid")
        r = f.login("jack@example.com", "Wr0ngPassword")
        assert r.json["message"] == "account locked for 2 seconds after 5 failed logins", r
        assert "locked_until" in r.json["details"]
        assert "locked" in f.login("jack@example.com", PW).json["message"]
        # an unknown email behaves the same (no account enumeration through lockout)
        for i in range(5):
            r = f.login("ghost@example.com", "Wr0ngPassword")
        assert "locked" in r.json["message"], r
        deadline = time.time() + 10
        while True:
            r = f.login("jack@example.com", PW)
            if r.status == 200:
                break
            assert "locked" in r.json["message"] and time.time() < deadline, r
            time.sleep(0.5)
        # success resets the consecutive-failure counter: 4 more failures do not lock
        for i in range(4):
            assert "invalid" in f.login("jack@example.com", "Wr0ngPassword").json["message"]
        assert f.login("jack@example.com", PW).status == 200
        m = f.get("/metrics").body
        assert 'forge_logins_total{result="locked"}' in m and \
            'forge_logins_total{result="success"}' in m
    finally:
        f.close()


def wait_step_margin(offset_s):
    """Waits until the TOTP step (at real time + offset) has ≥ 4 s left, so a code computed now
    is still in the same step when the server checks it."""
    while (time.time() + offset_s) % 30 > 26:
        time.sleep(0.2)


def test_mfa_flow():
    assert totp(base64.b32encode(b"12345678901234567890").decode(), 59, digits=8) == "94287082"
    f = Forge(env={"FORGE_TEST_CLOCK": "1", "LOGIN_MAX_FAILURES": "50"})
    try:
        admin = f.admin_token()
        off = [0]

        def shift(seconds):
            off[0] += seconds
            r = f.post("/api/v1/admin/test/clock", {"offset_ms": off[0] * 1000}, token=admin)
            assert r.status == 200, r

        def code(delta=0):
            wait_step_margin(off[0])
            return totp(secret, time.time() + off[0] + delta)

        u = f.make_user()
        tok = u["access_token"]
        r = f.post("/api/v1/auth/mfa/setup", token=tok)
        assert r.status == 200, r
        secret = r.json["data"]["secret"]
        uri = r.json["data"]["otpauth_uri"]
        assert len(secret) == 32 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        assert uri.startswith("otpauth://totp/Forge:") and "secret=" + secret in uri, uri
        assert "issuer=Forge" in uri and "digits=6" in uri and "period=30" in uri, uri
        # not enabled until verified: login still works without a code
        assert f.login(u["email"], u["password"]).status == 200
        assert_error(f.post("/api/v1/auth/mfa/verify", {"code": "000000"}, token=tok), 422,
                     field="code")
        c0 = code()
        r = f.post("/api/v1/auth/mfa/verify", {"code": c0}, token=tok)
        assert r.status == 200 and r.json["data"]["mfa_enabled"] is True, r
        assert f.get("/api/v1/auth/me", token=tok).json["data"]["mfa_enabled"] is True
        assert_error(f.post("/api/v1/auth/mfa/setup", token=tok), 409, "conflict")
        # login now needs the code
        # (issue 11, finding 14: the answer without a code or with a wrong one is the answer
        # to a wrong password, so a right password is never confirmed by it)
        wrong = f.login(u["email"], "Wr0ngPassword")
        assert_error(wrong, 401, "authentication_error")
        r = f.login(u["email"], u["password"])
        assert_error(r, 401, "authentication_error")
        assert (r.json["message"], r.json["details"]) == \
            (wrong.json["message"], wrong.json["details"]), (r, wrong)
        r = f.login(u["email"], u["password"], mfa_code="123")
        assert r.status == 401 and r.json["message"] == wrong.json["message"], r
        bad = "%06d" % ((int(c0) + 1) % 1000000)
        assert f.login(u["email"], u["password"], mfa_code=bad).status == 401
        # a code works once: the one used for verify is refused (RFC 6238 §5.2)
        assert f.login(u["email"], u["password"], mfa_code=c0).status == 401
        # a wrong password with a right code is still a wrong password
        assert f.login(u["email"], "Wr0ngPassword", mfa_code=code(30)).status == 401
        shift(30)
        r = f.login(u["email"], u["password"], mfa_code=code())
        assert r.status == 200, r
        # ±1 step: 60 s later, the previous and the next step are accepted, ±2 are not
        shift(60)
        assert f.login(u["email"], u["password"], mfa_code=code(-30)).status == 200
        assert f.login(u["email"], u["password"], mfa_code=code(+30)).status == 200
        assert f.login(u["email"], u["password"], mfa_code=code(-60)).status == 401
        assert f.login(u["email"], u["password"], mfa_code=code(+60)).status == 401
        # disable needs a valid (unused) code
        assert_error(f.post("/api/v1/auth/mfa/disable", {"code": bad}, token=tok), 422,
                     field="code")
        shift(90)
        r = f.post("/api/v1/auth/mfa/disable", {"code": code()}, token=tok)
        assert r.status == 200 and r.json["data"]["mfa_enabled"] is False, r
        assert_error(f.post("/api/v1/auth/mfa/disable", {"code": code()}, token=tok), 409)
        assert f.login(u["email"], u["password"]).status == 200
    finally:
        f.close()


def test_test_clock_hook_is_off_by_default(f: Forge):
    r = f.post("/api/v1/admin/test/clock", {"offset_ms": 1000}, token=f.admin_token())
    assert_error(r, 404, "not_found")


def test_bootstrap_admin_from_env(f: Forge):
    r = f.login(Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)
    assert r.status == 200, r
    u = r.json["data"]["user"]
    assert u["roles"] == ["admin"] and u["trust_level"] == "core", u
    assert f.get("/api/v1/admin/users", token=r.json["data"]["access_token"]).status == 200
    # only when no admin exists: a restart with another password changes nothing
    f.stop()
    f.env["FORGE_ADMIN_PASSWORD"] = "Different1Passw0rd"
    f.start()
    r = f.login(Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)
    assert r.status == 200, r
    r = f.get("/api/v1/admin/users", token=r.json["data"]["access_token"])
    admins = [x for x in r.json["data"] if "admin" in x["roles"]]
    assert len(admins) == 1, r.json


def test_bootstrap_admin_password_policy():
    f = Forge(env={"FORGE_ADMIN_PASSWORD": "weak"}, start=False)
    try:
        try:
            f.start(timeout=10)
            raise AssertionError("started with a weak FORGE_ADMIN_PASSWORD")
        except RuntimeError as e:
            assert "FORGE_ADMIN_PASSWORD" in str(e), e
        assert f.proc.returncode == 2, f.proc.returncode
    finally:
        f.close()


def test_cli_create_user(f: Forge):
    no_env = {"FORGE_ADMIN_PASSWORD": ""}
    r = f.cli("admin", "create-user", "--email", "Ops@Example.org", "--role", "admin",
              "--trust", "core", "--display-name", "Ops", input="0psPassword\n", env=no_env)
    assert r.returncode == 0, (r.stdout, r.stderr)
    u = json.loads(r.stdout.strip().splitlines()[-1])
    assert u["email"] == "ops@example.org" and u["roles"] == ["admin"] and u["trust_level"] == "core"
    d = f.login("ops@example.org", "0psPassword")
    assert d.status == 200 and d.json["data"]["user"]["display_name"] == "Ops", d
    assert f.get("/api/v1/admin/users", token=d.json["data"]["access_token"]).status == 200
    # FORGE_ADMIN_PASSWORD is used when set; several roles; defaults trust standard
    r = f.cli("admin", "create-user", "--email", "op2@example.org", "--role", "operator,trusted",
              env={"FORGE_ADMIN_PASSWORD": "Op2Passw0rd"})
    assert r.returncode == 0, r.stderr
    u = json.loads(r.stdout.strip().splitlines()[-1])
    assert u["roles"] == ["trusted", "operator"] and u["trust_level"] == "standard", u
    # taken email, weak password, bad usage
    r = f.cli("admin", "create-user", "--email", "ops@example.org", input="0psPassword\n",
              env=no_env)
    assert r.returncode == 1 and "already exists" in r.stderr, r
    r = f.cli("admin", "create-user", "--email", "weak@example.org", input="weak\n", env=no_env)
    assert r.returncode == 2 and POLICY in r.stderr, r
    assert f.cli("admin", "create-user", "--role", "admin").returncode == 2
    assert f.cli("admin", "create-user", "--email", "x@example.org", "--role", "root").returncode == 2
    assert f.cli("admin", "create-user", "--email", "x@example.org", "--trust", "max").returncode == 2


def test_openapi_documents_auth(f: Forge):
    doc = f.get("/openapi.json").json
    for p in ("/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh",
              "/api/v1/auth/logout", "/api/v1/auth/me", "/api/v1/auth/me/password",
              "/api/v1/auth/mfa/setup", "/api/v1/auth/mfa/verify", "/api/v1/auth/mfa/disable",
              "/api/v1/admin/users", "/api/v1/immune/responses"):
        assert p in doc["paths"], p


if __name__ == "__main__":
    main(globals())
