#!/usr/bin/env python3
"""The graph optimizer against onnxruntime's: node counts at level all (onnxruntime's from the
model it saves with optimized_model_filepath), Kiln's optimizer time against Kiln's and
onnxruntime's session creation, and Kiln's latency at --optimize disabled and all, alternating
processes. Run under the bench lock:

  flock /tmp/kiln-bench.lock optimizer_bench.py RT_RUN MODEL.onnx... [--runs 3] [--repeat 10]

BERT models get input_ids / token_type_ids of ones and an all-ones attention mask."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort


def ort_counts(path, tmp):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = os.path.join(tmp, "ort_opt.onnx")
    so.log_severity_level = 3
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    n = len(onnx.load(so.optimized_model_filepath, load_external_data=False).graph.node)
    times = []
    for _ in range(3):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        t0 = time.perf_counter()
        ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        times.append((time.perf_counter() - t0) * 1e3)
    return n, statistics.median(times)


def feeds_args(path, tmp):
    m = onnx.load(path, load_external_data=False)
    args = []
    for i in m.graph.input:
        if i.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            shape = [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]
            f = os.path.join(tmp, i.name + ".npy")
            np.save(f, np.ones(shape, np.int64))
            args += ["--input", f"{i.name}={f}"]
    return args


def kiln(rt_run, path, level, extra, repeat):
    out = subprocess.run([rt_run, path, "--optimize", level, "--warmup", "2", "--repeat", str(repeat), "--report", "json"] + extra,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rt_run")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    print("| model | nodes | Kiln all | onnxruntime all | Kiln optimizer ms | Kiln session ms | ORT session ms |"
          " optimizer / ORT session | latency disabled ms | latency all ms | all / disabled |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in a.models:
        with tempfile.TemporaryDirectory() as tmp:
            n_ort, ort_ms = ort_counts(path, tmp)
            extra = feeds_args(path, tmp)
            lat = {"disabled": [], "all": []}
            opt_ms, load_ms = [], []
            before = after = 0
            for _ in range(a.runs):
                for level in ("disabled", "all"):
                    r = kiln(a.rt_run, path, level, extra, a.repeat)
                    lat[level].append(r["latency_ms"]["median"])
                    if level == "all":
                        o = r["optimizer"]
                        before, after = o["nodes_before"], o["nodes_after"]
                        opt_ms.append(o["time_us"] / 1e3)
                        load_ms.append(r["load_ms"])
            d, al = statistics.median(lat["disabled"]), statistics.median(lat["all"])
            om = statistics.median(opt_ms)
            print(f"| {os.path.basename(path)} | {before} | {after} | {n_ort} | {om:.2f} | {statistics.median(load_ms):.0f} |"
                  f" {ort_ms:.0f} | {100 * om / ort_ms:.2f}% | {d:.1f} | {al:.1f} | {al / d:.2f} |", flush=True)


if __name__ == "__main__":
    main()
