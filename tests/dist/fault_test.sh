#!/usr/bin/env bash
# fault_test.sh — distributed fault tests: a killed rank, port in use, wrong world size, unreachable master, mismatched sizes.
#
# Usage: fault_test.sh PRISM_CLI COMM_CHECK BASE_PORT
# Every case is bounded (short PRISM_DIST_TIMEOUT, `timeout` around each
# process): a hang fails the test instead of stalling CI.
set -uo pipefail
PRISM=$1
CHECK=$2
PORT=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; jobs -p | xargs -r kill -9 2>/dev/null' EXIT
failures=0

fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
pass() { printf 'ok: %s\n' "$*"; }
# expect_in FILE REGEX WHAT
expect_in() {
  if grep -Eq "$2" "$1"; then pass "$3"; else fail "$3 (no /$2/ in output:)"; sed 's/^/    /' "$1"; fi
}

# rank R WORLD PORT [args...]: one rank started by hand, output in $TMP/rR.log.
rank() {
  local r=$1 w=$2 p=$3
  shift 3
  PRISM_RANK=$r PRISM_WORLD_SIZE=$w PRISM_MASTER_ADDR=127.0.0.1 PRISM_MASTER_PORT=$p \
    timeout 40 "$CHECK" "$@" >"$TMP/r$r.log" 2>&1
}

# 1. A rank killed mid-collective: the others return an error within the timeout.
export PRISM_DIST_TIMEOUT=8
t0=$SECONDS
rank 0 3 "$PORT" --die-rank 1 --expect-error & p0=$!
rank 1 3 "$PORT" --die-rank 1 --expect-error & p1=$!
rank 2 3 "$PORT" --die-rank 1 --expect-error & p2=$!
wait $p0; rc0=$?
wait $p2; rc2=$?
wait $p1
took=$((SECONDS - t0))
[[ $rc0 -eq 0 && $rc2 -eq 0 ]] && pass "surviving ranks returned an error (rc $rc0, $rc2) in ${took}s" ||
  fail "surviving ranks: rc $rc0 and $rc2 (expected 0: an error was reported); took ${took}s"
expect_in "$TMP/r0.log" 'rank 0: error: .*all_reduce' "rank 0 names the failed collective"
expect_in "$TMP/r2.log" 'rank 2: error: ' "rank 2 reports an error"
((took <= 30)) && pass "no hang (${took}s <= 30s)" || fail "took ${took}s (> 30s)"

# 2. `prism run` exits non-zero naming the rank that died.
PRISM_RUN_GRACE=2 timeout 60 "$PRISM" run -n 2 --master-port $((PORT + 1)) "$CHECK" --die-rank 1 --expect-error \
  >"$TMP/run.log" 2>&1
rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] && pass "prism run exit code $rc" || fail "prism run exit code $rc (expected non-zero, not a timeout)"
expect_in "$TMP/run.log" 'prism run: rank 1 \(pid [0-9]+\) was killed by signal 9' "prism run names rank 1"
expect_in "$TMP/run.log" '^\[1\] rank 1: killing itself' "output lines carry the rank prefix"

# 3. Port in use: rank 0 cannot listen.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); print("listening", flush=True); time.sleep(30)' $((PORT + 2)) \
  >"$TMP/busy.log" 2>&1 & busy=$!
for _ in $(seq 50); do grep -q listening "$TMP/busy.log" && break; sleep 0.1; done
PRISM_DIST_TIMEOUT=3 rank 0 2 $((PORT + 2))
expect_in "$TMP/r0.log" 'init error: .*cannot listen on port [0-9]+: Address already in use' "port in use"
kill $busy 2>/dev/null

# 4. Wrong world size: both ranks stop with the reason.
export PRISM_DIST_TIMEOUT=10
rank 0 2 $((PORT + 3)) & p0=$!
rank 1 3 $((PORT + 3)) & p1=$!
wait $p0 $p1
expect_in "$TMP/r1.log" 'init error: .*world size 3 but rank 0 \(the master\) has world size 2' "wrong world size (rank 1)"
expect_in "$TMP/r0.log" 'init error: .*world size' "wrong world size (rank 0)"

# 5. Unreachable master.
PRISM_DIST_TIMEOUT=2 rank 1 2 $((PORT + 4))
expect_in "$TMP/r1.log" 'init error: .*cannot reach the rendezvous master 127.0.0.1:[0-9]+ within 2000 ms' "unreachable master"

# 6. Mismatched sizes: PRISM_DIST_DEBUG=1 names both calls on every rank.
PRISM_DIST_DEBUG=1 PRISM_DIST_TIMEOUT=10 timeout 60 "$PRISM" run -n 2 --master-port $((PORT + 5)) "$CHECK" \
  --mismatch --expect-error >"$TMP/mm.log" 2>&1
rc=$?
[[ $rc -eq 0 ]] && pass "debug mismatch: both ranks reported it" || fail "debug mismatch: prism run exit code $rc"
expect_in "$TMP/mm.log" '\[0\] rank 0: error: .*PRISM_DIST_DEBUG: collective mismatch: rank 0 called all_reduce.*\(1000 elements.* but rank 1 called all_reduce\(float32, 1001 elements' "debug mismatch message (rank 0)"
expect_in "$TMP/mm.log" '\[1\] rank 1: error: .*PRISM_DIST_DEBUG: collective mismatch' "debug mismatch message (rank 1)"
# Without the debug mode the job still ends (an engine error or the timeout), never hangs.
t0=$SECONDS
PRISM_DIST_TIMEOUT=5 timeout 60 "$PRISM" run -n 2 --master-port $((PORT + 6)) "$CHECK" --mismatch --expect-error \
  >"$TMP/mm2.log" 2>&1
rc=$?
took=$((SECONDS - t0))
[[ $rc -eq 0 ]] && pass "mismatch without debug: every rank got an error, in ${took}s" ||
  { fail "mismatch without debug: exit $rc after ${took}s (expected an error on every rank, no abort or hang)"; sed 's/^/    /' "$TMP/mm2.log"; }

# A send and a recv of different sizes: an error on both ranks at the
# timeout, never an abort (Gloo's transport thread would throw and end the
# process if the two met; Note [Point-to-point slots]).
if [[ "${PRISM_DIST_BACKEND:-gloo}" == gloo ]]; then
  PRISM_DIST_TIMEOUT=3 timeout 60 "$PRISM" run -n 2 --master-port $((PORT + 7)) "$CHECK" --p2p-mismatch --expect-error \
    >"$TMP/p2p.log" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] && pass "send/recv size mismatch: both ranks got an error" ||
    { fail "send/recv size mismatch: exit $rc (expected an error on both ranks, no abort)"; sed 's/^/    /' "$TMP/p2p.log"; }
  expect_in "$TMP/p2p.log" '\[1\] rank 1: error: .*recv of 24 bytes from rank 0 with tag 5: .*sizes must match' \
    "send/recv size mismatch message (rank 1)"
fi

if ((failures > 0)); then
  printf 'fault_test: %d failure(s)\n' "$failures"
  exit 1
fi
printf 'fault_test: all passed\n'
