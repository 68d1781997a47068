#!/usr/bin/env python3
"""OpenCL provider figures, for information (docs/opencl.md, docs/performance.md): latency of a
model with the OpenCL provider against the CPU provider, and GEMM GFLOP/s of the provider's
tiled kernel (a MatMul model). Kiln-CPU and Kiln-OpenCL alternate in one run; each figure is the
median of the per-process medians. Run it under the bench lock:
  flock /tmp/kiln-bench.lock .venv/bin/python providers/opencl/bench.py RT_RUN PROVIDER WORKDIR
      [--models a.onnx,b.onnx] [--gemm 1024] [--procs 3] [--repeat 5] [--tile N]"""
import argparse
import json
import os
import statistics
import subprocess

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh


def gemm_model(path, n):
    w = nh.from_array((np.random.default_rng(0).standard_normal((n, n)) / np.sqrt(n)).astype(np.float32), "w")
    g = oh.make_graph([oh.make_node("MatMul", ["a", "w"], ["y"])], "gemm", [oh.make_tensor_value_info("a", TP.FLOAT, [n, n])],
                      [oh.make_tensor_value_info("y", TP.FLOAT, [n, n])], [w])
    onnx.save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), path)


def latency(rt_run, model, provider, repeat):
    cmd = [rt_run, model, "--warmup", "1", "--repeat", str(repeat), "--report", "json"]
    if provider:
        cmd += ["--provider", provider]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["latency_ms"]["median"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rt_run")
    ap.add_argument("provider")
    ap.add_argument("workdir")
    ap.add_argument("--models", default="")
    ap.add_argument("--gemm", type=int, default=1024)
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tile", default="")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    prov = a.provider + (f":tile={a.tile}" if a.tile else "")
    rows = []
    models = [m for m in a.models.split(",") if m]
    if a.gemm:
        gp = os.path.join(a.workdir, f"matmul_{a.gemm}.onnx")
        if not os.path.exists(gp):
            gemm_model(gp, a.gemm)
        models.append(gp)
    for m in models:
        cpu, ocl = [], []
        for _ in range(a.procs):
            cpu.append(latency(a.rt_run, m, None, a.repeat))
            ocl.append(latency(a.rt_run, m, prov, a.repeat))
        c, o = statistics.median(cpu), statistics.median(ocl)
        line = f"{os.path.basename(m)}: CPU provider {c:.2f} ms, OpenCL provider {o:.2f} ms, OpenCL/CPU {o / c:.2f}x"
        if m.endswith(f"matmul_{a.gemm}.onnx"):
            flop = 2.0 * a.gemm ** 3
            line += f"; GFLOP/s: CPU {flop / c / 1e6:.1f}, OpenCL {flop / o / 1e6:.1f}"
        print(line, flush=True)
        rows.append(line)


if __name__ == "__main__":
    main()
