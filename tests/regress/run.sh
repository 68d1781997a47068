#!/usr/bin/env bash
# Regression models (most found by tests/fuzz/fuzz_models.py): each NAME.onnx runs through
# rt-run with the arguments in NAME.args (paths relative to this folder) and must exit with the
# code in NAME.rc (default 0), and when NAME.msg exists its output must contain that text. A
# crash or a sanitizer report is an exit code of its own, so it fails; so does a run past 60 s
# (exit 124). Models are run under rt-run's default memory limit (docs/limits.md). TAP output.
#   run.sh RT_RUN
set -u
rt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")"
models=(*.onnx)
echo "1..${#models[@]}"
i=0 failed=0
for m in "${models[@]}"; do
  i=$((i + 1))
  name=${m%.onnx}
  args=()
  [ -f "$name.args" ] && read -r -a args < "$name.args"
  want=0
  [ -f "$name.rc" ] && want=$(cat "$name.rc")
  out=$(timeout 60 "$rt" "$m" "${args[@]}" 2>&1)
  rc=$?
  msg_ok=1
  [ -f "$name.msg" ] && ! grep -qF -- "$(cat "$name.msg")" <<<"$out" && msg_ok=0
  if [ "$rc" = "$want" ] && [ "$msg_ok" = 1 ]; then
    echo "ok $i - $name (exit $rc)"
  else
    failed=1
    echo "not ok $i - $name: exit $rc, expected $want$([ "$msg_ok" = 1 ] || echo ", and no '$(cat "$name.msg")'")"
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/# /'
  fi
done
exit $failed
