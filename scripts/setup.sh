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
venv_ok() {
  .venv/bin/python - scripts/requirements.txt <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        if version(name) != want:
            sys.exit(1)
PY
}
if ! venv_ok; then
  echo "setup: creating .venv with $(grep -v '^#' scripts/requirements.txt | tr '\n' ' ')"
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$@" >/dev/null
fi
ninja -C "$BUILD_DIR" >/dev/null
echo "setup: built $BUILD_DIR"
