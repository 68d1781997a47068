#!/usr/bin/env python3
"""Runs a model with onnxruntime and with Kiln's rt-run on the same inputs and checks that the
outputs agree within rtol/atol (|kiln - ort| <= atol + rtol * |ort|).

  compare_with_ort.py RT_RUN MODEL [--make-demo] [--rtol R] [--atol A] [--dim NAME=N ...] [--seed S]

Inputs are random with a fixed seed (floats in [-1, 1), integers in [0, 4)); --make-demo first
writes the project's demo CNN to MODEL. Exit 0 when every output matches."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def random_input(rng, info, dims):
    shape = []
    for d in info.shape:
        if isinstance(d, int):
            shape.append(d)
        else:
            shape.append(dims.get(d, 1) if isinstance(d, str) else 1)
    t = info.type
    if "float16" in t:
        return rng.uniform(-1, 1, shape).astype(np.float16)
    if "double" in t:
        return rng.uniform(-1, 1, shape).astype(np.float64)
    if "float" in t:
        return rng.uniform(-1, 1, shape).astype(np.float32)
    if "int64" in t:
        return rng.integers(0, 4, shape).astype(np.int64)
    if "int32" in t:
        return rng.integers(0, 4, shape).astype(np.int32)
    if "uint8" in t:
        return rng.integers(0, 256, shape).astype(np.uint8)
    if "int8" in t:
        return rng.integers(-128, 128, shape).astype(np.int8)
    if "bool" in t:
        return rng.integers(0, 2, shape).astype(np.bool_)
    raise SystemExit(f"unsupported input type {t}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rt_run")
    ap.add_argument("model")
    ap.add_argument("--make-demo", action="store_true")
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--dim", action="append", default=[])
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    if a.make_demo:
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "..", "..", "scripts", "make_demo_model.py"), a.model],
                       check=True, stdout=subprocess.DEVNULL)
    dims = {k: int(v) for k, v in (d.split("=", 1) for d in a.dim)}
    rng = np.random.default_rng(a.seed)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: random_input(rng, i, dims) for i in sess.get_inputs()}
    outs = sess.run(None, feeds)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [a.rt_run, a.model, "--rtol", str(a.rtol), "--atol", str(a.atol)]
        for name, v in feeds.items():
            p = os.path.join(tmp, f"in_{len(cmd)}.pb")
            with open(p, "wb") as f:
                f.write(numpy_helper.from_array(v, name).SerializeToString())
            cmd += ["--input", f"{name}={p}"]
        for o, v in zip(sess.get_outputs(), outs):
            p = os.path.join(tmp, f"out_{len(cmd)}.pb")
            with open(p, "wb") as f:
                f.write(numpy_helper.from_array(np.asarray(v), o.name).SerializeToString())
            cmd += ["--expect", f"{o.name}={p}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        if r.returncode == 0:
            print(f"match: {os.path.basename(a.model)} agrees with onnxruntime {ort.__version__} "
                  f"(rtol {a.rtol}, atol {a.atol})")
        return r.returncode


if __name__ == "__main__":
    sys.exit(main())
