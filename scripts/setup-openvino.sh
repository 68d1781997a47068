#!/usr/bin/env bash
# Creates .venv-openvino, the benchmark-only Python environment of rt-bench's OpenVINO comparison
# (`rt-bench model M.onnx --compare ort,openvino`, docs/rt-bench.md), exactly as locked in
# scripts/requirements-openvino.lock (regenerate with scripts/lock-requirements-openvino.sh).
# Separate from .venv and its lock, and not part of CI's required path: nothing else needs it.
# Idempotent: a stamp holds the lock's hash and the interpreter; a changed lock rebuilds it.
#   scripts/setup-openvino.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-openvino
lock=scripts/requirements-openvino.lock
command -v python3 >/dev/null || { echo "setup-openvino: python3 not found (scripts/setup.sh installs it)" >&2; exit 1; }
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
  echo "setup-openvino: creating $VENV from $lock ($(grep -c '^[a-z]' "$lock") packages)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock"
  echo "$want" > "$VENV/kiln-lock.stamp"
  venv_ok || { echo "setup-openvino: $VENV does not match $lock after install" >&2; exit 1; }
fi
"$VENV/bin/python" -c 'import openvino as ov; print("setup-openvino: OpenVINO", ov.get_version(), "devices", ov.Core().available_devices)'
