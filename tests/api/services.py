"""Real PostgreSQL and Redis servers for tests: started on loopback, random free ports, temp dirs,
stopped at the end. Debian packages: postgresql (15), redis-server."""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from forgetest import free_port


def _pg_bin(name):
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    if not cands:
        raise RuntimeError("PostgreSQL server binaries missing: apt-get install -y postgresql")
    return cands[-1]


class PgServer:
    """A throwaway PostgreSQL cluster. As root, it runs as the `postgres` system user (PostgreSQL
    refuses to run as root). url: a postgresql:// URL with a password for database `forge`."""

    def __init__(self, password="forge-test-pw"):
        self.dir = tempfile.mkdtemp(prefix="forge-pg-")
        self.port = free_port()
        self.password = password
        self.preexec = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

            def drop():
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            self.preexec = drop
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as fh:
            fh.write(password + "\n")
        if self.preexec:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        subprocess.run([_pg_bin("initdb"), "-D", data, "-U", "forge", "--pwfile", pwfile,
                        "-A", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8"],
                       check=True, capture_output=True, preexec_fn=self.preexec, cwd=self.dir)
        self.start()
        self.psql("CREATE DATABASE forge", db="postgres")

    def start(self):
        """Starts (or restarts) the server on the same port and data directory."""
        data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "pg.log")
        self.proc = subprocess.Popen(
            [_pg_bin("postgres"), "-D", data, "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, preexec_fn=self.preexec,
            cwd=self.dir)
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("postgres did not start:\n" + open(self.log).read())

    @property
    def url(self):
        return "postgresql://forge:%s@127.0.0.1:%d/forge" % (self.password, self.port)

    def psql(self, sql, db="forge"):
        env = dict(os.environ, PGPASSWORD=self.password)
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "forge",
                            "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql failed: " + r.stderr)
        return r.stdout.strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A throwaway redis-server on loopback (no persistence)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="forge-redis-")
        self.port = free_port()
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis did not start")

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), capture_output=True,
                           text=True)
        return r.stdout.strip()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
