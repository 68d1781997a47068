#!/usr/bin/env bash
# Sets up everything Kiln needs on Debian 12, then builds. Idempotent and quick when done:
# installs only missing Debian packages, (re)creates .venv from scripts/requirements.lock whenever
# .venv differs from the lock, configures BUILD_DIR only once.
#   scripts/setup.sh [BUILD_DIR [meson options...]]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${1:-build}
shift || true
VENV=.venv

# Build tools and libraries, the optional providers' libraries (oneDNN, the OpenCL loader with
# PoCL so OpenCL runs on the CPU), clang with its sanitizer/fuzzer runtime, Python for the tests.
PACKAGES=(gcc pkg-config meson ninja-build libprotobuf-c-dev protobuf-c-compiler libopenblas-dev check
          libdnnl-dev ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd clang libclang-rt-14-dev
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

# The Python test environment (onnx, numpy, onnxruntime and everything they pull in), exactly as
# locked: a stamp holds the lock's hash and the interpreter, and the installed set is compared with
# the lock, so a changed lock, another Python or a package added by hand rebuilds it from scratch.
lock=scripts/requirements.lock
want="$(sha256sum "$lock" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
venv_ok() {
  [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/kiln-lock.stamp" 2>/dev/null)" = "$want" ] || return 1
  "$VENV/bin/python" - "$lock" <<'PY' 2>/dev/null
import sys
from importlib.metadata import distributions
want = {l.split("==")[0]: l.split("==")[1].split()[0] for l in open(sys.argv[1]) if l.strip() and l[0] != "#"}
have = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in distributions()}
have = {k: v for k, v in have.items() if k not in ("pip", "setuptools", "wheel")}
sys.exit(0 if have == want else 1)
PY
}
if ! venv_ok; then
  echo "setup: creating $VENV from $lock ($(grep -c '^[a-z]' "$lock") packages)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock"
  echo "$want" > "$VENV/kiln-lock.stamp"
  venv_ok || { echo "setup: $VENV does not match $lock after install" >&2; exit 1; }
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$@" >/dev/null
fi
ninja -C "$BUILD_DIR" >/dev/null
echo "setup: built $BUILD_DIR"
