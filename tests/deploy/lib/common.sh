# shellcheck shell=bash
# Shared helpers for the deploy tier (tests/deploy/test_*.sh). Source it after `set -euo pipefail`.
#
# Environment (set by ctest, see CMakeLists.txt): FORGE_SRC = repo root, FORGE_BIN = built binary.
# Every check prints one "PASS: …" or "FAIL: …" line; `finish` prints "N passed, N failed" and
# exits non-zero when anything failed.

DEPLOY_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FORGE_SRC="${FORGE_SRC:-$(cd "$DEPLOY_TESTS_DIR/../.." && pwd)}"
FORGE_BIN="${FORGE_BIN:-$FORGE_SRC/build/forge}"
export FORGE_SRC FORGE_BIN
NODE_MODULES="$DEPLOY_TESTS_DIR/node_modules"
# Where slow-to-make things (the debootstrapped base image, podman's layer cache) live between runs.
FORGE_DEPLOY_CACHE="${FORGE_DEPLOY_CACHE:-/var/cache/forge-deploy}"

_PASSED=0
_FAILED=0
_CLEANUPS=()

pass() {
    _PASSED=$((_PASSED + 1))
    printf 'PASS: %s\n' "$*"
}

fail() {
    _FAILED=$((_FAILED + 1))
    printf 'FAIL: %s\n' "$*"
}

# check "description" cmd args… — PASS when the command succeeds; its output is shown on failure.
check() {
    local desc="$1" out
    shift
    if out="$("$@" 2>&1)"; then
        pass "$desc"
    else
        fail "$desc"
        printf '%s\n' "$out" | sed 's/^/    | /' | head -n 60 || true
    fi
}

# check_fails "description" cmd args… — negative test: PASS when the command FAILS (a broken copy
# must be rejected by its checker). The checker's complaint is shown so a reader sees why.
check_fails() {
    local desc="$1" out
    shift
    if out="$("$@" 2>&1)"; then
        fail "$desc (the broken copy was accepted)"
    else
        pass "$desc"
        printf '%s\n' "$out" | grep -v '^\s*$' | head -n 3 | sed 's/^/    | rejected: /' || true
    fi
}

# check_fails_matching "description" REGEX cmd args… — negative test that must fail FOR THE RIGHT
# REASON: the command fails and its output matches REGEX (grep -E). A broken copy that fails for
# some other reason (or a checker that fails on everything) does not count.
check_fails_matching() {
    local desc="$1" re="$2" out
    shift 2
    if out="$("$@" 2>&1)"; then
        fail "$desc (the broken copy was accepted)"
    # here-strings, not pipes: with pipefail, `printf | grep -q` fails at random when grep exits
    # before printf has written everything (SIGPIPE), which made this check flaky
    elif ! grep -Eq -- "$re" <<<"$out"; then
        fail "$desc (rejected, but not with /$re/)"
        sed -n '1,20s/^/    | /p' <<<"$out"
    else
        pass "$desc"
        grep -E -- "$re" <<<"$out" | sed -n '1,2{s/^\s*/    | rejected: /;s/^\(.\{232\}\).*/\1/;p}'
    fi
}

on_exit() {
    _CLEANUPS+=("$1")
}

_run_cleanups() {
    local i
    for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${_CLEANUPS[$i]}" >/dev/null 2>&1 || true
    done
}
trap _run_cleanups EXIT

finish() {
    local name
    name="$(basename "$0" .sh)"
    printf '%s: %d passed, %d failed\n' "$name" "$_PASSED" "$_FAILED"
    [ "$_FAILED" -eq 0 ]
}

# A scratch dir removed at exit.
make_tmp() {
    local d
    d="$(mktemp -d "${TMPDIR:-/tmp}/forge-deploy.XXXXXX")"
    on_exit "rm -rf '$d'"
    printf '%s\n' "$d"
}

# need_cmd TOOL… — a missing tool is a failure (the tier must really run), with the fix named.
need_cmd() {
    local t missing=0
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            fail "required tool '$t' is not installed (run: bash tests/deploy/install-deps.sh)"
            missing=1
        fi
    done
    return "$missing"
}

# need_node_modules — the npm validators (tests/deploy/package.json). Installs them with `npm ci`
# when missing, under a lock so parallel tests do it once.
need_node_modules() {
    need_cmd node npm || return 1
    if [ ! -f "$NODE_MODULES/.package-lock.json" ]; then
        (
            flock 9
            if [ ! -f "$NODE_MODULES/.package-lock.json" ]; then
                cd "$DEPLOY_TESTS_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2
            fi
        ) 9>"$DEPLOY_TESTS_DIR/.npm-install.lock"
    fi
    [ -f "$NODE_MODULES/.package-lock.json" ] || {
        fail "npm ci in tests/deploy did not produce node_modules"
        return 1
    }
}

# A free TCP port on 127.0.0.1 (the kernel picks it; the tiny race with another binder is accepted).
free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# wait_http URL SECONDS — poll until the URL answers 2xx; return 1 on timeout.
wait_http() {
    local url="$1" secs="$2" i
    for ((i = 0; i < secs * 10; i++)); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
