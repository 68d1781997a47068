#!/usr/bin/env bash
# The OpenCL provider's listing, fallback, cache and bad cases, through rt-run (TAP):
# devices listed; no OpenCL platform -> a clear message and the CPU runs everything; a kernel
# that fails to build -> the build log and the node named; device out of memory (injected with
# device_memory=BYTES) -> a clean error; an unsupported dtype -> left to the CPU; a bad Gather
# index -> an error naming the node; the on-disk program cache on and off.
#   check_errors.sh RT_RUN PROVIDER LIST_DEVICES MODELS_DIR WORK_DIR
set -uo pipefail
RT_RUN=$1 PROV=$2 LIST=$3 M=$4 WORK=$5
mkdir -p "$WORK"
n=0 failed=0
check() { # DESCRIPTION COMMAND...: ok when the command succeeds
  local what=$1
  shift
  n=$((n + 1))
  if "$@" > "$WORK/out.$n" 2>&1; then
    echo "ok $n - $what"
  else
    echo "not ok $n - $what"; sed 's/^/# /' "$WORK/out.$n" | tail -15; failed=1
  fi
}
run() { # EXPECTED_RC PATTERN... -- rt-run args: rt-run exits EXPECTED_RC and its output holds every PATTERN
  local rc_want=$1
  shift
  local pats=()
  while [ "$1" != "--" ]; do pats+=("$1"); shift; done
  shift
  local out rc
  out=$("$RT_RUN" "$@" 2>&1)
  rc=$?
  echo "$out"
  [ "$rc" -eq "$rc_want" ] || { echo "exit $rc, expected $rc_want"; return 1; }
  for p in "${pats[@]}"; do grep -q -- "$p" <<<"$out" || { echo "missing: $p"; return 1; }; done
}
noicd() { OCL_ICD_VENDORS="$WORK/no-icds" run "$@"; }
echo "1..9"
check "kiln-opencl-devices lists device=0" sh -c "'$LIST' | grep -q '^device=0 '"
check "no OpenCL platform: a clear message, the CPU provider runs the model" \
  noicd 0 "no OpenCL platform" '"skipped":\[{"name":"opencl"' -- \
  "$M/conv_relu.onnx" --provider "$PROV" --report json
check "a kernel that fails to build: the build log, the op and the node named" \
  run 3 "build log" "failed to build" "'conv0' (Conv)" "this_is_not_opencl_c" -- \
  "$M/conv_relu.onnx" --provider "$PROV:break_build=1,cache=0"
check "device out of memory (device_memory=1000): a clean OUT_OF_MEMORY error" \
  run 3 "OpenCL device out of memory" "opencl:device" -- "$M/conv_relu.onnx" --provider "$PROV:device_memory=1000"
check "an unsupported dtype (int32 Add) is left to the CPU provider" \
  run 0 '"name":"int_add0","op":"Add","provider":"cpu"' -- "$M/int_add.onnx" --provider "$PROV" --report json
check "a Gather index out of range: an error naming the node" \
  run 4 "node 'gather0' (Gather)" "out of range" -- "$M/gather.onnx" --provider "$PROV" --input "idx=$M/idx_bad.pb"
rm -rf "$WORK/cache-on" "$WORK/cache-off"
check "the program cache writes a binary keyed by device and source" sh -c \
  "KILN_OPENCL_CACHE_DIR='$WORK/cache-on' '$RT_RUN' '$M/conv_relu.onnx' --provider '$PROV' >/dev/null && ls '$WORK/cache-on'/*.bin"
check "cache=0 writes nothing and still runs" sh -c \
  "KILN_OPENCL_CACHE_DIR='$WORK/cache-off' '$RT_RUN' '$M/conv_relu.onnx' --provider '$PROV:cache=0' >/dev/null && ! ls '$WORK/cache-off'/*.bin"
rm -rf "$WORK/fp16-ref"
check "float16 (fp16=force, without cl_khr_fp16): Conv+Relu, MaxPool, Softmax, MatMul agree with the CPU provider" sh -c \
  "'$RT_RUN' '$M/fp16_net.onnx' --output-dir '$WORK/fp16-ref' >/dev/null &&
   '$RT_RUN' '$M/fp16_net.onnx' --provider '$PROV:fp16=force' --expect 'y=$WORK/fp16-ref/y.pb' --rtol 1e-2 --atol 1e-3 --report json |
   grep -q '\"name\":\"opencl\".*\"nodes\":5,'"
exit $failed
