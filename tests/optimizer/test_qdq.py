#!/usr/bin/env python3
"""The QDQ rewrites (graph/optimizer/pass_qdq.c, docs/optimizer.md "QDQ rewrites") on small models
built the way onnxruntime.quantization writes QDQ: QuantizeLinear -> DequantizeLinear around each
op, int8 weights and int32 biases behind DequantizeLinear. For each case, positive and negative:

- rt-run --report json at level all says how often each pass fired and how many nodes are left;
- the outputs at level all agree with Kiln at level disabled (the graph as written) within the
  case's bound: 0 (bit for bit) for the exact rewrites (data movement, DQ->Q pairs, weight
  folding, the fused residual op against QLinearConv + the chain), and one quantization step of
  the final QuantizeLinear for the integer ops (QLinearConv, QLinearMatMul): the graph as written
  sums dequantized floats, the integer op sums exact int32 and requantizes once, and both round
  the same real value to the nearest step, so they differ only where that value lies within the
  float sum's rounding error of a half step, and then by one step;
- the same bound against onnxruntime with all its optimizations (it fuses QDQ too).

Then rt-opt saves a rewritten model (standard QLinearConv / QLinearMatMul) that onnxruntime loads
and runs with Kiln's outputs.

  test_qdq.py RT_RUN RT_OPT [FILTER]      (TAP output)"""
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

RNG = np.random.default_rng(7)
F = TP.FLOAT


def const(name, arr):
    return nh.from_array(np.asarray(arr), name)


def vi(name, shape, dt=F):
    return h.make_tensor_value_info(name, dt, shape)


class B:
    """A QDQ graph under construction."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}{self.n}"

    def init(self, arr, base="c"):
        nm = self.name(base)
        self.inits.append(const(nm, arr))
        return nm

    def op(self, op, ins, n_out=1, **attrs):
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(h.make_node(op, ins, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def q(self, x, s, z):
        return self.op("QuantizeLinear", [x, self.init(np.float32(s), "s"), self.init(z, "z")])

    def dq(self, x, s, z, axis=None):
        ins = [x, self.init(np.asarray(s, np.float32), "s"), self.init(z, "z")]
        return self.op("DequantizeLinear", ins, **({} if axis is None else {"axis": axis}))

    def qdq(self, x, s, z):
        return self.dq(self.q(x, s, z), s, z)

    def model(self, inputs, outputs, opset=13):
        g = h.make_graph(self.nodes, "t", inputs, outputs, self.inits)
        m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
        m.ir_version = 8
        return m


SX, ZX = 0.02, np.uint8(128)


def wq(shape, per_channel=False):
    w = RNG.standard_normal(shape).astype(np.float32) * 0.3
    axes = tuple(range(1, len(shape)))
    s = (np.abs(w).max(axis=axes) / 127.0).astype(np.float32) if per_channel else np.float32(np.abs(w).max() / 127.0)
    ss = s.reshape((-1,) + (1,) * (len(shape) - 1)) if per_channel else s
    return np.clip(np.round(w / ss), -127, 127).astype(np.int8), s


def conv_model(act=None, zy=np.uint8(0), sy=0.03, bias="exact", per_channel=False, w_const=True, conv_out=False,
               clip=(0.0, 6.0), group=1):
    b = B()
    cin, cout = 4, 8
    x = b.qdq("x", SX, ZX)
    w8, ws = wq((cout, cin // group, 3, 3), per_channel)
    inputs = [vi("x", [1, cin, 7, 7])]
    if w_const:
        wname = b.init(w8, "w")
    else:
        wname = "w"
        inputs.append(vi("w", [cout, cin // group, 3, 3], TP.INT8))
    w = b.dq(wname, ws, np.zeros(cout, np.int8) if per_channel else np.int8(0), axis=0 if per_channel else None)
    ins = [x, w]
    if bias:
        bs = (np.float32(SX) * ws).astype(np.float32)
        if bias == "off":
            bs = bs * np.float32(1.001)
        b32 = RNG.integers(-300, 300, cout).astype(np.int32)
        ins.append(b.dq(b.init(b32, "b"), bs, np.zeros(cout, np.int32) if per_channel else np.int32(0), axis=0 if per_channel else None))
    y = b.op("Conv", ins, pads=[1, 1, 1, 1], strides=[2, 2], group=group)
    outputs = []
    if conv_out:
        b.nodes[-1].output[0] = "c"
        y = "c"
        outputs.append(vi("c", None))
    if act == "Relu":
        y = b.op("Relu", [y])
    elif act == "Clip":
        y = b.op("Clip", [y, b.init(np.float32(clip[0])), b.init(np.float32(clip[1]))])
    y = b.dq(b.q(y, sy, zy), sy, zy)
    b.nodes[-1].output[0] = "y"
    return b.model(inputs, [vi("y", None)] + outputs)


def matmul_model(per_column=False, b_const=True, shape=(2, 5, 16)):
    b = B()
    a = b.qdq("a", SX, ZX)
    inputs = [vi("a", list(shape))]
    if b_const:
        w8, ws = wq((16, 8))
        if per_column:
            w = RNG.standard_normal((16, 8)).astype(np.float32)
            ws = (np.abs(w).max(axis=0) / 127.0).astype(np.float32)
            w8 = np.clip(np.round(w / ws), -127, 127).astype(np.int8)
        wb = b.dq(b.init(w8, "w"), ws, np.zeros(8, np.int8) if per_column else np.int8(0), axis=1 if per_column else None)
    else:
        wb = b.qdq("bm", 0.05, np.uint8(128))
        inputs.append(vi("bm", [16, 8]))
    y = b.op("MatMul", [a, wb])
    y = b.dq(b.q(y, 0.1, np.uint8(128)), 0.1, np.uint8(128))
    b.nodes[-1].output[0] = "y"
    return b.model(inputs, [vi("y", None)])


def movement_model(op, same=True, **attrs):
    b = B()
    x = b.qdq("x", SX, ZX)
    extra = []
    if op == "Reshape":
        extra = [b.init(np.array([1, -1], np.int64))]
    if op == "Concat":
        y = b.op(op, [x, b.qdq("x2", SX, ZX)], axis=1)
    else:
        y = b.op(op, [x] + extra, **attrs)
    s2 = SX if same else 0.03
    y = b.dq(b.q(y, s2, ZX), s2, ZX)
    b.nodes[-1].output[0] = "y"
    inputs = [vi("x", [1, 4, 6, 6])] + ([vi("x2", [1, 4, 6, 6])] if op == "Concat" else [])
    return b.model(inputs, [vi("y", None)])


def residual_model(relu=True, conv_dq_out=False):
    """x -> Q -> DQ -> Conv(1x1, stride 1) -> Q -> DQ -> Add(DQ(Q(x))) -> [Relu] -> Q -> DQ."""
    b = B()
    xq = b.q("x", SX, ZX)
    w8, ws = wq((4, 4, 1, 1))
    bs = (np.float32(SX) * ws).astype(np.float32)
    c = b.op("Conv", [b.dq(xq, SX, ZX), b.dq(b.init(w8, "w"), ws, np.int8(0)),
                      b.dq(b.init(RNG.integers(-200, 200, 4).astype(np.int32), "b"), bs, np.int32(0))])
    cd = b.dq(b.q(c, 0.025, np.uint8(120)), 0.025, np.uint8(120))
    outputs = [vi("y", None)]
    if conv_dq_out:
        b.nodes[-1].output[0] = "cd"
        cd = "cd"
        outputs.append(vi("cd", None))
    s = b.op("Add", [cd, b.dq(xq, SX, ZX)])
    if relu:
        s = b.op("Relu", [s])
    y = b.dq(b.q(s, 0.04, np.uint8(0) if relu else np.uint8(128)), 0.04, np.uint8(0) if relu else np.uint8(128))
    b.nodes[-1].output[0] = "y"
    return b.model([vi("x", [1, 4, 5, 5])], outputs)


def gemm_model():
    b = B()
    x = b.qdq("x", SX, ZX)
    w8, ws = wq((6, 16))
    y = b.op("Gemm", [x, b.dq(b.init(w8, "w"), ws, np.int8(0)), b.init(RNG.standard_normal(6).astype(np.float32))], transB=1)
    b.nodes[-1].output[0] = "y"
    return b.model([vi("x", [3, 16])], [vi("y", None)])


def pair_model(same=True):
    b = B()
    x = b.qdq("x", SX, ZX)
    s2 = SX if same else 0.021
    y = b.dq(b.q(x, s2, ZX), s2, ZX)
    y = b.op("Relu", [y])
    b.nodes[-1].output[0] = "y"
    return b.model([vi("x", [2, 9])], [vi("y", None)])


STEP = {"conv": 0.03, "mm": 0.1}
CASES = []


def case(name, expect, nodes, bound, fn, extra=(), ort_step=None):
    """expect: {pass: fired}; nodes: node count at level all (None: not checked); bound: max |diff|
    against the graph as written (0: bit for bit); extra: more rt-run flags at level all;
    ort_step: the bound against onnxruntime when it is not `bound` (onnxruntime's own rewrites,
    e.g. of a DQ->Q pair with different scales, move a value by one step of that scale)."""
    CASES.append((name, expect, nodes, bound, fn, list(extra), ort_step))


# conv: Q, QLinearConv, DQ are left
case("conv", {"qdq_conv_fusion": 1}, 3, 0.03, lambda: conv_model())
case("conv_no_bias", {"qdq_conv_fusion": 1}, 3, 0.03, lambda: conv_model(bias=None))
case("conv_per_channel", {"qdq_conv_fusion": 1}, 3, 0.03, lambda: conv_model(per_channel=True))
case("conv_grouped", {"qdq_conv_fusion": 1}, 3, 0.03, lambda: conv_model(group=2, per_channel=True))
# depthwise stays float (its int8 kernel is slower than the fp32 one: docs/optimizer.md), weights folded
case("conv_depthwise_kept_float", {"qdq_conv_fusion": 0, "qdq_weight_fold": 2}, None, 0,
     lambda: conv_model(group=4, per_channel=True))
case("conv_relu_absorbed", {"qdq_conv_fusion": 1}, 3, 0.03, lambda: conv_model(act="Relu"))
case("conv_relu6_absorbed", {"qdq_conv_fusion": 1}, 3, 0.03, lambda: conv_model(act="Clip", sy=6.0 / 255))
case("conv_relu_zero_point_128_kept", {"qdq_conv_fusion": 0}, None, 0, lambda: conv_model(act="Relu", zy=np.uint8(128)))
case("conv_clip_inside_range_kept", {"qdq_conv_fusion": 0}, None, 0, lambda: conv_model(act="Clip", clip=(0.0, 1.0)))
case("conv_bias_scale_mismatch_kept", {"qdq_conv_fusion": 0}, None, 0, lambda: conv_model(bias="off"))
case("conv_weight_not_constant_kept", {"qdq_conv_fusion": 0}, None, 0, lambda: conv_model(w_const=False))
case("conv_output_read_elsewhere_kept", {"qdq_conv_fusion": 0}, None, 0, lambda: conv_model(conv_out=True))
# matmul
case("matmul", {"qdq_matmul_fusion": 1}, 3, 0.1, lambda: matmul_model())
case("matmul_per_column", {"qdq_matmul_fusion": 1}, 3, 0.1, lambda: matmul_model(per_column=True))
case("matmul_two_activations", {"qdq_matmul_fusion": 1}, 4, 0.1, lambda: matmul_model(b_const=False, shape=(5, 16)))
# data movement onto the 8-bit side, then the DQ->Q pair
for op, attrs in (("Reshape", {}), ("Transpose", {"perm": [0, 2, 3, 1]}), ("Flatten", {}),
                  ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}), ("Concat", {})):
    n_q = 2 if op == "Concat" else 1  # Q(x) [Q(x2)] -> op on 8 bits -> DQ
    case(f"move_{op.lower()}", {"qdq_movement": 1}, n_q + 2, 0, (lambda op=op, attrs=attrs: movement_model(op, **attrs)))
case("move_other_scale_kept", {"qdq_movement": 0}, None, 0, lambda: movement_model("Transpose", same=False, perm=[0, 1, 3, 2]))
case("pair", {"qdq_pair_elimination": 1}, 3, 0, lambda: pair_model())
case("pair_other_scale_kept", {"qdq_pair_elimination": 0}, 5, 0, lambda: pair_model(same=False), ort_step=0.021)
case("weight_fold_gemm", {"qdq_weight_fold": 1}, 3, 0, lambda: gemm_model())
# the residual block
case("conv_add_relu", {"qdq_conv_fusion": 1, "qdq_conv_add_fusion": 1}, 3, 0.04, lambda: residual_model())
case("conv_add", {"qdq_conv_fusion": 1, "qdq_conv_add_fusion": 1}, 3, 0.04, lambda: residual_model(relu=False))
case("conv_add_output_read_elsewhere_kept", {"qdq_conv_fusion": 1, "qdq_conv_add_fusion": 0}, None, 0.04,
     lambda: residual_model(conv_dq_out=True))
# kiln.QLinearConvAdd against QLinearConv + the chain: bit for bit
EXACT_VS = {"conv_add_relu": ["--disable-pass", "qdq_conv_add_fusion"], "conv_add": ["--disable-pass", "qdq_conv_add_fusion"]}


def fired(report):
    return {p["name"]: p["fired"] for p in report["optimizer"]["passes"]}


def run_kiln(rt_run, path, feeds, tag, level, tmp, extra=()):
    out = os.path.join(tmp, tag)
    os.makedirs(out, exist_ok=True)
    args = [rt_run, path, "--optimize", level, "--report", "json", "--output-dir", out] + list(extra)
    for k, v in feeds.items():
        f = os.path.join(tmp, k + ".npy")
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"rt-run --optimize {level} {' '.join(extra)} failed: {p.stderr.strip()}")
    outs = {}
    for f in os.listdir(out):
        t = onnx.TensorProto()
        with open(os.path.join(out, f), "rb") as fh:
            t.ParseFromString(fh.read())
        outs[f[:-3]] = nh.to_array(t)
    return json.loads(p.stdout), outs


def maxdiff(a, b):
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0


def feeds_for(path):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {}
    for x in sess.get_inputs():
        shape = [d if isinstance(d, int) else 2 for d in x.shape]
        feeds[x.name] = RNG.integers(-127, 127, shape).astype(np.int8) if "int8" in x.type else RNG.standard_normal(shape).astype(np.float32)
    return feeds


def ort_run(path, feeds, level):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = level
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def main():
    rt_run, rt_opt = sys.argv[1], sys.argv[2]
    filt = sys.argv[3] if len(sys.argv) > 3 else ""
    cases = [c for c in CASES if filt in c[0]]
    print(f"1..{len(cases) + 1}")
    bad = 0
    for i, (name, expect, nodes, bound, fn, extra, ort_step) in enumerate(cases, 1):
        msg = ""
        try:
            with tempfile.TemporaryDirectory() as tmp:
                m = fn()
                # (outputs are declared without shapes, which the checker refuses; onnxruntime takes them)
                path = os.path.join(tmp, "m.onnx")
                onnx.save(m, path)
                feeds = feeds_for(path)
                rep, got = run_kiln(rt_run, path, feeds, "all", "all", tmp, extra)
                _, asis = run_kiln(rt_run, path, feeds, "disabled", "disabled", tmp)
                ref = ort_run(path, feeds, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
                f = fired(rep)
                for p, want in expect.items():
                    if f.get(p) != want:
                        msg += f" pass {p} fired {f.get(p)}, expected {want};"
                if nodes is not None and rep["optimizer"]["nodes_after"] != nodes:
                    msg += f" {rep['optimizer']['nodes_after']} nodes left, expected {nodes};"
                tol = bound * 1.0001 + 1e-6 if bound else 0.0
                for nm, r in ref.items():
                    d = maxdiff(got[nm], asis[nm])
                    if d > tol:
                        msg += f" output {nm} differs from the graph as written by {d:.3g} (bound {bound});"
                    d = maxdiff(got[nm], r)
                    if d > (ort_step * 1.0001 if ort_step else max(tol, 1e-5)):
                        msg += f" output {nm} differs from onnxruntime by {d:.3g} (bound {bound});"
                if name in EXACT_VS:
                    _, chain = run_kiln(rt_run, path, feeds, "chain", "all", tmp, EXACT_VS[name])
                    for nm in ref:
                        if not np.array_equal(got[nm], chain[nm]):
                            msg += f" kiln.QLinearConvAdd output {nm} differs from QLinearConv + the chain by {maxdiff(got[nm], chain[nm]):.3g};"
        except Exception as e:  # noqa: BLE001 - report any failure of the case
            msg = f" {type(e).__name__}: {e}"
        if msg:
            bad += 1
            print(f"not ok {i} {name} -{msg}")
        else:
            print(f"ok {i} {name}")
    # rt-opt: the rewritten model holds standard QLinearConv / QLinearMatMul; onnxruntime loads it.
    msg = ""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            b = B()
            x = b.qdq("x", SX, ZX)
            w8, ws = wq((8, 4, 3, 3))
            c = b.op("Conv", [x, b.dq(b.init(w8, "w"), ws, np.int8(0))], pads=[1, 1, 1, 1])
            c = b.qdq(c, 0.03, np.uint8(128))
            c = b.qdq(b.op("Reshape", [c, b.init(np.array([8, -1], np.int64))]), 0.03, np.uint8(128))
            w8, ws = wq((49, 5))
            y = b.dq(b.q(b.op("MatMul", [c, b.dq(b.init(w8, "w"), ws, np.int8(0))]), 0.1, np.uint8(128)), 0.1, np.uint8(128))
            b.nodes[-1].output[0] = "y"
            m = b.model([vi("x", [1, 4, 7, 7])], [vi("y", None)])
            src, dst = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "opt.onnx")
            onnx.save(m, src)
            p = subprocess.run([rt_opt, src, "-o", dst, "--level", "extended"], capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"rt-opt failed: {p.stderr.strip()}")
            saved = onnx.load(dst)
            ops = sorted({n.op_type for n in saved.graph.node})
            if "QLinearConv" not in ops or "QLinearMatMul" not in ops or "Conv" in ops or any(n.domain not in ("", "ai.onnx") for n in saved.graph.node):
                msg += f" saved model holds {ops};"
            feeds = feeds_for(src)
            _, k = run_kiln(rt_run, src, feeds, "k", "all", tmp)
            o = ort_run(dst, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
            if not np.array_equal(o["y"], k["y"]):
                msg += f" onnxruntime on the saved model differs from Kiln by {maxdiff(o['y'], k['y']):.3g};"
    except Exception as e:  # noqa: BLE001
        msg = f" {type(e).__name__}: {e}"
    print(("not ok" if msg else "ok") + f" {len(cases) + 1} rt-opt saves QLinearConv/QLinearMatMul that onnxruntime runs{' -' + msg if msg else ''}")
    bad += 1 if msg else 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
