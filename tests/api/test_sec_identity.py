# forge-test: stores=sqlite,postgresql
"""Issue 11, identity findings: a token's session bound to its subject (11), registration without
account enumeration (13), no password confirmation before the second factor (14), display names
without control, bidirectional or markup characters.

Tokens are forged with the test JWT_SECRET (as in test_auth.py) to play an attacker who holds it.
"""
import base64
import hashlib
import hmac
import json
import statistics
import time

from forgetest import Forge, assert_error, main, token_claims

SECRET = b"test-secret-0123456789-0123456789-abcdef"
PW = "Passw0rd!x"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_jwt(claims):
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(SECRET, (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64url(sig)


def register(f, email, password=PW, **extra):
    body = {"email": email, "password": password}
    body.update(extra)
    return f.post("/api/v1/auth/register", body)


def totp(secret_b32, t, digits=6, step=30):
    import struct
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t // step)), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return "%0*d" % (digits, code)


# ---- finding 11: sid bound to sub ------------------------------------------------------------
def test_token_sub_must_own_its_session(f: Forge):
    a, b = f.make_user(), f.make_user()
    # a's session is now cached as active ("sess:<sid>") by a's own request
    assert f.get("/api/v1/auth/me", token=a["access_token"]).status == 200
    ca, cb = token_claims(a["access_token"]), token_claims(b["access_token"])
    # a correctly signed token: a's live, cached session, b's identity
    evil = dict(ca, sub=cb["sub"], email=cb["email"])
    r = f.get("/api/v1/auth/me", token=forge_jwt(evil))
    assert_error(r, 401, "authentication_error")
    assert "subject" in r.json["message"], r
    # twice (the refusal must not have cached anything that lets the next one through)
    assert f.get("/api/v1/auth/me", token=forge_jwt(evil)).status == 401
    # the same with a session that was never cached before the forged token arrives
    c = f.make_user()
    cc = token_claims(c["access_token"])
    assert f.get("/api/v1/auth/me", token=forge_jwt(dict(cc, sub=cb["sub"]))).status == 401
    # and the owners' own tokens still work afterwards
    for u in (a, b, c):
        assert f.get("/api/v1/auth/me", token=u["access_token"]).status == 200


# ---- finding 13: registration does not reveal taken emails -------------------------------------
def test_register_taken_email_is_indistinguishable(f: Forge):
    r1 = register(f, "taken@example.com", display_name="First")
    assert r1.status == 201, r1
    t0 = time.monotonic()
    r2 = register(f, "Taken@Example.com", password="Oth3rPassword", display_name="Second")
    taken_s = time.monotonic() - t0
    t0 = time.monotonic()
    r3 = register(f, "free@example.com", display_name="Second")
    free_s = time.monotonic() - t0
    assert r2.status == r3.status == 201, (r2, r3)
    d2, d3 = r2.json["data"], r3.json["data"]
    assert set(d2) == set(d3) and set(r2.json) == set(r3.json), (r2, r3)
    for k in d2:
        assert type(d2[k]) is type(d3[k]), k
    assert d2["email"] == "taken@example.com" and d2["display_name"] == "Second"
    assert d2["trust_level"] == d3["trust_level"] and d2["roles"] == d3["roles"]
    assert len(d2["id"]) == 36 and d2["id"] != r1.json["data"]["id"]
    # both spend an Argon2 hash (a taken email used to answer before hashing)
    assert taken_s > 0.4 * free_s, (taken_s, free_s)
    # nothing changed for the owner; the attempt is reported out of band
    assert f.login("taken@example.com", PW).status == 200
    assert f.login("taken@example.com", "Oth3rPassword").status == 401
    admin = f.admin_token()
    r = f.get("/api/v1/admin/audit?action=auth.register_conflict", token=admin)
    assert r.status == 200, r
    items = r.json["data"]
    assert len(items) == 1 and items[0]["resource_id"] == r1.json["data"]["id"], items
    users = f.get("/api/v1/admin/users?per_page=100", token=admin).json["data"]
    assert [u["email"] for u in users].count("taken@example.com") == 1
    assert d2["id"] not in [u["id"] for u in users]


# ---- finding 14: the password is not confirmed before the second factor ------------------------
def test_mfa_answer_does_not_confirm_password():
    f = Forge(env={"LOGIN_MAX_FAILURES": "50", "IP_MAX_FAILURES": "1000"})
    try:
        u = f.make_user()
        r = f.post("/api/v1/auth/mfa/setup", token=u["access_token"])
        secret = r.json["data"]["secret"]
        while time.time() % 30 > 26:
            time.sleep(0.2)
        r = f.post("/api/v1/auth/mfa/verify", {"code": totp(secret, time.time())},
                   token=u["access_token"])
        assert r.status == 200, r

        def shape(r):
            return (r.status, r.json["code"], r.json["message"], r.json["details"],
                    r.header("WWW-Authenticate"))

        timings = {"wrong": [], "right": []}
        answers = {}
        for i in range(3):
            for kind, pw in (("wrong", "Wr0ngPassword"), ("right", u["password"])):
                t0 = time.monotonic()
                r = f.login(u["email"], pw)
                timings[kind].append(time.monotonic() - t0)
                answers.setdefault(kind, shape(r))
                assert shape(r) == answers[kind], r
        assert answers["right"] == answers["wrong"], answers
        assert answers["right"][0] == 401
        # a wrong code with the right password: the same answer again
        r = f.login(u["email"], u["password"], mfa_code="000000")
        assert shape(r) == answers["wrong"], r
        # the right password costs the same Argon2 verify as a wrong one (no early answer)
        right, wrong = statistics.median(timings["right"]), statistics.median(timings["wrong"])
        assert right > 0.5 * wrong and wrong > 0.5 * right, timings
        # the right password and code still log in (the next step: the current one was used)
        while time.time() % 30 > 26:
            time.sleep(0.2)
        r = f.login(u["email"], u["password"], mfa_code=totp(secret, time.time() + 30))
        assert r.status == 200, r
    finally:
        f.close()


def test_mfa_missing_code_counts_toward_lockout():
    """The lockout must not tell a right password apart either: a right password without its
    code counts as a failure, so 2 wrong + 1 right-without-code locks like 3 wrong."""
    f = Forge(env={"LOGIN_MAX_FAILURES": "3", "IP_MAX_FAILURES": "1000", "LOGIN_LOCKOUT_S": "60"})
    try:
        u = f.make_user()
        secret = f.post("/api/v1/auth/mfa/setup", token=u["access_token"]).json["data"]["secret"]
        while time.time() % 30 > 26:
            time.sleep(0.2)
        assert f.post("/api/v1/auth/mfa/verify", {"code": totp(secret, time.time())},
                      token=u["access_token"]).status == 200
        for pw in ("Wr0ngPassword", "Wr0ngPassword"):
            assert "locked" not in f.login(u["email"], pw).json["message"]
        r = f.login(u["email"], u["password"])
        assert r.status == 401 and "locked" in r.json["message"], r
    finally:
        f.close()


# ---- display_name ------------------------------------------------------------------------------
BAD_NAMES = {
    "bidi override RLO": "evil\u202Egnp.exe",
    "bidi embedding LRE": "a\u202Ab",
    "bidi PDF": "a\u202Cb",
    "bidi isolate LRI": "a\u2066b",
    "bidi isolate PDI": "a\u2069b",
    "bidi mark RLM": "a\u200Fb",
    "arabic letter mark": "a\u061Cb",
    "C0 tab": "a\tb",
    "C0 newline": "a\nb",
    "C0 escape": "a\x1b[31mred",
    "DEL": "a\x7fb",
    "C1 NEL": "a\u0085b",
    "C1 CSI": "a\u009bb",
    "markup": "<script>alert(1)</script>",
    "lone >": "a > b",
}
GOOD_NAMES = ["Ada Lovelace", "Zoë O'Brien-Ñúñez", "李小龙", "محمد", "שלום", "🙂 emoji",
              "a & b", "x" * 100]


def test_display_name_refuses_control_bidi_and_markup(f: Forge):
    u = f.make_user()
    for i, (what, name) in enumerate(BAD_NAMES.items()):
        r = register(f, "dn%d@example.com" % i, display_name=name)
        assert_error(r, 422, "validation_error", field="display_name")
        assert "display_name" in r.json["message"], (what, r)
        r = f.patch("/api/v1/auth/me", {"display_name": name}, token=u["access_token"])
        assert_error(r, 422, "validation_error", field="display_name")
    for i, name in enumerate(GOOD_NAMES):
        r = register(f, "ok%d@example.com" % i, display_name=name)
        assert r.status == 201 and r.json["data"]["display_name"] == name, (name, r)
        r = f.patch("/api/v1/auth/me", {"display_name": name}, token=u["access_token"])
        assert r.status == 200 and r.json["data"]["display_name"] == name, (name, r)


if __name__ == "__main__":
    main(globals())
