# forge-test: stores=sqlite,postgresql
"""Encryption at rest (issue 14, docs/privacy.md): after a realistic API session, no email,
display name, client IP or TOTP secret appears in clear anywhere in what the store keeps — the
raw bytes of the SQLite files (database, WAL, key store), or on PostgreSQL a pg_dump of the whole
database — while the API still shows them (so they are stored, sealed, not dropped)."""
import base64
import glob
import hashlib
import hmac
import os
import struct
import subprocess
import time

from forgetest import STORE, Forge, main

EMAIL = "Privacy.Alice.7731@Example.org"
NAME = "Alicja Privacytesterówna"
NAME2 = "Renamed Privacytester"
IP_LOGIN = "203.0.113.77"
IP_ATTACK = "198.51.100.201"
PW = "Passw0rd!longer"


def totp(secret_b32, t, step=30):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t // step)), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** 6)


def session(f):
    """Register, log in through a proxy, set up MFA, rename, get an IP blocked. Returns the
    secrets that must not appear in clear."""
    hdr = {"X-Forwarded-For": IP_LOGIN}
    r = f.post("/api/v1/auth/register", {"email": EMAIL, "password": PW, "display_name": NAME},
               headers=hdr)
    assert r.status == 201, r
    uid = r.json["data"]["user"]["id"] if "user" in r.json["data"] else r.json["data"]["id"]
    r = f.login(EMAIL.lower(), PW, headers=hdr)
    assert r.status == 200, r
    # by a differently-cased email: the blind index is computed on the normalised email
    r = f.login(EMAIL.upper(), PW, headers=hdr)
    assert r.status == 200, r
    tok = r.json["data"]["access_token"]
    r = f.post("/api/v1/auth/mfa/setup", token=tok, headers=hdr)
    assert r.status == 200, r
    secret = r.json["data"]["secret"]
    while time.time() % 30 > 26:
        time.sleep(0.2)
    r = f.post("/api/v1/auth/mfa/verify", {"code": totp(secret, time.time())}, token=tok,
               headers=hdr)
    assert r.status == 200 and r.json["data"]["mfa_enabled"] is True, r
    r = f.patch("/api/v1/auth/me", {"display_name": NAME2}, token=tok, headers=hdr)
    assert r.status == 200, r
    # wrong passwords from another address until it is blocked (immune response + audit)
    for i in range(3):
        f.login(EMAIL, "Wr0ngPassword%d" % i, headers={"X-Forwarded-For": IP_ATTACK})
    assert f.get("/openapi.json", headers={"X-Forwarded-For": IP_ATTACK}).status == 403

    # the API still shows everything in clear to those allowed to see it
    me = f.get("/api/v1/auth/me", token=tok).json["data"]
    assert me["email"] == EMAIL.lower() and me["display_name"] == NAME2, me
    admin = f.admin_token()
    r = f.get("/api/v1/admin/audit?per_page=100", token=admin)
    assert r.status == 200, r
    ips = {e.get("client_ip") for e in r.json["data"]}
    assert IP_LOGIN in ips and IP_ATTACK in ips, ips
    r = f.get("/api/v1/immune/responses", token=admin)
    assert [x["target_id"] for x in r.json["data"]] == [IP_ATTACK], r.json
    users = f.get("/api/v1/admin/users?per_page=100", token=admin).json["data"]
    assert any(u["email"] == EMAIL.lower() and u["display_name"] == NAME2 for u in users), users
    return uid, secret


def needles(secret):
    out = []
    for s in (EMAIL, EMAIL.lower(), "privacy.alice.7731", NAME, NAME2, "Privacytester",
              IP_LOGIN, IP_ATTACK, secret, Forge.ADMIN_EMAIL):
        out.append(s.encode())
    return out


def assert_absent(blob, what, secret):
    low = blob.lower()
    for n in needles(secret):
        assert n.lower() not in low, "%r found in clear in %s" % (n, what)


def sqlite_files(f):
    return [p for p in glob.glob(os.path.join(f.dir, "*"))
            if os.path.basename(p).startswith(("forge.db", "keys.db"))]


def test_no_personal_data_in_clear_at_rest():
    f = Forge(env={"TRUSTED_PROXIES": "127.0.0.1", "IP_MAX_FAILURES": "3",
                   "LOGIN_MAX_FAILURES": "50"})
    try:
        uid, secret = session(f)
        if STORE == "sqlite":
            files = sqlite_files(f)
            names = {os.path.basename(p) for p in files}
            assert "forge.db" in names and "keys.db" in names, names
            # read while the server runs (WAL not checkpointed), then after a clean stop
            for p in files:
                with open(p, "rb") as fh:
                    assert_absent(fh.read(), p, secret)
            f.stop()
            for p in sqlite_files(f):
                with open(p, "rb") as fh:
                    blob = fh.read()
                assert_absent(blob, p, secret)
                if os.path.basename(p) == "forge.db":
                    assert b"$fe1$" + uid.encode() in blob, "no sealed value of the user found"
                    assert b"CREATE TABLE data_keys" not in blob, "keys inside the data file"
        else:
            url = f.env["DATABASE_URL"]
            pgdump = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1]
            out = subprocess.run([pgdump, "--no-owner", "--dbname", url], check=True,
                                 capture_output=True, timeout=120).stdout
            assert b"$fe1$" + uid.encode() in out
            assert b"forge_keys" in out  # the key store schema (wrapped keys only)
            assert_absent(out, "pg_dump", secret)
            # forge backup leaves the key store out of the data dump
            bk = os.path.join(f.dir, "data.dump")
            r = f.cli("backup", bk)
            assert r.returncode == 0, r.stderr
            lst = subprocess.run([pgdump.replace("pg_dump", "pg_restore"), "--list", bk],
                                 check=True, capture_output=True, timeout=60).stdout
            assert b"forge_keys" not in lst and b"users" in lst, lst
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())
