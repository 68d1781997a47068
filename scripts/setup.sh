#!/usr/bin/env bash
# Sets up everything Kiln needs on Debian 12, then builds. Idempotent and quick when done:
# installs only missing Debian packages, creates .venv (onnx, numpy, onnxruntime for tests and
# benchmarks) only when it lacks them, configures build/ only once.
#   scripts/setup.sh [BUILD_DIR [meson options...]]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${1:-build}
shift || true

PACKAGES=(gcc pkg-config meson ninja-build libprotobuf-c-dev protobuf-c-compiler libopenblas-dev check
          python3 python3-venv)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python packages for the tests that compare with onnxruntime and for model generation.
if ! .venv/bin/python -c "import onnx, numpy, onnxruntime" 2>/dev/null; then
  echo "setup: creating .venv with onnx, numpy, onnxruntime"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check onnx numpy onnxruntime
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$@" >/dev/null
fi
ninja -C "$BUILD_DIR" >/dev/null
echo "setup: built $BUILD_DIR"
