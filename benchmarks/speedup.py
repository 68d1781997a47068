#!/usr/bin/env python3
"""Speed-up from 1 to N intra-op threads, Kiln and onnxruntime side by side: each round runs
Kiln at 1 thread, Kiln at N, onnxruntime at 1 and at N (the order rotates every round), each a
fresh process timing --repeat runs after --warmup. Prints per configuration the median and the
best (least disturbed) of the per-process medians, the CPU time per run (user + system, from
wait4), and the speed-ups those give. On a machine other people load, the best of several
rounds is the figure closest to an idle machine; CPU time shows what threads cost in total.

  speedup.py --rt-run RT_RUN MODEL [--threads N] [--rounds R] [--warmup W] [--repeat K]
             [--dim NAME=N ...] [--json FILE]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_child(cmd):
    """(exit code, stdout, CPU seconds of the child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        out.seek(0)
        err.seek(0)
        rc = os.waitstatus_to_exitcode(status)
        if rc:
            sys.stderr.write(err.read().decode())
        return rc, out.read().decode(), ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rt-run", required=True)
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dim", action="append", default=[])
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    dims = sum((["--dim", d] for d in a.dim), [])
    configs = [("kiln", 1), ("kiln", a.threads)]
    if not a.no_ort:
        configs += [("ort", 1), ("ort", a.threads)]
    res = {c: {"ms": [], "cpu_ms_per_run": []} for c in configs}
    for r in range(a.rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for who, t in order:
            if who == "kiln":
                cmd = [a.rt_run, a.model, "--threads", str(t), "--warmup", str(a.warmup), "--repeat", str(a.repeat),
                       "--report", "json"] + dims
            else:
                cmd = [sys.executable, os.path.join(HERE, "ort_run.py"), a.model, "--threads", str(t), "--warmup",
                       str(a.warmup), "--repeat", str(a.repeat)] + dims
            rc, out, cpu = run_child(cmd)
            if rc:
                sys.exit(f"{who} at {t} thread(s) failed")
            res[(who, t)]["ms"].append(json.loads(out)["latency_ms"]["median"])
            # Loading counts too, so this is an upper bound of the CPU per run.
            res[(who, t)]["cpu_ms_per_run"].append(cpu * 1e3 / (a.warmup + a.repeat))
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    print(f"model {a.model}; {os.cpu_count()} CPUs, load average {load}; {a.rounds} rounds x {a.repeat} runs after {a.warmup}")
    print("| runtime | threads | median ms | best ms | CPU ms/run (median) |")
    print("|---|---:|---:|---:|---:|")
    summary = {}
    for (who, t), d in res.items():
        med, best, cpu = statistics.median(d["ms"]), min(d["ms"]), statistics.median(d["cpu_ms_per_run"])
        summary[f"{who}-{t}"] = {"median_ms": med, "best_ms": best, "cpu_ms_per_run": cpu, "raw": d}
        print(f"| {'Kiln' if who == 'kiln' else 'onnxruntime'} | {t} | {med:.2f} | {best:.2f} | {cpu:.1f} |")
    for who in ("kiln", "ort"):
        one, many = summary.get(f"{who}-1"), summary.get(f"{who}-{a.threads}")
        if not one or not many:
            continue
        print(f"- {who}: {a.threads}-thread speed-up {one['median_ms'] / many['median_ms']:.2f}x (medians), "
              f"{one['best_ms'] / many['best_ms']:.2f}x (best); CPU per run x{many['cpu_ms_per_run'] / one['cpu_ms_per_run']:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": summary, "load": load, "args": vars(a)}, f, indent=1)


if __name__ == "__main__":
    main()
