#!/usr/bin/env python3
"""Every optimizer pass on small models, each with positive cases and negative ones (an extra
consumer, a wrong axis, a broadcast that does not fit, a non-constant weight, a graph output in
the middle of a pattern). For each case: rt-run --report json at level all says how often each
pass fired (checked against the case), and the outputs at levels disabled and all agree with
onnxruntime on the same fixed-seed inputs.

  test_passes.py RT_RUN [FILTER]      (TAP output)"""
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

RNG = np.random.default_rng(3)
F = TP.FLOAT


def const(name, arr):
    return nh.from_array(np.asarray(arr), name)


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = h.make_graph(nodes, "t", inputs, outputs, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, shape, dt=F):
    return h.make_tensor_value_info(name, dt, shape)


def rnd(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CASES = []


def case(name, expect):
    """expect: {pass: fired count} (an int: exactly; '+': at least once)."""
    def deco(fn):
        CASES.append((name, expect, fn))
        return fn
    return deco


# ---- basic ----
@case("identity", {"identity_elimination": 2})
def _():
    return model([h.make_node("Identity", ["x"], ["a"]), h.make_node("Relu", ["a"], ["b"]),
                  h.make_node("Identity", ["b"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 3])])


@case("identity_input_to_output_kept", {"identity_elimination": 0})
def _():  # graph input straight to a graph output: the output's name must stay
    return model([h.make_node("Identity", ["x"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 3])])


@case("dropout_inference", {"identity_elimination": 1})
def _():
    return model([h.make_node("Dropout", ["x", "r"], ["a"]), h.make_node("Relu", ["a"], ["y"])], [vi("x", [4, 5])],
                 [vi("y", [4, 5])], [const("r", np.float32(0.3))])


@case("dropout_mask_read_kept", {"identity_elimination": 0})
def _():  # the mask is a graph output: an extra consumer of the pattern
    return model([h.make_node("Dropout", ["x"], ["a", "m"]), h.make_node("Relu", ["a"], ["y"])], [vi("x", [4, 5])],
                 [vi("y", [4, 5]), vi("m", [4, 5], TP.BOOL)])


@case("noop_cast_transpose_reshape_pad", {"noop_elimination": 4})
def _():
    return model([h.make_node("Cast", ["x"], ["a"], to=F), h.make_node("Transpose", ["a"], ["b"], perm=[0, 1]),
                  h.make_node("Reshape", ["b", "s"], ["c"]), h.make_node("Pad", ["c", "p"], ["d"]),
                  h.make_node("Relu", ["d"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 3])],
                 [const("s", np.array([2, 3], np.int64)), const("p", np.zeros(4, np.int64))])


@case("noop_reversed_slice_kept", {"noop_elimination": 0})
def _():  # same shape, but steps -1 reverse the tensor
    return model([h.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["a"]), h.make_node("Relu", ["a"], ["y"])],
                 [vi("x", [4, 3])], [vi("y", [4, 3])],
                 [const("st", np.array([-1], np.int64)), const("en", np.array([-100], np.int64)),
                  const("ax", np.array([0], np.int64)), const("sp", np.array([-1], np.int64))])


@case("noop_cast_other_type_kept", {"noop_elimination": 0})
def _():
    return model([h.make_node("Cast", ["x"], ["y"], to=TP.DOUBLE)], [vi("x", [2, 3])], [vi("y", [2, 3], TP.DOUBLE)])


@case("reshape_chain", {"reshape_chain": 1, "dead_nodes": "+"})
def _():
    return model([h.make_node("Reshape", ["x", "s1"], ["a"]), h.make_node("Reshape", ["a", "s2"], ["y"])],
                 [vi("x", [2, 3, 4])], [vi("y", [4, 6])],
                 [const("s1", np.array([6, 4], np.int64)), const("s2", np.array([4, -1], np.int64))])


@case("reshape_chain_zero_kept", {"reshape_chain": 0})
def _():  # a 0 copies a dim of the inner output, which x does not have
    return model([h.make_node("Reshape", ["x", "s1"], ["a"]), h.make_node("Reshape", ["a", "s2"], ["y"])],
                 [vi("x", [2, 3, 4])], [vi("y", [6, 4])],
                 [const("s1", np.array([6, 4], np.int64)), const("s2", np.array([0, -1], np.int64))])


@case("transpose_chain", {"transpose_chain": 1})
def _():
    return model([h.make_node("Transpose", ["x"], ["a"], perm=[0, 2, 1, 3]),
                  h.make_node("Transpose", ["a"], ["y"], perm=[0, 1, 3, 2])], [vi("x", [2, 3, 4, 5])], [vi("y", [2, 4, 5, 3])])


@case("transpose_chain_identity", {"transpose_chain": 1})
def _():
    return model([h.make_node("Transpose", ["x"], ["a"], perm=[1, 0]), h.make_node("Transpose", ["a"], ["b"], perm=[1, 0]),
                  h.make_node("Relu", ["b"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 3])])


@case("transpose_not_a_chain", {"transpose_chain": 0})
def _():
    return model([h.make_node("Transpose", ["x"], ["a"], perm=[1, 0]), h.make_node("Relu", ["a"], ["b"]),
                  h.make_node("Transpose", ["b"], ["y"], perm=[1, 0])], [vi("x", [2, 3])], [vi("y", [2, 3])])


@case("squeeze_unsqueeze", {"squeeze_unsqueeze": 1})
def _():
    return model([h.make_node("Squeeze", ["x", "a1"], ["a"]), h.make_node("Unsqueeze", ["a", "a1"], ["b"]),
                  h.make_node("Relu", ["b"], ["y"])], [vi("x", [2, 1, 3])], [vi("y", [2, 1, 3])],
                 [const("a1", np.array([1], np.int64))])


@case("squeeze_unsqueeze_wrong_axis", {"squeeze_unsqueeze": 0})
def _():
    return model([h.make_node("Squeeze", ["x", "a1"], ["a"]), h.make_node("Unsqueeze", ["a", "a2"], ["b"]),
                  h.make_node("Relu", ["b"], ["y"])], [vi("x", [2, 1, 3])], [vi("y", [2, 3, 1])],
                 [const("a1", np.array([1], np.int64)), const("a2", np.array([2], np.int64))])


@case("cse", {"cse": 1})
def _():
    return model([h.make_node("Relu", ["x"], ["a"]), h.make_node("Relu", ["x"], ["b"]), h.make_node("Add", ["a", "b"], ["y"])],
                 [vi("x", [3, 4])], [vi("y", [3, 4])])


@case("cse_other_attr", {"cse": 0})
def _():
    return model([h.make_node("LeakyRelu", ["x"], ["a"], alpha=0.1), h.make_node("LeakyRelu", ["x"], ["b"], alpha=0.2),
                  h.make_node("Add", ["a", "b"], ["y"])], [vi("x", [3, 4])], [vi("y", [3, 4])])


@case("dead_nodes", {"dead_nodes": 2})
def _():
    return model([h.make_node("Relu", ["x"], ["y"]), h.make_node("Exp", ["x"], ["d1"]), h.make_node("Neg", ["d1"], ["d2"])],
                 [vi("x", [3, 4])], [vi("y", [3, 4])])


def shape_chain(dims):
    return model([h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["d0"]),
                  h.make_node("Unsqueeze", ["d0", "ax"], ["u0"]), h.make_node("Concat", ["u0", "m1"], ["shp"], axis=0),
                  h.make_node("Reshape", ["x", "shp"], ["y"])], [vi("x", dims)], [vi("y", [dims[0], 12])],
                 [const("i0", np.int64(0)), const("ax", np.array([0], np.int64)), const("m1", np.array([-1], np.int64))])


@case("shape_folding", {"shape_folding": 4})
def _():
    return shape_chain([2, 3, 4])


@case("shape_folding_dynamic_kept", {"shape_folding": 0})
def _():
    return shape_chain(["batch", 3, 4])


@case("constant_folding", {"constant_folding": 2})
def _():  # Transpose of a weight and Sqrt of a constant are computed once by the CPU kernels
    return model([h.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]), h.make_node("Sqrt", ["v"], ["sv"]),
                  h.make_node("MatMul", ["x", "wt"], ["m"]), h.make_node("Mul", ["m", "sv"], ["y"])],
                 [vi("x", [3, 4])], [vi("y", [3, 5])],
                 [const("w", rnd(5, 4)), const("v", np.abs(rnd(5)))])


@case("constant_folding_capped", {"constant_folding": 0})
def _():  # an Expand of one value and a DequantizeLinear of int8 weights would multiply bytes
    return model([h.make_node("Expand", ["one", "shp"], ["big"]), h.make_node("Add", ["x", "big"], ["a"]),
                  h.make_node("DequantizeLinear", ["q", "qs"], ["dq"]), h.make_node("MatMul", ["a", "dq"], ["y"])],
                 [vi("x", [64, 128])], [vi("y", [64, 64])],
                 [const("one", np.float32(1)), const("shp", np.array([64, 128], np.int64)),
                  const("q", RNG.integers(-128, 127, (128, 64)).astype(np.int8)), const("qs", np.float32(0.001))])


# ---- extended ----
def gelu_erf(x="x"):
    return [h.make_node("Div", [x, "sqrt2"], ["g1"]), h.make_node("Erf", ["g1"], ["g2"]),
            h.make_node("Add", ["g2", "one"], ["g3"]), h.make_node("Mul", [x, "g3"], ["g4"]),
            h.make_node("Mul", ["g4", "half"], ["y"])]


GELU_C = [const("sqrt2", np.float32(np.sqrt(2))), const("one", np.float32(1)), const("half", np.float32(0.5))]


@case("gelu_erf", {"gelu_fusion": 1})
def _():
    return model(gelu_erf(), [vi("x", [4, 8])], [vi("y", [4, 8])], GELU_C)


@case("gelu_erf_extra_consumer", {"gelu_fusion": 0})
def _():
    return model(gelu_erf(), [vi("x", [4, 8])], [vi("y", [4, 8]), vi("g2", [4, 8])], GELU_C)


@case("gelu_tanh", {"gelu_fusion": 1})
def _():
    nodes = [h.make_node("Pow", ["x", "three"], ["c1"]), h.make_node("Mul", ["c1", "k1"], ["c2"]),
             h.make_node("Add", ["x", "c2"], ["c3"]), h.make_node("Mul", ["c3", "k2"], ["c4"]),
             h.make_node("Tanh", ["c4"], ["g2"]), h.make_node("Add", ["g2", "one"], ["g3"]),
             h.make_node("Mul", ["x", "g3"], ["g4"]), h.make_node("Mul", ["g4", "half"], ["y"])]
    return model(nodes, [vi("x", [4, 8])], [vi("y", [4, 8])],
                 GELU_C + [const("three", np.float32(3)), const("k1", np.float32(0.044715)),
                           const("k2", np.float32(np.sqrt(2 / np.pi)))])


def ln_nodes(axes=(-1,), x="x"):
    return [h.make_node("ReduceMean", [x], ["m"], axes=list(axes)), h.make_node("Sub", [x, "m"], ["d"]),
            h.make_node("Pow", ["d", "two"], ["d2"]), h.make_node("ReduceMean", ["d2"], ["v"], axes=list(axes)),
            h.make_node("Add", ["v", "eps"], ["ve"]), h.make_node("Sqrt", ["ve"], ["sd"]),
            h.make_node("Div", ["d", "sd"], ["n"]), h.make_node("Mul", ["n", "gam"], ["ng"]),
            h.make_node("Add", ["ng", "bet"], ["y"])]


def ln_consts(hdim):
    return [const("two", np.float32(2)), const("eps", np.float32(1e-5)), const("gam", rnd(hdim)), const("bet", rnd(hdim))]


@case("layernorm", {"layernorm_fusion": 1})
def _():
    return model(ln_nodes(), [vi("x", [2, 5, 8])], [vi("y", [2, 5, 8])], ln_consts(8))


@case("layernorm_wrong_axis", {"layernorm_fusion": 0})
def _():
    return model(ln_nodes(axes=(1,)), [vi("x", [2, 8, 8])], [vi("y", [2, 8, 8])], ln_consts(8))


@case("layernorm_output_mid_pattern", {"layernorm_fusion": 0})
def _():
    return model(ln_nodes(), [vi("x", [2, 5, 8])], [vi("y", [2, 5, 8]), vi("sd", [2, 5, 1])], ln_consts(8))


def skip_ln(skip_shape):
    nodes = [h.make_node("MatMul", ["x", "w"], ["mm"]), h.make_node("Add", ["mm", "b"], ["xb"]),
             h.make_node("Add", ["xb", "s"], ["t"]),
             h.make_node("LayerNormalization", ["t", "gam", "bet"], ["y"], axis=-1, epsilon=1e-5)]
    return model(nodes, [vi("x", [2, 5, 8]), vi("s", skip_shape)], [vi("y", [2, 5, 8])],
                 [const("w", rnd(8, 8)), const("b", rnd(8)), const("gam", rnd(8)), const("bet", rnd(8))], opset=17)


@case("skip_layernorm", {"skip_layernorm_fusion": 1})
def _():
    return skip_ln([2, 5, 8])


@case("skip_layernorm_broadcast_kept", {"skip_layernorm_fusion": 0})
def _():
    return skip_ln([1, 1, 8])


def mm_add(b_const=True):
    inits = [const("c", rnd(6))] + ([const("w", rnd(4, 6))] if b_const else [])
    inputs = [vi("x", [3, 4])] + ([] if b_const else [vi("w", [4, 6])])
    return model([h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Add", ["m", "c"], ["y"])], inputs,
                 [vi("y", [3, 6])], inits)


@case("matmul_add_to_gemm", {"matmul_add_to_gemm": 1})
def _():
    return mm_add()


@case("matmul_add_non_constant_weight", {"matmul_add_to_gemm": 0})
def _():
    return mm_add(b_const=False)


def conv_block(res_shape, extra_out=None):
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Add", ["c", "z"], ["a"]),
             h.make_node("Relu", ["a"], ["y"])]
    outs = [vi("y", [1, 4, 6, 6])] + ([vi(extra_out, [1, 4, 6, 6])] if extra_out else [])
    return model(nodes, [vi("x", [1, 3, 6, 6]), vi("z", res_shape)], outs, [const("w", rnd(4, 3, 3, 3)), const("b", rnd(4))])


@case("conv_add_relu", {"conv_fusion": 1})
def _():
    return conv_block([1, 4, 6, 6])


@case("conv_broadcast_add_kept", {"conv_fusion": 0})
def _():
    return conv_block([1, 4, 1, 1])


@case("conv_output_mid_pattern", {"conv_fusion": 0})
def _():
    return conv_block([1, 4, 6, 6], extra_out="c")


@case("conv_clip", {"conv_fusion": 1})
def _():
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], group=3), h.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    return model(nodes, [vi("x", [2, 3, 5, 5])], [vi("y", [2, 3, 3, 3])],
                 [const("w", rnd(3, 1, 3, 3)), const("lo", np.float32(0)), const("hi", np.float32(6))])


@case("gemm_relu", {"gemm_fusion": 1})
def _():
    return model([h.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1), h.make_node("Relu", ["g"], ["y"])],
                 [vi("x", [3, 4])], [vi("y", [3, 5])], [const("w", rnd(5, 4)), const("b", rnd(5))])


@case("gemm_output_mid_pattern", {"gemm_fusion": 0})
def _():
    return model([h.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1), h.make_node("Relu", ["g"], ["y"])],
                 [vi("x", [3, 4])], [vi("y", [3, 5]), vi("g", [3, 5])], [const("w", rnd(5, 4)), const("b", rnd(5))])


def mm_block(bias_len, act="Relu"):
    nodes = [h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Add", ["m", "b"], ["a"]), h.make_node(act, ["a"], ["y"])]
    return model(nodes, [vi("x", [2, 5, 4])], [vi("y", [2, 5, 6])], [const("w", rnd(4, 6)), const("b", rnd(bias_len))])


@case("matmul_bias_relu", {"matmul_fusion": 1})
def _():
    return mm_block(6)


@case("matmul_bias_gelu", {"gelu_fusion": 1, "matmul_fusion": 1})
def _():
    nodes = [h.make_node("MatMul", ["xx", "w"], ["m"]), h.make_node("Add", ["m", "b"], ["x"])] + gelu_erf()
    return model(nodes, [vi("xx", [2, 5, 4])], [vi("y", [2, 5, 6])], [const("w", rnd(4, 6)), const("b", rnd(6))] + GELU_C)


@case("matmul_bias_not_fitting", {"matmul_fusion": 0})
def _():  # a [1] bias broadcasts: not the per-column bias of FusedMatMul, and no activation follows the Add
    nodes = [h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Add", ["m", "b"], ["y"])]
    return model(nodes, [vi("x", [2, 5, 4])], [vi("y", [2, 5, 6])], [const("w", rnd(4, 6)), const("b", rnd(1))])


def dynq(w_const=True, act=None):
    nodes = [h.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
             h.make_node("MatMulInteger", ["q", "w", "z", "wz"], ["mi"]), h.make_node("Mul", ["s", "ws"], ["sc"]),
             h.make_node("Cast", ["mi"], ["cf"], to=F), h.make_node("Mul", ["cf", "sc"], ["m"]),
             h.make_node("Add", ["m", "b"], ["y" if not act else "a"])]
    if act:
        nodes.append(h.make_node(act, ["a"], ["y"]))
    w = RNG.integers(-128, 127, (8, 6)).astype(np.int8)
    inits = [const("wz", np.int8(3)), const("ws", np.float32(0.02)), const("b", rnd(6))]
    inputs = [vi("x", [2, 5, 8])]
    if w_const:
        inits.append(const("w", w))
    else:
        inputs.append(vi("w", [8, 6], TP.INT8))
    return model(nodes, inputs, [vi("y", [2, 5, 6])], inits)


@case("dynamic_quant_matmul", {"dynamic_quant_matmul_fusion": 1, "dead_nodes": "+"})
def _():
    return dynq(act="Relu")


@case("dynamic_quant_matmul_non_constant_weight", {"dynamic_quant_matmul_fusion": 0})
def _():
    return dynq(w_const=False)


@case("layernorm_dynamically_quantized_kept", {"layernorm_fusion": 0, "dynamic_quant_matmul_fusion": 1})
def _():  # a LayerNorm whose output is dynamically quantized keeps the chain's rounding (docs/optimizer.md)
    m = dynq()
    ln = model(ln_nodes(x="x0"), [vi("x0", [2, 5, 8])], [vi("x", [2, 5, 8])], ln_consts(8))
    ren = {"x0": "x0", "y": "x"}
    for n in ln.graph.node:
        ins, outs = [ren.get(v, "ln_" + v) for v in n.input], [ren.get(v, "ln_" + v) for v in n.output]
        del n.input[:], n.output[:]
        n.input.extend(ins)
        n.output.extend(outs)
    for t in ln.graph.initializer:
        t.name = "ln_" + t.name
    rest = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(list(ln.graph.node) + rest)
    m.graph.initializer.extend(ln.graph.initializer)
    del m.graph.input[:]
    m.graph.input.extend(ln.graph.input)
    return m


def attention(k_perm=(0, 2, 3, 1), mask_shape=(2, 1, 1, 5)):
    b, sq, nh, d = 2, 5, 2, 4
    hd = nh * d
    nodes = []
    for t in "qkv":
        nodes += [h.make_node("MatMul", ["x", "w" + t], [t + "0"]), h.make_node("Reshape", [t + "0", "shp"], [t + "1"])]
    nodes += [h.make_node("Transpose", ["q1"], ["q2"], perm=[0, 2, 1, 3]),
              h.make_node("Transpose", ["k1"], ["k2"], perm=list(k_perm)),
              h.make_node("Transpose", ["v1"], ["v2"], perm=[0, 2, 1, 3]),
              h.make_node("MatMul", ["q2", "k2"], ["s0"]), h.make_node("Div", ["s0", "sd"], ["s1"]),
              h.make_node("Add", ["s1", "mask"], ["s2"]), h.make_node("Softmax", ["s2"], ["p"], axis=-1),
              h.make_node("MatMul", ["p", "v2"], ["o0"]), h.make_node("Transpose", ["o0"], ["o1"], perm=[0, 2, 1, 3]),
              h.make_node("Reshape", ["o1", "shp2"], ["y"])]
    inits = [const("w" + t, rnd(hd, hd) * 0.3) for t in "qkv"] + [
        const("shp", np.array([b, sq, nh, d], np.int64)), const("shp2", np.array([b, sq, hd], np.int64)),
        const("sd", np.float32(np.sqrt(d)))]
    return model(nodes, [vi("x", [b, sq, hd]), vi("mask", list(mask_shape))], [vi("y", [b, sq, hd])], inits)


@case("attention", {"attention_fusion": 1})
def _():
    return attention()


@case("attention_full_mask", {"attention_fusion": 1})
def _():
    return attention(mask_shape=(2, 2, 5, 5))


@case("attention_wrong_axis", {"attention_fusion": 0})
def _():
    m = attention()
    for n in m.graph.node:
        if n.op_type == "Softmax":
            n.attribute[0].i = 2  # softmax over the query axis
    return m


@case("attention_scores_read_elsewhere", {"attention_fusion": 0})
def _():
    m = attention()
    m.graph.output.append(vi("p", [2, 2, 5, 5]))
    return m


def conv_bn(w_const=True, training=False):
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["c", "sc", "bb", "mu", "var"], ["y"], epsilon=1e-3)]
    inits = [const("b", rnd(4)), const("sc", rnd(4)), const("bb", rnd(4)), const("mu", rnd(4)),
             const("var", RNG.uniform(0.5, 1.5, 4).astype(np.float32))]
    inputs = [vi("x", [1, 3, 6, 6])]
    if w_const:
        inits.append(const("w", rnd(4, 3, 3, 3)))
    else:
        inputs.append(vi("w", [4, 3, 3, 3]))
    return model(nodes, inputs, [vi("y", [1, 4, 6, 6])], inits)


@case("conv_bn", {"conv_bn_fold": 1})
def _():
    return conv_bn()


@case("conv_bn_non_constant_weight", {"conv_bn_fold": 0})
def _():
    return conv_bn(w_const=False)


def conv_then(op, cshape):
    nodes = [h.make_node("Conv", ["x", "w"], ["c"]), h.make_node(op, ["c", "k"], ["y"])]
    out = [1, 4, 4, 4] if cshape != [2, 4, 1, 1] else [2, 4, 4, 4]
    return model(nodes, [vi("x", [1, 3, 6, 6])], [vi("y", out)], [const("w", rnd(4, 3, 3, 3)), const("k", rnd(*cshape))])


@case("conv_mul_per_channel", {"conv_mul_add_fold": 1})
def _():
    return conv_then("Mul", [4, 1, 1])


@case("conv_add_scalar", {"conv_mul_add_fold": 1})
def _():
    return conv_then("Add", [1])


@case("conv_mul_wrong_axis", {"conv_mul_add_fold": 0})
def _():  # per-column, not per-channel
    return conv_then("Mul", [1, 1, 4])


@case("conv_mul_broadcast_not_fitting", {"conv_mul_add_fold": 0})
def _():  # the constant enlarges the output (batch 2)
    return conv_then("Mul", [2, 4, 1, 1])


# ---- runner ----
def fired(report):
    return {p["name"]: p["fired"] for p in report["optimizer"]["passes"]}


def run_kiln(rt_run, path, feeds, level, tmp, extra=()):
    args = [rt_run, path, "--optimize", level, "--report", "json", "--output-dir", os.path.join(tmp, level)] + list(extra)
    for k, v in feeds.items():
        f = os.path.join(tmp, k + ".npy")
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    os.makedirs(os.path.join(tmp, level), exist_ok=True)
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"rt-run --optimize {level} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def load_out(tmp, level, name):
    t = onnx.TensorProto()
    with open(os.path.join(tmp, level, name + ".pb"), "rb") as f:
        t.ParseFromString(f.read())
    return nh.to_array(t)


def main():
    rt_run = sys.argv[1]
    filt = sys.argv[2] if len(sys.argv) > 2 else ""
    cases = [c for c in CASES if filt in c[0]]
    print(f"1..{len(cases) + 1}")
    bad = 0
    for i, (name, expect, fn) in enumerate(cases, 1):
        msg = ""
        try:
            with tempfile.TemporaryDirectory() as tmp:
                m = fn()
                onnx.checker.check_model(m)
                path = os.path.join(tmp, "m.onnx")
                onnx.save(m, path)
                so = ort.SessionOptions()
                so.log_severity_level = 3
                # The model as written: onnxruntime's own fusions (e.g. DequantizeLinear + MatMul into
                # an int8 MatMul) would change the reference.
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                feeds = {}
                for x in sess.get_inputs():
                    shape = [d if isinstance(d, int) else 2 for d in x.shape]
                    feeds[x.name] = (RNG.integers(-128, 127, shape).astype(np.int8) if "int8" in x.type else rnd(*shape))
                ref = sess.run(None, feeds)
                names = [o.name for o in sess.get_outputs()]
                rep = run_kiln(rt_run, path, feeds, "all", tmp)
                run_kiln(rt_run, path, feeds, "disabled", tmp)
                got = fired(rep)
                for p, want in expect.items():
                    n = got.get(p)
                    if n is None or (want == "+" and n < 1) or (want != "+" and n != want):
                        msg += f" pass {p} fired {n}, expected {want};"
                for lvl in ("all", "disabled"):
                    for nm, r in zip(names, ref):
                        k = load_out(tmp, lvl, nm)
                        atol = 0.05 if name.startswith("dynamic_quant") else 1e-5  # one quantization step of rounding
                        if k.shape != r.shape or not np.allclose(k, r, rtol=1e-4, atol=atol):
                            msg += f" output {nm} at {lvl} differs from onnxruntime;"
        except Exception as e:  # noqa: BLE001 - report any failure of the case
            msg = f" {type(e).__name__}: {e}"
        if msg:
            bad += 1
            print(f"not ok {i} {name} -{msg}")
        else:
            print(f"ok {i} {name}")
    # --disable-pass turns a pass off.
    with tempfile.TemporaryDirectory() as tmp:
        m = conv_block([1, 4, 6, 6])
        path = os.path.join(tmp, "m.onnx")
        onnx.save(m, path)
        feeds = {"x": rnd(1, 3, 6, 6), "z": rnd(1, 4, 6, 6)}
        rep = run_kiln(rt_run, path, feeds, "all", tmp, ["--disable-pass", "conv_fusion"])
        ok = "conv_fusion" not in fired(rep) and rep["optimizer"]["nodes_after"] == 3
        print(("ok" if ok else "not ok") + f" {len(cases) + 1} --disable-pass conv_fusion keeps the pattern")
        bad += 0 if ok else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
