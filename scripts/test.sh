#!/usr/bin/env bash
# Runs the whole test suite in two halves: the release build, then the same tests built with
# AddressSanitizer and UndefinedBehaviorSanitizer. The sanitizer half runs even when the release
# half fails, each half is reported on its own, and the script exits non-zero when either fails.
# Then, when no arguments are given, the fuzz step: the libFuzzer harness built with clang
# (build-fuzz/) runs KILN_FUZZ_RUNS inputs (default 150000, seed 1) bounded by KILN_FUZZ_SECONDS (default 240; 0 skips it) over the seed corpus
# (tests/fuzz/run_fuzz.sh, docs/testing.md).
#   scripts/test.sh [meson test arguments...]   (e.g. --suite conformance, or test names)
set -uo pipefail
cd "$(dirname "$0")/.."

half() { # NAME BUILD_DIR [meson setup options...]
  local name=$1 dir=$2
  shift 2
  echo "=== $name half ($dir) ==="
  if ! scripts/setup.sh "$dir" "$@"; then
    echo "$name: setup or build failed" > "$dir.summary"
    return 1
  fi
  local rc=0
  meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" "${MESON_TEST_ARGS[@]}" || rc=$?
  python3 - "$dir/meson-logs/testlog.json" "$name" > "$dir.summary" <<'PY'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    counts[r] = counts.get(r, 0) + 1
ok = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
skip = counts.get("SKIP", 0)
bad = sum(counts.values()) - ok - skip
print(f"{sys.argv[2]}: {ok} passed, {bad} failed, {skip} skipped")
PY
  return $rc
}

MESON_TEST_ARGS=("$@")
user_args=$#
release=0 sanitizers=0
half release build || release=1
# allocator_may_return_null: a hostile model's absurd size must reach Kiln's own out-of-memory
# path (a clean KILN_ERR_OUT_OF_MEMORY), which ASan would otherwise abort before.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
MESON_TEST_ARGS+=(--timeout-multiplier 4)
half sanitizers build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false || sanitizers=1

fuzz=0
fuzz_seconds=${KILN_FUZZ_SECONDS:-240}
if [ "$user_args" = 0 ] && [ "$fuzz_seconds" != 0 ]; then
  echo "=== fuzz step (build-fuzz, ${fuzz_seconds}s) ==="
  if ! CC=clang scripts/setup.sh build-fuzz -Dfuzzing=true -Dwerror=false -Dtests=disabled -Dbenchmarks=false -Dexamples=false \
      -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link; then
    echo "fuzz: 0 passed, 1 failed, 0 skipped (setup or build failed)" > build-fuzz.summary
    fuzz=1
  elif FUZZ_RUNS=${KILN_FUZZ_RUNS:-150000} tests/fuzz/run_fuzz.sh build-fuzz/tests/fuzz/fuzz-session "$fuzz_seconds" "${KILN_SHARED_DIR:-../shared}"; then
    echo "fuzz: 1 passed, 0 failed, 0 skipped" > build-fuzz.summary
  else
    echo "fuzz: 0 passed, 1 failed, 0 skipped" > build-fuzz.summary
    fuzz=1
  fi
fi

echo "=== summary ==="
cat build.summary 2>/dev/null || echo "release: no result"
cat build-asan.summary 2>/dev/null || echo "sanitizers: no result"
cat build-fuzz.summary 2>/dev/null || echo "fuzz: not run (arguments given or KILN_FUZZ_SECONDS=0)"
python3 - build.summary build-asan.summary $( [ -f build-fuzz.summary ] && echo build-fuzz.summary ) <<'PY'
import re, sys
p = f = 0
for path in sys.argv[1:]:
    try:
        m = re.search(r"(\d+) passed, (\d+) failed", open(path).read())
    except OSError:
        m = None
    if m:
        p += int(m.group(1)); f += int(m.group(2))
    else:
        f += 1
print(f"total: {p} passed, {f} failed")
PY
rm -f build.summary build-asan.summary build-fuzz.summary
[ $release -eq 0 ] && [ $sanitizers -eq 0 ] && [ $fuzz -eq 0 ]
