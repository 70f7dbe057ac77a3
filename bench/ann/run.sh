#!/usr/bin/env bash
# bench/ann: Forge HNSW (float, int8) vs hnswlib (Debian python3-hnswlib) vs exact search, on the
# same seeded data in the same run. See README.md. Knobs (environment):
#   N=100000 NQ=1000 DIM=384 SEED=42   data set
#   EFS="16 32 64 128 256"             search ef values
#   NATIVE=1                           also run the -O3 -march=native build of Forge (float + int8)
#   KERNELS="avx2 scalar"              also query the saved float index with these kernels
#   FORGE_ANN_REPS=3                   timed passes per ef (fastest reported)
#   FORGE_ANN_TMP=<mktemp -d>          where data, ground truth and index files go (removed after)
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-100000}; NQ=${NQ:-1000}; DIM=${DIM:-384}; SEED=${SEED:-42}
EFS=${EFS:-"16 32 64 128 256"}
NATIVE=${NATIVE:-1}
KERNELS=${KERNELS:-"avx2 scalar"}
PY=/usr/bin/python3   # Debian's python with python3-hnswlib, not a pyenv one

if ! $PY -c 'import hnswlib, numpy' 2>/dev/null; then
  echo "missing python3-hnswlib / python3-numpy: apt-get install -y python3-hnswlib python3-numpy" >&2
  exit 1
fi
# OPENBLAS_* are set on some machines for older OpenBLAS; hnswlib does not use BLAS, numpy only
# slices here, so they are left alone.

make -s
TMP=${FORGE_ANN_TMP:-$(mktemp -d /tmp/forge-ann-XXXXXX)}
export FORGE_ANN_TMP=$TMP
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/results.txt
: >"$OUT"

echo "== $(date -u '+%Y-%m-%d %H:%M UTC')  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)  $(nproc) cores"
echo "== data: $N x $DIM, $NQ queries, seed $SEED"
SECONDS=0
./forge_ann gen "$TMP/data.bin" "$N" "$NQ" "$DIM" "$SEED"
./forge_ann gt "$TMP/data.bin" "$TMP/gt.bin" 100 2 | tee -a "$OUT"
echo "   generated + exact ground truth in ${SECONDS} s"

echo "== forge float (-O2, project flags)"
FORGE_ANN_KEEP=$TMP/f32.hnsw ./forge_ann run "$TMP/data.bin" "$TMP/gt.bin" float forge-f32 $EFS | tee -a "$OUT"
for k in $KERNELS; do
  echo "== forge float, saved index queried with FORGE_VEC_KERNEL=$k"
  FORGE_VEC_KERNEL=$k ./forge_ann query "$TMP/data.bin" "$TMP/gt.bin" "$TMP/f32.hnsw" "forge-f32-$k" $EFS | tee -a "$OUT"
done
rm -f "$TMP/f32.hnsw"
echo "== forge int8 (-O2, project flags)"
./forge_ann run "$TMP/data.bin" "$TMP/gt.bin" int8 forge-i8 $EFS | tee -a "$OUT"
if [ "$NATIVE" = 1 ]; then
  echo "== forge float (-O3 -march=native)"
  ./forge_ann_native run "$TMP/data.bin" "$TMP/gt.bin" float forge-f32-native $EFS | tee -a "$OUT"
  echo "== forge int8 (-O3 -march=native)"
  ./forge_ann_native run "$TMP/data.bin" "$TMP/gt.bin" int8 forge-i8-native $EFS | tee -a "$OUT"
fi
echo "== hnswlib: Debian python3-hnswlib $(dpkg-query -W -f='${Version}' python3-hnswlib 2>/dev/null || echo '?')"
$PY hnswlib_ann.py "$TMP/data.bin" "$TMP/gt.bin" $EFS | tee -a "$OUT"
echo
$PY report.py "$OUT"
echo "== total ${SECONDS} s"
