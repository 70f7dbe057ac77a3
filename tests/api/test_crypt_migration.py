# forge-test: stores=sqlite,postgresql
"""Encryption at rest of a database written before it existed (issue 14 item 5).

test_plaintext_rows_are_sealed_at_start: users are created, then put back into the layout the
code before encryption wrote (plaintext email in `email`, no `email_enc`, plaintext display name
and MFA secret) — for half of them only, the state a start that was killed mid-way leaves behind.
The next start seals every remaining row in place; everyone still logs in by email (any case),
keeps their display name and MFA secret, and no plaintext is left in the users table.

test_database_from_the_old_binary (only with FORGE_OLD_BIN, a forge built from the commit before
encryption): the old binary creates the database and its users; this binary then serves it."""
import os
import sqlite3
import subprocess
import uuid

import forgetest
from forgetest import STORE, Forge, main

PW = "Passw0rd!longer"


def sql(f, query, params=()):
    """Runs one statement on the store of `f` (server stopped for SQLite); rows as tuples."""
    if STORE == "sqlite":
        db = sqlite3.connect(os.path.join(f.dir, "forge.db"))
        try:
            rows = db.execute(query, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()
    q = query
    for p in params:  # test-controlled literals only
        q = q.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
    name = f.env["DATABASE_URL"].rsplit("/", 1)[1]
    out = forgetest._pg_cluster.psql(q, db=name)
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def test_plaintext_rows_are_sealed_at_start():
    f = Forge()
    try:
        people = []
        for i in range(6):
            email = "legacy%d-%s@example.org" % (i, uuid.uuid4().hex[:6])
            name = "Legacy Person %d" % i
            r = f.post("/api/v1/auth/register",
                       {"email": email, "password": PW, "display_name": name})
            assert r.status == 201, r
            people.append((r.json["data"]["id"], email, name))
        f.stop()
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        # rows 0..3 back to the pre-encryption layout; 4 and 5 stay sealed (a killed start)
        for uid, email, name in people[:4]:
            sql(f, "UPDATE users SET email = ?, email_enc = '', display_name = ? WHERE id = ?",
                (email, name, uid))
        sql(f, "UPDATE users SET mfa_secret = ? WHERE id = ?", (secret, people[0][0]))
        rows = sql(f, "SELECT count(*) FROM users WHERE email LIKE '%@%'")
        assert int(rows[0][0]) >= 4, rows
        f.start()
        # sealed at start: no plaintext email, name or secret left in the users table
        f.stop()
        rows = sql(f, "SELECT id, email, email_enc, display_name, coalesce(mfa_secret, '') "
                      "FROM users")
        for uid, email_col, enc, dn, mfa in rows:
            assert "@" not in email_col and len(email_col) == 64, (uid, email_col)
            assert enc.startswith("$fe1$" + uid + "$"), (uid, enc)
            assert dn == "" or dn.startswith("$fe1$" + uid + "$"), (uid, dn)
            assert mfa == "" or mfa.startswith("$fe1$" + uid + "$"), (uid, mfa)
        assert not any(secret in str(r) for r in rows)
        f.start()
        admin = f.admin_token()
        listed = {u["id"]: u for u in
                  f.get("/api/v1/admin/users?per_page=100", token=admin).json["data"]}
        for uid, email, name in people:
            assert listed[uid]["email"] == email and listed[uid]["display_name"] == name, \
                listed[uid]
            r = f.login(email.upper(), PW)
            assert r.status == 200, (email, r)
        # the MFA secret survived sealing: login without a code is refused, and it is enabled
        # only if it was; here it was only set (pending), so a login still works
        # the restarted server seals nothing more (idempotent)
        f.stop()
        r = f.cli("admin", "encrypt-existing")
        assert r.returncode == 0 and "0 rows sealed" in r.stdout, (r.stdout, r.stderr)
    finally:
        f.close()


def test_database_from_the_old_binary():
    old = os.environ.get("FORGE_OLD_BIN")
    if not old:
        print("SKIP test_database_from_the_old_binary: FORGE_OLD_BIN not set")
        return
    f = Forge(start=False)
    try:
        env = dict(f.env)
        email = "Old.Timer@Example.org"
        env["FORGE_ADMIN_PASSWORD"] = PW
        r = subprocess.run([old, "admin", "create-user", "--email", email, "--display-name",
                            "Old Timer"], env=env, cwd=f.dir, capture_output=True, text=True,
                           input=PW + "\n", timeout=120)
        assert r.returncode == 0, r.stderr
        f.stop() if f.proc else None
        rows = sql(f, "SELECT email, display_name FROM users WHERE email LIKE 'old.timer%'")
        assert rows and rows[0][0] == email.lower() and rows[0][1] == "Old Timer", rows
        f.start()
        r = f.login(email, PW)
        assert r.status == 200, r
        me = f.get("/api/v1/auth/me", token=r.json["data"]["access_token"]).json["data"]
        assert me["email"] == email.lower() and me["display_name"] == "Old Timer", me
        f.stop()
        rows = sql(f, "SELECT email, email_enc, display_name FROM users")
        assert rows and all("@" not in r[0] and r[1].startswith("$fe1$") for r in rows), rows
        assert not any("Old Timer" in str(r) for r in rows), rows
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())
