#!/usr/bin/env python3
"""OpenVINO's side of `rt-bench model M.onnx --compare openvino`: one model, a thread count, timed
runs on the CPU plugin; prints one JSON line like ort_run.py. Runs from .venv-openvino
(scripts/setup-openvino.sh), never from the main .venv.

  ov_run.py MODEL [--threads N] [--warmup N] [--repeat N] [--input NAME=FILE.npy ...] [--precision f32|default]

The model is read from the ONNX file by OpenVINO's frontend, reshaped to the .npy inputs' shapes
when it has dynamic dims, and compiled for "CPU" with PERFORMANCE_HINT LATENCY,
INFERENCE_NUM_THREADS N and, unless --precision default, INFERENCE_PRECISION_HINT f32: on CPUs
with AMX or AVX512-BF16 OpenVINO's default is bf16 arithmetic, which would compare a lower
precision with Kiln's and onnxruntime's fp32. load_ms covers read + compile."""
import argparse
import json
import sys
import time

import numpy as np
import openvino as ov


def precision_name(t):
    return t.get_type_name() if hasattr(t, "get_type_name") else str(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--input", action="append", default=[])
    ap.add_argument("--precision", choices=["f32", "default"], default="f32")
    a = ap.parse_args()
    files = dict(f.split("=", 1) for f in a.input)
    t0 = time.perf_counter()
    core = ov.Core()
    model = core.read_model(a.model)
    feeds = {}
    for port in model.inputs:
        name = port.get_any_name()
        if name not in files:
            sys.exit(f"ov_run: no --input for {name}")
        feeds[name] = np.load(files[name])
    if any(port.get_partial_shape().is_dynamic for port in model.inputs):
        model.reshape({name: ov.PartialShape(list(v.shape)) for name, v in feeds.items()})
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": a.threads}
    if a.precision == "f32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = core.compile_model(model, "CPU", config)
    req = compiled.create_infer_request()
    load_ms = (time.perf_counter() - t0) * 1e3
    first_ms = None
    for _ in range(max(1, a.warmup)):
        t = time.perf_counter()
        req.infer(feeds)
        if first_ms is None:
            first_ms = (time.perf_counter() - t) * 1e3
    times = []
    for _ in range(max(1, a.repeat)):
        t = time.perf_counter()
        req.infer(feeds)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"model": a.model, "threads": a.threads, "load_ms": load_ms, "first_ms": first_ms,
                      "version": ov.get_version(),
                      "precision": precision_name(compiled.get_property("INFERENCE_PRECISION_HINT")),
                      "latency_ms": {"median": times[(len(times) - 1) // 2], "min": times[0],
                                     "p90": times[int((len(times) - 1) * 0.9)]}}))


if __name__ == "__main__":
    sys.exit(main())
