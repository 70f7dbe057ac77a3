#!/usr/bin/python3
"""hnswlib side of bench/ann: same data and ground truth files as forge_ann, same parameters.

Run with Debian's python3-hnswlib (/usr/bin/python3). Usage:
    hnswlib_ann.py DATA GT EF...
Prints RESULT lines like forge_ann's. Build and queries are single-threaded (num_threads=1);
queries are one batched knn_query call per pass so no Python overhead is counted per query."""
import os
import sys
import tempfile
import time

import hnswlib
import numpy as np

K = 10


def load(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"FANNDAT1", "bad data file"
        n, nq, dim, _ = np.frombuffer(f.read(16), dtype=np.uint32)
        x = np.frombuffer(f.read(), dtype=np.float32).reshape(int(n) + int(nq), int(dim))
    return x[: int(n)], x[int(n):]


def load_gt(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"FANNGT01", "bad gt file"
        nq, k = np.frombuffer(f.read(8), dtype=np.uint32)
        return np.frombuffer(f.read(), dtype=np.uint32).reshape(int(nq), int(k))


def rss():
    """(RssAnon, RssFile + RssShmem) of this process in bytes."""
    anon = filed = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1]) * 1024
            elif line.startswith(("RssFile:", "RssShmem:")):
                filed += int(line.split()[1]) * 1024
    return anon, filed


def main():
    data, gtpath, efs = sys.argv[1], sys.argv[2], [int(e) for e in sys.argv[3:]]
    reps = int(os.environ.get("FORGE_ANN_REPS", "3"))
    base, queries = load(data)
    gt = load_gt(gtpath)[:, :K]
    n, dim = base.shape
    a0, f0 = rss()
    idx = hnswlib.Index(space="cosine", dim=dim)
    idx.init_index(max_elements=n, M=16, ef_construction=200, random_seed=42)
    idx.set_num_threads(1)
    t0 = time.perf_counter()
    idx.add_items(base, np.arange(n), num_threads=1)
    build = time.perf_counter() - t0
    a1, f1 = rss()
    with tempfile.TemporaryDirectory(dir=os.environ.get("FORGE_ANN_TMP", "/tmp")) as td:
        path = os.path.join(td, "hnswlib.bin")
        t0 = time.perf_counter()
        idx.save_index(path)
        save_s = time.perf_counter() - t0
        size = os.path.getsize(path)
        t0 = time.perf_counter()
        idx2 = hnswlib.Index(space="cosine", dim=dim)
        idx2.load_index(path, max_elements=n)
        idx2.set_ef(64)
        idx2.knn_query(queries[:1], k=K, num_threads=1)
        load_s = time.perf_counter() - t0
        del idx2
    # The saved file is hnswlib's in-memory layout (level 0 + upper links + labels).
    print(f"RESULT impl=hnswlib kind=build build_s={build:.2f} bytes_per_vec={size / n:.1f} "
          f"float_file_bytes_per_vec=0.0 rss_anon_per_vec={(a1 - a0) / n:.1f} "
          f"rss_file_per_vec={(f1 - f0) / n:.1f} kernel=sse threads=1", flush=True)
    idx.set_ef(64)
    idx.knn_query(queries, k=K, num_threads=1)  # warm-up
    for ef in efs:
        idx.set_ef(ef)
        best = 1e30
        for _ in range(reps):
            t0 = time.perf_counter()
            labels, _ = idx.knn_query(queries, k=K, num_threads=1)
            best = min(best, time.perf_counter() - t0)
        hits = sum(len(set(labels[i].tolist()) & set(gt[i].tolist())) for i in range(len(gt)))
        print(f"RESULT impl=hnswlib kind=query ef={ef} recall={hits / (len(gt) * K):.4f} "
              f"qps={len(queries) / best:.0f}", flush=True)
    print(f"RESULT impl=hnswlib kind=persist save_s={save_s:.3f} load_to_first_answer_s={load_s:.3f} "
          f"file_mb={size / 1e6:.1f} identical=1", flush=True)


if __name__ == "__main__":
    main()
