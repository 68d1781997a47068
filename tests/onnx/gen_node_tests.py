#!/usr/bin/env python3
"""Writes the ONNX backend node tests of the installed onnx package (its operator test cases,
newer than ../shared's copy when pip has a newer onnx) as test folders kiln-conformance reads:
OUT/node/<test>/model.onnx + test_data_set_N/{input,output}_M.pb.

  gen_node_tests.py OUT"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node


def proto_of(value, vi):
    """A TensorProto, SequenceProto or OptionalProto for a value of the graph's value info `vi`."""
    t = vi.type
    if isinstance(value, onnx.TensorProto):
        return value
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, vi.name)
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, vi.name)
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, vi.name)
    return numpy_helper.from_array(np.asarray(value), vi.name)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.join(sys.argv[1], "node")
    cases = node.collect_testcases(None)
    for case in cases:
        d = os.path.join(out, case.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        g = case.model.graph
        for i, (inputs, outputs) in enumerate(case.data_sets or []):
            ds = os.path.join(d, f"test_data_set_{i}")
            os.makedirs(ds, exist_ok=True)
            for kind, values, infos in (("input", inputs, g.input), ("output", outputs, g.output)):
                for j, v in enumerate(values):
                    with open(os.path.join(ds, f"{kind}_{j}.pb"), "wb") as f:
                        f.write(proto_of(v, infos[j]).SerializeToString())
    print(f"onnx {onnx.__version__}: {len(cases)} node tests in {out}")


if __name__ == "__main__":
    main()
