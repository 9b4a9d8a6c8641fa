#!/usr/bin/env bash
# netns_test.sh — two hosts for real on one box: two network namespaces joined by a veth pair, DDP training across them with Gloo over TCP.
#
# Usage: netns_test.sh PRISM_CLI TRAINER PLUGIN_DIR
# Needs root (ip netns). Exits 77 (ctest: skipped) with the reason when the
# namespaces cannot be made. Every address lives only inside the two
# namespaces this script creates (10.231.0.1/24 and 10.231.0.2/24 on the
# veth pair); both namespaces (and with them the veth pair) are deleted on
# exit, whatever happened.
set -uo pipefail
PRISM=$1
TRAINER=$2
PLUGINS=$3
A=prism-dist-a-$$
B=prism-dist-b-$$
VA=pdva$$
VB=pdvb$$
TMP=$(mktemp -d)
cleanup() {
  ip netns pids "$A" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns pids "$B" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$A" 2>/dev/null
  ip netns del "$B" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

skip() { echo "skipped: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "network namespaces need root"
command -v ip >/dev/null || skip "the ip tool (iproute2) is not installed"
ip netns add "$A" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip netns add "$B" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip link add "$VA" type veth peer name "$VB" 2>"$TMP/err" || skip "cannot create a veth pair: $(cat "$TMP/err")"
set -e
ip link set "$VA" netns "$A"
ip link set "$VB" netns "$B"
ip -n "$A" addr add 10.231.0.1/24 dev "$VA"
ip -n "$B" addr add 10.231.0.2/24 dev "$VB"
ip -n "$A" link set lo up
ip -n "$B" link set lo up
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
set +e
ip netns exec "$A" ping -c 1 -W 2 10.231.0.2 >/dev/null 2>&1 || echo "note: ping between the namespaces failed (continuing)"

# One `prism run` per "host", as on two machines; separate checkpoint
# directories: the hosts share no files.
mkdir -p "$TMP/a" "$TMP/b"
common=(--nnodes 2 -n 1 --master-addr 10.231.0.1 --master-port 29811)
ip netns exec "$A" env PRISM_PLUGIN_PATH="$PLUGINS" PRISM_DIST_TIMEOUT=60 timeout 300 \
  "$PRISM" run "${common[@]}" --node-rank 0 "$TRAINER" --ddp --quick --model mlp --checkpoint "$TMP/a" \
  >"$TMP/a.log" 2>&1 &
pa=$!
ip netns exec "$B" env PRISM_PLUGIN_PATH="$PLUGINS" PRISM_DIST_TIMEOUT=60 timeout 300 \
  "$PRISM" run "${common[@]}" --node-rank 1 "$TRAINER" --ddp --quick --model mlp --checkpoint "$TMP/b" \
  >"$TMP/b.log" 2>&1 &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?
sed 's/^/host a: /' "$TMP/a.log"
sed 's/^/host b: /' "$TMP/b.log"
fail=0
[[ $ra -eq 0 && $rb -eq 0 ]] || { echo "FAIL: exit codes $ra (host a) and $rb (host b)"; fail=1; }
grep -q 'ddp: rank 1 of 2' "$TMP/b.log" || { echo "FAIL: host b did not join as rank 1 of 2"; fail=1; }
grep -q 'parameters bitwise equal on all 2 ranks' "$TMP/a.log" || { echo "FAIL: no bitwise-equal check on host a"; fail=1; }
((fail == 0)) && echo "netns: DDP across two network namespaces (10.231.0.1 <-> 10.231.0.2) over Gloo/TCP passed"
exit $fail
