#!/usr/bin/env bash
# The models through the OpenCL provider agree with the CPU provider: the demo CNN, MobileNetV2,
# ResNet-50 (built by ../shared/models/build_models.py) and PP-OCRv4 det at 160x160. Each model
# runs once on the CPU provider (outputs written) and once with the OpenCL provider first, whose
# outputs are compared; the partition report must show the OpenCL provider running nodes.
# NAME@OPTS runs the model with provider options OPTS (e.g. mobilenetv2@tile=16: the local-memory
# GEMM and Conv kernels that GPUs get, instead of the register-blocked ones CPU devices get).
#   check_models.sh RT_RUN PROVIDER PYTHON SOURCE_ROOT SHARED_DIR WORK_DIR [NAME...]
set -uo pipefail
RT_RUN=$1 PROV=$2 PY=$3 SRC=$4 SHARED=$5 WORK=$6
shift 6
NAMES=("$@")
((${#NAMES[@]})) || NAMES=(demo_cnn mobilenetv2 resnet50 ppocr_det demo_cnn@tile=16 mobilenetv2@tile=16)
mkdir -p "$WORK"
echo "1..${#NAMES[@]}"
i=0 failed=0
for entry in "${NAMES[@]}"; do
  i=$((i + 1))
  name=${entry%%@*} opts=
  [ "$entry" = "$name" ] || opts=:${entry#*@}
  dims=()
  case $name in
    demo_cnn) model=$WORK/demo_cnn.onnx; [ -f "$model" ] || "$PY" "$SRC/scripts/make_demo_model.py" "$model" >/dev/null ;;
    mobilenetv2|resnet50) model=$WORK/$name.onnx
      [ -f "$model" ] || "$PY" "$SHARED/models/build_models.py" "$WORK" "$name" >/dev/null ;;
    ppocr_det) model=$SHARED/models/ch_PP-OCRv4_det_infer.onnx
      dims=(--dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=160 --dim p2o.DynamicDimension.2=160) ;;
    *) echo "not ok $i - $name: unknown model"; failed=1; continue ;;
  esac
  if [ ! -f "$model" ]; then
    echo "not ok $i - $name: model missing ($model)"; failed=1; continue
  fi
  ref=$WORK/ref_$name
  rm -rf "$ref"
  if ! "$RT_RUN" "$model" "${dims[@]}" --output-dir "$ref" > "$WORK/$name.cpu.log" 2>&1; then
    echo "not ok $i - $name: the CPU run failed"; sed 's/^/# /' "$WORK/$name.cpu.log"; failed=1; continue
  fi
  expect=()
  for f in "$ref"/*.pb; do expect+=(--expect "$(basename "$f" .pb)=$f"); done
  if "$RT_RUN" "$model" "${dims[@]}" --provider "$PROV$opts" "${expect[@]}" --rtol 1e-3 --atol 1e-4 --report json \
      > "$WORK/$name.ocl.json" 2> "$WORK/$name.ocl.log" &&
     "$PY" - "$WORK/$name.ocl.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
prov = [p for p in r["partition"]["providers"] if p["name"] == "opencl"]
count = prov[0].get("nodes", 0) if prov else 0
e = r.get("expect", {})
print(f"# opencl ran {count} nodes; {e.get('checked')} outputs checked, {e.get('mismatched')} mismatched", file=sys.stderr)
sys.exit(0 if count and e.get("checked") and not e.get("mismatched") else 1)
PY
  then
    echo "ok $i - $entry agrees with the CPU provider"
  else
    echo "not ok $i - $entry"; sed 's/^/# /' "$WORK/$name.ocl.log" | tail -20; failed=1
  fi
done
exit $failed
