#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (docs/operations/fuzzing.md); `make fuzz` calls it
# after building them into $BUILD_DIR (default build-fuzz).
#   tests/fuzz/run.sh [target...]      all targets when none is named
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_JOBS      targets run at the same time (default 1)
#   FUZZ_ARGS      extra libFuzzer flags (tests/fuzz/<target>.options: a target's own flags)
# Each target starts from the committed corpus (tests/fuzz/corpus/<target>/, read only) plus
# its working corpus $BUILD_DIR/fuzz-corpus/<target>/ (kept between runs); crashes go to
# $BUILD_DIR/fuzz-artifacts/<target>/ and the log to $BUILD_DIR/fuzz-logs/<target>.log.
# Prints one line per target: executions, exec/s, coverage (cov = edges, ft = features), crashes.
# Exits 1 when a target crashed, leaked or timed out.
set -u
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_ARGS=${FUZZ_ARGS:-}
# Scratch files of the targets (index files, databases, .env copies): RAM when available.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ]; then export TMPDIR=/dev/shm; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi

run_one() {
  local t=$1 bin="$BUILD_DIR/fuzz_$1"
  [ -x "$bin" ] || { echo "run.sh: $bin is missing (make fuzz builds it)" >&2; return 2; }
  mkdir -p "$BUILD_DIR/fuzz-corpus/$t" "$BUILD_DIR/fuzz-artifacts/$t" "$BUILD_DIR/fuzz-logs"
  local dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  local opts=${FUZZ_OPTIONS:-}
  [ -f "tests/fuzz/$t.options" ] && opts="$(cat "tests/fuzz/$t.options") $opts" # per-target flags
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=60 -rss_limit_mb=3072 -print_final_stats=1 \
      -artifact_prefix="$BUILD_DIR/fuzz-artifacts/$t/" "${dict[@]}" $FUZZ_ARGS $opts \
      "$BUILD_DIR/fuzz-corpus/$t" "tests/fuzz/corpus/$t" >"$BUILD_DIR/fuzz-logs/$t.log" 2>&1
  echo $? >"$BUILD_DIR/fuzz-logs/$t.rc"
}

summary() {
  local t=$1 log="$BUILD_DIR/fuzz-logs/$1.log"
  local rc execs eps cov ft crashes
  rc=$(cat "$BUILD_DIR/fuzz-logs/$t.rc" 2>/dev/null || echo '?')
  execs=$(awk '/^stat::number_of_executed_units:/ {v = $2} END {print v}' "$log")
  eps=$(awk '/^stat::average_exec_per_sec:/ {v = $2} END {print v}' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  crashes=$(find "$BUILD_DIR/fuzz-artifacts/$t" -type f | wc -l)
  printf '%-10s %12s %8s %8s %8s %8s %4s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
    "$crashes" "$rc"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$FUZZ_JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

printf '%-10s %12s %8s %8s %8s %8s %4s\n' target execs exec/s cov ft crashes rc
status=0
for t in "${targets[@]}"; do
  summary "$t"
  rc=$(cat "$BUILD_DIR/fuzz-logs/$t.rc" 2>/dev/null || echo 1)
  [ "$rc" = 0 ] || status=1
done
exit $status
