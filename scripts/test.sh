#!/usr/bin/env bash
# Runs the whole test suite: the release build, then again built with AddressSanitizer and
# UndefinedBehaviorSanitizer. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
meson test -C build --print-errorlogs --num-processes "$(nproc)"
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes "$(nproc)" --timeout-multiplier 4
