#!/usr/bin/env bash
# The main job: builds Kiln, writes the project's own small CNN (fixed-seed weights) and runs it
# through rt-run, printing an output summary and the latency.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
MODEL=build/demo/kiln_demo_cnn.onnx
if [ ! -f "$MODEL" ]; then
  mkdir -p build/demo
  .venv/bin/python scripts/make_demo_model.py "$MODEL"
fi
exec build/tools/rt-run "$MODEL" --warmup 5 --repeat 50 "$@"
