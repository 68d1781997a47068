#!/usr/bin/env bash
# Kiln vs onnxruntime vs OpenVINO on the four reference models, 1 thread, model mode of rt-bench
# (docs/rt-bench.md, docs/performance.md "rt-bench: OpenVINO comparison"). Needs .venv
# (scripts/setup.sh), .venv-openvino (scripts/setup-openvino.sh) and the built models:
#   .venv/bin/python ../shared/models/build_models.py build/models resnet50 mobilenetv2 bert_base
#   [MODELS="resnet50 mobilenetv2 bert_base ocr"] benchmarks/ov_compare.sh [BUILD_DIR] [extra rt-bench flags...]
# Each model runs under the bench lock on its own, so other benchmarks can interleave.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
RB=$BUILD/tools/rt-bench/rt-bench
OCR=../shared/models/ch_PP-OCRv4_det_infer.onnx
ocr_dims=(--dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=640 --dim p2o.DynamicDimension.2=640)
lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | sed -E 's/^(Flags:).*/\1 (amx: '"$(grep -o 'amx[a-z0-9_]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"')/'
MODELS=${MODELS:-resnet50 mobilenetv2 bert_base ocr}
for name in $MODELS; do
  m=$BUILD/models/$name.onnx
  [ "$name" = ocr ] && m=$OCR
  extra=()
  [ "$m" = "$OCR" ] && extra=("${ocr_dims[@]}")
  echo "== $(basename "$m") $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  flock /tmp/kiln-bench.lock "$RB" model "$m" --threads 1 --compare ort,openvino "${extra[@]}" "$@"
done
