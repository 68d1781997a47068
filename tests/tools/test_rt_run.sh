#!/usr/bin/env bash
# rt-run's contract: flags and exit codes (0 ok, 1 mismatch, 2 usage, 3 load error, 4 run
# error), --test-dir verdicts, --expect, --output-dir, --report json, threads and profiling.
# TAP output.
#   test_rt_run.sh RT_RUN SHARED_DIR
set -u
RT=$1
SHARED=$2
NODE=$SHARED/onnx-tests/node
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
fail=0
check() { # name expected_rc actual_rc [grep_pattern file]
  n=$((n + 1))
  local ok=1
  [ "$2" = "$3" ] || ok=0
  if [ $ok = 1 ] && [ $# -ge 5 ] && ! grep -qE -- "$4" "$5"; then ok=0; fi
  if [ $ok = 1 ]; then echo "ok $n - $1"; else echo "not ok $n - $1 (rc $3, want $2)"; sed 's/^/# /' "$TMP/out" "$TMP/err" 2>/dev/null | head -5; fail=1; fi
}
run() { "$RT" "$@" >"$TMP/out" 2>"$TMP/err"; echo $?; }

rc=$(run --test-dir "$NODE/test_add"); check "test-dir pass" 0 "$rc" '^PASS test_add \(1 data set\)$' "$TMP/out"
rc=$(run "$NODE/test_add/model.onnx"); check "random inputs" 0 "$rc" "^output 'sum': float \[3,4,5\]" "$TMP/out"
rc=$(run "$NODE/test_add/model.onnx" --input x="$NODE/test_add/test_data_set_0/input_0.pb" \
  --input y="$NODE/test_add/test_data_set_0/input_1.pb" --expect sum="$NODE/test_add/test_data_set_0/output_0.pb")
check "expect match" 0 "$rc" "expect: 1 of 1" "$TMP/out"
rc=$(run "$NODE/test_add/model.onnx" --input x="$NODE/test_add/test_data_set_0/input_0.pb" \
  --expect sum="$NODE/test_add/test_data_set_0/output_0.pb")
check "expect mismatch exits 1" 1 "$rc" "does not match" "$TMP/err"
rc=$(run "$NODE/test_add/model.onnx" --atol 1e9 --input x="$NODE/test_add/test_data_set_0/input_0.pb" \
  --expect sum="$NODE/test_add/test_data_set_0/output_0.pb")
check "atol widens the match" 0 "$rc"
rc=$(run "$NODE/test_add/model.onnx" --output-dir "$TMP/outs" --input x="$NODE/test_add/test_data_set_0/input_0.pb" \
  --input y="$NODE/test_add/test_data_set_0/input_1.pb")
check "output-dir writes .pb" 0 "$rc"
rc=$(run "$NODE/test_add/model.onnx" --input x="$NODE/test_add/test_data_set_0/input_0.pb" \
  --input y="$NODE/test_add/test_data_set_0/input_1.pb" --expect sum="$TMP/outs/sum.pb" --rtol 0 --atol 0)
check "written output reads back exactly" 0 "$rc"
rc=$(run "$NODE/test_add/model.onnx" --warmup 2 --repeat 5 --report json)
check "json report" 0 "$rc" '^\{"model":.*"latency_ms":\{"warmup":2,"runs":5,"median":' "$TMP/out"
if command -v python3 >/dev/null && python3 -c 1 2>/dev/null; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/out"; check "json parses" 0 $?
fi
rc=$(run); check "no model is a usage error" 2 "$rc"
rc=$(run --frobnicate x); check "unknown flag is a usage error" 2 "$rc"
rc=$(run "$NODE/test_add/model.onnx" --input nope=x.pb); check "unknown input is a usage error" 2 "$rc" "no input 'nope'" "$TMP/err"
rc=$(run "$NODE/test_add/model.onnx" --repeat 0); check "repeat 0 is a usage error" 2 "$rc"
rc=$(run "$TMP/missing.onnx"); check "missing model is a load error" 3 "$rc" "cannot open" "$TMP/err"
head -c 100 "$NODE/test_add/model.onnx" >"$TMP/trunc.onnx"
rc=$(run "$TMP/trunc.onnx"); check "truncated model is a load error" 3 "$rc"
rc=$(run --test-dir "$TMP"); check "test-dir without model is a load error" 3 "$rc" "^FAIL" "$TMP/out"
# A Gather whose indices come from a file with an out-of-range value: run error naming node and op.
if [ -d "$NODE/test_gather_0" ]; then
  "$RT" "$NODE/test_gather_0/model.onnx" --output-dir "$TMP/g" \
    --input data="$NODE/test_gather_0/test_data_set_0/input_0.pb" \
    --input indices="$NODE/test_gather_0/test_data_set_0/input_1.pb" >/dev/null 2>&1
  rc=$(run --test-dir "$NODE/test_gather_0"); check "gather test-dir" 0 "$rc"
fi
# Threads, memory figures, profiling (issue 5).
rc=$(run "$NODE/test_add/model.onnx" --threads 2 --inter-op-threads 2 --repeat 3 --report json)
check "threads and memory in the json report" 0 "$rc" '"threads":\{"intra_op":2,"inter_op":2\},"memory":\{"arena_bytes":[0-9]+,"lower_bound_bytes":[0-9]+,"naive_bytes":[0-9]+,"weights_bytes":[0-9]+,"plans":1\},"peak_rss_bytes":[1-9]' "$TMP/out"
rc=$(run "$NODE/test_add/model.onnx" --threads 0); check "threads 0 is a usage error" 2 "$rc"
rc=$(run "$NODE/test_add/model.onnx" --inter-op-threads x); check "a bad inter-op count is a usage error" 2 "$rc"
rc=$(run "$NODE/test_add/model.onnx" --repeat 4 --warmup 1 --profile "$TMP/trace.json" --profile-summary)
check "profile summary" 0 "$rc" '^Add +4 ' "$TMP/out"
if command -v python3 >/dev/null && python3 -c 1 2>/dev/null; then
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["traceEvents"]; assert sum(x["cat"]=="node" for x in e)==5 and sum(x["cat"]=="run" for x in e)==5 and {x["name"] for x in e if x["cat"]=="session"}=={"load","infer","optimize","partition","plan","first_run"}' "$TMP/trace.json"
  check "profile is a Chrome trace with phases, runs and nodes" 0 $?
fi
rc=$(run "$NODE/test_add/model.onnx" --profile "$TMP/no/such/dir/trace.json"); check "unwritable profile is a usage error" 2 "$rc" "cannot create the profile" "$TMP/err"
echo "1..$n"
exit $fail
