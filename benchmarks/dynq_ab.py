#!/usr/bin/env python3
"""BERT-base dynamic int8 (build/models/bert_base_dynq.onnx), one thread: Kiln at --optimize all
and disabled, optionally other rt-run builds (e.g. another branch's) at all, and onnxruntime,
alternating per round (order reversed every other round); prints the medians of the per-process
medians and their ratio to onnxruntime. Run from the repository root under the bench lock:
  flock /tmp/kiln-bench.lock .venv/bin/python benchmarks/dynq_ab.py ROUNDS [OTHER_RT_RUN ...]"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_ort import bert_inputs  # noqa: E402

MODEL = "build/models/bert_base_dynq.onnx"


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    os.makedirs("build/bench", exist_ok=True)
    files = bert_inputs("build/bench")
    feed = sum([["--input", f"{k}={v}"] for k, v in files.items()], [])
    common = ["--threads", "1", "--warmup", "2", "--repeat", "5", "--report", "json"] + feed
    cfgs = {"kiln all": ["build/tools/rt-run", MODEL] + common,
            "kiln disabled": ["build/tools/rt-run", MODEL, "--optimize", "disabled"] + common}
    for other in sys.argv[2:]:
        cfgs[f"{other} all"] = [other, MODEL] + common
    cfgs["ort"] = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_run.py"), MODEL,
                   "--threads", "1", "--warmup", "2", "--repeat", "5"] + feed
    res = {k: [] for k in cfgs}
    for r in range(rounds):
        for k in (list(cfgs) if r % 2 == 0 else list(reversed(cfgs))):
            out = subprocess.run(cfgs[k], capture_output=True, text=True, check=True).stdout
            res[k].append(json.loads(out)["latency_ms"]["median"])
    med = {k: statistics.median(v) for k, v in res.items()}
    for k, v in res.items():
        print(f"{k:40s} median {med[k]:8.1f} ms  Kiln/ORT {med[k] / med['ort']:.2f}  runs {[round(x, 1) for x in v]}")


if __name__ == "__main__":
    main()
