#!/usr/bin/env bash
# bench/embed: local-hash-v1 vs local-wordnet-v2 throughput, REPEAT runs of SECS seconds each.
# usage: bench/embed/run.sh [secs=5]   env: REPEAT (3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
make -s -C "$here" >/dev/null
cd "$root"
for i in $(seq 1 "${REPEAT:-3}"); do
  echo "run $i"
  "$here/local_bench" "${1:-5}" tests/unit/embed/data/paraphrase.tsv
done
