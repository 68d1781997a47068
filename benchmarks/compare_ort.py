#!/usr/bin/env python3
"""Kiln against onnxruntime on the same machine, in one script: latency at 1 and 2 threads, peak
RSS, Kiln's arena against its lower bound, the 2-thread speed-up, and Kiln's own cost per run
on a tiny model. Each measurement is a fresh process; Kiln's and onnxruntime's alternate within
every round so load on the machine falls on both; figures are medians over the rounds.

  compare_ort.py --rt-run RT_RUN --bench-overhead BENCH [--models-dir DIR] [--shared DIR]
                 [--rounds N] [--warmup N] [--repeat N] [--threads 1,2] [--only NAME,...]
                 [--json FILE] [--provider P]...

Prints a Markdown table (docs/performance.md quotes it) and, with --json, every raw figure."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name, file (relative to --models-dir or --shared), symbolic dims, input maker (or None: random)
def bert_inputs(folder):
    """Token ids in the vocabulary, a full attention mask, segment 0 (random integers in [0, 4)
    would index past the two token types)."""
    import numpy as np
    rng = np.random.default_rng(7)
    arrays = {"input_ids": rng.integers(0, 30000, (1, 128)).astype(np.int64),
              "attention_mask": np.ones((1, 128), np.int64), "token_type_ids": np.zeros((1, 128), np.int64)}
    files = {}
    for k, v in arrays.items():
        files[k] = os.path.join(folder, k + ".npy")
        np.save(files[k], v)
    return files


def silero_inputs(folder):
    """One 576-sample chunk of a tone, a zero state, 16 kHz (the model's If takes that branch)."""
    import numpy as np
    arrays = {"input": (0.3 * np.sin(np.arange(576) * 0.05)).astype(np.float32).reshape(1, 576),
              "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000, np.int64)}
    files = {}
    for k, v in arrays.items():
        files[k] = os.path.join(folder, k + ".npy")
        np.save(files[k], v)
    return files


MODELS = [
    ("resnet50", "models:resnet50.onnx", {}, None),
    ("mobilenetv2", "models:mobilenetv2.onnx", {}, None),
    ("bert_base", "models:bert_base.onnx", {}, bert_inputs),
    ("bert_base_dynq", "models:bert_base_dynq.onnx", {}, bert_inputs),
    ("resnet50_qlinear", "models:resnet50_qlinear.onnx", {}, None),
    ("mobilenetv2_qdq", "models:mobilenetv2_qdq.onnx", {}, None),  # tests/models/check_quantized.py writes it
    ("mobilenetv2_qop", "models:mobilenetv2_qop.onnx", {}, None),  # likewise (QOperator, com.microsoft ops)
    ("resnet50_qdq", "models:resnet50_qdq.onnx", {}, None),  # benchmarks/quantize_qdq.py of resnet50.onnx
    ("ppocr_det", "shared:models/ch_PP-OCRv4_det_infer.onnx",
     {"p2o.DynamicDimension.0": 1, "p2o.DynamicDimension.1": 640, "p2o.DynamicDimension.2": 640}, None),
    # Small models, where the cost per run is the runtime's (docs/performance.md, "small models").
    ("silero_vad", "shared:models/silero_vad_v5.onnx", {}, silero_inputs),
    ("melspectrogram", "shared:models/melspectrogram.onnx", {"batch_size": 1, "samples": 1760}, None),
    ("embedding", "shared:models/embedding_model.onnx", {"unk__314": 1}, None),
    ("demo_cnn", "build:tests/demo_cnn.onnx", {}, None),
]


def run_child(cmd):
    """Runs cmd; returns (exit code, stdout, stderr, peak RSS bytes of that process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(), err.read().decode(), ru.ru_maxrss * 1024


def feed_args(dims, files):
    args = []
    for k, v in dims.items():
        args += ["--dim", f"{k}={v}"]
    for k, v in files.items():
        args += ["--input", f"{k}={v}"]
    return args


def prov_args(a):
    """rt-run --provider P for each --provider given (e.g. dnnl or dnnl:precision=bf16)."""
    return [x for p in a.provider for x in ("--provider", p)]


def kiln_cmd(a, path, dims, files, threads):
    return [a.rt_run, path, "--threads", str(threads), "--warmup", str(a.warmup), "--repeat", str(a.repeat),
            "--report", "json"] + feed_args(dims, files) + prov_args(a)


def ort_cmd(a, path, dims, files, threads):
    return [sys.executable, os.path.join(HERE, "ort_run.py"), path, "--threads", str(threads), "--warmup",
            str(a.warmup), "--repeat", str(a.repeat)] + feed_args(dims, files)


def ort_baseline_rss():
    """Peak RSS of a Python process that imports numpy and onnxruntime and loads no model."""
    rc, _, _, rss = run_child([sys.executable, "-c", "import numpy, onnxruntime"])
    return rss if rc == 0 else None


def measure_model(a, name, path, dims, files):
    res = {"model": name, "path": path}
    rc, out, err, _ = run_child([a.rt_run, path, "--report", "json"] + feed_args(dims, files) + prov_args(a))
    if rc != 0:
        res["kiln_error"] = (err.strip().splitlines() or ["exit %d" % rc])[-1]
        return res
    first = json.loads(out)
    res["memory"] = first["memory"]
    per = {t: {"kiln_ms": [], "ort_ms": [], "kiln_rss": [], "ort_rss": []} for t in a.threads}
    for r in range(a.rounds):
        for t in a.threads:
            order = [("kiln", kiln_cmd), ("ort", ort_cmd)] if r % 2 == 0 else [("ort", ort_cmd), ("kiln", kiln_cmd)]
            for who, make in order:
                rc, out, err, rss = run_child(make(a, path, dims, files, t))
                if rc != 0:
                    res[f"{who}_error"] = (err.strip().splitlines() or ["exit %d" % rc])[-1]
                    continue
                j = json.loads(out)
                per[t][f"{who}_ms"].append(j["latency_ms"]["median"])
                per[t][f"{who}_rss"].append(rss)
    res["threads"] = {}
    for t in a.threads:
        d = per[t]
        if not d["kiln_ms"] or not d["ort_ms"]:
            continue
        res["threads"][t] = {k + "_median": statistics.median(v) for k, v in d.items()}
        res["threads"][t]["raw"] = d
    return res


def measure_overhead(a):
    import numpy  # noqa: F401  (the venv has it; onnx builds the model)
    import onnx
    from onnx import TensorProto, helper
    path = os.path.join(tempfile.mkdtemp(), "add16.onnx")
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [16]) for n in ("a", "b", "c")]
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "add16", vi[:2], vi[2:])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    rc, out, err, _ = run_child([a.bench_overhead, path])
    kiln = json.loads(out) if rc == 0 else {"error": err.strip()}
    rc, out, err, _ = run_child([sys.executable, os.path.join(HERE, "ort_run.py"), "--overhead", path, "--batches", "7"])
    ortj = json.loads(out) if rc == 0 else {"error": err.strip()}
    return {"kiln": kiln, "ort_python_iobinding": ortj}


def fmt_mb(b):
    return f"{b / 1e6:.1f}"


def table(results, overhead, a, base_rss):
    lines = ["| model | threads | Kiln ms | ORT ms | ORT/Kiln speed | Kiln peak RSS MB | ORT peak RSS MB | RSS Kiln/ORT | arena MB | lower bound MB | arena/LB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "kiln_error" in r:
            lines.append(f"| {r['model']} | – | not run: {r['kiln_error']} | | | | | | | | |")
            continue
        m = r["memory"]
        ratio = m["arena_bytes"] / m["lower_bound_bytes"] if m["lower_bound_bytes"] else float("nan")
        for t, d in r["threads"].items():
            lines.append(f"| {r['model']} | {t} | {d['kiln_ms_median']:.2f} | {d['ort_ms_median']:.2f} | "
                         f"{d['ort_ms_median'] / d['kiln_ms_median']:.2f} | {fmt_mb(d['kiln_rss_median'])} | "
                         f"{fmt_mb(d['ort_rss_median'])} | {d['kiln_rss_median'] / d['ort_rss_median']:.2f} | "
                         f"{fmt_mb(m['arena_bytes'])} | {fmt_mb(m['lower_bound_bytes'])} | {ratio:.3f} |")
    lines.append("")
    for r in results:
        th = r.get("threads", {})
        if 1 in th and 2 in th:
            k = th[1]["kiln_ms_median"] / th[2]["kiln_ms_median"]
            o = th[1]["ort_ms_median"] / th[2]["ort_ms_median"]
            lines.append(f"- {r['model']}: 2-thread speed-up Kiln {k:.2f}x, onnxruntime {o:.2f}x")
    if base_rss:
        lines.append(f"- onnxruntime's RSS includes Python with numpy and onnxruntime imported: {fmt_mb(base_rss)} MB alone")
    if overhead:
        k, o = overhead["kiln"], overhead["ort_python_iobinding"]
        if "run_us" in k:
            lines.append(f"- tiny model (Add of two 16-float tensors), time per run: Kiln kiln_session_run "
                         f"{k['run_us']['median']:.3f} us, I/O binding {k['binding_us']['median']:.3f} us; "
                         f"onnxruntime run_with_iobinding from Python {o.get('binding_us', {}).get('median', float('nan')):.2f} us")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rt-run", required=True)
    ap.add_argument("--bench-overhead")
    ap.add_argument("--models-dir", default=os.path.join(HERE, "..", ".models"))
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"), help="for demo_cnn.onnx (meson test demo-vs-ort)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="")
    ap.add_argument("--json")
    ap.add_argument("--provider", action="append", default=[], help="rt-run --provider P for Kiln's runs (repeatable)")
    a = ap.parse_args()
    a.threads = [int(t) for t in a.threads.split(",")]
    only = set(filter(None, a.only.split(",")))
    started = time.time()
    results = []
    inputs_dir = tempfile.mkdtemp()
    for name, where, dims, maker in MODELS:
        if only and name not in only:
            continue
        base, rel = where.split(":", 1)
        path = os.path.join({"models": a.models_dir, "build": a.build_dir}.get(base, a.shared), rel)
        if not os.path.exists(path):
            results.append({"model": name, "kiln_error": f"{path} not found"})
            continue
        results.append(measure_model(a, name, path, dims, maker(inputs_dir) if maker else {}))
        print(f"# {name} done ({time.time() - started:.0f} s)", file=sys.stderr)
    overhead = measure_overhead(a) if a.bench_overhead and (not only or "overhead" in only) else None
    base_rss = ort_baseline_rss()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    print(f"conditions: {os.cpu_count()} CPUs, load average {load}, rounds {a.rounds}, warmup {a.warmup}, repeat {a.repeat}")
    print(table(results, overhead, a, base_rss))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "overhead": overhead, "ort_baseline_rss": base_rss, "load": load,
                       "args": vars(a)}, f, indent=1)


if __name__ == "__main__":
    main()
