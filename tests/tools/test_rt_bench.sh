#!/usr/bin/env bash
# rt-bench's contract without timing anything: argument parsing (--dry-run prints what was
# parsed), shape extraction from models (shapes --list), the correctness gate (--check runs
# it, KILN_BENCH_INJECT_WRONG injects a deliberately wrong Kiln result that must be refused
# with exit 1 before any timing) and the clear errors. TAP output.
#   test_rt_bench.sh RT_BENCH SHARED_DIR MAKE_RT_BENCH_MODEL
set -u
RB=$1
SHARED=$2
MKMODEL=$3
NODE=$SHARED/onnx-tests/node
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
fail=0
check() { # name expected_rc actual_rc [grep_pattern file]
  n=$((n + 1))
  local ok=1
  [ "$2" = "$3" ] || ok=0
  if [ $ok = 1 ] && [ $# -ge 5 ] && ! grep -qE -- "$4" "$5"; then ok=0; fi
  if [ $ok = 1 ]; then echo "ok $n - $1"; else echo "not ok $n - $1 (rc $3, want $2)"; sed 's/^/# /' "$TMP/out" "$TMP/err" 2>/dev/null | head -8; fail=1; fi
}
run() { KILN_BENCH_INJECT_WRONG= "$RB" "$@" >"$TMP/out" 2>"$TMP/err"; echo $?; }
wrong() { local who=$1; shift; KILN_BENCH_INJECT_WRONG=$who "$RB" "$@" >"$TMP/out" 2>"$TMP/err"; echo $?; }

# --- argument parsing ---
rc=$(run gemm --m 7 --n 9 --k 11 --trans-b --dtype u8s8 --threads 1,2 --dry-run)
check "gemm flags parse" 0 "$rc" '"command":"gemm".*"dtype":"u8s8","m":7,"n":9,"k":11,"trans_a":0,"trans_b":1.*"threads":\[1,2\]' "$TMP/out"
rc=$(run gemm --m 7 --n 9 --k 11 --trans-a --dry-run)
check "gemm --trans-a parses" 0 "$rc" '"trans_a":1,"trans_b":0' "$TMP/out"
rc=$(run gemm --dry-run)
check "gemm defaults" 0 "$rc" '"m":512,"n":512,"k":512,"trans_a":0,"trans_b":0.*"threads":\[1\]' "$TMP/out"
rc=$(run conv --input 1,64,56,56 --filter 128,3,3 --stride 2 --pad 1,0 --dilation 2 --group 2 --dry-run)
check "conv flags parse" 0 "$rc" '"input":\[1,64,56,56\],"filter":\[128,3,3\],"stride":\[2,2\],"pad":\[1,0\],"dilation":\[2,2\],"group":2' "$TMP/out"
rc=$(run dwconv --input 1,32,10,10 --dry-run)
check "dwconv defaults to a 3x3 depthwise filter" 0 "$rc" '"filter":\[32,3,3\].*"group":32' "$TMP/out"
rc=$(run unary gelu --n 1000 --dry-run)
check "unary op and count" 0 "$rc" '"op":"gelu".*"count":1000' "$TMP/out"
rc=$(run pool avg --input 1,8,16,16 --dry-run)
check "pool kind" 0 "$rc" '"command":"pool","op":"avg"' "$TMP/out"
rc=$(run reduce max --shape 4,5,6 --axis 1 --dry-run)
check "reduce kind, shape, axis" 0 "$rc" '"op":"max".*"shape":\[4,5,6\].*"axis":1' "$TMP/out"
rc=$(run transpose --shape 2,3,4 --dry-run)
check "transpose default perm reverses" 0 "$rc" '"perm":\[2,1,0\]' "$TMP/out"
rc=$(run model m.onnx --threads 1,2 --optimize all --compare ort --processes 4 --dim N=8 --json --dry-run)
check "model flags parse" 0 "$rc" '"op":"m.onnx".*"threads":\[1,2\].*"format":"json","dims":\{"N":8\},"optimize":"all","compare":"ort","processes":4' "$TMP/out"
rc=$(run gemm --csv --min-time 0.5 --min-reps 3 --isa avx2 --clock wall --dry-run)
check "common flags parse" 0 "$rc" '"clock":1,"isa":"avx2","min_time":0.5,"min_reps":3,"format":"csv"' "$TMP/out"
rc=$(run gemm --clock sundial); check "unknown clock" 2 "$rc" '--clock wants' "$TMP/err"
rc=$(run); check "no command is a usage error" 2 "$rc" 'missing command' "$TMP/err"
rc=$(run frobnicate); check "unknown command" 2 "$rc" 'unknown command: frobnicate' "$TMP/err"
rc=$(run gemm --frob); check "unknown flag" 2 "$rc" 'unknown flag: --frob' "$TMP/err"
rc=$(run gemm --m); check "flag without value" 2 "$rc" 'needs a value' "$TMP/err"
rc=$(run gemm --m 0); check "size 0 refused" 2 "$rc" 'bad size' "$TMP/err"
rc=$(run gemm --m 12x); check "non-number refused" 2 "$rc" 'bad size' "$TMP/err"
rc=$(run gemm --dtype f64); check "unknown dtype" 2 "$rc" 'unknown dtype' "$TMP/err"
rc=$(run gemm --threads 1,,2); check "bad thread list" 2 "$rc" '--threads' "$TMP/err"
rc=$(run gemm --threads 0); check "zero threads" 2 "$rc" '--threads' "$TMP/err"
rc=$(run conv --filter 8,3,3); check "conv without --input" 2 "$rc" 'needs --input' "$TMP/err"
rc=$(run conv --input 1,2,3 --filter 8,3,3); check "conv --input wants 4 dims" 2 "$rc" 'N,C,H,W' "$TMP/err"
rc=$(run conv --input 1,6,8,8 --filter 8,3,3 --group 4); check "conv group must divide C and M" 2 "$rc" 'multiples of --group' "$TMP/err"
rc=$(run conv --input 1,3,2,2 --filter 8,5,5); check "conv filter larger than the input" 2 "$rc" 'larger than the padded input' "$TMP/err"
rc=$(run unary cosh); check "unknown unary op" 2 "$rc" 'unknown unary op' "$TMP/err"
rc=$(run pool median --input 1,1,4,4); check "unknown pool kind" 2 "$rc" 'unknown pool kind' "$TMP/err"
rc=$(run transpose --shape 2,3 --perm 0,0); check "perm must be a permutation" 2 "$rc" 'not a permutation' "$TMP/err"
rc=$(run softmax --shape 2,3 --axis 2); check "axis out of range" 2 "$rc" 'axis out of range' "$TMP/err"
rc=$(run model m.onnx --optimize fast); check "unknown --optimize level" 2 "$rc" '--optimize takes disabled, basic, extended or all' "$TMP/err"
rc=$(run suite vgg); check "unknown suite" 2 "$rc" 'unknown suite' "$TMP/err"
rc=$(run gemm --isa sse9 --check); check "unknown --isa level" 2 "$rc" 'unknown --isa level' "$TMP/err"
rc=$(run model "$NODE/test_add/model.onnx" --compare ort --python "$TMP/no-python")
check "--compare ort without onnxruntime is a clear error" 2 "$rc" 'no-python not found' "$TMP/err"
rc=$(run model m.onnx --int-max 2 --dry-run); check "--int-max parses" 0 "$rc" '"int_max":2\}' "$TMP/out"
rc=$(run model m.onnx --int-max 5 --dry-run); check "--int-max out of range" 2 "$rc" '--int-max takes 1..4' "$TMP/err"
rc=$(run model m.onnx --compare ort,openvino --dry-run)
check "--compare ort,openvino parses" 0 "$rc" '"compare":"ort,openvino"' "$TMP/out"
rc=$(run model m.onnx --compare tvm --dry-run)
check "--compare with an unknown runtime is a usage error" 2 "$rc" '--compare takes ort, openvino or ort,openvino' "$TMP/err"
rc=$(run model "$NODE/test_add/model.onnx" --compare openvino --ov-python "$TMP/no-python")
check "--compare openvino without .venv-openvino is a clear error" 2 "$rc" 'no-python not found \(run scripts/setup-openvino.sh to create .venv-openvino\)' "$TMP/err"
[ "$(grep -c . "$TMP/err")" = 1 ]; check "... in one line" 0 $?
printf '#!/bin/sh\nexit 1\n' >"$TMP/bad-python"; chmod +x "$TMP/bad-python"
rc=$(run model "$NODE/test_add/model.onnx" --compare ort,openvino --ov-python "$TMP/bad-python")
check "--compare openvino without openvino importable is a clear error" 2 "$rc" 'openvino cannot be imported by .*bad-python' "$TMP/err"
rc=$(run suite resnet50 --dry-run)
check "suite resnet50 lists its shapes" 0 "$rc" '^conv 1x3x224x224 m=64 k=7x7 s=2 p=3 g=1$' "$TMP/out"
grep -q '^gemm f32 m=1 n=1000 k=2048$' "$TMP/out"; check "suite resnet50 has the fc GEMM" 0 $?

# --- shape extraction ---
rc=$(run shapes "$NODE/test_conv_with_strides_padding/model.onnx" --list)
check "Conv shape from a model" 0 "$rc" '^Conv +x1 +f32 +n=1 c=1 h=7 w=5 m=1 kh=3 kw=3 sh=2 sw=2 ph=1 pw=1 dh=1 dw=1 group=1$' "$TMP/out"
rc=$(run shapes "$NODE/test_matmul_2d/model.onnx" --list)
check "MatMul shape from a model" 0 "$rc" '^MatMul +x1 +f32 +m=3 n=3 k=4 batch=1 trans_a=0 trans_b=0$' "$TMP/out"
rc=$(run shapes "$NODE/test_matmul_3d/model.onnx" --list)
check "batched MatMul is extracted with its batches" 0 "$rc" '^MatMul +x1 +f32 +m=3 n=3 k=4 batch=2 trans_a=0 trans_b=0 batch_a=2 batch_b=2$' "$TMP/out"
rc=$(run shapes "$NODE/test_gemm_transposeB/model.onnx" --list --json)
check "Gemm transB from a model (json)" 0 "$rc" '"op":"Gemm".*"shape":"m=3 n=4 k=6 batch=1 trans_a=0 trans_b=1"' "$TMP/out"
rc=$(run shapes "$NODE/test_matmulinteger/model.onnx" --list)
check "MatMulInteger shape and dtype" 0 "$rc" '^MatMulInteger +x1 +u8s8 +m=4 n=2 k=3 batch=1' "$TMP/out"
rc=$(run shapes "$NODE/test_qlinearconv/model.onnx" --list)
check "QLinearConv with u8 weights" 0 "$rc" '^QLinearConv +x1 +u8u8 +2d n=1 c=1 m=1 group=1 in=7,7 k=1,1 s=1,1 pb=0,0 pe=0,0 d=1,1$' "$TMP/out"
rc=$(run shapes "$NODE/test_qlinearconv/model.onnx" --check)
check "QLinearConv u8u8 from the node test passes the gate" 0 "$rc" '^  kiln:QLinearConv .*correct \(max error 0\)' "$TMP/out"
rc=$(run shapes "$NODE/test_convtranspose_1d/model.onnx" --check)
check "ConvTranspose 1-D from the node test passes the gate" 0 "$rc" '^  kiln:ConvTranspose .*correct' "$TMP/out"
# A model built here with one node per shape kind beyond 2-D Conv and plain GEMMs
# (tests/tools/make_rt_bench_model.c): each extracted exactly, then gated against the naive loop.
"$MKMODEL" "$TMP/kinds.onnx"; check "the shape-kinds model is written" 0 $?
rc=$(run shapes "$TMP/kinds.onnx" --list)
check "shapes: the kinds model lists" 0 "$rc"
[ "$(grep -c . "$TMP/out")" = 10 ] && ! grep -q -- ' -- ' "$TMP/out"; check "shapes: ten rows, none skipped" 0 $?
while IFS= read -r want; do
  grep -qxE -- "$want" "$TMP/out"; check "extracted: $want" 0 $?
done <<'KINDS'
Conv +x1 +f32 +1d n=1 c=4 m=6 group=1 in=19 k=3 s=2 pb=1 pe=0 d=1
Conv +x1 +f32 +3d n=1 c=3 m=4 group=1 in=5,6,7 k=3,3,3 s=1,1,1 pb=1,1,1 pe=1,1,1 d=1,1,1
Conv +x1 +f32 +2d n=1 c=4 m=6 group=2 in=8,9 k=3,3 s=1,1 pb=0,1 pe=1,0 d=1,1
ConvTranspose +x1 +f32 +2d n=1 c=4 m=3 group=1 in=5,6 k=3,3 s=2,2 pb=1,1 pe=1,1 d=1,1 out_pad=1,0
ConvTranspose +x1 +f32 +1d n=1 c=4 m=2 group=2 in=7 k=4 s=3 pb=0 pe=0 d=1 out_pad=0
ConvTranspose +x1 +f32 +2d n=1 c=2 m=2 group=1 in=4,5 k=3,3 s=2,2 pb=0,0 pe=1,1 d=1,1 out_pad=0,0
QLinearConv +x1 +u8s8 +2d n=1 c=3 m=5 group=1 in=7,8 k=3,3 s=1,1 pb=1,1 pe=1,1 d=1,1
Gemm +x1 +f32 +m=5 n=7 k=9 batch=1 trans_a=1 trans_b=0
MatMul +x1 +f32 +m=5 n=4 k=6 batch=6 trans_a=0 trans_b=0 batch_a=6 batch_b=6
MatMul +x1 +f32 +m=5 n=3 k=6 batch=4 trans_a=0 trans_b=0 batch_a=1 batch_b=4
KINDS
rc=$(run shapes "$TMP/kinds.onnx" --check --threads 1,2)
check "shapes --check: every kind benchmarked and correct" 0 "$rc"
for impl in kiln:Conv kiln:ConvTranspose kiln:QLinearConv kiln:Gemm kiln:MatMul f32-gemm-4x8-scalar; do
  bad=$(grep -E "^  $impl +kiln" "$TMP/out" | grep -vc 'correct')
  cnt=$(grep -cE "^  $impl +kiln .*correct" "$TMP/out")
  [ "$bad" = 0 ] && [ "$cnt" -ge 1 ]; check "shapes --check: $impl rows correct ($cnt, $bad not)" 0 $?
done
for g in '^conv1d 1x4x19 m=6 k=3 s=2 p=1,0$' '^conv3d 1x3x5x6x7 ' '^conv2d 1x4x8x9 .*p=0,1,1,0 g=2$' \
         '^convtranspose2d 1x4x5x6 m=3 ' '^convtranspose1d 1x4x7 m=2 k=4 s=3 p=0,0 g=2$' \
         '^qlinearconv2d u8s8 1x3x7x8 m=5 ' '^gemm f32 m=5 n=7 k=9 trans_a$' \
         '^matmul f32 batched A=6x5x6 B=6x6x4$' '^matmul f32 batched A=1x5x6 B=4x6x3$'; do
  grep -qE -- "$g" "$TMP/out"; check "shapes --check ran the case $g" 0 $?
done
for impl in kiln:ConvTranspose kiln:QLinearConv kiln:MatMul kiln:Conv; do
  rc=$(wrong $impl shapes "$TMP/kinds.onnx"); check "shapes: a wrong $impl is refused" 1 "$rc" "$impl gives a wrong result" "$TMP/err"
done
rc=$(run gemm --m 37 --n 29 --k 45 --trans-a --check)
check "gemm --trans-a passes (packed, unpacked, Gemm node, references)" 0 "$rc" '^  kiln:Gemm .*correct' "$TMP/out"
bad=$(grep -E '^  (f32-gemm-|cblas|dnnl)' "$TMP/out" | grep -vcE 'correct|needs |not built')
check "gemm --trans-a: every row checked ($bad not)" 0 "$bad"
rc=$(wrong f32-gemm-4x8-scalar gemm --m 37 --n 29 --k 45 --trans-a)
check "gemm --trans-a: a wrong packed kernel is refused" 1 "$rc" 'gives a wrong result' "$TMP/err"
rc=$(run gemm --trans-a --dtype u8s8 --dry-run); check "--trans-a is f32 only" 2 "$rc" 'trans-a' "$TMP/err"
OCR=$SHARED/models/ch_PP-OCRv4_det_infer.onnx
if [ -f "$OCR" ]; then
  rc=$(run shapes "$OCR" --list)
  check "dynamic dims without --dim are reported" 0 "$rc" 'shape not static: pass --dim' "$TMP/out"
  rc=$(run shapes "$OCR" --list --dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=64 --dim p2o.DynamicDimension.2=96)
  check "--dim binds symbolic dims" 0 "$rc" '^Conv +x1 +f32 +n=1 c=3 h=64 w=96 m=16 kh=3 kw=3 sh=2 sw=2 ph=1 pw=1' "$TMP/out"
  grep -qE '^Conv +x1 +f32 +n=1 c=16 h=32 w=48 m=16 kh=3 kw=3 .*group=16$' "$TMP/out"
  check "shapes propagate through the graph (depthwise after the stem)" 0 $?
  grep -qE '^ConvTranspose +x1 +f32 +2d n=1 c=[0-9]+ m=[0-9]+ .* s=2,2 ' "$TMP/out"; check "ConvTranspose extracted (not skipped)" 0 $?
  grep -q -- ' -- ' "$TMP/out"; check "nothing in PP-OCR is skipped once dims are bound" 1 $?
  # --optimize reaches the Kiln processes: plain Conv runs at disabled, Conv activations are fused
  # at all (the profiled process's top ops; Conv is most of this model's time at either level, so
  # the check does not depend on how the smaller ops rank, and nothing here is a timing).
  small="--dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=32 --dim p2o.DynamicDimension.2=32"
  rc=$(run model "$OCR" $small --optimize disabled --processes 1 --min-time 0 --min-reps 1)
  check "model --optimize disabled runs the graph as written" 0 "$rc" '^  Conv +[0-9]+ nodes/run' "$TMP/out"
  grep -q 'FusedConv' "$TMP/out"; check "model --optimize disabled: no fused op" 1 $?
  rc=$(run model "$OCR" $small --optimize all --processes 1 --min-time 0 --min-reps 1 --json)
  check "model --optimize all fuses (json)" 0 "$rc" '"optimize":"all".*"FusedConv"' "$TMP/out"
else
  echo "ok $((n += 1)) - # SKIP $OCR not found"
fi
printf 'not a model' >"$TMP/bad.onnx"
rc=$(run shapes "$TMP/bad.onnx" --list); check "unreadable model exits 3" 3 "$rc" 'cannot load' "$TMP/err"
rc=$(run shapes "$TMP/missing.onnx" --list); check "missing model exits 3" 3 "$rc"

# --- the correctness gate (nothing is timed: --check, or the gate refuses first) ---
rc=$(run gemm --m 13 --n 17 --k 19 --threads 1,2 --check)
check "gemm f32: real kernels pass the gate" 0 "$rc" 'kiln_f32_gemm +kiln .*correct' "$TMP/out"
rc=$(run gemm --m 13 --n 17 --k 19 --trans-b --check); check "gemm f32 trans_b passes" 0 "$rc" 'kiln:Gemm .*correct' "$TMP/out"
rc=$(run gemm --dtype u8s8 --m 13 --n 17 --k 19 --check); check "gemm u8s8 passes" 0 "$rc" 'kiln_s16_gemm .*correct \(max error 0\)' "$TMP/out"
rc=$(run gemm --dtype s8s8 --m 13 --n 17 --k 19 --check); check "gemm s8s8 passes" 0 "$rc" 'kiln:MatMulInteger .*correct' "$TMP/out"
# The packed fp32 GEMM (one row per config) and the u8s8 GEMM (one row per level): every row is
# either checked against the naive loop or names the level it needs; edges and K/M blocking.
rc=$(run gemm --m 13 --n 17 --k 19 --check)
check "gemm f32: the scalar packed config passes" 0 "$rc" '^  f32-gemm-4x8-scalar +kiln +scalar .*correct' "$TMP/out"
bad=$(grep -E '^  f32-gemm-' "$TMP/out" | grep -vcE 'correct|needs ')
check "gemm f32: every packed config is checked or says what it needs ($bad not)" 0 "$bad"
rc=$(run gemm --m 350 --n 70 --k 300 --trans-b --check)
check "gemm f32 packed, trans_b, K and M past one block" 0 "$rc" '^  f32-gemm-4x8-scalar .*correct' "$TMP/out"
bad=$(grep -E '^  f32-gemm-' "$TMP/out" | grep -vcE 'correct|needs ')
check "gemm f32 trans_b: every packed config checked ($bad not)" 0 "$bad"
rc=$(run gemm --m 13 --n 17 --k 19 --isa scalar --check)
check "--isa scalar: the avx2 config is not run" 0 "$rc" '^  f32-gemm-6x16-avx2-fma .*needs avx2' "$TMP/out"
for dt in u8s8 s8s8; do
  for tb in "" --trans-b; do
    rc=$(run gemm --dtype $dt --m 37 --n 33 --k 70 $tb --check)
    check "gemm $dt $tb: the scalar u8s8 kernel is exact" 0 "$rc" '^  u8s8-gemm-4x16-scalar +kiln .*correct \(max error 0\)' "$TMP/out"
    bad=$(grep -E '^  u8s8-gemm' "$TMP/out" | grep -vcE 'correct \(max error 0\)|needs ')
    check "gemm $dt $tb: every u8s8 level exact or says what it needs ($bad not)" 0 "$bad"
  done
done
rc=$(run gemm --dtype u8s8 --m 13 --n 17 --k 19 --isa avx2 --check)
check "--isa avx2: the VNNI u8s8 kernels are not run" 0 "$rc" '^  u8s8-gemm \(avxvnni\) .*needs avxvnni' "$TMP/out"
rc=$(run gemm --dtype bf16 --check); check "bf16: no Kiln kernel yet, not an error" 0 "$rc" 'no Kiln kernel yet' "$TMP/out"
rc=$(run conv --input 1,4,9,7 --filter 6,3,3 --pad 1 --stride 2 --check); check "conv passes" 0 "$rc" 'kiln:Conv .*correct' "$TMP/out"
rc=$(run dwconv --input 1,8,9,9 --pad 1 --check); check "dwconv passes" 0 "$rc" 'kiln:Conv .*correct' "$TMP/out"
for c in "pool --input 1,3,8,8" "pool avg --input 1,3,8,8 --pad 1" "unary exp --n 999" "unary tanh --n 999" \
         "unary sigmoid --n 999" "unary erf --n 999" "unary gelu --n 999" "softmax --shape 3,5,7" \
         "softmax --shape 3,5,7 --axis 1" "layernorm --shape 3,5,7" "transpose --shape 3,5,7 --perm 1,0,2" \
         "reduce --shape 3,5,7" "reduce mean --shape 3,5,7 --axis 0" "reduce max --shape 3,5,7 --axis 1"; do
  rc=$(run $c --check); check "$c passes" 0 "$rc" 'kiln:.*correct' "$TMP/out"
done
rc=$(wrong 1 gemm --m 13 --n 17 --k 19)
check "a wrong gemm kernel is refused (exit 1)" 1 "$rc" 'f32-gemm-4x8-scalar gives a wrong result' "$TMP/err"
grep -q 'WRONG RESULT' "$TMP/out"; check "the table says WRONG RESULT" 0 $?
grep -qE 'GFLOP/s' "$TMP/out"; check "a wrong kernel gets no figure" 1 $?
rc=$(wrong kiln_f32_gemm gemm --m 13 --n 17 --k 19)
check "a wrong unpacked gemm is refused" 1 "$rc" 'kiln_f32_gemm gives a wrong result' "$TMP/err"
rc=$(wrong f32-gemm-6x16-avx2-fma gemm --m 13 --n 17 --k 19 --isa avx2)
check "a wrong packed avx2 config is refused" 1 "$rc" 'f32-gemm-6x16-avx2-fma gives a wrong result' "$TMP/err"
rc=$(wrong u8s8-gemm-4x16-scalar gemm --dtype s8s8 --m 13 --n 17 --k 19)
check "a wrong u8s8 kernel is refused" 1 "$rc" 'u8s8-gemm-4x16-scalar gives a wrong result' "$TMP/err"
rc=$(wrong kiln:MatMul gemm --m 13 --n 17 --k 19)
check "a wrong MatMul node is refused" 1 "$rc" 'kiln:MatMul gives a wrong result' "$TMP/err"
rc=$(wrong kiln_s16_gemm gemm --dtype u8s8 --m 13 --n 17 --k 19)
check "a wrong int8 kernel is refused" 1 "$rc" 'kiln_s16_gemm gives a wrong result' "$TMP/err"
rc=$(wrong 1 conv --input 1,4,9,7 --filter 6,3,3)
check "a wrong conv is refused" 1 "$rc" 'kiln:Conv gives a wrong result' "$TMP/err"
rc=$(wrong kiln:Softmax softmax --shape 3,5,7 --json)
check "a wrong softmax is refused" 1 "$rc" 'kiln:Softmax gives a wrong result' "$TMP/err"
python3 -m json.tool "$TMP/out" >/dev/null 2>&1; check "--json stays valid on refusal" 0 $?
rc=$(run layernorm --shape 3,5,7 --check --csv)
check "--csv header" 0 "$rc" '^case,impl,role,isa,threads,unit,rate,pct_peak' "$TMP/out"

echo "1..$n"
exit $fail
