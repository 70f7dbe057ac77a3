#!/usr/bin/python3
"""Open-loop HTTP load generator for Forge (standard library only).

Requests are *scheduled* at a fixed rate (request i at t0 + i/rate) and handed to a pool of
keep-alive connections; latency is measured from the scheduled time, so a slow server cannot slow
the generator down and hide its own queueing (no coordinated omission). A mixed workload of reads,
lists, searches, writes and logins, in proportions given on the command line.

Only 127.0.0.1 targets are accepted: the load never leaves the machine.

usage: loadgen.py --port P --setup setup.json --rate R --duration S [--connections C]
                  [--mix read=55,list=15,search=15,write=14.95,login=0.05] [--json OUT]
setup.json (written by run.sh): {"tokens": [...], "capsule_ids": [...], "users": [[email, pw]...],
                                 "search": {"method": "GET", "path": "..."} | null}
"""
import argparse
import asyncio
import json
import random
import sys
import time


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


class Workload:
    WORDS = ("decision", "incident", "runbook", "design", "retention", "latency", "index", "vote",
             "overlay", "lineage", "backup", "capsule", "policy", "search", "memory", "review")

    def __init__(self, setup, mix, rng):
        self.tokens = setup["tokens"]
        self.ids = list(setup["capsule_ids"])
        self.users = setup["users"]
        self.search = setup.get("search")
        self.rng = rng
        ops = dict(mix)
        if not self.search and ops.get("search"):
            ops["list"] = ops.get("list", 0) + ops.pop("search")  # no search endpoint yet
        self.ops = [k for k, v in ops.items() if v > 0]
        self.weights = [ops[k] for k in self.ops]

    def next(self):
        op = self.rng.choices(self.ops, self.weights)[0]
        tok = self.rng.choice(self.tokens)
        if op == "read":
            return op, "GET", "/api/v1/capsules/%s" % self.rng.choice(self.ids), None, tok
        if op == "list":
            return op, "GET", "/api/v1/capsules?page=%d&per_page=20" % self.rng.randint(1, 10), None, tok
        if op == "search":
            q = " ".join(self.rng.sample(self.WORDS, 2))
            if self.search["method"] == "GET":
                return op, "GET", "%s?q=%s" % (self.search["path"], q.replace(" ", "+")), None, tok
            return op, "POST", self.search["path"], {"query": q, "limit": 10}, tok
        if op == "write":
            body = {"content": "load test note about %s and %s #%d" % (
                self.rng.choice(self.WORDS), self.rng.choice(self.WORDS), self.rng.randint(0, 1 << 30)),
                "type": "knowledge"}
            return op, "POST", "/api/v1/capsules", body, tok
        if op == "login":
            email, pw = self.rng.choice(self.users)
            return op, "POST", "/api/v1/auth/login", {"email": email, "password": pw}, None
        raise ValueError(op)


async def connection(port, queue, results, stop):
    reader = writer = None
    while not stop.is_set():
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
        status = 0
        for attempt in (0, 1):  # one reconnect if the server closed an idle keep-alive connection
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(head.encode() + payload)
                await writer.drain()
                line = await reader.readline()
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
                if length:
                    await reader.readexactly(length)
                if close:
                    writer.close()
                    writer = None
                break
            except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                if writer is not None:
                    writer.close()
                writer = None
                status = 0
                if attempt == 1:
                    break
        results.append((op, time.monotonic() - sched, status))
    if writer is not None:
        writer.close()


async def run(args, setup, mix):
    rng = random.Random(args.seed)
    wl = Workload(setup, mix, rng)
    queue = asyncio.Queue()
    results = []
    stop = asyncio.Event()
    workers = [asyncio.create_task(connection(args.port, queue, results, stop))
               for _ in range(args.connections)]
    total = int(args.rate * args.duration)
    t0 = time.monotonic() + 0.05
    i = 0
    while i < total:
        now = time.monotonic()
        due = min(total, int((now - t0) * args.rate) + 1)
        while i < due:
            queue.put_nowait((t0 + i / args.rate, wl.next()))
            i += 1
        await asyncio.sleep(max(0.0, t0 + i / args.rate - time.monotonic()))
    # drain: wait for what was scheduled, bounded
    deadline = time.monotonic() + 30
    while len(results) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t0
    stop.set()
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.wait(workers, timeout=5)
    return results, total, elapsed


def summarize(results, total, rate, duration, elapsed):
    def stats(rows):
        lat = sorted(r[1] for r in rows)
        errors = sum(1 for r in rows if not (200 <= r[2] < 300))
        return {"count": len(rows), "errors": errors,
                "p50_ms": round(percentile(lat, 50) * 1000, 2), "p95_ms": round(percentile(lat, 95) * 1000, 2),
                "p99_ms": round(percentile(lat, 99) * 1000, 2), "max_ms": round((lat[-1] if lat else 0) * 1000, 2)}
    out = {"target_rps": rate, "duration_s": duration, "scheduled": total, "completed": len(results),
           "achieved_rps": round(len(results) / max(elapsed, 1e-9), 1), "all": stats(results), "by_op": {}}
    out["all"]["errors"] += total - len(results)  # never answered within the drain time
    statuses = {}
    for r in results:
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    out["statuses"] = {str(k): v for k, v in sorted(statuses.items())}
    for op in sorted({r[0] for r in results}):
        out["by_op"][op] = stats([r for r in results if r[0] == op])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--setup", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--mix", default="read=55,list=15,search=15,write=14.95,login=0.05")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.host != "127.0.0.1":
        sys.exit("loadgen: only 127.0.0.1 is allowed as a target")
    if args.rate <= 0 or args.duration <= 0 or args.duration > 600:
        sys.exit("loadgen: rate > 0 and 0 < duration <= 600 s")
    mix = [(k, float(v)) for k, v in (p.split("=") for p in args.mix.split(","))]
    with open(args.setup) as f:
        setup = json.load(f)
    results, total, elapsed = asyncio.run(run(args, setup, mix))
    out = summarize(results, total, args.rate, args.duration, elapsed)
    if args.json:
        with open(args.json, "w") as f:
            f.write(json.dumps(out))  # one line: run.sh collects steps as JSON lines
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
