"""The `forge` client against a real `forge serve`: session (login with and without MFA, profiles,
credentials file, refresh, revocation), capsules, search, proposals, output modes, exit codes,
retries of 429. Every command is run in human and --json form."""
import json
import os
import stat
import subprocess
import threading
import time

from clitest import Client, api_list, totp, wait_step_margin
from forgetest import FORGE_BIN, Forge, main

ADMIN = (Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)


def admin_client(f):
    c = Client(f)
    c.login(*ADMIN).check_returncode()
    return c


# ---- usage and help ---------------------------------------------------------------------------
def test_help_usage_and_exit_1():
    c = Client()
    r = c.ok("help")
    for cmd in ("login", "capsule create", "search", "import", "proposal vote", "serve"):
        assert cmd in r.stdout, cmd
    assert "exit codes" in r.stdout and "4  conflict" in r.stdout
    r = c.ok("help", "capsule", "create")
    assert r.stdout.startswith("usage: forge capsule create [CONTENT]"), r.stdout
    assert "--file PATH" in r.stdout and "--profile NAME" in r.stdout
    assert c.ok("capsule", "create", "--help").stdout == r.stdout  # one source
    assert "create" in c.ok("capsule", "--help").stdout
    r = c.run("capsule", "list", "--bogus", check=1)
    assert "unknown option '--bogus'" in r.stderr, r.stderr
    assert "unknown command 'frobnicate'" in c.run("capsule", "frobnicate", check=1).stderr
    assert "usage: forge capsule get ID" in c.run("capsule", "get", check=1).stderr
    assert c.run("search", "--url", "ftp://x", "q", check=1).stderr.startswith(
        "forge: server URL must start with http://")
    assert "not logged in" in c.run("capsule", "list", check=3).stderr


# ---- session ----------------------------------------------------------------------------------
def test_login_whoami_status_logout(f: Forge):
    c = Client(f)
    r = c.login(*ADMIN)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Logged in to %s as %s (admin, trust core)." % (f.url, ADMIN[0])
    # credentials: 0600 file in a 0700 directory, tokens not printed
    st = os.stat(c.creds_path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert stat.S_IMODE(os.stat(os.path.dirname(c.creds_path)).st_mode) == 0o700
    prof = c.creds()["profiles"]["default"]
    assert prof["url"] == f.url and prof["email"] == ADMIN[0]
    assert prof["access_token"] not in r.stdout + r.stderr
    # whoami: human and json (the API's data unchanged)
    r = c.ok("whoami")
    assert "admin@forge.test" in r.stdout and "trust_level" in r.stdout and f.url in r.stdout
    me = f.get("/api/v1/auth/me", token=prof["access_token"]).json
    assert c.json("whoami") == me
    assert c.ok("whoami", "-q").stdout.strip() == me["data"]["id"]
    # status
    r = c.ok("status")
    assert "ready" in r.stdout and "0.1.0" in r.stdout and "active (admin@forge.test)" in r.stdout
    assert "store" in r.stdout and "index" in r.stdout
    s = c.json("status")
    assert s["ready"]["status"] == "ready" and s["health"]["version"] == "0.1.0"
    assert s["user"]["email"] == ADMIN[0] and s["session"] == "active"
    # login --json prints the account, never the tokens
    r = c.run("login", f.url, "--email", ADMIN[0], "--password-stdin", "--json",
              input=ADMIN[1] + "\n", check=0)
    out = json.loads(r.stdout)
    assert out["data"]["email"] == ADMIN[0] and "access_token" not in r.stdout
    tok = c.creds()["profiles"]["default"]["access_token"]
    # logout revokes on the server and forgets locally
    assert c.ok("logout").stdout.strip() == "Logged out of %s." % f.url
    assert f.get("/api/v1/auth/me", token=tok).status == 401
    assert "access_token" not in c.creds()["profiles"]["default"]
    r = c.run("whoami", check=3)
    assert "not logged in to %s" % f.url in r.stderr and "forge login" in r.stderr
    assert c.ok("logout").stdout.startswith("Not logged in")
    # status works without a session
    assert "not logged in" in c.ok("status").stdout


def test_register_then_logged_in(f: Forge):
    c = Client(f)
    r = c.run("register", f.url, "--email", "New.User@forge.test", "--password-stdin",
              input="Passw0rdPassw0rd\n", check=0)
    assert r.stdout.splitlines() == [
        "Registered New.User@forge.test on %s." % f.url,
        "Logged in to %s as new.user@forge.test (user, trust standard)." % f.url], r.stdout
    assert c.json("whoami")["data"]["email"] == "new.user@forge.test"
    r = c.run("register", f.url, "--email", "x@forge.test", "--password-stdin", input="short\n",
              check=1)
    assert "field: password" in r.stderr, r.stderr
    # an email that is taken is refused (409, or 401 once registration hides taken emails)
    r = c.run("register", f.url, "--email", "new.user@forge.test", "--password-stdin",
              input="Other0ne-Password\n")
    assert r.returncode in (3, 4), r


def test_bad_credentials_and_unreachable(f: Forge):
    c = Client(f)
    r = c.login(ADMIN[0], "Wr0ngPassword!")
    assert r.returncode == 3, r
    assert "invalid email or password, or a missing or wrong mfa_code (401 authentication_error)" in r.stderr, r.stderr
    assert not os.path.exists(c.creds_path)
    r = c.run("login", f.url, "--email", ADMIN[0], check=1)  # no terminal, no password
    assert "--password-stdin" in r.stderr
    r = c.run("status", "--url", "http://127.0.0.1:9", check=5)
    assert "cannot reach http://127.0.0.1:9" in r.stderr
    r = c.run("login", "http://127.0.0.1:9", "--email", "a@b.co", "--password-stdin",
              input="x\n", check=5)
    assert "cannot reach" in r.stderr
    # TLS is verified and cannot be turned off; --cacert must be readable
    r = c.run("status", "--url", "https://127.0.0.1:%d" % f.port, check=5)
    assert "cannot reach https://127.0.0.1:%d" % f.port in r.stderr, r.stderr
    r = c.run("status", "--cacert", "/nonexistent.pem", check=1)
    assert "cannot read --cacert /nonexistent.pem" in r.stderr


def test_credentials_file_readable_by_others_is_refused(f: Forge):
    c = admin_client(f)
    os.chmod(c.creds_path, 0o644)
    r = c.run("whoami", check=3)
    assert "readable by others (mode 0644)" in r.stderr and "chmod 600" in r.stderr, r.stderr
    r = c.run("status", check=3)
    os.chmod(c.creds_path, 0o600)
    c.ok("whoami")


def test_profiles_env_and_token_isolation(f: Forge):
    u = f.make_user()
    c = Client(f)
    c.login(*ADMIN).check_returncode()
    r = c.login(u["email"], u["password"], f.url, "--profile", "alice")
    assert r.returncode == 0 and "[profile alice]" in r.stdout, r
    assert set(c.creds()["profiles"]) == {"default", "alice"}
    assert c.json("whoami")["data"]["email"] == ADMIN[0]
    assert c.json("whoami", "--profile", "alice")["data"]["email"] == u["email"]
    assert c.json("whoami", env={"FORGE_PROFILE": "alice"})["data"]["email"] == u["email"]
    assert "invalid profile name" in c.run("whoami", "--profile", "../x", check=1).stderr
    # FORGE_TOKEN replaces the stored token and is never written
    before = open(c.creds_path).read()
    me = c.json("whoami", env={"FORGE_TOKEN": u["access_token"]})
    assert me["data"]["email"] == u["email"]
    assert open(c.creds_path).read() == before
    r = c.run("whoami", env={"FORGE_TOKEN": "garbage"}, check=3)
    assert "FORGE_TOKEN was refused" in r.stderr
    # tokens of one server are not sent to another URL
    other = "http://localhost:%d" % f.port
    r = c.run("whoami", env={"FORGE_URL": other}, check=3)
    assert "not logged in to %s" % other in r.stderr
    r = c.run("whoami", "--url", other + "/", check=3)


def test_login_with_mfa():
    f = Forge(env={"FORGE_TEST_CLOCK": "1"})
    try:
        admin = f.admin_token()
        off = [0]

        def shift(seconds):
            off[0] += seconds
            assert f.post("/api/v1/admin/test/clock", {"offset_ms": off[0] * 1000},
                          token=admin).status == 200

        u = f.make_user()
        secret = f.post("/api/v1/auth/mfa/setup", token=u["access_token"]).json["data"]["secret"]
        wait_step_margin(off[0])
        r = f.post("/api/v1/auth/mfa/verify", {"code": totp(secret, time.time() + off[0])},
                   token=u["access_token"])
        assert r.status == 200, r
        c = Client(f)
        r = c.login(u["email"], u["password"])
        # without the code: the same answer as a wrong password (issue 11 #14)
        assert r.returncode == 3, r
        assert "invalid email or password, or a missing or wrong mfa_code" in r.stderr, r.stderr
        r = c.login(u["email"], u["password"], f.url, "--mfa-code", "000000")
        assert r.returncode == 3 and "missing or wrong mfa_code" in r.stderr, r.stderr
        shift(30)
        wait_step_margin(off[0])
        r = c.login(u["email"], u["password"], f.url, "--mfa-code",
                    totp(secret, time.time() + off[0]))
        assert r.returncode == 0, r.stderr
        assert c.json("whoami")["data"]["mfa_enabled"] is True
    finally:
        f.close()


def fresh_admin(f):
    """An admin token issued now (the harness's cache compares expiry with the real clock, which
    the test clock has left behind)."""
    f._admin_token = None
    return f.admin_token()


def test_refresh_after_expiry_and_revoked_session():
    f = Forge(env={"FORGE_TEST_CLOCK": "1", "ACCESS_TOKEN_TTL_S": "10"})
    try:
        u = f.make_user()
        c = Client(f)
        c.login(u["email"], u["password"]).check_returncode()
        old = c.creds()["profiles"]["default"]
        assert f.post("/api/v1/admin/test/clock", {"offset_ms": 60000},
                      token=fresh_admin(f)).status == 200
        assert f.get("/api/v1/auth/me", token=old["access_token"]).status == 401  # expired
        assert c.json("whoami")["data"]["email"] == u["email"]  # refreshed transparently
        new = c.creds()["profiles"]["default"]
        assert new["access_token"] != old["access_token"]
        assert new["refresh_token"] != old["refresh_token"]
        assert stat.S_IMODE(os.stat(c.creds_path).st_mode) == 0o600
        assert [n for n in os.listdir(os.path.dirname(c.creds_path))
                if n.startswith(".credentials")] == []  # no temp file left behind
        # expiry again, then several processes at once: one refresh (under the file lock); the
        # others adopt the rotated pair instead of replaying the spent refresh token (which
        # the server would answer by revoking the session)
        assert f.post("/api/v1/admin/test/clock", {"offset_ms": 120000},
                      token=fresh_admin(f)).status == 200
        procs = [subprocess.Popen([FORGE_BIN, "capsule", "list", "-q"], env=c.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        # and the importer's threads share one refresh
        assert f.post("/api/v1/admin/test/clock", {"offset_ms": 180000},
                      token=fresh_admin(f)).status == 200
        d = os.path.join(c.home, "w")
        os.makedirs(d)
        for i in range(40):
            with open(os.path.join(d, "n%d.md" % i), "w") as fh:
                fh.write("note %d\n" % i)
        r = c.ok("import", d, "--jobs", "8")
        assert "40 created" in r.stdout, r.stdout
        new = c.creds()["profiles"]["default"]
        # the session is revoked elsewhere (logout with the current token): a clear message
        assert f.post("/api/v1/auth/logout", token=new["access_token"]).status == 204
        r = c.run("capsule", "list", check=3)
        assert "session has expired or was revoked" in r.stderr, r.stderr
        assert "log in again with `forge login`" in r.stderr
        assert "refresh_token" not in c.creds()["profiles"]["default"]
        assert "not logged in" in c.run("whoami", check=3).stderr
    finally:
        f.close()


# ---- capsules -----------------------------------------------------------------------------------
def test_capsule_commands(f: Forge):
    c = admin_client(f)
    tok = c.creds()["profiles"]["default"]["access_token"]
    r = c.ok("capsule", "create", "How to rotate the VPN keys", "--type", "knowledge",
             "--meta", "team=net", "--meta", "lang=en")
    assert r.stdout.startswith("Created capsule ") and "(knowledge, version 1.0.0" in r.stdout
    root = r.stdout.split()[2]
    # content from --file, from stdin, -q
    p = os.path.join(c.home, "note.md")
    with open(p, "w") as fh:
        fh.write("Decision: we use WireGuard\n")
    d = c.json("capsule", "create", "--file", p, "--type", "decision", "--meta-json",
               '{"n": 1}')["data"]
    assert d["content"] == "Decision: we use WireGuard\n" and d["metadata"] == {"n": 1}
    sid = c.run("capsule", "create", "-q", input="from stdin", check=0).stdout.strip()
    assert f.get("/api/v1/capsules/" + sid, token=tok).json["data"]["content"] == "from stdin"
    # get: human shows fields + content; json is the API's body
    r = c.ok("capsule", "get", root)
    assert "type         knowledge" in r.stdout and r.stdout.rstrip().endswith(
        "How to rotate the VPN keys")
    assert '"team": "net"' in r.stdout or "team" in r.stdout
    assert c.json("capsule", "get", root) == f.get("/api/v1/capsules/" + root, token=tok).json
    # derive + lineage tree
    child = c.run("capsule", "derive", root, "Rotation for the EU gateways", "--reason",
                  "regional variant", "-q", check=0).stdout.strip()
    grand = c.run("capsule", "create", "EU gateway 3 notes", "--parent", child, "-q",
                  check=0).stdout.strip()
    r = c.ok("capsule", "lineage", child)
    lines = r.stdout.splitlines()
    assert lines[0].startswith(root), r.stdout
    assert lines[1].startswith("└── " + child) and "(regional variant)" in lines[1], r.stdout
    assert lines[2].startswith("    └── " + grand), r.stdout
    lin = c.json("capsule", "lineage", grand)
    assert [a["id"] for a in lin["data"]["ancestors"]] == [child, root]
    assert c.ok("capsule", "lineage", grand, "-q").stdout.split() == [root, child, grand]
    # list: table, json, -q, filters, pagination
    r = c.ok("capsule", "list")
    head = r.stdout.splitlines()[0]
    assert head.split() == ["ID", "TYPE", "VERSION", "TRUST", "UPDATED", "CONTENT"], head
    assert "page 1 of 1 (5 capsules)" in r.stdout
    col = head.index("CONTENT")
    for line in r.stdout.splitlines()[1:6]:
        assert len(line) > col and line[col - 2:col] == "  ", line  # aligned
    api = f.get("/api/v1/capsules?page=1&per_page=20", token=tok).json
    assert c.json("capsule", "list") == api
    assert c.ok("capsule", "list", "-q").stdout.split() == [x["id"] for x in api["data"]]
    assert c.ok("capsule", "list", "-q", "--type", "decision").stdout.split() == [d["id"]]
    assert c.ok("capsule", "list", "-q", "--parent", root).stdout.split() == [child]
    r = c.ok("capsule", "list", "--per-page", "2", "--page", "2")
    assert "page 2 of 3 (5 capsules); next: --page 3" in r.stdout, r.stdout
    assert len(c.ok("capsule", "list", "--per-page", "2", "--all", "-q").stdout.split()) == 5
    r = c.run("capsule", "list", "--per-page", "500", check=1)
    assert "--per-page must be an integer from 1 to 100" in r.stderr, r.stderr
    assert len(c.json("capsule", "list", "--per-page", "2", "--all")["data"]) == 5
    # edit: new content bumps the version; type/metadata alone do not; revisions
    r = c.ok("capsule", "edit", root, "How to rotate the VPN keys (every 90 days)")
    assert "(version 1.1.0)" in r.stdout
    e = c.json("capsule", "edit", root, "--type", "insight", "--meta", "team=sec")["data"]
    assert e["type"] == "insight" and e["metadata"] == {"team": "sec"} and e["version"] == "1.1.0"
    r = c.ok("capsule", "revisions", root)
    rows = r.stdout.splitlines()
    assert rows[0].split()[:3] == ["VERSION", "CURRENT", "AUTHOR"]
    assert rows[1].startswith("1.1.0    yes") and rows[2].startswith("1.0.0 "), r.stdout
    assert c.ok("capsule", "revisions", root, "-q").stdout.split() == ["1.1.0", "1.0.0"]
    assert c.json("capsule", "revisions", root)["meta"]["total"] == 2
    # errors: server message + field, exit codes
    r = c.run("capsule", "create", "x", "--type", "bogus", check=1)
    assert "type must be one of" in r.stderr and "field: type" in r.stderr, r.stderr
    r = c.run("capsule", "create", "x", "--type", "bogus", "--json", check=1)
    err = json.loads(r.stderr)
    assert err["code"] == "validation_error" and err["details"]["field"] == "type"
    r = c.run("capsule", "get", "01900000-0000-7000-8000-000000000000", check=2)
    assert "capsule not found (404 not_found)" in r.stderr
    assert "is not a capsule id" in c.run("capsule", "get", "nope/../x", check=1).stderr
    r = c.run("capsule", "delete", root, check=4)
    assert "live children: 1" in r.stderr and "--cascade" in r.stderr, r.stderr
    r = c.ok("capsule", "delete", root, "--cascade")
    assert r.stdout.strip() == "Deleted 3 capsules (%s and its descendants)." % root
    c.run("capsule", "get", grand, check=2)
    out = c.json("capsule", "delete", sid)
    assert out["data"] == {"id": sid, "deleted": True, "deleted_count": 1}
    assert "empty content" in c.run("capsule", "create", input="", check=1).stderr
    assert "--reason needs --parent" in c.run("capsule", "create", "x", "--reason", "y",
                                                check=1).stderr


def test_forbidden_is_exit_4(f: Forge):
    u = f.make_user()  # role user: no capsule:delete
    c = Client(f)
    c.login(u["email"], u["password"]).check_returncode()
    cid = c.run("capsule", "create", "mine", "-q", check=0).stdout.strip()
    r = c.run("capsule", "delete", cid, check=4)
    assert "(403 authorization_error)" in r.stderr and "permission: capsule:delete" in r.stderr


def test_search(f: Forge):
    c = admin_client(f)
    ids = {}
    for text in ("Resetting a forgotten password needs the admin console",
                 "The coffee machine on floor 3 is descaled on Mondays",
                 "Password rotation policy: every 90 days"):
        ids[text] = c.run("capsule", "create", text, "-q", check=0).stdout.strip()
    tok = c.creds()["profiles"]["default"]["access_token"]
    r = c.ok("search", "password", "--mode", "keyword")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["SCORE", "ID", "TYPE", "CONTENT"]
    assert lines[1].startswith("1.000 "), r.stdout
    assert "2 results, mode keyword" in r.stdout
    got = c.ok("search", "password", "--mode", "keyword", "-q").stdout.split()
    assert set(got) == {ids[t] for t in ids if "assword" in t}
    js = c.json("search", "password", "--mode", "keyword", "--limit", "1")
    assert len(js["data"]) == 1 and js["meta"]["mode"] == "keyword"
    assert set(js["data"][0]) >= {"capsule", "score", "keyword_rank", "bm25"}
    api = f.post("/api/v1/capsules/search", {"query": "coffee machine", "limit": 1}, token=tok)
    js = c.json("search", "coffee machine", "--limit", "1")
    assert [x["capsule"]["id"] for x in js["data"]] == [x["capsule"]["id"] for x in
                                                        api.json["data"]]
    assert "No results" in c.ok("search", "zzzqqq", "--mode", "keyword").stdout
    r = c.run("search", "password", "--mode", "psychic", check=1)
    assert "field: mode" in r.stderr


def test_retry_after_429():
    f = Forge(env={"FORGE_TEST_CLOCK": "1", "RATE_LIMIT_STANDARD": "3"})
    try:
        u = f.make_user()
        c = Client(f)
        c.login(u["email"], u["password"]).check_returncode()
        tok = c.creds()["profiles"]["default"]["access_token"]
        r = f.get("/api/v1/auth/me", token=tok)
        if int(r.header("X-RateLimit-Reset")) < 15:  # room for the steps below in one window
            time.sleep(int(r.header("X-RateLimit-Reset")) + 0.3)
        while r.status != 429:
            r = f.get("/api/v1/auth/me", token=tok)
        r = c.run("whoami", "--retries", "0", check=5)
        assert "(429 rate_limit_exceeded)" in r.stderr, r.stderr
        # move the service clock so that this window ends in ~2 s: the client waits it out
        admin = f.admin_token()  # a login (Argon2) before the clock arithmetic, not between
        left = int(f.get("/api/v1/auth/me", token=tok).header("Retry-After"))
        assert f.post("/api/v1/admin/test/clock", {"offset_ms": (left - 2) * 1000},
                      token=admin).status == 200
        t0 = time.time()
        r = c.run("whoami", check=0)
        assert "server answered 429; retrying in" in r.stderr, r.stderr
        assert time.time() - t0 >= 0.5
    finally:
        f.close()


# ---- governance -----------------------------------------------------------------------------------
def test_proposals(f: Forge):
    c = admin_client(f)
    voter = f.make_user()
    v = Client(f)
    v.login(voter["email"], voter["password"]).check_returncode()
    r = c.ok("proposal", "create", "--title", "Write down the on-call policy", "--type", "policy",
             "--description", "Every team documents its on-call rota.", "--payload",
             '{"title": "On-call", "content": "Each team keeps a rota."}', "--hours", "1")
    assert r.stdout.startswith("Created draft proposal "), r.stdout
    pid = r.stdout.split()[3].rstrip(";")
    lst = c.ok("proposal", "list")
    assert lst.stdout.splitlines()[0].split()[:3] == ["ID", "STATUS", "TYPE"]
    assert pid in lst.stdout and "draft" in lst.stdout
    assert c.ok("proposal", "list", "-q").stdout.split() == [pid]
    assert c.json("proposal", "list", "--status", "draft")["meta"]["total"] == 1
    assert c.ok("proposal", "list", "--status", "active", "-q").stdout.split() == []
    r = c.ok("proposal", "activate", pid)
    assert "voting is open" in r.stdout and "status" in r.stdout and "active" in r.stdout
    # --watch shows the tally as votes arrive and returns when voting ends
    watch = subprocess.Popen([FORGE_BIN, "proposal", "show", pid, "--watch"], env=c.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(iter(watch.stdout.readline, "")))
    reader.start()
    deadline = time.time() + 20
    while not any("for 0   against 0" in x for x in seen) and time.time() < deadline:
        time.sleep(0.05)
    assert watch.poll() is None, watch.stderr.read()
    r = v.ok("proposal", "vote", pid, "for", "--reasoning", "good idea")
    assert "Voted for on %s" % pid in r.stdout and "for 1 " in r.stdout, r.stdout
    deadline = time.time() + 20
    while not any("for 1   against 0" in x for x in seen) and time.time() < deadline:
        time.sleep(0.05)
    assert any("for 1   against 0" in x for x in seen), "".join(seen)
    js = c.json("proposal", "vote", pid, "against")
    assert js["data"]["vote"] == "against"
    show = c.ok("proposal", "show", pid)
    assert "Tally" in show.stdout and "(so far)" in show.stdout
    assert "for 1   against 5   abstain 0   (2 voters" in show.stdout, show.stdout
    p = c.json("proposal", "show", pid)["data"]
    assert p["votes_for"] == 1 and p["votes_against"] == 5 and p["votes_cast"] == 2
    assert "vote is for, against or abstain" in v.run("proposal", "vote", pid, "maybe",
                                                      check=1).stderr
    r = v.run("proposal", "cancel", pid, check=4)  # only the proposer
    assert "403" in r.stderr
    assert c.json("proposal", "cancel", pid)["data"]["status"] == "cancelled"
    assert watch.wait(timeout=20) == 0
    reader.join()
    out = "".join(seen)
    assert "for 1   against 5" in out and out.rstrip().count("Tally") >= 3, out
    assert "cancelled" in out.split("Tally")[-2], out
    assert "cancelled" in c.ok("proposal", "show", pid).stdout
    r = v.run("proposal", "create", "--title", "t", "--type", "policy", "--description", "d",
              check=4)
    assert "governance:propose" in r.stderr
    c.run("proposal", "show", "01900000-0000-7000-8000-000000000000", check=2)


def test_colour_only_on_a_terminal(f: Forge):
    c = admin_client(f)
    out = c.ok("capsule", "list").stdout + c.ok("status").stdout
    assert "\033[" not in out  # not a terminal


if __name__ == "__main__":
    main(globals())
