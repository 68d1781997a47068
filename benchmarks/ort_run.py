#!/usr/bin/env python3
"""onnxruntime's side of the comparisons: one model, a thread count, timed runs; prints JSON.

  ort_run.py MODEL [--threads N] [--warmup N] [--repeat N] [--dim NAME=N ...] [--input NAME=FILE.npy ...]
  ort_run.py --overhead MODEL [--runs N] [--batches N]

Sessions use graph optimization level "all", sequential execution, intra_op_num_threads N and
spinning allowed (onnxruntime's defaults). Inputs: the declared shapes (symbolic dims from --dim,
else 1), floats in [-1, 1), integers in [0, 4), or --input .npy files. --overhead times run_with_iobinding on a tiny
model (the Python call is part of what it measures)."""
import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort

DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
          "tensor(double)": np.float64, "tensor(float16)": np.float16, "tensor(bool)": np.bool_,
          "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def inputs_for(sess, dims, files):
    rng = np.random.default_rng(1234)
    feeds = {}
    for i in sess.get_inputs():
        if i.name in files:
            feeds[i.name] = np.load(files[i.name])
            continue
        shape = [d if isinstance(d, int) else dims.get(d, 1) for d in i.shape]
        dt = DTYPES[i.type]
        if np.issubdtype(dt, np.floating):
            feeds[i.name] = rng.uniform(-1, 1, shape).astype(dt)
        else:
            feeds[i.name] = rng.integers(0, 4, shape).astype(dt)
    return feeds


def session(model, threads):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--dim", action="append", default=[])
    ap.add_argument("--input", action="append", default=[])
    ap.add_argument("--overhead", action="store_true")
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--batches", type=int, default=15)
    a = ap.parse_args()
    dims = {k: int(v) for k, v in (d.split("=", 1) for d in a.dim)}
    t0 = time.perf_counter()
    sess = session(a.model, a.threads)
    load_ms = (time.perf_counter() - t0) * 1e3
    feeds = inputs_for(sess, dims, dict(f.split("=", 1) for f in a.input))
    if a.overhead:
        b = sess.io_binding()
        for k, v in feeds.items():
            b.bind_cpu_input(k, v)
        outs = sess.run(None, feeds)
        for o, v in zip(sess.get_outputs(), outs):
            b.bind_output(o.name, "cpu", 0, v.dtype, list(v.shape), np.empty_like(v).ctypes.data)
        for _ in range(1000):
            sess.run_with_iobinding(b)
        per = []
        for _ in range(a.batches):
            t = time.perf_counter()
            for _ in range(a.runs):
                sess.run_with_iobinding(b)
            per.append((time.perf_counter() - t) * 1e6 / a.runs)
        per.sort()
        print(json.dumps({"model": a.model, "binding_us": {"median": per[(len(per) - 1) // 2], "min": per[0]}}))
        return
    first_ms = None
    for _ in range(a.warmup):
        t = time.perf_counter()
        sess.run(None, feeds)
        if first_ms is None:
            first_ms = (time.perf_counter() - t) * 1e3
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"model": a.model, "threads": a.threads, "load_ms": load_ms,
                      "first_ms": first_ms,
                      "latency_ms": {"median": times[(len(times) - 1) // 2], "min": times[0],
                                     "p90": times[int((len(times) - 1) * 0.9)]}}))


if __name__ == "__main__":
    sys.exit(main())
