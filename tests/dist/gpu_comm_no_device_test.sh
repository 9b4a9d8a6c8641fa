#!/usr/bin/env bash
# gpu_comm_no_device_test.sh — a GPU engine's communicator plugin (nccl, rccl) where no device exists: loaded and
# explained by `prism info`, refused cleanly by dist_init with the reason, and the Gloo plugin unaffected.
#
# Usage: gpu_comm_no_device_test.sh PRISM_CLI PRISM_COMM_CHECK ENGINE PORT
# Exit: 0 pass, 1 fail, 77 skipped (the engine is usable here: a GPU exists; scripts/gpu-check.sh covers it).
set -u
cli=$1 check=$2 engine=$3 port=$4
fail() {
  echo "FAIL: $*"
  exit 1
}

info=$("$cli" info 2>&1)
rc=$?
printf '%s\n' "$info"
((rc < 128)) || fail "prism info died with signal $((rc - 128))"
row=$(grep -E "libprism-comm-$engine\.so" <<<"$info") || fail "prism info does not list libprism-comm-$engine.so"
grep -Eq "[[:space:]]comm[[:space:]]" <<<"$row" || fail "the $engine row is not of kind comm: $row"
grep -Eq "[[:space:]]yes[[:space:]]" <<<"$row" || fail "the $engine plugin was not loaded: $row"
if ! grep -q "no device: " <<<"$row"; then
  if grep -q "no $engine library\|no ${engine^^} library" <<<"$row"; then
    echo "skipped: a device exists here but the $engine library does not ($row)"
  else
    echo "skipped: the $engine plugin is usable here (a GPU exists); scripts/gpu-check.sh runs its collectives"
  fi
  exit 77
fi
reason=${row#*no device: }
echo "reason given: no device: $reason"
[[ -n "$reason" ]] || fail "empty reason after 'no device: '"

# dist_init over the engine: a clear error naming the plugin and the reason, no crash, no hang.
# (One rank: `prism run` stops the other ranks once one has failed.)
out=$(timeout 60 "$cli" run -n 1 --master-port "$port" "$check" --backend "$engine" 2>&1)
rc=$?
printf '%s\n' "$out"
((rc != 0)) || fail "prism run over $engine succeeded on a machine without a device"
((rc != 124)) || fail "prism run over $engine hung (timeout)"
grep -q "^\[0\] init error: dist_init: communicator plugin '$engine' cannot run here: no device: " <<<"$out" ||
  fail "the rank did not report the refusal with its reason"
grep -q "exited with code 3" <<<"$out" || fail "the rank did not exit normally with the refusal's status (3)"
grep -qi "signal\|core dumped\|Segmentation\|Aborted" <<<"$out" && fail "a rank crashed"

# The other communicator plugins keep working beside it.
out=$(timeout 60 "$cli" run -n 2 --master-port "$((port + 1))" "$check" --backend gloo --smoke 2>&1)
rc=$?
printf '%s\n' "$out"
((rc == 0)) || fail "gloo beside the $engine plugin failed (exit $rc)"
grep -q "^\[0\] rank 0 of 2: 1 checks, 0 failures" <<<"$out" || fail "gloo smoke check did not pass"
echo "PASS: $engine loaded, listed and refused with 'no device: $reason'; gloo works beside it"
