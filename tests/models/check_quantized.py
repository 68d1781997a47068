#!/usr/bin/env python3
"""Models quantized the way users quantize them: MobileNetV2 and a 2-layer BERT (both built by
../shared/models/build_models.py, the BERT with fewer layers) go through the pinned
onnxruntime.quantization as static QDQ (fixed-seed calibration reader), static QOperator, and
dynamic (BERT); Kiln's rt-run and onnxruntime run each on the same fixed-seed inputs.

  check_quantized.py RT_RUN --work DIR

Each output must agree with onnxruntime within a measured budget (docs/int8.md: onnxruntime runs
QDQ models as fused integer kernels and Kiln as float ops between QuantizeLinear and
DequantizeLinear, so a value on a rounding boundary can land one step apart and travel through
later layers); the comparison with onnxruntime without graph optimizations is printed too, to
show how much of the difference is that fusion. The QOperator forms use com.microsoft ops
(QLinearAdd, QLinearGlobalAveragePool, QGemm, ...; docs/int8.md §5.1), which Kiln computes as
onnxruntime does: on this machine MobileNetV2 agrees exactly and the BERT within 1.2e-7 (float
LayerNorm/Softmax between the int8 ops); the budgets (a few output steps) leave room for
onnxruntime's saturating AVX2 GEMM on a CPU without VNNI (docs/testing.md). TAP output."""
import argparse
import importlib.util
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                      quantize_static)

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))


def builders():
    spec = importlib.util.spec_from_file_location("build_models", os.path.join(SHARED, "models", "build_models.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bert_feed(rng):
    return {"input_ids": rng.integers(0, 30000, (1, 128)).astype(np.int64),
            "attention_mask": np.ones((1, 128), np.int64), "token_type_ids": np.zeros((1, 128), np.int64)}


def mobilenet_feed(rng):
    return {"input": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}


class Reader(CalibrationDataReader):
    """Fixed-seed calibration batches."""

    def __init__(self, make, n, seed):
        rng = np.random.default_rng(seed)
        self.items = iter([make(rng) for _ in range(n)])

    def get_next(self):
        return next(self.items, None)


def run_kiln(rt, model, feed, work):
    os.makedirs(work, exist_ok=True)
    args = [rt, model]
    for k, v in feed.items():
        p = os.path.join(work, k + ".npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    outdir = os.path.join(work, "out")
    os.makedirs(outdir, exist_ok=True)
    args += ["--output-dir", outdir]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        return r.returncode, r.stderr.strip().splitlines()[-1:] or [""], None
    outs = {}
    for f in os.listdir(outdir):
        t = onnx.TensorProto()
        with open(os.path.join(outdir, f), "rb") as fh:
            t.ParseFromString(fh.read())
        outs[f[:-3]] = onnx.numpy_helper.to_array(t)
    return 0, [], outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rt_run")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    bm = builders()
    fp = {}
    fp["mobilenetv2"] = os.path.join(a.work, "mobilenetv2.onnx")
    fp["bert2"] = os.path.join(a.work, "bert2.onnx")
    if not os.path.exists(fp["mobilenetv2"]):
        onnx.save(bm.mobilenetv2(), fp["mobilenetv2"])
    if not os.path.exists(fp["bert2"]):
        onnx.save(bm.bert(layers=2), fp["bert2"])
    feeds = {"mobilenetv2": mobilenet_feed, "bert2": bert_feed}
    # (name, float model, format, compared or refused, atol of the largest difference; the mean
    # difference must stay below atol / 5). The budgets are the measured differences (docs/int8.md)
    # with about 2x margin: a few quantization steps of the output for MobileNetV2 (step 0.0044);
    # for BERT, whose outputs come out of a LayerNorm (|y| up to ~4), a step that flips in an
    # intermediate tensor is rescaled by the norm.
    cases = [("mobilenetv2_qdq", "mobilenetv2", "qdq", "compare", 0.02),
             ("mobilenetv2_qop", "mobilenetv2", "qop", "compare", 0.01),
             ("bert2_qdq", "bert2", "qdq", "compare", 0.3),
             ("bert2_dynamic", "bert2", "dynamic", "compare", 0.015),
             ("bert2_qop", "bert2", "qop", "compare", 0.1)]
    print(f"1..{len(cases)}")
    failed = 0
    for i, (name, base, fmt, mode, atol) in enumerate(cases, 1):
        out = os.path.join(a.work, name + ".onnx")
        if not os.path.exists(out):
            if fmt == "dynamic":
                quantize_dynamic(fp[base], out, weight_type=QuantType.QInt8)
            else:
                quantize_static(fp[base], out, Reader(feeds[base], 4, 11),
                                quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        feed = feeds[base](np.random.default_rng(5))
        rc, err, kout = run_kiln(a.rt_run, out, feed, os.path.join(a.work, name))
        if mode == "refuse":
            ok = rc == 3 and err and ("com.microsoft" in err[0] or "QLinear" in err[0] or "QGemm" in err[0])
            print(f"{'ok' if ok else 'not ok'} {i} - {name}: refused at load as not implemented (exit {rc}: {err[0] if err else ''})")
            failed += not ok
            continue
        if rc != 0:
            print(f"not ok {i} - {name}: rt-run exit {rc}: {err[0] if err else ''}")
            failed += 1
            continue
        # onnxruntime twice: as shipped (QDQ fused into integer kernels), and with graph
        # optimizations off (QDQ run as float ops, as Kiln runs it today): the second comparison
        # says how much of the difference is that fusion (docs/int8.md)
        refs = {}
        for lvl, opt in (("ort", ort.GraphOptimizationLevel.ORT_ENABLE_ALL), ("ort-noopt", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)):
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.graph_optimization_level = opt
            sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
            refs[lvl] = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))
        stats = {}
        msg = ""
        for lvl, ref in refs.items():
            worst, mean, scale = 0.0, 0.0, 0.0
            for n, r in ref.items():
                k = kout.get(n)
                if k is None or k.shape != r.shape:
                    msg = f"output {n} missing or of shape {None if k is None else k.shape}, want {r.shape}"
                    worst = float("inf")
                    break
                d = np.abs(k.astype(np.float64) - r.astype(np.float64))
                worst = max(worst, float(d.max()) if d.size else 0.0)
                mean = max(mean, float(d.mean()) if d.size else 0.0)
                scale = max(scale, float(np.abs(r).max()) if r.size else 0.0)
            stats[lvl] = (worst, mean, scale)
        worst, mean, scale = stats["ort"]
        ok = worst <= atol and mean <= atol / 5
        n_worst, n_mean, _ = stats["ort-noopt"]
        print(f"{'ok' if ok else 'not ok'} {i} - {name}: vs onnxruntime max |diff| {worst:.4g} (allowed {atol:.4g}), "
              f"mean {mean:.3g} (allowed {atol / 5:.3g}), output max |y| {scale:.3g}; vs onnxruntime without graph "
              f"optimizations max {n_worst:.4g} mean {n_mean:.3g} {msg}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
