#!/usr/bin/env bash
# bench/embed: local-hash-v1 vs local-wordnet-v2 throughput, then the "model" provider against the
# same model run by PyTorch, REPEAT runs of SECS seconds each.
# usage: bench/embed/run.sh [secs=5]   env: REPEAT (3), MODEL_DIR (default: a random model with
# all-MiniLM-L6-v2's shapes generated into a temporary directory), SKIP_LOCAL=1, BATCHES ("1 32")
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
make -s -C "$here" >/dev/null
cd "$root"
tsv=tests/unit/embed/data/paraphrase.tsv
model="${MODEL_DIR:-}"
if [ -z "$model" ]; then
  model="$(mktemp -d)"
  trap 'rm -rf "$model"' EXIT
  /usr/bin/python3 tests/unit/embed/model/gen_tiny_bert.py --minilm "$model"
fi
for i in $(seq 1 "${REPEAT:-3}"); do
  echo "run $i"
  [ -n "${SKIP_LOCAL:-}" ] || "$here/local_bench" "${1:-5}" "$tsv"
  for b in ${BATCHES:-1 32}; do
    OPENBLAS_NUM_THREADS=2 "$here/model_bench" "$model" "$tsv" "${1:-5}" "$b"
    /usr/bin/python3 "$here/torch_bench.py" "$model" "$tsv" "${1:-5}" "$b"
  done
done
