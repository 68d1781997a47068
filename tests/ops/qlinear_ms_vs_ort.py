#!/usr/bin/env python3
"""The com.microsoft QOperator ops (QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu,
QLinearAveragePool, QLinearGlobalAveragePool, QLinearConcat, QLinearSoftmax, QLinearWhere, QGemm)
against the pinned onnxruntime, which defines them, and MaxPool on 8-bit data: small fixed-seed random models (u8 and s8,
zero points at the extremes 0/255 and -128/127, broadcasting, odd sizes, parameters as
constants and as graph inputs) run by both, outputs compared byte for byte.

  qlinear_ms_vs_ort.py RT_RUN WORKDIR

Exact equality is required, except QLinearSigmoid: onnxruntime evaluates the logistic with its
own rational approximation (MlasComputeLogistic) and Kiln with expf, so a table entry whose
quotient lands on a rounding boundary may be one step apart; at most 1 LSB there, on at most
2 of the 256 table entries (docs/int8.md). TAP output."""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RT_RUN, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
RNG = np.random.default_rng(20261207)
NP = {TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8}
LIM = {TensorProto.UINT8: (0, 255), TensorProto.INT8: (-128, 127)}
results = []


def rand_q(dt, shape):
    lo, hi = LIM[dt]
    return RNG.integers(lo, hi + 1, size=shape).astype(NP[dt])


def zp_choices(dt):
    lo, hi = LIM[dt]
    return [lo, hi, (lo + hi) // 2, int(RNG.integers(lo, hi + 1))]


def scale():
    return np.float32(RNG.uniform(0.002, 0.2))


class Case:
    """One node; `feeds` are graph inputs, `consts` initializers (or inputs when params_as_inputs)."""

    def __init__(self, name, op, inputs, attrs=None, out_dtype=None, params_as_inputs=False, domain="com.microsoft"):
        self.name, self.op, self.inputs, self.attrs = name, op, inputs, attrs or {}
        self.out_dtype, self.params_as_inputs, self.domain = out_dtype, params_as_inputs, domain

    def model(self, zero_for_omitted=False):
        """zero_for_omitted: an omitted input (a zero point) given as a zero of the data's type."""
        ins, inits, names, feed = [], [], [], {}
        for i, (role, val) in enumerate(self.inputs):
            if val is None and zero_for_omitted and role == "p":
                val = np.zeros((), np.asarray(self.inputs[0][1]).dtype)
            if val is None:
                names.append("")
                continue
            nm = f"in{i}"
            names.append(nm)
            arr = np.asarray(val)
            if role == "data" or self.params_as_inputs:
                ins.append(helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
                feed[nm] = arr
            else:
                inits.append(numpy_helper.from_array(arr, nm))
        node = helper.make_node(self.op, names, ["y"], name="node_" + self.name, domain=self.domain, **self.attrs)
        out = helper.make_tensor_value_info("y", self.out_dtype, None)
        g = helper.make_graph([node], self.name, ins, [out], initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
        m.ir_version = 8
        return m, feed


def run_kiln(path, feed, work):
    args = [RT_RUN, path, "--threads", "1"]
    for k, v in feed.items():
        p = os.path.join(work, k + ".npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    outdir = os.path.join(work, "out")
    os.makedirs(outdir, exist_ok=True)
    r = subprocess.run(args + ["--output-dir", outdir], capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or [""])[-1]
    t = onnx.TensorProto()
    with open(os.path.join(outdir, "y.pb"), "rb") as fh:
        t.ParseFromString(fh.read())
    return numpy_helper.to_array(t), ""


def check(case, tol=0, max_off=0):
    m, feed = case.model()
    work = os.path.join(WORK, case.name)
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    onnx.save(m, path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    # onnxruntime's type inference refuses some omitted optional zero points (QLinearAdd/Mul): the
    # reference is then the same model with explicit zeros, which the spec says is the same thing
    ref_path = path
    if any(v is None and r == "p" for r, v in case.inputs):
        ref_path = os.path.join(work, "reference.onnx")
        onnx.save(case.model(zero_for_omitted=True)[0], ref_path)
    want = ort.InferenceSession(ref_path, so, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    got, msg = run_kiln(path, feed, work)
    if got is None:
        results.append((False, case.name, "kiln failed: " + msg))
        return
    if got.shape != want.shape or got.dtype != want.dtype:
        results.append((False, case.name, f"shape/dtype {got.shape} {got.dtype} vs {want.shape} {want.dtype}"))
        return
    if got.dtype == np.float32:
        ok = np.array_equal(got, want)
        d = float(np.max(np.abs(got - want))) if got.size else 0.0
        results.append((ok, case.name, f"float max |diff| {d:g}"))
        return
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    mx, off = (int(diff.max()) if diff.size else 0), int(np.count_nonzero(diff))
    ok = mx <= tol and (tol == 0 or off <= max_off)
    results.append((ok, case.name, f"max {mx} LSB, {off} of {diff.size} differ"))


def check_error(case):
    """Bad parameters: Kiln must fail cleanly (exit 3 at load or 4 at run, no crash) with a
    message naming the node and the op."""
    m, feed = case.model()
    work = os.path.join(WORK, case.name)
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    onnx.save(m, path)
    got, msg = run_kiln(path, feed, work)
    ok = got is None and "node_" + case.name in msg and case.op in msg
    results.append((ok, case.name, "refused: " + msg if got is None else "ran, but should have failed"))


def error_cases():
    u8, f = TensorProto.UINT8, np.float32
    a = rand_q(u8, (2, 3))
    good = [("p", np.array(0.1, f)), ("p", np.array(3, np.uint8))]
    check_error(Case("err_add_vector_scale", "QLinearAdd", [("data", a), ("p", np.array([0.1, 0.2], f)), good[1], ("data", a)] + good + good,
                     out_dtype=u8))
    check_error(Case("err_add_float", "QLinearAdd", [("data", a.astype(f))] + good + [("data", a)] + good + good, out_dtype=u8))
    check_error(Case("err_sigmoid_zero_scale", "QLinearSigmoid", [("data", a), ("p", np.array(0.0, f)), good[1]] + good, out_dtype=u8))
    check_error(Case("err_sigmoid_zp_type", "QLinearSigmoid", [("data", a), good[0], ("p", np.array(3, np.int8))] + good, out_dtype=u8))
    check_error(Case("err_softmax_no_opset", "QLinearSoftmax", [("data", a)] + good + good, {"axis": 1}, out_dtype=u8))
    check_error(Case("err_concat_no_axis", "QLinearConcat", good + [("data", a)] + good, out_dtype=u8))
    check_error(Case("err_gap_rank2", "QLinearGlobalAveragePool", [("data", a)] + good + good, out_dtype=u8))
    b = rand_q(u8, (3, 5))
    check_error(Case("err_qgemm_bscale", "QGemm", [("data", a)] + good + [("p", b), ("p", np.array([0.1, 0.2, 0.3], f)),
                                                                         ("p", np.array(1, np.uint8))], out_dtype=TensorProto.FLOAT))
    check_error(Case("err_qgemm_inner", "QGemm", [("data", a)] + good + [("p", rand_q(u8, (4, 5)))] + good, out_dtype=TensorProto.FLOAT))


def qparams(dt, zp=None):
    return [("p", np.array(scale(), np.float32)), ("p", np.array(zp if zp is not None else zp_choices(dt)[3], NP[dt]))]


DTS = [TensorProto.UINT8, TensorProto.INT8]


def binary_cases():
    shapes = [((2, 3, 17), (2, 3, 17)), ((4, 1, 5), (1, 7, 5)), ((3, 33), ()), ((), (5, 9)), ((1, 64), (64, 1)),
              ((2, 3, 4, 5), (3, 1, 1))]
    for op in ["QLinearAdd", "QLinearMul"]:
        for dt in DTS:
            for si, (sa, sb) in enumerate(shapes):
                for zi, zp in enumerate(zp_choices(dt)):
                    a, b = rand_q(dt, sa), rand_q(dt, sb)
                    ins = [("data", a)] + qparams(dt, zp) + [("data", b)] + qparams(dt, zp_choices(dt)[(zi + 1) % 4]) + \
                        qparams(dt, zp_choices(dt)[(zi + 2) % 4])
                    check(Case(f"{op}_{dt}_{si}_{zi}", op, ins, out_dtype=dt, params_as_inputs=(si + zi) % 3 == 0))
            # omitted zero points
            a, b = rand_q(dt, (5, 7)), rand_q(dt, (5, 7))
            ins = [("data", a), ("p", np.array(scale(), np.float32)), ("p", None), ("data", b),
                   ("p", np.array(scale(), np.float32)), ("p", None), ("p", np.array(scale(), np.float32))]
            check(Case(f"{op}_{dt}_nozp", op, ins, out_dtype=dt))
            # large ratios: saturation at both ends
            ins = [("data", a), ("p", np.array(2.0, np.float32)), ("p", np.array(zp_choices(dt)[2], NP[dt])), ("data", b),
                   ("p", np.array(1.5, np.float32)), ("p", np.array(zp_choices(dt)[2], NP[dt])),
                   ("p", np.array(0.01, np.float32)), ("p", np.array(zp_choices(dt)[2], NP[dt]))]
            check(Case(f"{op}_{dt}_saturate", op, ins, out_dtype=dt))


def unary_cases():
    for op in ["QLinearSigmoid", "QLinearLeakyRelu"]:
        for dt in DTS:
            for zi, zp in enumerate(zp_choices(dt)):
                x = np.arange(256).astype(np.uint8).view(NP[dt]).reshape(16, 16)  # every byte once
                attrs = {"alpha": float(RNG.uniform(0.01, 0.5))} if op == "QLinearLeakyRelu" else {}
                ins = [("data", x)] + qparams(dt, zp) + qparams(dt, zp_choices(dt)[(zi + 1) % 4])
                if op == "QLinearSigmoid":  # an output scale that covers [0, 1]
                    ins[3] = ("p", np.array(1.0 / 255 if dt == TensorProto.UINT8 else 1.0 / 256, np.float32))
                    ins[4] = ("p", np.array(0 if dt == TensorProto.UINT8 else -128, NP[dt]))
                tol = (1, 2) if op == "QLinearSigmoid" else (0, 0)
                check(Case(f"{op}_{dt}_{zi}", op, ins, attrs, out_dtype=dt, params_as_inputs=zi == 1), *tol)
            x = rand_q(dt, (3, 37))
            ins = [("data", x), ("p", np.array(scale(), np.float32)), ("p", None), ("p", np.array(scale(), np.float32)), ("p", None)]
            check(Case(f"{op}_{dt}_nozp", op, ins, out_dtype=dt), *((1, 2) if op == "QLinearSigmoid" else (0, 0)))


def pool_cases():
    for dt in DTS:
        for zi, zp in enumerate(zp_choices(dt)):
            for cl in [0, 1]:
                shape = (2, 5, 7, 9) if not cl else (2, 7, 9, 5)
                x = rand_q(dt, shape)
                ins = [("data", x)] + qparams(dt, zp) + qparams(dt, zp_choices(dt)[(zi + 3) % 4])
                check(Case(f"gap_{dt}_{zi}_{cl}", "QLinearGlobalAveragePool", ins, {"channels_last": cl}, out_dtype=dt,
                           params_as_inputs=zi == 2))
                for ai, attrs in enumerate([{"kernel_shape": [3, 3]}, {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]},
                                            {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1},
                                            {"kernel_shape": [2, 3], "strides": [2, 3], "ceil_mode": 1},
                                            {"kernel_shape": [7, 9]}, {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}]):
                    a = dict(attrs, channels_last=cl)
                    check(Case(f"avgpool_{dt}_{zi}_{cl}_{ai}", "QLinearAveragePool", ins, a, out_dtype=dt))
        x = rand_q(dt, (1, 3, 11))  # 1-D pooling, omitted zero points
        ins = [("data", x), ("p", np.array(scale(), np.float32)), ("p", None), ("p", np.array(scale(), np.float32)), ("p", None)]
        check(Case(f"avgpool1d_{dt}", "QLinearAveragePool", ins, {"kernel_shape": [3], "strides": [2]}, out_dtype=dt))
        x = rand_q(dt, (1, 1280, 7, 7))  # MobileNetV2's head
        ins = [("data", x)] + qparams(dt) + qparams(dt)
        check(Case(f"gap_mnv2_{dt}", "QLinearGlobalAveragePool", ins, {"channels_last": 0}, out_dtype=dt))


def concat_cases():
    for dt in DTS:
        for zi, zp in enumerate(zp_choices(dt)):
            for axis in [0, 1, -1]:
                shapes = [(3, 4, 5), (3, 4, 5), (3, 4, 5)]
                ax = axis % 3
                shapes = [tuple(d + (i if k == ax else 0) for k, d in enumerate(s)) for i, s in enumerate(shapes)]
                ys, yz = np.array(scale(), np.float32), np.array(zp, NP[dt])
                ins = [("p", ys), ("p", yz)]
                for i, s in enumerate(shapes):
                    if i == 1:  # same parameters as Y: a copy
                        ins += [("data", rand_q(dt, s)), ("p", ys), ("p", yz)]
                    else:
                        ins += [("data", rand_q(dt, s))] + qparams(dt, zp_choices(dt)[(zi + i) % 4])
                check(Case(f"concat_{dt}_{zi}_{axis}", "QLinearConcat", ins, {"axis": axis}, out_dtype=dt,
                           params_as_inputs=zi == 3))


def softmax_cases():
    for dt in DTS:
        for zi, zp in enumerate(zp_choices(dt)):
            for (shape, axis, opset) in [((3, 17), -1, 13), ((2, 5, 7), 1, 13), ((2, 3, 4), 1, 12), ((4, 128), -1, 13)]:
                x = rand_q(dt, shape)
                yz = 0 if dt == TensorProto.UINT8 else -128
                ins = [("data", x), ("p", np.array(scale(), np.float32)), ("p", np.array(zp, NP[dt])),
                       ("p", np.array(1.0 / 256, np.float32)), ("p", np.array(yz, NP[dt]))]
                check(Case(f"softmax_{dt}_{zi}_{len(shape)}_{opset}", "QLinearSoftmax", ins, {"axis": axis, "opset": opset},
                           out_dtype=dt))


def where_cases():
    for dt in DTS:
        for zi, zp in enumerate(zp_choices(dt)):
            for si, (sc, sx, sy) in enumerate([((4, 5), (4, 5), (4, 5)), ((1, 5), (3, 1), (5,)), ((), (2, 3), (1,))]):
                c = RNG.integers(0, 2, size=sc).astype(bool)
                ins = [("data", c), ("data", rand_q(dt, sx))] + qparams(dt, zp) + [("data", rand_q(dt, sy))] + \
                    qparams(dt, zp_choices(dt)[(zi + 1) % 4]) + qparams(dt, zp_choices(dt)[(zi + 2) % 4])
                check(Case(f"where_{dt}_{zi}_{si}", "QLinearWhere", ins, out_dtype=dt, params_as_inputs=si == 1))


def qgemm_cases():
    combos = [(TensorProto.UINT8, TensorProto.UINT8), (TensorProto.UINT8, TensorProto.INT8), (TensorProto.INT8, TensorProto.INT8)]
    sizes = [(1, 1, 1), (7, 13, 5), (17, 33, 31), (64, 96, 48), (3, 100, 70)]
    for ci, (adt, bdt) in enumerate(combos):
        for si, (m, k, n) in enumerate(sizes):
            for vi in range(4):
                ta, tb = vi & 1, (vi >> 1) & 1
                a = rand_q(adt, (k, m) if ta else (m, k))
                b = rand_q(bdt, (n, k) if tb else (k, n))
                per_col = (si + vi) % 2 == 1
                bs = RNG.uniform(0.002, 0.05, size=(n,)).astype(np.float32) if per_col else np.array(scale(), np.float32)
                bz = np.array([zp_choices(bdt)[(vi + j) % 4] for j in range(n)], NP[bdt]) if per_col else \
                    np.array(zp_choices(bdt)[vi], NP[bdt])
                cshape = [None, (n,), (1, n), (m, 1), (m, n), ()][(si + vi) % 6]
                c = None if cshape is None else RNG.integers(-5000, 5000, size=cshape).astype(np.int32)
                quant_out = vi != 3
                ins = [("data", a), ("p", np.array(scale(), np.float32)), ("p", np.array(zp_choices(adt)[(vi + si) % 4], NP[adt])),
                       ("p", b), ("p", bs), ("p", bz), ("c", c)]
                out_dt = TensorProto.FLOAT
                if quant_out:
                    ys = np.array(np.float32(RNG.uniform(0.05, 0.5)) * np.sqrt(k), np.float32)
                    ins += [("p", ys), ("p", np.array(zp_choices(adt)[(vi + 1) % 4], NP[adt]))]
                    out_dt = adt
                attrs = {"transA": ta, "transB": tb, "alpha": [1.0, 0.5, 2.0][(si + vi) % 3]}
                check(Case(f"qgemm_{ci}_{si}_{vi}", "QGemm", ins, attrs, out_dtype=out_dt, params_as_inputs=vi == 2))


def maxpool_cases():
    """MaxPool on 8-bit data (a standard op; Kiln's vectorized 2-D path, kernels/q8-maxpool)."""
    for dt in DTS:
        for ai, (shape, attrs) in enumerate([((1, 3, 112, 112), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
                                             ((2, 2, 9, 11), {"kernel_shape": [3, 3]}),
                                             ((1, 2, 10, 13), {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}),
                                             ((1, 1, 7, 8), {"kernel_shape": [3, 3], "strides": [1, 3], "pads": [2, 1, 0, 2]}),
                                             ((1, 2, 5, 6), {"kernel_shape": [5, 4], "pads": [2, 2, 2, 2]}),
                                             ((1, 2, 9, 9), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
                                             ((1, 1, 6, 7), {"kernel_shape": [3, 3], "dilations": [2, 1]}),
                                             ((1, 2, 8, 10), {"kernel_shape": [2, 3], "strides": [3, 4]})]):
            x = rand_q(dt, shape)
            check(Case(f"maxpool_{dt}_{ai}", "MaxPool", [("data", x)], attrs, out_dtype=dt, domain=""))


def main():
    for f in [error_cases, maxpool_cases, binary_cases, unary_cases, pool_cases, concat_cases, softmax_cases, where_cases, qgemm_cases]:
        f()
    print(f"1..{len(results)}")
    bad = 0
    for i, (ok, name, msg) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}: {msg}")
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
