#!/usr/bin/env python3
"""Kiln against onnxruntime by CPU time per run, at 1 thread: robust when the machine is shared
(a process's user+system time does not grow while it waits for a core; cache contention still
counts). Each side runs in a fresh process twice, with `base` and `base + n` timed runs; the
difference of the two processes' CPU times over n is the CPU time of one run (model loading,
session creation and warm-up cancel out). Rounds alternate which side goes first; medians.

  cpu_time_ratio.py --rt-run RT_RUN [--models-dir DIR] [--shared DIR] [--only a,b] [--rounds 3] [--n 10]

Prints a Markdown table: Kiln ms, ORT ms (CPU per run), Kiln/ORT."""
import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_ort  # noqa: E402  (model list, inputs)


def cpu_seconds(cmd):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        import subprocess
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError(" ".join(cmd) + ": " + err.read().decode()[-400:])
        return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rt-run", required=True)
    ap.add_argument("--models-dir", default=os.path.join(HERE, "..", ".models"))
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    ap.add_argument("--only", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--base", type=int, default=2)
    a = ap.parse_args()
    only = set(x for x in a.only.split(",") if x)
    print("| model | Kiln CPU ms/run | ORT CPU ms/run | Kiln/ORT |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        extra = [("oww_embedding", "shared:models/embedding_model.onnx", {"unk__314": 1}, None)]
        for name, where, dims, maker in compare_ort.MODELS + extra:
            if only and name not in only:
                continue
            kind, rel = where.split(":", 1)
            path = os.path.join(a.models_dir if kind == "models" else a.shared, rel)
            if not os.path.exists(path):
                print(f"| {name} | missing {path} | | |")
                continue
            files = maker(tmp) if maker else {}
            feeds = compare_ort.feed_args(dims, files)
            per = {"kiln": [], "ort": []}
            for r in range(a.rounds):
                for who in (["kiln", "ort"] if r % 2 == 0 else ["ort", "kiln"]):
                    def cmd(reps):
                        if who == "kiln":
                            return [a.rt_run, path, "--threads", "1", "--warmup", "1", "--repeat", str(reps)] + feeds
                        return [sys.executable, os.path.join(HERE, "ort_run.py"), path, "--threads", "1", "--warmup", "1",
                                "--repeat", str(reps)] + feeds
                    t0 = cpu_seconds(cmd(a.base))
                    t1 = cpu_seconds(cmd(a.base + a.n))
                    per[who].append((t1 - t0) / a.n * 1000.0)
            k, o = statistics.median(per["kiln"]), statistics.median(per["ort"])
            print(f"| {name} | {k:.2f} | {o:.2f} | {k / o:.2f} |", flush=True)


if __name__ == "__main__":
    main()
