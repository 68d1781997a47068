#!/usr/bin/env bash
# Runs the whole test suite in two halves: the release build, then the same tests built with
# AddressSanitizer and UndefinedBehaviorSanitizer. The sanitizer half runs even when the release
# half fails, each half is reported on its own, and the script exits non-zero when either fails.
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
release=0 sanitizers=0
half release build || release=1
# allocator_may_return_null: a hostile model's absurd size must reach Kiln's own out-of-memory
# path (a clean KILN_ERR_OUT_OF_MEMORY), which ASan would otherwise abort before.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
MESON_TEST_ARGS+=(--timeout-multiplier 4)
half sanitizers build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false || sanitizers=1

echo "=== summary ==="
cat build.summary 2>/dev/null || echo "release: no result"
cat build-asan.summary 2>/dev/null || echo "sanitizers: no result"
python3 - build.summary build-asan.summary <<'PY'
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
rm -f build.summary build-asan.summary
[ $release -eq 0 ] && [ $sanitizers -eq 0 ]
