#!/usr/bin/env bash
# Assembles build/device-kit/ (ignored with build/; carried to the lent GPU machine by naming it in
# the device tool's `carry`): the
# release build's libkiln, the CUDA provider, rt-run, rt-ep-check, libprotobuf-c, the model builder,
# the ONNX node tests of the ops the CUDA provider claims, and the PyTorch peer script. Then run
# scripts/device-check-cuda.sh there (carry: build/device-kit). See docs/cuda.md.
#   scripts/device-kit-cuda.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
K=$B/device-kit
[ -f "$B/providers/cuda/kiln-provider-cuda.so" ] || { echo "device-kit: $B has no CUDA provider (meson -Dcuda=enabled)" >&2; exit 1; }
rm -rf "$K"
mkdir -p "$K/lib" "$K/bin" "$K/onnx-tests/node"
find "$B" -maxdepth 1 -name 'libkiln.so*' \( -type f -o -type l \) -exec cp -L {} "$K/lib/" \;
cp -L "$(ldconfig -p | awk '/libprotobuf-c.so.1 /{print $NF; exit}')" "$K/lib/"
cp "$B/providers/cuda/kiln-provider-cuda.so" "$K/lib/"
cp "$B/tools/rt-run" "$B/tools/rt-ep-check" "$K/bin/"
cp ../shared/models/build_models.py "$K/"
cp benchmarks/cuda_peers.py "$K/"
# Node tests of the claimed op families (a few MiB).
for d in ../shared/onnx-tests/node/test_{add,sub,mul,div,pow,max,min,relu,sigmoid,tanh,exp,log,sqrt,neg,abs,erf,gelu,leakyrelu,softmax,layer_normalization,matmul,gemm,transpose}*; do
  [ -d "$d" ] && cp -r "$d" "$K/onnx-tests/node/"
done
du -sh "$K"
