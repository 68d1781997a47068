/* SPDX-License-Identifier: MIT */
/* The activations a fused epilogue applies (docs/kernels.md §4, docs/kiln-ops.md): one enum shared
 * by the GEMM epilogue, the vector kernels and the fused ops. p0/p1 are the parameters named here. */
#ifndef KILN_KERNELS_COMMON_ACTIVATION_H
#define KILN_KERNELS_COMMON_ACTIVATION_H

typedef enum kiln_act {
    KILN_ACT_NONE = 0,
    KILN_ACT_RELU,        /* max(x, 0) */
    KILN_ACT_LEAKYRELU,   /* x >= 0 ? x : p0 * x */
    KILN_ACT_CLIP,        /* min(max(x, p0), p1) */
    KILN_ACT_SIGMOID,     /* 1 / (1 + e^-x) */
    KILN_ACT_HARDSIGMOID, /* max(0, min(1, p0 * x + p1)) */
    KILN_ACT_HARDSWISH,   /* x * max(0, min(1, x / 6 + 0.5)) */
    KILN_ACT_TANH,
    KILN_ACT_GELU,        /* 0.5 x (1 + erf(x / sqrt 2)) */
    KILN_ACT_GELU_TANH,   /* 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) */
    KILN_ACT_COUNT
} kiln_act;

/* 1 for the activations the GEMM microkernels apply in registers (a clamp or a select); the
 * others are applied to the finished tile by kiln_f32_vact. */
static inline int kiln_act_in_registers(int act) {
    return act == KILN_ACT_NONE || act == KILN_ACT_RELU || act == KILN_ACT_LEAKYRELU || act == KILN_ACT_CLIP;
}

#endif
