#!/usr/bin/env python3
"""Small models for the OpenCL provider's error and binding tests, written to OUTDIR:
  conv_relu.onnx  Conv(3x3, bias) + Relu on x [1, 4, 8, 8] -> y [1, 8, 8, 8] (weights constant)
  fp16_net.onnx   the same Conv + Relu, then MaxPool, Softmax and a MatMul, all in float16
  int_add.onnx    Add of two int32 [4] tensors (a dtype the provider does not run)
  gather.onnx     Gather(data [5, 3] constant, indices int64 [2] input) -> y [2, 3]
  idx_ok.pb, idx_bad.pb  indices for gather.onnx: in range, and one out of range
  make_test_models.py OUTDIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh


def save(model, out, name):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    w = nh.from_array(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), "w")
    b = nh.from_array(rng.standard_normal(8).astype(np.float32), "b")
    g = oh.make_graph([oh.make_node("Conv", ["x", "w", "b"], ["c"], name="conv0", pads=[1, 1, 1, 1]),
                       oh.make_node("Relu", ["c"], ["y"], name="relu0")], "conv_relu",
                      [oh.make_tensor_value_info("x", TP.FLOAT, [1, 4, 8, 8])],
                      [oh.make_tensor_value_info("y", TP.FLOAT, [1, 8, 8, 8])], [w, b])
    save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), out, "conv_relu.onnx")
    w16 = nh.from_array(nh.to_array(w).astype(np.float16), "w")
    b16 = nh.from_array(nh.to_array(b).astype(np.float16), "b")
    m16 = nh.from_array((rng.standard_normal((4, 5)) / 2).astype(np.float16), "m")
    g = oh.make_graph([oh.make_node("Conv", ["x", "w", "b"], ["c"], name="conv0", pads=[1, 1, 1, 1]),
                       oh.make_node("Relu", ["c"], ["r"], name="relu0"),
                       oh.make_node("MaxPool", ["r"], ["p"], name="pool0", kernel_shape=[2, 2], strides=[2, 2]),
                       oh.make_node("Softmax", ["p"], ["s"], name="softmax0", axis=-1),
                       oh.make_node("MatMul", ["s", "m"], ["y"], name="matmul0")], "fp16_net",
                      [oh.make_tensor_value_info("x", TP.FLOAT16, [1, 4, 8, 8])],
                      [oh.make_tensor_value_info("y", TP.FLOAT16, [1, 8, 4, 5])], [w16, b16, m16])
    save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), out, "fp16_net.onnx")
    g = oh.make_graph([oh.make_node("Add", ["a", "b"], ["y"], name="int_add0")], "int_add",
                      [oh.make_tensor_value_info("a", TP.INT32, [4]), oh.make_tensor_value_info("b", TP.INT32, [4])],
                      [oh.make_tensor_value_info("y", TP.INT32, [4])])
    save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), out, "int_add.onnx")
    data = nh.from_array(np.arange(15, dtype=np.float32).reshape(5, 3), "data")
    g = oh.make_graph([oh.make_node("Gather", ["data", "idx"], ["y"], name="gather0", axis=0)], "gather",
                      [oh.make_tensor_value_info("idx", TP.INT64, [2])],
                      [oh.make_tensor_value_info("y", TP.FLOAT, [2, 3])], [data])
    save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), out, "gather.onnx")
    for name, v in (("idx_ok.pb", [4, -1]), ("idx_bad.pb", [1, 7])):
        with open(os.path.join(out, name), "wb") as f:
            f.write(nh.from_array(np.array(v, np.int64), "idx").SerializeToString())


if __name__ == "__main__":
    main()
