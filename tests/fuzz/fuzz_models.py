#!/usr/bin/env python3
"""Structural fuzzing of model loading, shape inference and kernels: takes the ONNX node test
models, changes 1-3 things that keep the protobuf valid (attribute values, input dims and
dtypes, initializer dims and bytes, node inputs, opset versions, output dtypes), or (a fraction
--bytes of the cases) flips, overwrites, deletes and inserts bytes of the file, and runs each
through rt-run (an ASan/UBSan build), half the time with the test's own input files. Any exit
other than rt-run's documented codes (0-4) is a finding: the model is kept in OUT with the
command and the sanitizer's report. Not a CI test (random by design); run it before releases:

  fuzz_models.py RT_RUN [--seed S] [--cases N] [--bytes F] [--out DIR] [--tests DIR]

Findings become regression cases in tests/regress/ (docs/testing.md)."""
import argparse
import glob
import os
import random
import shutil
import subprocess

import onnx
from onnx import helper

HERE = os.path.dirname(os.path.abspath(__file__))
INTS = [-1, 0, 1, 2, 3, 7, -7, -100, 1 << 31, 1 << 40, -(1 << 62), 65536]
FLOATS = [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e30, 1e-30]
DTYPES = [1, 2, 3, 6, 7, 8, 9, 10, 11, 16, 17, 21, 22, 23]


def mutate_attribute(rng, g):
    nd = rng.choice(list(g.node))
    if not nd.attribute:
        nd.attribute.append(helper.make_attribute(rng.choice(["axis", "axes", "keepdims", "mode", "perm"]), rng.choice(INTS)))
        return
    a = rng.choice(list(nd.attribute))
    A = onnx.AttributeProto
    if a.type == A.INT:
        a.i = rng.choice(INTS)
    elif a.type == A.FLOAT:
        a.f = rng.choice(FLOATS)
    elif a.type == A.INTS:
        if a.ints and rng.random() < 0.6:
            a.ints[rng.randrange(len(a.ints))] = rng.choice(INTS)
        elif rng.random() < 0.5:
            a.ints.append(rng.choice(INTS))
        elif a.ints:
            del a.ints[-1]
    elif a.type == A.FLOATS and a.floats:
        a.floats[rng.randrange(len(a.floats))] = rng.choice(FLOATS)
    elif a.type == A.STRING:
        a.s = rng.choice([b"", b"bogus", b"\xff\xfe", b"NOTSET"])
    else:
        nd.attribute.remove(a)


def mutate(rng, m):
    g = m.graph
    r = rng.random()
    if r < 0.35 and len(g.node):
        mutate_attribute(rng, g)
    elif r < 0.55 and len(g.input):
        tt = rng.choice(list(g.input)).type.tensor_type
        if tt.HasField("shape") and tt.shape.dim and rng.random() < 0.7:
            rng.choice(list(tt.shape.dim)).dim_value = rng.choice([0, 1, 2, 3, 5, 64])
        elif rng.random() < 0.5:
            tt.elem_type = rng.choice(DTYPES)
        else:
            tt.shape.dim.add().dim_value = rng.choice([0, 1, 2])
    elif r < 0.7 and len(g.initializer):
        t = rng.choice(list(g.initializer))
        if t.dims and rng.random() < 0.5:
            t.dims[rng.randrange(len(t.dims))] = rng.choice([0, 1, 2, 3, 100, -1])
        elif t.raw_data:
            t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)]
        else:
            t.data_type = rng.choice([1, 6, 7, 11, 16])
    elif r < 0.82 and len(g.node):
        nd = rng.choice(list(g.node))
        if nd.input and rng.random() < 0.5:
            nd.input[rng.randrange(len(nd.input))] = rng.choice(["", nd.input[0], "does_not_exist"] + [x.name for x in g.input])
        elif rng.random() < 0.5:
            nd.input.append(rng.choice(["", nd.input[0] if nd.input else "x"]))
        elif nd.output:
            nd.output.append("extra_out")
    elif r < 0.9 and len(m.opset_import):
        m.opset_import[0].version = rng.choice([1, 6, 7, 11, 13, 18, 21, 30, 99])
    elif len(g.output):
        g.output[rng.randrange(len(g.output))].type.tensor_type.elem_type = rng.choice([1, 7, 9, 16])


def mutate_bytes(rng, data):
    """Raw damage for the protobuf reader: 1-8 byte edits."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not data:
            break
        pos, r = rng.randrange(len(data)), rng.random()
        if r < 0.5:
            data[pos] = rng.randrange(256)
        elif r < 0.7:
            data[pos] ^= 1 << rng.randrange(8)
        elif r < 0.85:
            del data[pos:pos + rng.randint(1, 16)]
        else:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rt_run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--bytes", type=float, default=0.2, help="fraction of cases with raw byte damage")
    ap.add_argument("--out", default="fuzz-findings")
    ap.add_argument("--tests", default=os.path.join(HERE, "..", "..", "..", "shared", "onnx-tests", "node"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    dirs = sorted(glob.glob(os.path.join(a.tests, "*", "")))
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:exitcode=99:allocator_may_return_null=1",
               UBSAN_OPTIONS="halt_on_error=1:exitcode=98:print_stacktrace=1")
    work = os.path.join(a.out, f"case_{a.seed}.onnx")
    findings = 0
    for it in range(a.cases):
        d = rng.choice(dirs)
        m = onnx.load(os.path.join(d, "model.onnx"))
        if rng.random() < a.bytes:
            data = mutate_bytes(rng, m.SerializeToString())
        else:
            for _ in range(rng.randint(1, 3)):
                mutate(rng, m)
            data = m.SerializeToString()
        with open(work, "wb") as f:
            f.write(data)
        args = []
        if rng.random() < 0.5:
            for k, vi in enumerate(m.graph.input):
                p = os.path.join(d, "test_data_set_0", f"input_{k}.pb")
                if os.path.exists(p):
                    args += ["--input", f"{vi.name}={p}"]
        try:
            r = subprocess.run([a.rt_run, work] + args, capture_output=True, timeout=30, env=env)
            rc, report = r.returncode, r.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, report = "timeout", ""
        if rc not in (0, 1, 2, 3, 4):
            findings += 1
            keep = os.path.join(a.out, f"finding_{a.seed}_{it}")
            shutil.copy(work, keep + ".onnx")
            with open(keep + ".txt", "w") as f:
                f.write(f"exit {rc}; from {d}\nrt-run {keep}.onnx {' '.join(args)}\n\n{report}")
            print(f"finding: exit {rc} from {os.path.basename(os.path.dirname(d))}: {keep}.txt", flush=True)
    os.remove(work)
    print(f"{a.cases} cases, {findings} findings (seed {a.seed})")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
