#!/usr/bin/env bash
# The rt-bench baseline of docs/performance.md ("rt-bench baseline"): issue 10's Done-when
# commands, all under one hold of the benchmark lock (about 3 minutes; re-queueing for each
# step would interleave other benchmarks), outputs into OUT_DIR (default build/rt-bench-baseline).
#   benchmarks/rt_bench_baseline.sh [BUILD_DIR] [OUT_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-$BUILD/rt-bench-baseline}
RB=$BUILD/tools/rt-bench/rt-bench
OCR=../shared/models/ch_PP-OCRv4_det_infer.onnx
DIMS=(--dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=640 --dim p2o.DynamicDimension.2=640)
if [ -z "${RB_BASELINE_LOCKED:-}" ]; then
  RB_BASELINE_LOCKED=1 exec flock /tmp/kiln-bench.lock "$PWD/benchmarks/rt_bench_baseline.sh" "$BUILD" "$OUT"
fi
mkdir -p "$OUT"
rc=0
step() { # NAME rt-bench-args...
  local name=$1
  shift
  echo "=== rt-bench $* ==="
  "$RB" "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err" || { echo "rt-bench $* failed (exit $?)"; rc=1; }
  cat "$OUT/$name.txt"
}
lscpu | grep -E 'Model name|^CPU\(s\)|L[123][di]? cache' >"$OUT/cpu.txt"
{ grep -o -w -E 'avx512[a-z_0-9]*|avx_vnni|amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '; echo; } >>"$OUT/cpu.txt"
uptime >>"$OUT/cpu.txt"
step peak peak
step gemm gemm --threads 1,2
step conv conv --input 1,64,56,56 --filter 64,3,3 --pad 1 --threads 1,2
step dwconv dwconv --input 1,144,56,56 --pad 1 --threads 1,2
step gemm-u8s8 gemm --dtype u8s8 --threads 1,2
step suite-resnet50 suite resnet50
step model-ocr model "$OCR" --compare ort
step model-ocr-640 model "$OCR" --compare ort --threads 1,2 "${DIMS[@]}"
exit $rc
