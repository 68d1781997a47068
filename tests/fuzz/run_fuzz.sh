#!/usr/bin/env bash
# Bounded libFuzzer session (CI's fuzz step; docs/testing.md, "Fuzzing"): runs FUZZER for SECONDS
# over the seed corpus (every FUZZ_SEED_STRIDE-th ONNX node-test model of SHARED/onnx-tests/node,
# default every 8th so a short session spends its time mutating, 1 for all of them; and the
# regression models of tests/regress), in a fresh writable corpus folder, with ASan/UBSan, leak detection,
# a 10 s per-input timeout and a 2 GiB RSS / 1 GiB single-allocation limit. Exits non-zero on any
# finding and prints where the reproducer is (it becomes a tests/regress model once fixed).
#   run_fuzz.sh FUZZER SECONDS SHARED_DIR [OUT_DIR]
# FUZZ_SEED (default 1) fixes the mutation sequence; FUZZ_RUNS (default: unbounded) stops after that
# many inputs, so a session that ends on the count rather than on SECONDS explores the same inputs
# on every machine for the same code (CI's step does that: its verdict belongs to the commit, not to
# the machine's speed; SECONDS stays as the upper bound).
set -uo pipefail
fuzzer=$1 seconds=$2 shared=$3
here=$(cd "$(dirname "$0")" && pwd)
out=${4:-$(mktemp -d)}
mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts"
n=0 i=0
stride=${FUZZ_SEED_STRIDE:-8}
for m in "$shared"/onnx-tests/node/*/model.onnx; do
  [ -f "$m" ] || continue
  i=$((i + 1))
  [ $(((i - 1) % stride)) = 0 ] || continue
  cp "$m" "$out/seeds/$(basename "$(dirname "$m")").onnx"
  n=$((n + 1))
done
cp "$here"/../regress/*.onnx "$out/seeds/"
echo "fuzz: $n node-test models and $(ls "$here"/../regress/*.onnx | wc -l) regression models as seeds, ${seconds}s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
"$fuzzer" -seed="${FUZZ_SEED:-1}" -runs="${FUZZ_RUNS:--1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds" 2>"$out/fuzz.log"
rc=$?
grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|SUMMARY" "$out/fuzz.log" | tail -20
if [ $rc -ne 0 ]; then
  echo "fuzz: FAILED (exit $rc); reproducers in $out/artifacts/, log $out/fuzz.log"
  tail -40 "$out/fuzz.log"
  exit 1
fi
echo "fuzz: no finding"
[ $# -ge 4 ] || rm -rf "$out"
