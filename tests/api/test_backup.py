"""Backup and restore (issue 4, docs/operations/backup.md): `forge backup` under a write load
gives a copy that passes PRAGMA integrity_check, contains everything acknowledged before it
started, restores with `forge restore` and serves; restore refuses a live database, an existing
database without --force, a damaged or foreign file, and clears stale -wal/-shm files."""
import fcntl
import os
import shutil
import sqlite3
import tempfile
import threading
import time

# forge-test: stores=sqlite,postgresql
from forgetest import STORE, Forge, main, sqlite_only
from test_durability import Writer

CAPS = "/api/v1/capsules"
SEARCH_URL = "/api/v1/capsules/search"


def integrity(path):
    h = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return h.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        h.close()


def restore_key_store(f, g):
    """The key store and the master key go with the data (docs/operations/backup.md, "Key
    store"): `forge backup --keys` on the source, `forge restore --keys` on the target, and the
    same master key (here the development key file)."""
    kb = os.path.join(f.dir, "keys.backup")
    p = f.cli("backup", "--keys", kb)
    assert p.returncode == 0, p.stderr
    assert os.stat(kb).st_mode & 0o077 == 0, oct(os.stat(kb).st_mode)
    p = g.cli("restore", "--keys", kb, "--force")
    assert p.returncode == 0, p.stderr
    shutil.copy(os.path.join(f.dir, "forge-master.key"), os.path.join(g.dir, "forge-master.key"))


@sqlite_only
def test_backup_under_write_load_restores_and_serves(f: Forge):
    users = [f.make_user() for _ in range(4)]
    stop = threading.Event()
    ws = [Writer(f, u["access_token"], "w%d" % i, stop) for i, u in enumerate(users)]
    for w in ws:
        w.start()
    time.sleep(1.5)
    before = {}
    for w in ws:
        before.update(dict(w.acked))
    backup = os.path.join(f.dir, "backup.db")
    t0 = time.time()
    p = f.cli("backup", backup)
    took = time.time() - t0
    time.sleep(0.5)  # writes continue after the copy
    stop.set()
    for w in ws:
        w.join(60)
    acked = {}
    for w in ws:
        acked.update(w.acked)
        assert not [s for s in w.statuses if s >= 500], w.statuses
    assert p.returncode == 0, p.stderr
    assert "integrity_check ok" in p.stdout, p.stdout
    print("  backup under load took %.2fs; %d acked before, %d in total"
          % (took, len(before), len(acked)))
    assert integrity(backup) == "ok"
    assert not os.path.exists(backup + ".partial")
    h = sqlite3.connect("file:%s?mode=ro" % backup, uri=True)
    in_backup = {r[0] for r in h.execute("SELECT id FROM capsules")}
    h.close()
    assert set(before) <= in_backup, len(set(before) - in_backup)
    assert len(in_backup) <= len(acked) + len(ws)

    # restore into a fresh data dir and serve from it
    g = Forge(start=False, env={"RATE_LIMIT_ENABLED": "false"})
    try:
        p = g.cli("restore", backup)
        assert p.returncode == 0, p.stderr
        assert integrity(os.path.join(g.dir, "forge.db")) == "ok"
        restore_key_store(f, g)
        g.start(timeout=60)
        adm = g.admin_token()
        for cid in list(before)[:200]:
            r = g.get("%s/%s" % (CAPS, cid), token=adm)
            assert r.status == 200 and r.json["data"]["content"] == before[cid], r
        assert g.get(CAPS + "?per_page=1", token=adm).json["meta"]["total"] == len(in_backup)
        v = g.get("/api/v1/admin/audit/verify", token=adm).json["data"]
        assert v["valid"] is True, v
        u = g.make_user()
        assert g.post(CAPS, {"content": "life after restore"},
                      token=u["access_token"]).status == 201
    finally:
        g.close()


@sqlite_only
def test_restore_refusals(f: Forge):
    u = f.make_user()
    assert f.post(CAPS, {"content": "keep me"}, token=u["access_token"]).status == 201
    backup = os.path.join(f.dir, "b.db")
    assert f.cli("backup", backup).returncode == 0
    # while the server has the database open
    p = f.cli("restore", backup, "--force")
    assert p.returncode == 1 and "in use" in p.stderr, p.stderr
    f.stop()
    # an existing database needs --force
    p = f.cli("restore", backup)
    assert p.returncode == 1 and "--force" in p.stderr, p.stderr
    # a damaged file, a foreign SQLite file, a missing file
    tmp = tempfile.mkdtemp(prefix="forge-restore-")
    try:
        bad = os.path.join(tmp, "bad.db")
        shutil.copy(backup, bad)
        with open(bad, "r+b") as fh:
            fh.seek(4096 * 3)
            fh.write(os.urandom(4096 * 4))
        p = f.cli("restore", bad, "--force")
        assert p.returncode == 1, p
        foreign = os.path.join(tmp, "foreign.db")
        h = sqlite3.connect(foreign)
        h.execute("CREATE TABLE t (x)")
        h.commit()
        h.close()
        p = f.cli("restore", foreign, "--force")
        assert p.returncode == 1 and "not a Forge database" in p.stderr, p.stderr
        junk = os.path.join(tmp, "junk.db")
        with open(junk, "wb") as fh:
            fh.write(b"not a database at all" * 100)
        assert f.cli("restore", junk, "--force").returncode == 1
        assert f.cli("restore", os.path.join(tmp, "absent.db")).returncode == 1
        assert f.cli("restore").returncode == 2
    finally:
        shutil.rmtree(tmp)
    # the original is untouched by the refusals
    assert integrity(os.path.join(f.dir, "forge.db")) == "ok"
    # stale -wal/-shm of the old database are removed by a forced restore
    db = os.path.join(f.dir, "forge.db")
    for side in ("-wal", "-shm"):
        with open(db + side, "wb") as fh:
            fh.write(b"stale" * 1000)
    p = f.cli("restore", backup, "--force")
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0
    assert not os.path.exists(db + "-shm")
    f.start()
    r = f.get(CAPS, token=f.make_user()["access_token"])
    assert r.status == 200 and [c["content"] for c in r.json["data"]] == ["keep me"], r
    assert f.cli("backup", "/nonexistent-dir/x/y.db").returncode == 1
    # no server starts while a restore holds the database lock
    f.stop()
    with open(db + ".lock", "a+") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            f.start(timeout=30)
            raise AssertionError("forge started while the database was locked for restore")
        except RuntimeError as e:
            assert "being restored" in str(e), e
        finally:
            fcntl.flock(lk, fcntl.LOCK_UN)
    f.start()



def test_backup_restore_round_trip(f: Forge):
    """Both stores: backup, restore into a fresh database (SQLite file; PostgreSQL: pg_dump, then
    pg_restore into an empty database), serve from it with the audit chain intact."""
    u = f.make_user()
    ids = {}
    for i in range(5):
        r = f.post(CAPS, {"content": "round trip %d" % i}, token=u["access_token"])
        assert r.status == 201, r
        ids[r.json["data"]["id"]] = "round trip %d" % i
    backup = os.path.join(f.dir, "rt.backup")
    p = f.cli("backup", backup)
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(backup + ".partial")
    g = Forge(start=False, env={"RATE_LIMIT_ENABLED": "false"})
    try:
        p = g.cli("restore", backup)
        assert p.returncode == 1 or "restored" in p.stdout, p  # PostgreSQL needs --force
        p = g.cli("restore", backup, "--force")
        assert p.returncode == 0, p.stderr
        assert "forge-test-pw" not in p.stdout + p.stderr, "the password must never be printed"
        # the data alone does not serve: its personal data needs the key store it was sealed with
        try:
            g.start(timeout=60)
            raise AssertionError("served restored data without its key store")
        except RuntimeError as e:
            assert "key store" in str(e), e
        if STORE == "sqlite":
            for name in ("keys.db", "keys.db-wal", "keys.db-shm", "forge-master.key"):
                if os.path.exists(os.path.join(g.dir, name)):
                    os.remove(os.path.join(g.dir, name))
        restore_key_store(f, g)
        g.start(timeout=60)
        adm = g.admin_token()
        for cid, content in ids.items():
            r = g.get("%s/%s" % (CAPS, cid), token=adm)
            assert r.status == 200 and r.json["data"]["content"] == content, r
        v = g.get("/api/v1/admin/audit/verify", token=adm).json["data"]
        assert v["valid"] is True, v
        r = g.post(SEARCH_URL, {"query": "round trip", "mode": "keyword"}, token=adm)
        assert r.status == 200 and len(r.json["data"]) == 5, r
        assert g.post(CAPS, {"content": "life after restore"},
                      token=g.make_user()["access_token"]).status == 201
    finally:
        g.close()


if __name__ == "__main__":
    main(globals(), fixture_env={"RATE_LIMIT_ENABLED": "false"})
