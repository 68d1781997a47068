#!/usr/bin/env python3
"""Offline save (rt-opt): a model saved at level basic holds only standard ONNX ops, passes the
onnx checker, keeps large tensors in the external-data file, and gives onnxruntime the outputs
of the original; a model saved at level all holds kiln ops, and Kiln loads and runs it (without
optimizing again) with the same outputs. Bad arguments and unwritable paths fail cleanly.

  test_saved.py RT_OPT RT_RUN      (TAP output)"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

RNG = np.random.default_rng(5)


def c(name, a):
    return nh.from_array(np.asarray(a), name)


def r(*s):
    return RNG.standard_normal(s).astype(np.float32)


def cnn():
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["c", "sc", "bb", "mu", "var"], ["n"]),
             h.make_node("Identity", ["n"], ["i"]), h.make_node("Relu", ["i"], ["p"]),
             h.make_node("Add", ["p", "c2"], ["a"]), h.make_node("Relu", ["a"], ["y"])]
    inits = [c("w", r(16, 3, 3, 3)), c("b", r(16)), c("sc", r(16)), c("bb", r(16)), c("mu", r(16)),
             c("var", RNG.uniform(0.5, 1.5, 16).astype(np.float32)), c("c2", r(1, 16, 8, 8))]
    g = h.make_graph(nodes, "cnn", [h.make_tensor_value_info("x", TP.FLOAT, ["batch", 3, 8, 8])],
                     [h.make_tensor_value_info("y", TP.FLOAT, ["batch", 16, 8, 8])], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), {"x": r(2, 3, 8, 8)}


def encoder():
    hd = 16
    nodes = [h.make_node("MatMul", ["x", "w1"], ["m"]), h.make_node("Add", ["m", "b1"], ["t"]),
             h.make_node("Div", ["t", "sqrt2"], ["g1"]), h.make_node("Erf", ["g1"], ["g2"]),
             h.make_node("Add", ["g2", "one"], ["g3"]), h.make_node("Mul", ["t", "g3"], ["g4"]),
             h.make_node("Mul", ["g4", "half"], ["g"]), h.make_node("Add", ["g", "x"], ["s"]),
             h.make_node("LayerNormalization", ["s", "gam", "bet"], ["y"], axis=-1)]
    inits = [c("w1", r(hd, hd)), c("b1", r(hd)), c("sqrt2", np.float32(np.sqrt(2))), c("one", np.float32(1)),
             c("half", np.float32(0.5)), c("gam", r(hd)), c("bet", r(hd))]
    g = h.make_graph(nodes, "enc", [h.make_tensor_value_info("x", TP.FLOAT, [2, 5, hd])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [2, 5, hd])], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), {"x": r(2, 5, hd)}


def ort_run(path, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, feeds)


def kiln_run(rt_run, path, feeds, tmp):
    args = [rt_run, path, "--report", "json", "--output-dir", os.path.join(tmp, "out")]
    for k, v in feeds.items():
        np.save(os.path.join(tmp, k + ".npy"), v)
        args += ["--input", f"{k}={os.path.join(tmp, k + '.npy')}"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout)


def main():
    rt_opt, rt_run = sys.argv[1], sys.argv[2]
    results = []

    def check(name, ok, why=""):
        results.append((name, ok, why))

    for mname, build in (("cnn", cnn), ("encoder", encoder)):
        with tempfile.TemporaryDirectory() as tmp:
            m, feeds = build()
            src = os.path.join(tmp, "m.onnx")
            onnx.save(m, src)
            ref = ort_run(src, feeds)
            basic, full = os.path.join(tmp, "basic.onnx"), os.path.join(tmp, "all.onnx")
            p = subprocess.run([rt_opt, src, "-o", basic, "--level", "basic"], capture_output=True, text=True)
            check(f"{mname}: rt-opt --level basic", p.returncode == 0, p.stderr.strip())
            sm = onnx.load(basic)
            onnx.checker.check_model(sm)
            check(f"{mname}: basic holds standard ops only", all(n.domain == "" for n in sm.graph.node),
                  str({(n.domain, n.op_type) for n in sm.graph.node}))
            if mname == "cnn":  # the Identity goes at basic
                check(f"{mname}: basic has fewer nodes", len(sm.graph.node) < len(m.graph.node))
            got = ort_run(basic, feeds)
            check(f"{mname}: onnxruntime runs the basic model with the same outputs",
                  all(np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(got, ref)))
            p = subprocess.run([rt_opt, src, "-o", full, "--verbose"], capture_output=True, text=True)
            rep = json.loads(p.stdout) if p.returncode == 0 else {}
            check(f"{mname}: rt-opt --verbose prints the report", rep.get("nodes_after", 0) > 0, p.stderr.strip())
            fm = onnx.load(full, load_external_data=False)
            check(f"{mname}: all holds kiln ops", any(n.domain == "kiln" for n in fm.graph.node) and
                  any(o.domain == "kiln" and o.version == 1 for o in fm.opset_import))
            out = kiln_run(rt_run, full, feeds, tmp)
            y = onnx.TensorProto()
            y.ParseFromString(open(os.path.join(tmp, "out", "y.pb"), "rb").read())
            check(f"{mname}: Kiln runs the saved model with the same outputs",
                  np.allclose(nh.to_array(y), ref[0], rtol=1e-4, atol=1e-5))
            check(f"{mname}: Kiln does not optimize a saved model again", out["optimizer"]["passes"] == [] and
                  out["optimizer"]["nodes_before"] == len(fm.graph.node))
            if mname == "cnn":
                check("cnn: weights of 1 KiB and more are external", os.path.exists(basic + ".data") and any(
                    t.data_location == TP.EXTERNAL for t in onnx.load(basic, load_external_data=False).graph.initializer))
    with tempfile.TemporaryDirectory() as tmp:
        m, _ = cnn()
        src = os.path.join(tmp, "m.onnx")
        onnx.save(m, src)
        p = subprocess.run([rt_opt, src, "-o", os.path.join(tmp, "x.onnx"), "--level", "bogus"], capture_output=True)
        check("a bad level is a usage error", p.returncode == 2)
        p = subprocess.run([rt_opt, src, "-o", "/nonexistent-dir/x.onnx"], capture_output=True, text=True)
        check("an unwritable path fails with a message", p.returncode == 3 and "nonexistent-dir" in p.stderr, p.stderr)
        p = subprocess.run([rt_opt, src], capture_output=True)
        check("no -o is a usage error", p.returncode == 2)
    print(f"1..{len(results)}")
    for i, (name, ok, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} {name}" + ("" if ok or not why else f" - {why[:300]}"))
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
