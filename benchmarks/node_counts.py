#!/usr/bin/env python3
"""Node counts of a model as written, after Kiln's optimizer (rt-run --report json, at the
default level all, or with --kiln-arg flags such as --disable-pass) and after onnxruntime's
graph optimizations at level all (optimized_model_filepath), one line per model.

  node_counts.py RT_RUN MODEL.onnx [MODEL.onnx ...] [--kiln-arg=--disable-pass --kiln-arg=NAME]"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort


def main():
    rt = sys.argv[1]
    models = [a for a in sys.argv[2:] if not a.startswith("--kiln-arg=")]
    extra = [a.split("=", 1)[1] for a in sys.argv[2:] if a.startswith("--kiln-arg=")]
    print("| model | as written | Kiln (all) | onnxruntime (all) |")
    print("|---|---:|---:|---:|")
    tmpdir = tempfile.mkdtemp()
    for path in models:
        feeds = []
        for x in ort.InferenceSession(path, providers=["CPUExecutionProvider"]).get_inputs():
            if "int64" in x.type:  # token ids and masks: zeros are valid (the counts do not depend on values)
                f = os.path.join(tmpdir, x.name + ".npy")
                np.save(f, np.zeros([d if isinstance(d, int) else 1 for d in x.shape], np.int64))
                feeds += ["--input", f"{x.name}={f}"]
        p = subprocess.run([rt, path, "--report", "json"] + feeds + extra, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"| {os.path.basename(path)} | rt-run failed: {p.stderr.strip()[-200:]} | | |")
            continue
        o = json.loads(p.stdout)["optimizer"]
        with tempfile.TemporaryDirectory() as tmp:
            so = ort.SessionOptions()
            so.log_severity_level = 3
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.optimized_model_filepath = os.path.join(tmp, "o.onnx")
            ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            n_ort = len(onnx.load(so.optimized_model_filepath, load_external_data=False).graph.node)
        print(f"| {os.path.basename(path)} | {o['nodes_before']} | {o['nodes_after']} | {n_ort} |", flush=True)


if __name__ == "__main__":
    main()
