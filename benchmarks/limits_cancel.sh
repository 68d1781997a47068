#!/usr/bin/env bash
# How soon a run stops under rt-run --timeout, and how fast the two fuzzing findings are refused
# (docs/performance.md, "Limits and cancellation"). Makes its models in build/lim/ with the
# project's .venv, then times each case with and without --timeout 0.05, alternating, ROUNDS
# times (default 3). Run it under the benchmark lock:
#   flock /tmp/kiln-bench.lock benchmarks/limits_cancel.sh [RT_RUN]
set -u
cd "$(dirname "$0")/.."
rt=${1:-build/tools/rt-run}
mkdir -p build/lim
.venv/bin/python - <<'PY'
import numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
n = h.make_node("AveragePool", ["x"], ["y"], kernel_shape=[9, 9], pads=[4, 4, 4, 4])
g = h.make_graph([n], "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 64, 512, 512])], [h.make_tensor_value_info("y", T.FLOAT, None)])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 19)], ir_version=9), "build/lim/pool.onnx")
w = nh.from_array(np.full((2048, 2048), 1 / 2048, np.float32), "w")
g = h.make_graph([h.make_node("MatMul", ["x", "w"], ["y"])], "g", [h.make_tensor_value_info("x", T.FLOAT, [2048, 2048])],
                 [h.make_tensor_value_info("y", T.FLOAT, None)], [w])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8), "build/lim/mm.onnx")
PY
t() { local s; s=$(date +%s%N); "$rt" "$@" >/dev/null 2>&1; local rc=$?; echo "$(( ($(date +%s%N) - s) / 1000000 )) ms rc=$rc: $*"; }
for ((r = 0; r < ${ROUNDS:-3}; r++)); do
  t build/lim/pool.onnx --threads 1
  t build/lim/pool.onnx --threads 1 --timeout 0.05
  t build/lim/pool.onnx --threads 2
  t build/lim/pool.onnx --threads 2 --timeout 0.05
  t build/lim/mm.onnx --threads 2
  t build/lim/mm.onnx --threads 2 --timeout 0.05
  t tests/regress/tfidf_huge_ngram_index.onnx
  t tests/regress/averagepool_huge_pads.onnx
done
