#!/bin/sh
# Builds the guide's provider (tests/providers/guide) with the guide's Makefile against the
# headers alone, then runs rt-ep-check on it. TAP output.
# usage: test_guide_build.sh SOURCE_ROOT BUILD_ROOT RT_EP_CHECK ONNX_TESTS
set -u
src=$1 build=$2 check=$3 tests=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "1..3"
cp "$src/tests/providers/guide/tiny.c" "$src/tests/providers/guide/Makefile" "$work/"
if make -s -C "$work" KILN_CFLAGS="-I$src/abi -I$build/abi" CFLAGS="-O2 -Wall -Wextra -Werror" >"$work/make.log" 2>&1; then
    echo "ok 1 - the guide's Makefile builds kiln-provider-tiny.so from the headers"
else
    echo "not ok 1 - make failed"; sed 's/^/# /' "$work/make.log"; exit 0
fi
if nm -D --defined-only "$work/kiln-provider-tiny.so" | awk '{print $3}' | grep -v '^_' | grep -qvx kiln_provider_entry; then
    echo "not ok 2 - it exports more than kiln_provider_entry"
elif nm -D "$work/kiln-provider-tiny.so" | grep -q ' U kiln_'; then
    echo "not ok 2 - it needs symbols of libkiln"
else
    echo "ok 2 - it exports only kiln_provider_entry and needs nothing from libkiln"
fi
if "$check" "$work/kiln-provider-tiny.so" --onnx-tests "$tests" >"$work/check.log" 2>&1; then
    echo "ok 3 - rt-ep-check passes: $(tail -1 "$work/check.log")"
else
    echo "not ok 3 - rt-ep-check failed"; grep -v ' PASS ' "$work/check.log" | sed 's/^/# /'
fi
