#!/usr/bin/python3
"""Chaos under load (issue 20 item 3, docs/operations/chaos.md).

Drives bench/load's mixed workload (loadgen.Workload: reads, lists, searches, writes, logins) at a
fixed open-loop rate against real `forge serve` processes, breaks one dependency in the middle of
the run, repairs it, and measures:

  lost      acknowledged writes (201 with an id) that cannot be read back afterwards (must be 0);
  errors    answers that are not 2xx while the fault lasts, by status, and whether every error
            body has the documented {"code","message","details"} form (503 expected);
  recovery  seconds from the repair until the last failed request (0 = the first request after
            the repair succeeded); Forge itself is never restarted (same PIDs at the end);
  kafka     for the Kafka scenario, seconds from the repair until the outbox backlog is 0.

Scenarios (each on fresh processes and data):
  pg_restart    one forge on PostgreSQL; PostgreSQL is stopped (fast shutdown) for FAULT
                seconds, then started again on the same port and data directory
  redis_kill    forge on SQLite with REDIS_URL; redis-server is SIGKILLed, restarted after FAULT s
  disk_full     forge on SQLite whose data directory is a small tmpfs (root: mount); a filler
                file takes every free byte for FAULT s, then is removed
  replica_kill9 two forge serve on one PostgreSQL, load spread over both (a client that fails
                over, as a load balancer would); one replica gets SIGKILL and is started again
                after FAULT s; acknowledged writes of both are checked
  kafka_down    forge on SQLite with KAFKA_BOOTSTRAP_SERVERS = librdkafka's mock cluster
                (bench/chaos/kafka_mock.c, built on the fly); every broker is set down for FAULT s

usage: bench/chaos/chaos.py [--rate 500] [--duration 30] [--fault-at 8] [--fault 8]
                            [--scenarios pg_restart,redis_kill,disk_full,replica_kill9,kafka_down]
                            [--json out.json] [--md out.md]
Loopback only; every wait is bounded; everything started is stopped at the end.
"""
import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
import loadgen  # noqa: E402  (bench/load/loadgen.py: the workload mix)
from services import PgServer, RedisServer  # noqa: E402  (the test harness's real servers)

FORGE_BIN = os.environ.get("FORGE_BIN") or os.path.join(ROOT, "build", "forge")
JWT = "chaos-secret-0123456789-0123456789-abcdef"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def call(port, method, path, body=None, token=None, timeout=30):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"null")
        except ValueError:
            return e.code, None


class Replica:
    """One `forge serve` process."""

    def __init__(self, env, workdir, name):
        self.port = free_port()
        self.env = dict(env, PORT=str(self.port))
        self.dir = workdir
        self.log = os.path.join(workdir, "%s.log" % name)
        self.proc = None

    def start(self, timeout=60):
        self.proc = subprocess.Popen([FORGE_BIN, "serve"], env=self.env, cwd=self.dir,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("forge exited:\n" + open(self.log).read()[-3000:])
            try:
                if call(self.port, "GET", "/health/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("forge did not become ready:\n" + open(self.log).read()[-3000:])

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def base_env(tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FORGE_", "DATABASE_", "JWT_", "REDIS_", "KAFKA_", "EMBEDDING_"))}
    env.update({"HOST": "127.0.0.1", "LOG_FORMAT": "json", "LOG_LEVEL": "warning",
                "JWT_SECRET": JWT, "FORGE_ENV_FILE": "/dev/null", "RATE_LIMIT_ENABLED": "false",
                # replicas share the key store (docs/privacy.md): one master key for all
                "FORGE_MASTER_KEY": "3a" * 32, "HOME": tmp})
    return env


def seed(port, users=8, capsules=200):
    out = {"users": [], "tokens": [], "capsule_ids": []}
    for i in range(users):
        email, pw = "chaos%02d@example.com" % i, "Chaos-test-passw0rd-%02d" % i
        st, _ = call(port, "POST", "/api/v1/auth/register", {"email": email, "password": pw})
        if st not in (200, 201, 409):
            raise RuntimeError("register: %d" % st)
        st, b = call(port, "POST", "/api/v1/auth/login", {"email": email, "password": pw})
        out["tokens"].append(b["data"]["access_token"])
        out["users"].append([email, pw])
    for i in range(capsules):
        st, b = call(port, "POST", "/api/v1/capsules",
                     {"content": "chaos seed %d about runbooks and incidents" % i,
                      "type": "knowledge"}, out["tokens"][i % users])
        out["capsule_ids"].append(b["data"]["id"])
    st, b = call(port, "GET", "/openapi.json")
    out["search"] = None
    for p, ops in b["paths"].items():
        if "search" in p and "{" not in p:
            out["search"] = {"method": "POST" if "post" in ops else "GET", "path": p}
            break
    return out


# ---- the load: loadgen's open-loop schedule, with the answers kept --------------------------

async def worker(idx, ports, queue, results, t0):
    reader = writer = None
    cur = idx % len(ports)
    while True:
        item = await queue.get()
        if item is None:
            break
        sched, (op, method, path, body, tok) = item
        payload = json.dumps(body).encode() if body is not None else b""
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n" % (method, path)
        if tok:
            head += "Authorization: Bearer %s\r\n" % tok
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += "Content-Length: %d\r\n\r\n" % len(payload)
        status, data, used = 0, b"", None
        for attempt in range(3):  # reconnect; with two replicas, fail over to the other one
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", ports[cur]), 5)
                used = ports[cur]
                writer.write(head.encode() + payload)
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    raise ConnectionError("closed")
                status = int(line.split()[1])
                length, close = 0, False
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        length = int(v.strip())
                    elif k == "connection" and v.strip().lower() == "close":
                        close = True
                data = await reader.readexactly(length) if length else b""
                if close:
                    writer.close()
                    writer = None
                break
            except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
                    ValueError, IndexError):
                if writer is not None:
                    writer.close()
                writer = None
                status = 0
                cur = (cur + 1) % len(ports)
        rec = {"op": op, "sched": sched - t0, "done": time.monotonic() - t0, "status": status,
               "port": used}
        if status and not (200 <= status < 300):
            try:
                j = json.loads(data)
                rec["code"] = j.get("code")
                rec["format_ok"] = (isinstance(j.get("code"), str) and
                                    isinstance(j.get("message"), str) and
                                    isinstance(j.get("details"), dict))
                rec["message"] = j.get("message")
            except (ValueError, AttributeError):
                rec["format_ok"] = False
        if op == "write" and status == 201:
            try:
                rec["id"] = json.loads(data)["data"]["id"]
                rec["tok"] = tok
            except (ValueError, KeyError, TypeError):
                pass
        results.append(rec)
    if writer is not None:
        writer.close()


async def run_load(ports, setup, rate, duration, events, conns=64):
    """events: [(t_seconds, fn)] run in a thread at those times (fault, repair)."""
    rng = random.Random(11)
    mix = [(k, float(v)) for k, v in
           (p.split("=") for p in "read=55,list=15,search=15,write=14.95,login=0.05".split(","))]
    wl = loadgen.Workload(setup, mix, rng)
    queue = asyncio.Queue()
    results = []
    t0 = time.monotonic() + 0.05
    tasks = [asyncio.create_task(worker(i, ports, queue, results, t0)) for i in range(conns)]
    marks = {}
    loop = asyncio.get_running_loop()

    async def fire(at, name, fn):
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        marks[name + "_start"] = time.monotonic() - t0
        await loop.run_in_executor(None, fn)
        marks[name] = time.monotonic() - t0
    ev = [asyncio.create_task(fire(at, name, fn)) for at, name, fn in events]
    total = int(rate * duration)
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        while i < due:
            queue.put_nowait((t0 + i / rate, wl.next()))
            i += 1
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    deadline = time.monotonic() + 60
    while len(results) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.wait(tasks, timeout=10)
    await asyncio.gather(*ev)
    return results, total, marks


def verify(ports, acked):
    """GET every acknowledged id (as its writer); returns the ids not found."""
    lost = []
    lock = threading.Lock()
    items = list(acked)

    def work(chunk):
        for cid, tok in chunk:
            st = 0
            for p in ports:
                try:
                    st, _ = call(p, "GET", "/api/v1/capsules/" + cid, token=tok)
                except OSError:
                    continue
                if st == 200:
                    break
            if st != 200:
                with lock:
                    lost.append((cid, st))
    n = 8
    ths = [threading.Thread(target=work, args=(items[k::n],)) for k in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return lost


def summarize(name, results, total, marks, lost, acked, pids_same, extra=None):
    down, up = marks.get("fault_start", 0), marks.get("repair", 0)
    errs = [r for r in results if not (200 <= r["status"] < 300)]
    during = [r for r in errs if r["done"] >= down]
    after = [r for r in errs if r["sched"] >= up]
    last_err = max((r["done"] for r in during), default=None)
    statuses = {}
    for r in during:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    codes = {}
    for r in during:
        if "code" in r:
            codes[r["code"]] = codes.get(r["code"], 0) + 1
    bad_format = sum(1 for r in errs if r["status"] and not r.get("format_ok", True))
    msgs = sorted({r.get("message") for r in during if r["status"] == 503 and r.get("message")})
    out = {
        "scenario": name, "scheduled": total, "answered": len(results),
        "fault_at_s": round(down, 2), "repaired_at_s": round(up, 2),
        "repair_took_s": round(up - marks.get("repair_start", up), 3),
        "acked_writes": acked, "acked_writes_lost": len(lost), "lost_sample": lost[:5],
        "errors_total": len(errs), "error_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "error_codes": codes, "errors_not_in_documented_format": bad_format,
        "messages_503": msgs[:3],
        "errors_after_repair": len(after),
        "errors_before_fault": len(errs) - len(during),
        "first_error_s": round(min((r["done"] for r in errs), default=0), 2),
        "last_error_s": round(max((r["done"] for r in errs), default=0), 2),
        "recovery_s": round(max(0.0, last_err - up), 3) if last_err is not None and up else 0.0,
        "forge_restarted": not pids_same,
    }
    out.update(extra or {})
    return out


def outbox_backlog(port):
    try:
        req = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5)
        for line in req.read().decode().splitlines():
            if line.startswith("forge_events_outbox_backlog"):
                return float(line.split()[-1])
    except OSError:
        return None
    return None


# ---- scenarios -----------------------------------------------------------------------------

def scenario(name, args):
    tmp = tempfile.mkdtemp(prefix="forge-chaos-")
    env = base_env(tmp)
    cleanups = []
    replicas = []
    extra = {}
    try:
        if name in ("pg_restart", "replica_kill9"):
            pg = PgServer()
            cleanups.append(pg.close)
            env["DATABASE_URL"] = pg.url
            fault, repair = pg.stop, pg.start
        else:
            env["DATABASE_URL"] = "sqlite:///%s/data/forge.db" % tmp
            os.makedirs(os.path.join(tmp, "data"))
        if name == "redis_kill":
            redis = RedisServer()
            cleanups.append(redis.close)
            env["REDIS_URL"] = redis.url
            rport, rdir = redis.port, redis.dir

            def fault():
                redis.proc.send_signal(signal.SIGKILL)
                redis.proc.wait(10)

            def repair():
                exe = shutil.which("redis-server") or "/usr/bin/redis-server"
                redis.proc = subprocess.Popen(
                    [exe, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", rdir],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(200):
                    if redis.cli("PING") == "PONG":
                        return
                    time.sleep(0.05)
        if name == "disk_full":
            mnt = os.path.join(tmp, "data")
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % args.disk_mb, "tmpfs",
                                mnt], capture_output=True, text=True)
            if r.returncode != 0:
                return {"scenario": name, "skipped": "cannot mount a tmpfs: " + r.stderr.strip()}
            cleanups.append(lambda: subprocess.run(["umount", "-l", mnt]))
            filler = os.path.join(mnt, "filler")

            def fault():
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    for size in (1 << 20, 4096, 1):  # every free byte
                        block = b"\0" * size
                        try:
                            while True:
                                os.write(fd, block)
                        except OSError:
                            pass
                finally:
                    os.close(fd)

            def repair():
                os.remove(filler)
        if name == "kafka_down":
            exe = os.path.join(tmp, "kafka_mock")
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"],
                                   capture_output=True, text=True, check=True).stdout.split()
            subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "kafka_mock.c")] + flags,
                           check=True)
            mock = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
            cleanups.append(lambda: (mock.stdin.close(), mock.wait(10)))
            env["KAFKA_BOOTSTRAP_SERVERS"] = mock.stdout.readline().strip()

            def fault():
                mock.stdin.write("down\n")
                mock.stdin.flush()
                mock.stdout.readline()

            def repair():
                mock.stdin.write("up\n")
                mock.stdin.flush()
                mock.stdout.readline()

        a = Replica(env, tmp, "forge-a")
        replicas.append(a)
        a.start()
        ports = [a.port]
        if name == "replica_kill9":
            b = Replica(env, tmp, "forge-b")
            replicas.append(b)
            b.start()
            ports.append(b.port)

            def fault():
                b.kill9()

            def repair():
                b.start()
        setup = seed(a.port)
        pids = [r.proc.pid for r in replicas]
        events = [(args.fault_at, "fault", fault), (args.fault_at + args.fault, "repair", repair)]
        samples, stop_poll = [], threading.Event()
        poller = None
        if name == "kafka_down":  # the outbox backlog over time (the writes do not wait for Kafka)
            t_base = time.monotonic()

            def poll():
                while not stop_poll.is_set():
                    samples.append((time.monotonic() - t_base, outbox_backlog(a.port)))
                    stop_poll.wait(0.25)
            poller = threading.Thread(target=poll)
            poller.start()
        results, total, marks = asyncio.run(run_load(ports, setup, args.rate, args.duration,
                                                     events))
        if poller:
            stop_poll.set()
            poller.join()
            up = marks.get("repair", 0)
            peak = max((v for _, v in samples if v is not None), default=None)
            zero_after = [t - up for t, v in samples if t >= up and v == 0]
            extra["outbox_backlog_peak"] = peak
            extra["outbox_backlog_zero_s_after_repair"] = (round(zero_after[0], 2)
                                                          if zero_after else None)
        if name == "kafka_down":
            t_up = time.monotonic()
            drained = None
            backlog_at_end = outbox_backlog(a.port)
            for _ in range(600):
                v = outbox_backlog(a.port)
                if v == 0:
                    drained = time.monotonic() - t_up
                    break
                time.sleep(0.1)
            extra["outbox_backlog_after_load"] = backlog_at_end
            extra["outbox_drained_s_after_load"] = None if drained is None else round(drained, 2)
        acked = [(r["id"], r["tok"]) for r in results if "id" in r]
        lost = verify(ports, acked)
        if name == "replica_kill9":
            # the killed replica was started again by the repair: only the survivor must keep
            # its PID; the answers the killed one never gave are the errors counted
            same = replicas[0].proc.pid == pids[0] and replicas[0].proc.poll() is None
        else:
            same = all(r.proc.poll() is None and r.proc.pid == p for r, p in zip(replicas, pids))
        out = summarize(name, results, total, marks, lost, len(acked), same, extra)
        out["rate"] = args.rate
        out["achieved_rps"] = round(len(results) / args.duration, 1)
        return out
    finally:
        for r in replicas:
            r.stop()
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # noqa: BLE001 — cleanup must go on
                print("cleanup: %s" % e, file=sys.stderr)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s" % tmp, file=sys.stderr)


def markdown(rows):
    out = ["| scenario | rate (req/s) | answered / scheduled | acked writes | lost "
           "| errors while down (statuses) | documented error format | 503 messages | recovery (s) "
           "| Forge restarted |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            out.append("| %s | skipped: %s ||||||||| " % (r["scenario"], r["skipped"]))
            continue
        rec = "%.3f" % r["recovery_s"]
        if "outbox_backlog_peak" in r:
            rec += " (outbox backlog peak %s, back to 0 %s s after the repair)" % (
                r["outbox_backlog_peak"], r["outbox_backlog_zero_s_after_repair"])
        out.append("| %s | %s | %d / %d | %d | %d | %d %s | %s | %s | %s | %s |" % (
            r["scenario"], r["rate"], r["answered"], r["scheduled"], r["acked_writes"],
            r["acked_writes_lost"],
            r["errors_total"], json.dumps(r["error_statuses"]),
            "yes" if r["errors_not_in_documented_format"] == 0 else
            "no (%d)" % r["errors_not_in_documented_format"],
            "; ".join(r["messages_503"]) or "-", rec, "yes" if r["forge_restarted"] else "no"))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--fault-at", type=float, default=8)
    ap.add_argument("--fault", type=float, default=8)
    ap.add_argument("--disk-mb", type=int, default=256)
    ap.add_argument("--scenarios",
                    default="pg_restart,redis_kill,disk_full,replica_kill9,kafka_down")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--keep", action="store_true", help="keep the temp directories (logs)")
    args = ap.parse_args()
    if not os.access(FORGE_BIN, os.X_OK):
        sys.exit("chaos: no forge binary at %s (make build, or set FORGE_BIN)" % FORGE_BIN)
    if args.fault_at + args.fault >= args.duration:
        sys.exit("chaos: the repair must come before the end of the load")
    rows = []
    for name in args.scenarios.split(","):
        print("== %s" % name, file=sys.stderr)
        r = scenario(name, args)
        print(json.dumps(r, indent=1), file=sys.stderr)
        rows.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    md = markdown(rows)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    print(md)
    bad = [r for r in rows if r.get("acked_writes_lost") or r.get("forge_restarted")]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
