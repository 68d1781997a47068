#!/usr/bin/env bash
# Runs the whole test suite: the release build, then again built with AddressSanitizer and
# UndefinedBehaviorSanitizer. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
meson test -C build --print-errorlogs --num-processes "$(nproc)"
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false
# allocator_may_return_null: a hostile model's absurd size must reach Kiln's own out-of-memory
# path (a clean KILN_ERR_OUT_OF_MEMORY), which ASan would otherwise abort before.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes "$(nproc)" --timeout-multiplier 4
