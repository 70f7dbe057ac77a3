"""`forge import` / `forge export` against a real `forge serve`: a generated 300-file wiki, front
matter, idempotence, updates, resume after an interrupt (SIGINT and SIGKILL), export and
re-import."""
import json
import os
import shlex
import signal
import subprocess
import time

from clitest import Client, api_list
from forgetest import FORGE_BIN, Forge, main

ADMIN = (Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)


def make_wiki(root, n, tag="wiki"):
    for i in range(n):
        d = os.path.join(root, "section-%d" % (i % 6), "sub-%d" % (i % 2))
        os.makedirs(d, exist_ok=True)
        ext = ".txt" if i % 10 == 9 else ".md"
        with open(os.path.join(d, "page-%04d%s" % (i, ext)), "w") as fh:
            if i % 3 == 0:
                fh.write("---\ntype: decision\ntags: [ops, %s]\npriority: %d\nowner: 'team %d'\n"
                         "---\n\n" % (tag, i % 5, i % 4))
            fh.write("# %s page %d\n\nThe runbook entry %d of the %s explains how to restart "
                     "gateway %d safely.\n" % (tag.title(), i, i, tag, i))
    # noise that must not be imported
    os.makedirs(os.path.join(root, ".git"), exist_ok=True)
    with open(os.path.join(root, ".git", "HEAD.md"), "w") as fh:
        fh.write("not me")
    with open(os.path.join(root, "image.png"), "wb") as fh:
        fh.write(b"\x89PNG")


def test_import_300_files_idempotent_update_export(f: Forge):
    c = Client(f)
    c.login(*ADMIN).check_returncode()
    tok = c.creds()["profiles"]["default"]["access_token"]
    wiki = os.path.join(c.home, "wiki")
    make_wiki(wiki, 300)
    r = c.ok("import", wiki)
    assert "Imported 300 of 300 files" in r.stdout and "300 created, 0 updated, 0 unchanged, " \
        "0 failed" in r.stdout, r.stdout
    caps = api_list(f, tok, "/api/v1/capsules")
    assert len(caps) == 300
    by_path = {x["metadata"]["source_path"]: x for x in caps}
    p0 = by_path["section-0/sub-0/page-0000.md"]
    assert p0["type"] == "decision" and p0["content"].startswith("# Wiki page 0\n")
    assert p0["metadata"]["tags"] == ["ops", "wiki"] and p0["metadata"]["priority"] == 0
    assert p0["metadata"]["owner"] == "team 0" and p0["metadata"]["title"] == "Wiki page 0"
    assert len(p0["metadata"]["content_sha256"]) == 64
    p1 = by_path["section-1/sub-1/page-0001.md"]
    assert p1["type"] == "knowledge" and "type" not in p1["metadata"]
    assert "section-3/sub-1/page-0009.txt" in by_path
    # again: nothing created
    js = c.json("import", wiki)
    assert js["meta"]["created"] == 0 and js["meta"]["unchanged"] == 300, js["meta"]
    assert {x["action"] for x in js["data"]} == {"unchanged"}
    assert len(api_list(f, tok, "/api/v1/capsules")) == 300
    # one file changes, one is added: one update (new version), one create
    path = os.path.join(wiki, "section-1", "sub-1", "page-0001.md")
    with open(path, "a") as fh:
        fh.write("\nAddendum: check the firewall first.\n")
    with open(os.path.join(wiki, "new.md"), "w") as fh:
        fh.write("A brand new page\n")
    r = c.ok("import", wiki, "-q")
    ids = r.stdout.split()
    assert len(ids) == 301 and p1["id"] in ids
    cap = f.get("/api/v1/capsules/" + p1["id"], token=tok).json["data"]
    assert cap["version"] == "1.1.0" and cap["content"].endswith("firewall first.\n")
    assert len(api_list(f, tok, "/api/v1/capsules")) == 301
    # search finds the imported wiki
    r = c.ok("search", "restart gateway 42 safely", "--mode", "keyword", "--limit", "3")
    assert "The runbook entry 42 " in r.stdout.replace("\n", " ") or "page 42" in r.stdout
    # export writes files back with front matter; re-importing them creates nothing
    out = os.path.join(c.home, "export")
    r = c.ok("export", out)
    assert r.stdout.strip() == "Exported 301 capsules to %s." % out
    with open(os.path.join(out, "section-0", "sub-0", "page-0000.md")) as fh:
        text = fh.read()
    assert text.startswith("---\ntype: decision\nforge_id: %s\n" % p0["id"]), text
    assert 'tags: ["ops","wiki"]\n' in text and "priority: 0\n" in text
    assert text.endswith("---\n\n" + p0["content"]), text
    assert "kept" in c.ok("export", out).stdout
    js = c.json("import", out)
    assert js["meta"]["created"] == 0 and js["meta"]["failed"] == 0, js["meta"]
    assert len(api_list(f, tok, "/api/v1/capsules")) == 301
    # --dry-run changes nothing
    with open(os.path.join(wiki, "dry.md"), "w") as fh:
        fh.write("dry\n")
    r = c.ok("import", wiki, "--dry-run")
    assert "create    dry.md" in r.stdout
    assert len(api_list(f, tok, "/api/v1/capsules")) == 301


def test_import_parent_type_and_errors(f: Forge):
    c = Client(f)
    c.login(*ADMIN).check_returncode()
    tok = c.creds()["profiles"]["default"]["access_token"]
    parent = c.run("capsule", "create", "Wiki root", "-q", check=0).stdout.strip()
    d = os.path.join(c.home, "w")
    os.makedirs(d)
    for name, text in (("a.md", "alpha\n"), ("b.md", "---\ntype: nonsense\n---\nbeta\n"),
                       ("c.md", "---\ntitle: only front matter\n---\n")):
        with open(os.path.join(d, name), "w") as fh:
            fh.write(text)
    r = c.run("import", d, "--parent", parent, "--type", "code", "--no-progress")
    assert r.returncode == 1, r
    assert "b.md: type must be one of" in r.stderr and "(field type)" in r.stderr, r.stderr
    assert "1 created" in r.stdout and "1 failed" in r.stdout, r.stdout
    kids = api_list(f, tok, "/api/v1/capsules/%s/children" % parent)
    assert [(k["content"], k["type"]) for k in kids] == [("alpha\n", "code")]
    # another account on the same server has its own journal: its import creates its capsules
    u = f.make_user()
    c.login(u["email"], u["password"], f.url, "--profile", "bob").check_returncode()
    os.remove(os.path.join(d, "b.md"))
    r = c.ok("import", d, "--profile", "bob")
    assert "1 created" in r.stdout, r.stdout  # a.md (c.md is empty), not "unchanged"
    assert "no .md" in c.run("import", os.path.join(c.home, "cfg"), check=1).stderr
    assert "No such file" in c.run("import", "/nonexistent", check=1).stderr


def wait_for_lines(path, n, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with open(path) as fh:
                if sum(1 for _ in fh) >= n:
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def test_import_resumes_after_interrupt(f: Forge):
    c = Client(f)
    c.login(*ADMIN).check_returncode()
    tok = c.creds()["profiles"]["default"]["access_token"]
    wiki = os.path.join(c.home, "wiki")
    make_wiki(wiki, 300, tag="handbook")
    state = os.path.join(c.home, "journal.tsv")
    for sig in (signal.SIGINT, signal.SIGKILL):
        if sig == signal.SIGKILL:
            more = os.path.join(wiki, "more")
            make_wiki(more, 60, tag="appendix")
        proc = subprocess.Popen([FORGE_BIN, "import", wiki, "--state", state, "--jobs", "2"],
                                env=c.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL)
        target = 40 if sig == signal.SIGINT else 320
        assert wait_for_lines(state, target, proc), "import finished or stalled before the cut"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        if sig == signal.SIGINT:
            assert proc.returncode == 130, (proc.returncode, out, err)
            assert "Interrupted after" in out and "Run the same command again" in out, out
        else:
            assert proc.returncode == -9
        # a request in flight at the kill may still commit on the server: wait until it settles
        done = -1
        while True:
            n = len(api_list(f, tok, "/api/v1/capsules"))
            if n == done:
                break
            done = n
            time.sleep(0.5)
        expected = 300 if sig == signal.SIGINT else 360
        assert 0 < done < expected, done
        r = c.ok("import", wiki, "--state", state)
        assert "%d created" % (expected - done) in r.stdout, (done, r.stdout)
        caps = api_list(f, tok, "/api/v1/capsules")
        assert len(caps) == expected, len(caps)  # nothing twice, nothing missing
        assert len({x["metadata"]["source_path"] for x in caps}) == expected
    # journal lines lost (a kill between the server's commit and the write): the capsules
    # created shortly before are read back from the server instead of being created again
    with open(state) as fh:
        lines = fh.readlines()
    with open(state, "w") as fh:
        fh.writelines(lines[:-5])
    r = c.ok("import", wiki, "--state", state)
    assert "0 created" in r.stdout and "360 unchanged" in r.stdout, r.stdout
    assert len(api_list(f, tok, "/api/v1/capsules")) == 360


def test_readme_three_commands(f: Forge):
    """The README's three commands (register, import, search) take a new user from `make run` to
    a searched 300-file wiki (the URL, the folder and the prompts adapted for a script)."""
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme) as fh:
        cmds = [line.split() for line in fh if line.strip().startswith("./build/forge ")]
    assert [x[1] for x in cmds] == ["register", "import", "search"], cmds
    c = Client(f)
    wiki = os.path.join(c.home, "team-wiki")
    make_wiki(wiki, 300, tag="team")
    for argv in cmds:
        args = [a.replace("http://127.0.0.1:8000", f.url).replace("~/team-wiki", wiki)
                for a in argv[1:]]
        args = " ".join(args)
        if args.startswith("search"):
            args = 'search "restart gateway 17"'
        if args.startswith("register"):
            r = c.run(*args.split(), "--email", "new@forge.test", "--password-stdin",
                      input="Passw0rdPassw0rd\n", check=0)
        else:
            r = c.run(*shlex.split(args), check=0)
    assert "Imported" not in r.stdout and "SCORE" in r.stdout, r.stdout
    assert "Team page 17 " in r.stdout.splitlines()[1], r.stdout  # the best match first
    assert c.json("capsule", "list")["meta"]["total"] == 300


if __name__ == "__main__":
    main(globals())
