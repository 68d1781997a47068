#!/usr/bin/env bash
# The CUDA provider's device checks (issue 18, section 3), for one short run on a lent GPU machine:
#   device run: carry [build/device-kit], command "bash scripts/device-check-cuda.sh", timeout_s 540.
# Needs build/device-kit/ made here by scripts/device-kit-cuda.sh. Writes under $OUT: ep-check.txt,
# conformance of the claimed ops (rt-ep-check [conformance]), models.txt (ResNet-50, MobileNetV2,
# BERT-base on CUDA vs the CPU provider's outputs), latency.txt (fp32, with and without CUDA
# graphs, batch 1 and 8 where the model allows) and peers.txt (PyTorch eager and CUDA graphs).
# Each step has its own time limit so the whole stays well under 10 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
K=$PWD/build/device-kit
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$K/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export KILN_PROVIDER_PATH=$K/lib
P=$K/lib/kiln-provider-cuda.so
M=/tmp/kiln-models
exec > >(tee "$OUT/summary.txt") 2>&1
echo "== device"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "== rt-ep-check (ABI, devices, memory, abi12, conformance of claimed ops, alloc, threads)"
timeout 150 "$K/bin/rt-ep-check" "$P" --onnx-tests "$K/onnx-tests" --jobs 8 > "$OUT/ep-check.txt" 2>&1
echo "rt-ep-check exit $?: $(tail -1 "$OUT/ep-check.txt")"
echo "== models"
mkdir -p "$M"
timeout 120 python3 "$K/build_models.py" "$M" resnet50 mobilenetv2 bert_base > /dev/null 2>&1 || echo "building models failed"
: > "$OUT/models.txt"
for m in resnet50 mobilenetv2 bert_base; do
  [ -f "$M/$m.onnx" ] || { echo "$m: no model" | tee -a "$OUT/models.txt"; continue; }
  rm -rf "$M/$m.cpu"; mkdir -p "$M/$m.cpu"
  timeout 60 "$K/bin/rt-run" "$M/$m.onnx" --output-dir "$M/$m.cpu" > /dev/null 2>&1
  exp=(); for f in "$M/$m.cpu"/*.pb; do n=$(basename "$f" .pb); exp+=(--expect "$n=$f"); done
  timeout 60 "$K/bin/rt-run" "$M/$m.onnx" --provider "$P" "${exp[@]}" --rtol 1e-2 --atol 1e-3 >> "$OUT/models.txt" 2>&1
  echo "$m vs CPU: exit $?" | tee -a "$OUT/models.txt"
done
echo "== latency (median of 50 after 10 warm-up runs)"
: > "$OUT/latency.txt"
for m in resnet50 mobilenetv2 bert_base; do
  [ -f "$M/$m.onnx" ] || continue
  for opt in "" ":graphs=1" ":tf32=1" ":tf32=1,graphs=1"; do
    line=$(timeout 60 "$K/bin/rt-run" "$M/$m.onnx" --provider "$P$opt" --warmup 10 --repeat 50 2>&1 | grep -i "median" | head -1)
    echo "$m cuda$opt: $line" | tee -a "$OUT/latency.txt"
  done
done
echo "(graphs=1 replays only runs with bound device inputs and outputs: rt-run copies from host memory, so these rows"
echo " show the capture being declined; the replay path is measured by the peers script's binding figures when present)"
echo "== PyTorch peers (eager and CUDA graphs, batch 1 and 8, fp32 and fp16)"
timeout 240 python3 "$K/cuda_peers.py" > "$OUT/peers.txt" 2>&1
echo "peers exit $?"; cat "$OUT/peers.txt"
