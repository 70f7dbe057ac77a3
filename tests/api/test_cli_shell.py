"""The `forge` client as a person uses it: an interactive session in tmux (the password prompt does
not echo, the $EDITOR flow of `capsule create`, colour on a terminal and NO_COLOR), the bash and
zsh completion scripts and the man page generated from the same tables as --help."""
import os
import re
import shutil
import subprocess
import time

from clitest import Client, totp, wait_step_margin
from forgetest import FORGE_BIN, Forge, main

ADMIN = (Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)


class Tmux:
    def __init__(self, env):
        self.sock = "forge-test-%d" % os.getpid()
        self.env = env
        subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", "new-session", "-d", "-s",
                        "t", "-x", "160", "-y", "50", "env", "-i"] +
                       ["%s=%s" % kv for kv in env.items()] + ["bash", "--norc", "--noprofile"],
                       check=True)
        self.send("PS1='$ '", "Enter")
        self.send("clear", "Enter")

    def send(self, *keys):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t"] + list(keys), check=True)

    def type(self, text):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t", "-l", text], check=True)

    def screen(self, escapes=False):
        return subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p", "-t", "t"] +
                              (["-e"] if escapes else []), check=True, capture_output=True,
                              text=True).stdout

    def wait_for(self, text, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.05)
        raise AssertionError("%r not on the screen:\n%s" % (text, self.screen()))

    def clear(self):
        self.send("clear", "Enter")
        time.sleep(0.2)
        subprocess.run(["tmux", "-L", self.sock, "clear-history", "-t", "t"], check=True)

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def test_interactive_session_in_tmux(f: Forge):
    assert shutil.which("tmux"), "tmux missing: scripts/install-deps.sh --test"
    c = Client(f)
    env = {"PATH": os.path.dirname(FORGE_BIN) + ":/usr/bin:/bin", "HOME": c.home,
           "XDG_CONFIG_HOME": c.cfg, "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "EDITOR": "vim -u NONE -N -n"}
    t = Tmux(env)
    try:
        # login: email echoed, password not
        t.type("forge login %s" % f.url)
        t.send("Enter")
        t.wait_for("Email:")
        t.type(ADMIN[0])
        t.send("Enter")
        t.wait_for("Password:")
        t.type(ADMIN[1])
        t.send("Enter")
        t.wait_for("Authentication code (empty if two-factor authentication is off):")
        t.send("Enter")  # no MFA on this account
        s = t.wait_for("Logged in to")
        assert ADMIN[0] in s and ADMIN[1] not in s, s
        assert re.search(r"Password: *\n", s), s
        # the terminal echoes again after the prompt
        t.clear()
        t.type("echo visible-$((7))")
        t.send("Enter")
        t.wait_for("visible-7\n")
        # $EDITOR flow: vim opens with the help comment; the text written becomes the capsule
        t.clear()
        t.type("forge capsule create --type decision")
        t.send("Enter")
        t.wait_for("# Write the capsule's content above.")
        t.send("g", "g", "i")
        t.type("Decided in the editor: we keep weekly backups")
        t.send("Escape")
        t.type(":wq")
        t.send("Enter")
        s = t.wait_for("Created capsule")
        cid = re.search(r"Created capsule ([0-9a-f-]{36})", s).group(1)
        tok = c.creds()["profiles"]["default"]["access_token"]
        cap = f.get("/api/v1/capsules/" + cid, token=tok).json["data"]
        assert cap["content"] == "Decided in the editor: we keep weekly backups", cap
        assert cap["type"] == "decision"
        # an empty text aborts, nothing is created
        t.clear()
        t.type("forge capsule create; echo rc=$?")
        t.send("Enter")
        t.wait_for("# Write the capsule's content above.")
        t.type(":wq")
        t.send("Enter")
        s = t.wait_for("rc=1\n")
        assert "Aborting: empty content." in s and "rc=1" in s, s
        # edit opens the current content
        t.clear()
        t.type("forge capsule edit %s" % cid)
        t.send("Enter")
        t.wait_for("Decided in the editor")
        t.send("A")
        t.type(" and monthly restores")
        t.send("Escape")
        t.type(":wq")
        t.send("Enter")
        t.wait_for("(version 1.1.0)")
        cap = f.get("/api/v1/capsules/" + cid, token=tok).json["data"]
        assert cap["content"].endswith("and monthly restores"), cap
        # colour on a terminal, none with NO_COLOR
        t.clear()
        t.type("forge capsule list; echo done-$((1))")
        t.send("Enter")
        t.wait_for("done-1")
        scr = t.screen(escapes=True)
        assert "\033[1m" in scr, repr(scr)
        t.clear()
        t.type("NO_COLOR=1 forge capsule list; echo done-$((2))")
        t.send("Enter")
        t.wait_for("done-2")
        scr = t.screen(escapes=True)
        assert "ID" in scr and "\033[1m" not in scr, repr(scr)
    finally:
        t.close()


def test_mfa_prompt_in_tmux():
    f = Forge(env={"FORGE_TEST_CLOCK": "1"})
    t = None
    try:
        u = f.make_user()
        secret = f.post("/api/v1/auth/mfa/setup", token=u["access_token"]).json["data"]["secret"]
        wait_step_margin(0)
        assert f.post("/api/v1/auth/mfa/verify", {"code": totp(secret, time.time())},
                      token=u["access_token"]).status == 200
        # the next code must come from a later step (a code works once)
        assert f.post("/api/v1/admin/test/clock", {"offset_ms": 30000},
                      token=f.admin_token()).status == 200
        c = Client(f)
        t = Tmux({"PATH": "/usr/bin:/bin", "HOME": c.home, "XDG_CONFIG_HOME": c.cfg,
                  "TERM": "xterm-256color", "LANG": "C.UTF-8"})
        t.type("%s login %s --email %s" % (FORGE_BIN, f.url, u["email"]))
        t.send("Enter")
        t.wait_for("Password:")
        t.type(u["password"])
        t.send("Enter")
        t.wait_for("Authentication code (empty if two-factor authentication is off):")
        wait_step_margin(30)
        t.type(totp(secret, time.time() + 30))
        t.send("Enter")
        s = t.wait_for("Logged in to")
        assert u["password"] not in s and u["email"] in s, s
        assert c.json("whoami")["data"]["mfa_enabled"] is True
    finally:
        if t:
            t.close()
        f.close()


def test_bash_completion():
    c = Client()
    script = c.ok("completion", "bash").stdout
    path = os.path.join(c.home, "forge.bash")
    with open(path, "w") as fh:
        fh.write(script)
    subprocess.run(["bash", "-n", path], check=True)

    def complete(*words):
        cmd = ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _forge; echo \"${COMPREPLY[*]}\"; "
               "complete -p forge" % (path, " ".join("'%s'" % w for w in words), len(words) - 1))
        r = subprocess.run(["bash", "--norc", "-c", cmd], capture_output=True, text=True,
                           check=True)
        out, spec = r.stdout.rstrip("\n").rsplit("\n", 1)
        assert spec == "complete -F _forge forge", spec
        return out.split()

    assert complete("forge", "cap") == ["capsule"]
    assert set(complete("forge", "")) >= {"login", "capsule", "search", "import", "proposal",
                                          "serve", "admin", "help", "completion"}
    assert complete("forge", "capsule", "cr") == ["create"]
    assert complete("forge", "capsule", "create", "--ty") == ["--type"]
    assert "--cascade" in complete("forge", "capsule", "delete", "--")
    assert "--json" in complete("forge", "whoami", "--")
    assert complete("forge", "search", "q", "--mode", "") == ["semantic", "keyword", "hybrid"]
    assert complete("forge", "proposal", "vote", "X", "a") == ["against", "abstain"]
    assert complete("forge", "completion", "") == ["bash", "zsh"]
    assert complete("forge", "help", "prop") == ["proposal"]


def test_zsh_completion_script():
    c = Client()
    script = c.ok("completion", "zsh").stdout
    assert script.startswith("#compdef forge\n") and "compdef _forge forge" in script
    assert "'proposal vote') w=(for against abstain)" in script
    if shutil.which("zsh"):
        path = os.path.join(c.home, "_forge")
        with open(path, "w") as fh:
            fh.write(script)
        subprocess.run(["zsh", "-n", path], check=True)
    assert c.run("completion", "fish", check=1).stderr.startswith(
        "forge completion: unknown shell 'fish'")


def test_man_page_matches_help():
    c = Client()
    man = c.ok("help", "--man").stdout
    assert man.startswith(".TH FORGE 1 ")
    for section in ("NAME", "SYNOPSIS", "CLIENT COMMANDS", "GLOBAL OPTIONS", "ENVIRONMENT",
                    "FILES", "EXIT STATUS"):
        assert ".SH %s" % section in man or '.SH "%s"' % section in man, section
    text = man.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")
    overview = c.ok("help").stdout
    for cmd in ("login", "capsule create", "capsule lineage", "search", "import", "export",
                "proposal vote", "completion"):
        assert cmd in overview
        helptext = c.ok("help", *cmd.split()).stdout
        assert '.SS "%s' % cmd in text, cmd
        for opt in re.findall(r"--[a-z-]+", helptext.split("options:")[-1]):
            assert opt in text, (cmd, opt)
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=man,
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr


if __name__ == "__main__":
    main(globals())
