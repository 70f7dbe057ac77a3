"""Time travel through the API (SPEC §4.4, docs/knowledge-graph.md): one version of a capsule,
the capsule as of a time (404 before it existed or after it was deleted), and the line diff of
two versions with metadata changes; visibility as for every capsule read."""
import datetime
import time
import uuid

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main

CAPS = "/api/v1/capsules"


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def versions(f, tok):
    """A capsule with three versions; returns (id, [time after each version])."""
    r = f.post(CAPS, {"content": "line 1\nline 2\nline 3\n", "metadata": {"owner": "ops"}},
               token=tok)
    assert r.status == 201, r
    cid = r.json["data"]["id"]
    times = []
    time.sleep(0.02)
    times.append(time.time())
    time.sleep(0.02)
    r = f.patch("%s/%s" % (CAPS, cid), {"content": "line 1\nline two\nline 3\n",
                                        "metadata": {"owner": "sre", "tag": "x"}}, token=tok)
    assert r.status == 200 and r.json["data"]["version"] == "1.1.0", r
    time.sleep(0.02)
    times.append(time.time())
    time.sleep(0.02)
    r = f.patch("%s/%s" % (CAPS, cid), {"content": "line 1\nline two\nline 3\nline 4\n"},
                token=tok)
    assert r.json["data"]["version"] == "1.2.0", r
    time.sleep(0.02)
    times.append(time.time())
    return cid, times


def test_revision_by_version(f: Forge):
    tok = f.make_user()["access_token"]
    cid, _ = versions(f, tok)
    r = f.get("%s/%s/revisions/1.0.0" % (CAPS, cid), token=tok)
    assert r.status == 200, r
    d = r.json["data"]
    assert d["version"] == "1.0.0" and d["content"] == "line 1\nline 2\nline 3\n"
    assert d["metadata"] == {"owner": "ops"} and d["current"] is False
    assert d["superseded_at"] is not None and d["capsule_id"] == cid
    d = f.get("%s/%s/revisions/1.2.0" % (CAPS, cid), token=tok).json["data"]
    assert d["current"] is True and d["content"].endswith("line 4\n")
    assert d["superseded_at"] is None
    d2 = f.get("%s/%s/revisions/current" % (CAPS, cid), token=tok).json["data"]
    assert d2 == d
    for v in ("1.3.0", "9.9.9"):
        assert_error(f.get("%s/%s/revisions/%s" % (CAPS, cid, v), token=tok), 404, "not_found")
    for v in ("latest", "1.0", "1..0", "x" * 40):
        assert_error(f.get("%s/%s/revisions/%s" % (CAPS, cid, v), token=tok), 404, "not_found")
    assert_error(f.get("%s/%s/revisions/1.0.0" % (CAPS, uuid.uuid4()), token=tok), 404)


def test_as_of(f: Forge):
    tok = f.make_user(role="trusted")["access_token"]
    before = time.time()
    time.sleep(0.02)
    cid, t = versions(f, tok)

    def as_of(ts, token=tok):
        return f.get("%s/%s?as_of=%s" % (CAPS, cid, iso(ts)), token=token)

    r = as_of(t[0])
    assert r.status == 200, r
    d = r.json["data"]
    assert d["version"] == "1.0.0" and d["content"] == "line 1\nline 2\nline 3\n"
    assert d["metadata"] == {"owner": "ops"} and d["id"] == cid
    d = as_of(t[1]).json["data"]
    assert d["version"] == "1.1.0" and d["metadata"] == {"owner": "sre", "tag": "x"}
    d = as_of(t[2]).json["data"]
    assert d["version"] == "1.2.0"
    assert as_of(time.time() + 3600).json["data"]["version"] == "1.2.0"
    # before it existed
    assert_error(as_of(before), 404, "not_found")
    # bad timestamps
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "1700000000", ""):
        assert_error(f.get("%s/%s?as_of=%s" % (CAPS, cid, bad), token=tok), 422,
                     "validation_error", "as_of")
    assert_error(f.get("%s/%s?as_of=%s&include=embedding" % (CAPS, cid, iso(t[2])), token=tok),
                 422, "validation_error")
    # deleted later: 404 now, for every time (non-admins); admins may look at then
    time.sleep(0.02)
    r = f.delete("%s/%s" % (CAPS, cid), token=tok)
    assert r.status == 200, r
    assert_error(as_of(t[1]), 404, "not_found")
    r = f.get("%s/%s?as_of=%s&include_deleted=true" % (CAPS, cid, iso(t[1])),
              token=f.admin_token())
    assert r.status == 200 and r.json["data"]["version"] == "1.1.0", r
    assert r.json["data"]["is_deleted"] is False
    r = f.get("%s/%s?as_of=%s&include_deleted=true" % (CAPS, cid, iso(time.time() + 1)),
              token=f.admin_token())
    assert_error(r, 404, "not_found")


def test_diff(f: Forge):
    tok = f.make_user()["access_token"]
    cid, _ = versions(f, tok)
    r = f.get("%s/%s/diff?from=1.0.0" % (CAPS, cid), token=tok)
    assert r.status == 200, r
    d = r.json["data"]
    assert d["from"]["version"] == "1.0.0" and d["to"]["version"] == "1.2.0"
    assert d["to"]["current"] is True and d["coarse"] is False
    assert d["lines_added"] == 2 and d["lines_removed"] == 1
    assert d["hunks"] == [{"old_start": 1, "old_lines": 3, "new_start": 1, "new_lines": 4,
                           "lines": [" line 1", "-line 2", "+line two", " line 3", "+line 4"]}]
    assert d["metadata_changes"] == [
        {"key": "owner", "change": "changed", "from": "ops", "to": "sre"},
        {"key": "tag", "change": "added", "to": "x"}]
    d = f.get("%s/%s/diff?from=1.1.0&to=1.2.0&context=0" % (CAPS, cid), token=tok).json["data"]
    assert d["hunks"] == [{"old_start": 3, "old_lines": 0, "new_start": 4, "new_lines": 1,
                           "lines": ["+line 4"]}]
    assert d["metadata_changes"] == []
    # reversed and identical
    d = f.get("%s/%s/diff?from=1.2.0&to=1.0.0" % (CAPS, cid), token=tok).json["data"]
    assert d["lines_added"] == 1 and d["lines_removed"] == 2
    d = f.get("%s/%s/diff?from=1.1.0&to=1.1.0" % (CAPS, cid), token=tok).json["data"]
    assert d["hunks"] == [] and d["lines_added"] == 0
    assert_error(f.get("%s/%s/diff" % (CAPS, cid), token=tok), 422, "validation_error", "from")
    assert_error(f.get("%s/%s/diff?from=abc" % (CAPS, cid), token=tok), 422, "validation_error",
                 "from")
    assert_error(f.get("%s/%s/diff?from=1.0.0&to=x" % (CAPS, cid), token=tok), 422,
                 "validation_error", "to")
    assert_error(f.get("%s/%s/diff?from=1.0.0&context=101" % (CAPS, cid), token=tok), 422)
    assert_error(f.get("%s/%s/diff?from=3.0.0" % (CAPS, cid), token=tok), 404, "not_found")
    assert_error(f.get("%s/%s/diff?from=1.0.0" % (CAPS, uuid.uuid4()), token=tok), 404)


def test_large_diff_is_bounded(f: Forge):
    tok = f.make_user()["access_token"]
    a = "".join("line %d\n" % i for i in range(50000))
    b = "".join("line %d\n" % (i if i % 2 else i + 10 ** 6) for i in range(50000))
    r = f.post(CAPS, {"content": a}, token=tok)
    cid = r.json["data"]["id"]
    f.patch("%s/%s" % (CAPS, cid), {"content": b}, token=tok)
    t0 = time.time()
    r = f.get("%s/%s/diff?from=1.0.0" % (CAPS, cid), token=tok, timeout=60)
    dt = time.time() - t0
    assert r.status == 200, r
    d = r.json["data"]
    print("  diff of 50 000 lines with 25 000 changed: %.0f ms, coarse=%s" % (dt * 1e3,
                                                                            d["coarse"]))
    # coarse: everything between the common prefix and suffix is replaced (correct, not minimal)
    assert d["coarse"] is True and d["lines_added"] == d["lines_removed"] == 49999
    assert len(d["hunks"]) == 1
    assert dt < 15, dt  # ~0.5 s normally; ASan and a loaded machine are slower


def test_visibility(f: Forge):
    owner = f.make_user()
    tok = owner["access_token"]
    cid, t = versions(f, tok)
    r = f.put("/api/v1/admin/capsules/%s/trust" % cid, {"trust_level": "core"},
              token=f.admin_token())
    assert r.status == 200
    assert_error(f.get("%s/%s/revisions/1.0.0" % (CAPS, cid), token=tok), 404, "not_found")
    assert_error(f.get("%s/%s/diff?from=1.0.0" % (CAPS, cid), token=tok), 404, "not_found")
    assert_error(f.get("%s/%s?as_of=%s" % (CAPS, cid, iso(t[0])), token=tok), 404, "not_found")
    adm = f.admin_token()
    assert f.get("%s/%s/revisions/1.0.0" % (CAPS, cid), token=adm).status == 200
    assert f.get("%s/%s?as_of=%s" % (CAPS, cid, iso(t[0])), token=adm).status == 200


if __name__ == "__main__":
    main(globals(), fixture_env={"RATE_LIMIT_ENABLED": "false"})
