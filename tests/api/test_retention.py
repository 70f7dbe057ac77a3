"""Retention (SPEC §9, docs/operations/data-retention.md): RETENTION_DELETED_CAPSULES_DAYS
hard-deletes soft-deleted capsules (leaves first, so lineage never points at a missing row),
RETENTION_OUTBOX_DAYS removes delivered events only, RETENTION_AUDIT_DAYS cuts the oldest audit
entries and the chain still verifies from its new base; dry runs count without removing; the
periodic job runs by itself; FEATURE_COMPLIANCE_LOGGING mirrors audit entries to the log."""
import json
import os
import sqlite3
import time

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main, sqlite_only

CAPS = "/api/v1/capsules"
RUN = "/api/v1/admin/retention/run"
DAY_MS = 86400 * 1000
CLOCK = {"FORGE_TEST_CLOCK": "1", "ENVIRONMENT": "development"}


def env(**kw):
    e = dict(CLOCK)
    e.update({k: str(v) for k, v in kw.items()})
    return e


def shift(f, days):
    """Moves the server clock; tokens issued before are then expired: returns a fresh admin
    token (users needed afterwards are made afterwards)."""
    r = f.post("/api/v1/admin/test/clock", {"offset_ms": int(days * DAY_MS)},
               token=f.admin_token())
    assert r.status == 200, r
    f._admin_token = None
    return f.admin_token()


def run(f, admin, dry=False):
    r = f.post(RUN + ("?dry_run=true" if dry else ""), token=admin)
    assert r.status == 200, r
    assert r.json["data"]["dry_run"] is dry
    return r.json["data"]["removed"]


def create(f, token, content, **kw):
    body = {"content": content}
    body.update(kw)
    r = f.post(CAPS, body, token=token)
    assert r.status == 201, r
    return r.json["data"]["id"]


def verify(f, admin):
    r = f.get("/api/v1/admin/audit/verify", token=admin)
    assert r.status == 200, r
    return r.json["data"]


def test_soft_deleted_capsules_purged_after_the_period():
    f = Forge(env=env(RETENTION_DELETED_CAPSULES_DAYS=30))
    try:
        admin = f.admin_token()
        user = f.make_user()["access_token"]
        live = create(f, user, "a live capsule about kept knowledge")
        gone = create(f, user, "a capsule that is deleted and later purged")
        edited = create(f, user, "first text of an edited capsule")
        r = f.patch("%s/%s" % (CAPS, edited), {"content": "second text of an edited capsule"},
                    token=user)
        assert r.status == 200, r
        parent = create(f, user, "a parent whose child is deleted with it")
        child = create(f, user, "the child of that parent", parent_id=parent)
        for cid, q in ((gone, ""), (edited, ""), (parent, "?cascade=true")):
            r = f.delete("%s/%s%s" % (CAPS, cid, q), token=admin)
            assert r.status in (200, 204), r

        # inside the period: nothing goes
        assert run(f, admin, dry=True)["capsules"] == 0
        assert run(f, admin)["capsules"] == 0

        admin = shift(f, 31)
        user = f.make_user()["access_token"]
        # a dry run counts the leaves removable now (the parent waits for its child) and
        # removes nothing: a second dry run counts the same
        assert run(f, admin, dry=True)["capsules"] == 3
        assert run(f, admin, dry=True)["capsules"] == 3
        # the real run purges leaves, then the parent they freed
        assert run(f, admin)["capsules"] == 4
        assert run(f, admin)["capsules"] == 0
        # the live capsule is untouched; the purged ones are gone for admins too
        assert f.get("%s/%s" % (CAPS, live), token=user).status == 200
        for cid in (gone, edited, parent, child):
            assert f.get("%s/%s" % (CAPS, cid), token=admin).status == 404
            assert f.get("%s/%s/revisions" % (CAPS, cid), token=admin).status == 404
        # the audit chain is intact and metrics counted the purge
        assert verify(f, admin)["valid"] is True
        m = f.get("/metrics").body
        assert 'forge_retention_purged_total{kind="capsules"} 4' in m, m
        if os.environ.get("FORGE_TEST_STORE", "sqlite") == "sqlite":
            db = sqlite3.connect(os.path.join(f.dir, "forge.db"))
            n_rev = db.execute("SELECT count(*) FROM capsule_revisions WHERE capsule_id = ?",
                               (edited,)).fetchone()[0]
            n_purge = db.execute("SELECT count(*) FROM capsule_changes WHERE op = 'purge'"
                                 ).fetchone()[0]
            db.close()
            assert n_rev == 0 and n_purge == 4, (n_rev, n_purge)
    finally:
        f.close()


def test_audit_cut_keeps_the_chain_verifiable():
    f = Forge(env=env(RETENTION_AUDIT_DAYS=10))
    try:
        admin = f.admin_token()
        user = f.make_user()["access_token"]
        for i in range(5):
            create(f, user, "old knowledge %d" % i)
        before = verify(f, admin)
        assert before["valid"] and before["entries"] >= 5
        admin = shift(f, 11)
        recent = create(f, f.make_user()["access_token"], "recent knowledge")
        dry = run(f, admin, dry=True)["audit"]
        assert dry >= 5
        assert verify(f, admin)["entries"] >= before["entries"]  # dry run removed nothing
        removed = run(f, admin)["audit"]
        assert removed == dry, (removed, dry)
        after = verify(f, admin)
        assert after["valid"] is True, after
        # what is left: entries newer than the cut plus the checkpoint entry
        r = f.get("/api/v1/admin/audit?action=audit.retention_purged", token=admin)
        assert r.status == 200 and r.json["meta"]["total"] == 1, r
        d = r.json["data"][0]["details"]
        assert d["removed"] == removed and len(d["through_hash"]) == 64
        r = f.get("/api/v1/admin/audit?resource_id=" + recent, token=admin)
        assert r.json["meta"]["total"] == 1, r
        # the CLI verifies the same chain
        p = f.cli("admin", "audit-verify", "--json")
        assert p.returncode == 0 and json.loads(p.stdout.strip().splitlines()[-1])["valid"], p
        assert run(f, admin)["audit"] == 0  # nothing old is left
    finally:
        f.close()


@sqlite_only
def test_outbox_removes_delivered_events_only():
    f = Forge(env=env(RETENTION_OUTBOX_DAYS=2))
    try:
        admin = f.admin_token()
        user = f.make_user()["access_token"]
        for i in range(6):
            create(f, user, "event source %d" % i)
        db = sqlite3.connect(os.path.join(f.dir, "forge.db"), timeout=10)
        total = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert total >= 6
        old = int(time.time() * 1000) - 3 * DAY_MS
        with db:
            db.execute("UPDATE outbox SET delivered_at = ? WHERE seq IN "
                       "(SELECT seq FROM outbox ORDER BY seq LIMIT 4)", (old,))
        assert run(f, admin, dry=True)["outbox"] == 4
        assert run(f, admin)["outbox"] == 4
        left = db.execute("SELECT count(*), count(delivered_at) FROM outbox").fetchone()
        db.close()
        assert left == (total - 4, 0), left  # undelivered events are never purged
    finally:
        f.close()


def test_periodic_job_runs_by_itself():
    f = Forge(env=env(RETENTION_DELETED_CAPSULES_DAYS=1, RETENTION_INTERVAL_S=1))
    try:
        admin = f.admin_token()
        user = f.make_user()["access_token"]
        cid = create(f, user, "deleted and purged by the job")
        assert f.delete("%s/%s" % (CAPS, cid), token=admin).status in (200, 204)
        shift(f, 2)
        deadline = time.time() + 15
        while time.time() < deadline:
            m = f.get("/metrics").body
            if 'forge_retention_purged_total{kind="capsules"} 1' in m:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the retention job did not purge within 15 s")
        assert any(l.get("event") == "retention_run" for l in f.log_lines())
    finally:
        f.close()


def test_run_is_admin_only_and_validated(f):
    user = f.make_user()["access_token"]
    assert_error(f.post(RUN, token=user), 403)
    assert_error(f.post(RUN), 401)
    assert_error(f.post(RUN + "?dry_run=maybe", token=f.admin_token()), 422, field="dry_run")
    # all settings 0 except the outbox default: nothing to do, and it says so
    r = f.post(RUN, token=f.admin_token())
    assert r.status == 200 and r.json["data"]["days"]["capsules"] == 0, r


def test_cli_dry_run(f):
    p = f.cli("admin", "retention", "--dry-run", "--json")
    assert p.returncode == 0, p
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["dry_run"] is True and out["capsules"] == 0 and out["outbox_days"] == 7, out
    p = f.cli("admin", "retention", "--bogus")
    assert p.returncode == 2 and "usage" in p.stderr, p


def test_compliance_logging_mirrors_audit_entries():
    for on in (True, False):
        f = Forge(env={"FEATURE_COMPLIANCE_LOGGING": "true" if on else "false"})
        try:
            user = f.make_user()["access_token"]
            cid = create(f, user, "audited knowledge")
            time.sleep(0.1)
            lines = [l for l in f.log_lines()
                     if l.get("event") == "audit" and l.get("resource_id") == cid]
            if on:
                assert len(lines) == 1 and lines[0]["action"] == "capsule.create", lines
                assert "client_ip" not in lines[0] and "details" not in lines[0]
            else:
                assert lines == [], lines
        finally:
            f.close()


if __name__ == "__main__":
    main(globals())
