#!/usr/bin/env python3
"""Broken inputs, bad options and unsupported attributes through the oneDNN provider: each
fails cleanly naming the node (or the option), or falls back to the CPU provider and still
matches onnxruntime; and precision=bf16 within its documented tolerance.

  test_dnnl_errors.py RT_RUN PROVIDER_SO"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RT, SO = sys.argv[1], sys.argv[2]
failures = 0
count = 0


def check(ok, what):
    global failures, count
    count += 1
    print(("ok %d - " if ok else "not ok %d - ") % count + " ".join(what.split()))
    if not ok:
        failures += 1


def save(model, folder, name):
    path = os.path.join(folder, name)
    onnx.save(model, path)
    return path


def run(model, *extra):
    r = subprocess.run([RT, model] + list(extra), capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def conv_relu(folder):
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "c", "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["t"], name="conv0", pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["t"], ["y"], name="relu0")], "g", [x], [y], [w])
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder, "conv_relu.onnx")


def maxpool_indices(folder):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    i = helper.make_tensor_value_info("i", TensorProto.INT64, None)
    g = helper.make_graph([helper.make_node("MaxPool", ["x"], ["y", "i"], name="pool0", kernel_shape=[2, 2])], "g", [x], [y, i])
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder, "maxpool_indices.onnx")


def add_int(folder):
    a = helper.make_tensor_value_info("a", TensorProto.INT64, [2, 3])
    b = helper.make_tensor_value_info("b", TensorProto.INT64, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add0")], "g", [a, b], [y])
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder, "add_int.onnx")


def matmul_gelu(folder):
    """MatMul + bias + the exported GELU (Div sqrt2, Erf, Add 1, Mul x, Mul 0.5) + LayerNorm-style Pow."""
    rng = np.random.default_rng(11)
    inits = [numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float32) * 0.3, "w"),
             numpy_helper.from_array(rng.standard_normal(32).astype(np.float32), "b"),
             numpy_helper.from_array(np.array(1.4142135381698608, np.float32), "sqrt2"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="mm0"),
             helper.make_node("Add", ["mm", "b"], ["t"], name="bias0"),
             helper.make_node("Div", ["t", "sqrt2"], ["d"], name="div0"),
             helper.make_node("Erf", ["d"], ["e"], name="erf0"),
             helper.make_node("Add", ["e", "one"], ["a"], name="add1"),
             helper.make_node("Mul", ["t", "a"], ["m"], name="mul0"),
             helper.make_node("Mul", ["m", "half"], ["g"], name="mul1"),
             helper.make_node("Pow", ["g", "two"], ["y"], name="pow0")]
    g = helper.make_graph(nodes, "g", [x], [y], inits)
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder, "matmul_gelu.onnx")


def conv_hardsigmoid(folder):
    """Conv -> HardSigmoid and MatMul -> Add(bias) -> HardSigmoid: two eltwise post-ops each."""
    rng = np.random.default_rng(4)
    w = numpy_helper.from_array(rng.standard_normal((6, 3, 3, 3)).astype(np.float32), "w")
    wm = numpy_helper.from_array(rng.standard_normal((7, 5)).astype(np.float32), "wm")
    bm = numpy_helper.from_array(rng.standard_normal((5,)).astype(np.float32), "bm")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 7])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["t"], name="conv0", pads=[1, 1, 1, 1]),
                           helper.make_node("HardSigmoid", ["t"], ["h"], name="hs0", alpha=0.3, beta=0.4),
                           helper.make_node("MatMul", ["h", "wm"], ["m"], name="mm0"),
                           helper.make_node("Add", ["m", "bm"], ["a"], name="bias0"),
                           helper.make_node("HardSigmoid", ["a"], ["y"], name="hs1")], "g", [x], [y], [w, wm, bm])
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), folder, "conv_hardsigmoid.onnx")


def providers_of(model, opt=""):
    rc, out = run(model, "--provider", SO + opt, "--report", "json", "--dim", "c=3", "--dim", "h=5", "--dim", "w=5")
    if rc != 0:
        return rc, {}
    rep = json.loads(out[out.index("{"):])
    return rc, {n["name"]: n["provider"] for n in rep["partition"]["nodes"]}


with tempfile.TemporaryDirectory() as tmp:
    m = conv_relu(tmp)
    rc, out = run(m, "--provider", SO + ":precision=fp64")
    check(rc != 0 and "precision=fp64" in out, "a bad option value fails session creation naming it: " + out.strip()[-120:])
    rc, out = run(m, "--provider", SO + ":fuse=maybe")
    check(rc != 0 and "fuse=maybe" in out, "fuse=maybe is refused")
    rc, out = run(m, "--provider", SO + ":no_such_option=1", "--dim", "c=3")
    check(rc == 0, "an unknown option is a warning, not a failure")
    # X with 5 channels against a weight for 3: a clean run error naming the Conv node.
    xin = os.path.join(tmp, "x5.npy")
    np.save(xin, np.ones((1, 5, 8, 8), np.float32))
    for opt in ("", ":fuse=0"):
        rc, out = run(m, "--provider", SO + opt, "--input", "x=" + xin)
        check(rc == 4 and "conv0" in out and "Conv" in out, f"wrong channel count{opt or ' (fused)'}: run error naming the node: " +
              out.strip()[-160:])
    # And the right shape agrees with onnxruntime, fused or not.
    x3 = np.random.default_rng(5).standard_normal((2, 3, 7, 9)).astype(np.float32)
    np.save(os.path.join(tmp, "x3.npy"), x3)
    ref = ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"x": x3})[0]
    np.save(os.path.join(tmp, "ref.npy"), ref)
    for opt in ("", ":fuse=0"):
        rc, out = run(m, "--provider", SO + opt, "--input", "x=" + os.path.join(tmp, "x3.npy"), "--expect",
                      "y=" + os.path.join(tmp, "ref.npy"))
        check(rc == 0, f"conv+relu{opt} agrees with onnxruntime")
        rc, prov = providers_of(m, opt)
        check(prov.get("conv0") == "dnnl" and prov.get("relu0") == "dnnl", f"conv0 and relu0 run on dnnl{opt}: {prov}")
    # precision=bf16: within the documented bf16 tolerance (docs/dnnl.md: 2 % of the output's range).
    out_dir = os.path.join(tmp, "bf16")
    os.makedirs(out_dir)
    rc, out = run(m, "--provider", SO + ":precision=bf16", "--input", "x=" + os.path.join(tmp, "x3.npy"), "--output-dir", out_dir)
    ok = rc == 0
    if ok:
        t = onnx.TensorProto()
        with open(os.path.join(out_dir, "y.pb"), "rb") as f:
            t.ParseFromString(f.read())
        y = numpy_helper.to_array(t)
        err = float(np.abs(y - ref).max() / np.abs(ref).max())
        ok = y.shape == ref.shape and 0 < err <= 0.02
    check(ok, "precision=bf16 agrees with onnxruntime within 2 % of the output range (and is not fp32)")
    # The exported GELU after MatMul + bias: one fused primitive (Erf claimed only in the pattern).
    mg = matmul_gelu(tmp)
    xg = np.random.default_rng(9).standard_normal((1, 8, 16)).astype(np.float32)
    np.save(os.path.join(tmp, "xg.npy"), xg)
    np.save(os.path.join(tmp, "refg.npy"), ort.InferenceSession(mg, providers=["CPUExecutionProvider"]).run(None, {"x": xg})[0])
    rc, out = run(mg, "--provider", SO, "--input", "x=" + os.path.join(tmp, "xg.npy"), "--expect", "y=" + os.path.join(tmp, "refg.npy"))
    check(rc == 0, "MatMul + bias + exported GELU + Pow agrees with onnxruntime: " + out.strip()[-120:])
    rc, prov = providers_of(mg)
    check(rc == 0 and prov.get("erf0") == "dnnl" and prov.get("pow0") == "dnnl", f"the GELU pattern's Erf and Pow run on dnnl: {prov}")
    # HardSigmoid (linear then clip in oneDNN 2.6) as a Conv post-op pair, a MatMul bias+post-op, and alone.
    mh = conv_hardsigmoid(tmp)
    xh = np.random.default_rng(8).standard_normal((2, 3, 6, 7)).astype(np.float32)
    np.save(os.path.join(tmp, "xh.npy"), xh)
    np.save(os.path.join(tmp, "refh.npy"), ort.InferenceSession(mh, providers=["CPUExecutionProvider"]).run(None, {"x": xh})[0])
    for opt in ("", ":fuse=0"):
        rc, out = run(mh, "--provider", SO + opt, "--input", "x=" + os.path.join(tmp, "xh.npy"), "--expect",
                      "y=" + os.path.join(tmp, "refh.npy"), "--atol", "1e-5")
        check(rc == 0, f"Conv + HardSigmoid, MatMul + bias + HardSigmoid{opt} agree with onnxruntime: " + out.strip()[-120:])
        rc, prov = providers_of(mh, opt)
        check(rc == 0 and prov.get("hs0") == "dnnl" and prov.get("hs1") == "dnnl", f"HardSigmoid runs on dnnl{opt}: {prov}")
    # Unsupported: MaxPool's Indices output and integer Add stay on the CPU provider and still run.
    for maker, node in ((maxpool_indices, "pool0"), (add_int, "add0")):
        mm = maker(tmp)
        rc, prov = providers_of(mm)
        check(rc == 0 and prov.get(node) == "cpu", f"{node} falls back to the CPU provider: {prov}")
print(f"1..{count}")
sys.exit(1 if failures else 0)
