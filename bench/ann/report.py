#!/usr/bin/python3
"""Table + ratios from the RESULT lines of forge_ann / hnswlib_ann.py (bench/ann/run.sh)."""
import sys
from collections import defaultdict

TARGET = 0.95


def parse(path):
    rows = []
    for line in open(path):
        if not line.startswith("RESULT "):
            continue
        kv = dict(tok.split("=", 1) for tok in line.split()[1:])
        rows.append(kv)
    return rows


def main():
    rows = parse(sys.argv[1])
    impls, build, persist, churn = [], {}, {}, {}
    exact = None
    query = defaultdict(dict)
    for r in rows:
        impl = r["impl"]
        if impl not in impls:
            impls.append(impl)
        if r["kind"] == "build":
            build[impl] = r
        elif r["kind"] == "persist":
            persist[impl] = r
        elif r["kind"] == "exact":
            exact = r
            impls.remove(impl)
        elif r["kind"] == "churn":
            churn[impl] = r
        elif r["kind"] == "query":
            query[impl][int(r["ef"])] = (float(r["recall"]), float(r["qps"]))
    efs = sorted({ef for q in query.values() for ef in q})

    print("recall@10 / queries per second (1 thread)")
    head = f"{'impl':<31}" + "".join(f"{'ef=' + str(ef):>18}" for ef in efs)
    print(head)
    print("-" * len(head))
    for impl in impls:
        cells = []
        for ef in efs:
            rq = query[impl].get(ef)
            cells.append(f"{rq[0]:.4f} /{rq[1]:>8.0f}" if rq else "")
        print(f"{impl:<31}" + "".join(f"{c:>18}" for c in cells))

    if exact:
        print(f"{'exact (brute force)':<31}{'recall 1.0 /' + format(float(exact['qps']), '8.1f'):>18}"
              "   (any ef; vec_exact_search, 1 thread)")
    print()
    print("memory: B/vector = hnsw_memory_bytes / n (hnswlib: its saved index size / n);")
    print("        RSS anon / file = growth of the process's anonymous / file-backed RSS over the build")
    print(f"{'impl':<31}{'build s':>9}{'B/vector':>10}{'RSS anon':>10}{'RSS file':>10}"
          f"{'save s':>8}{'load->1st answer s':>20}{'file MB':>9}")
    for impl in impls:
        if impl not in build:
            continue
        b, p = build[impl], persist.get(impl, {})
        print(f"{impl:<31}{float(b['build_s']):>9.1f}{float(b['bytes_per_vec']):>10.1f}"
              f"{b.get('rss_anon_per_vec', '-'):>10}{b.get('rss_file_per_vec', '-'):>10}"
              f"{float(p.get('save_s', 'nan')):>8.3f}"
              f"{float(p.get('load_to_first_answer_s', 'nan')):>20.3f}{float(p.get('file_mb', 'nan')):>9.1f}")

    if churn:
        print()
        print("churn: delete a seeded 10% one by one (the delete crossing the 10% tombstone")
        print("threshold runs the vacuum/repair pass); recall rows '*-after-del10%' above")
        for impl, c in churn.items():
            print(f"  {impl:<31} {c['deleted']} deletes in {c['delete_total_s']} s, slowest single "
                  f"delete (incl. vacuum) {c['slowest_delete_s']} s, vacuums={c['vacuums']}")

    def first_ok(impl):
        for ef in efs:
            rq = query[impl].get(ef)
            if rq and rq[0] >= TARGET:
                return ef, rq
        return None, None

    print()
    print(f"smallest ef reaching recall@10 >= {TARGET} and qps ratio vs hnswlib at that point")
    hef, hrq = first_ok("hnswlib") if "hnswlib" in query else (None, None)
    for impl in impls:
        ef, rq = first_ok(impl)
        if ef is None:
            print(f"  {impl:<31} never reaches {TARGET}")
            continue
        ratio = f"{rq[1] / hrq[1]:.2f}x hnswlib (ef={hef}, {hrq[1]:.0f} qps)" if hrq and impl != "hnswlib" else ""
        print(f"  {impl:<31} ef={ef:<4} recall={rq[0]:.4f} qps={rq[1]:>7.0f}  {ratio}")
    if "forge-f32" in build and "forge-i8" in build:
        f, i = float(build["forge-f32"]["bytes_per_vec"]), float(build["forge-i8"]["bytes_per_vec"])
        print(f"\nint8 / float index memory: {i / f:.3f} (goal <= 0.333)")


if __name__ == "__main__":
    main()
