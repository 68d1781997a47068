#!/usr/bin/env python3
"""ConvTranspose through the oneDNN provider: 40 randomized nodes (1-D to 3-D, strides,
dilations, groups, pads, output_padding, auto_pad, output_shape, with and without bias, constant
and non-constant weights) each either run by the plugin and agree with onnxruntime, or (only
where the padding cannot be given to oneDNN) are left to the CPU provider; the result agrees with
Kiln's CPU provider (which the ONNX node tests check) and with onnxruntime, except for the shape
onnxruntime gives to auto_pad SAME_* when the total padding is negative: the spec says
output = input * stride there, onnxruntime clamps the padding at 0 (a smaller output), so those
cases are compared with the CPU provider only.

  test_dnnl_convtranspose.py RT_RUN PROVIDER_SO"""
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
rng = np.random.default_rng(11)
failures = 0
claimed = 0
N_CASES = 40
print("1..%d" % (N_CASES + 1))


def case(i, folder):
    ns = int(rng.integers(1, 4))
    g = int(rng.choice([1, 1, 2, 3]))
    cin, cout = g * int(rng.integers(1, 4)), g * int(rng.integers(1, 4))
    spatial = [int(rng.integers(2, 7 if ns < 3 else 5)) for _ in range(ns)]
    k = [int(rng.integers(1, 4)) for _ in range(ns)]
    strides = [int(rng.integers(1, 4)) for _ in range(ns)]
    dil = [int(rng.integers(1, 3)) for _ in range(ns)]
    attrs = {"strides": strides, "dilations": dil, "group": g}
    mode = rng.choice(["pads", "pads", "same_upper", "same_lower", "valid", "output_shape"])
    if mode == "pads":
        attrs["pads"] = [int(rng.integers(0, kk)) for kk in k] * 2
        attrs["output_padding"] = [int(rng.integers(0, s)) for s in strides]
    elif mode == "same_upper":
        attrs["auto_pad"] = "SAME_UPPER"
    elif mode == "same_lower":
        attrs["auto_pad"] = "SAME_LOWER"
    elif mode == "valid":
        attrs["auto_pad"] = "VALID"
    else:
        full = [s * (n - 1) + (kk - 1) * d + 1 for s, n, kk, d in zip(strides, spatial, k, dil)]
        attrs["output_shape"] = [max(1, f - int(rng.integers(0, 3))) for f in full]
    x = rng.standard_normal([2, cin] + spatial).astype(np.float32)
    w = rng.standard_normal([cin, cout // g] + k).astype(np.float32)
    b = rng.standard_normal([cout]).astype(np.float32)
    bias = bool(rng.integers(0, 2))
    const_w = bool(rng.integers(0, 4))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    inits, feeds = [], {"x": x}
    if const_w:
        inits.append(numpy_helper.from_array(w, "w"))
    else:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(w.shape)))
        feeds["w"] = w
    if bias:
        inits.append(numpy_helper.from_array(b, "b"))
    node = helper.make_node("ConvTranspose", ["x", "w"] + (["b"] if bias else []), ["y"], name="ct%d" % i, **attrs)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = os.path.join(folder, "ct%d.onnx" % i)
    onnx.save(model, path)
    args = []
    for name, val in feeds.items():
        p = os.path.join(folder, "ct%d_%s.npy" % (i, name))
        np.save(p, val)
        args += ["--input", "%s=%s" % (name, p)]
    same_negative = "auto_pad" in attrs and attrs["auto_pad"].startswith("SAME") and any(
        s * (n - 1) + (kk - 1) * d + 1 < n * s for s, n, kk, d in zip(strides, spatial, k, dil))
    cpu_dir = os.path.join(folder, "cpu%d" % i)
    r = subprocess.run([RT, path, "--output-dir", cpu_dir] + args, capture_output=True, text=True)
    if r.returncode != 0:
        return False, "ct%d: the CPU provider failed: %s" % (i, r.stderr.strip()[-300:]), None
    cpu = numpy_helper.to_array(onnx.load_tensor(os.path.join(cpu_dir, "y.pb")))
    want = cpu
    if not same_negative:
        want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        if want.shape != cpu.shape or not np.allclose(cpu, want, rtol=1e-4, atol=1e-4):
            return False, "ct%d: the CPU provider disagrees with onnxruntime" % i, None
    out_dir = os.path.join(folder, "out%d" % i)
    r = subprocess.run([RT, path, "--provider", SO, "--report", "json", "--output-dir", out_dir] + args,
                       capture_output=True, text=True)
    what = "ct%d %dD g=%d %s %s%s" % (i, ns, g, mode, {k: v for k, v in attrs.items() if k != "group"},
                                       " (vs the CPU provider only)" if same_negative else "")
    if r.returncode != 0:
        return False, what + ": exit %d: %s" % (r.returncode, r.stderr.strip()[-300:]), None
    rep = json.loads(r.stdout)
    prov = {n["name"]: n["provider"] for n in rep["partition"]["nodes"]}["ct%d" % i]
    got = numpy_helper.to_array(onnx.load_tensor(os.path.join(out_dir, "y.pb")))
    ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-4)
    err = float(np.max(np.abs(got - want))) if got.shape == want.shape and got.size else 0.0
    return ok, what + ": on %s, shape %s vs %s, max error %.2g" % (prov, got.shape, want.shape, err), prov


with tempfile.TemporaryDirectory() as tmp:
    for i in range(N_CASES):
        ok, what, prov = case(i, tmp)
        claimed += prov == "dnnl"
        print(("ok %d - " if ok else "not ok %d - ") % (i + 1) + what)
        failures += not ok
# The plugin must really run most of them (only negative begin paddings are declined).
ok = claimed >= N_CASES * 3 // 4
print(("ok %d - " if ok else "not ok %d - ") % (N_CASES + 1) + "%d of %d ran on the plugin" % (claimed, N_CASES))
failures += not ok
sys.exit(1 if failures else 0)
