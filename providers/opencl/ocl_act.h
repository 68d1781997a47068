/* SPDX-License-Identifier: MIT */
/* Codes of the elementwise functions shared by the host code and the OpenCL C kernels: this file
 * is included by C and prepended to the kernel source, so both sides use the same numbers. Only
 * #define lines: it must stay valid C and OpenCL C. */
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_LEAKY 2
#define ACT_CLIP 3
#define ACT_SIGMOID 4
#define ACT_TANH 5
#define ACT_HARDSIGMOID 6
#define ACT_HARDSWISH 7
#define ACT_ELU 8
#define ACT_SELU 9
#define ACT_SOFTPLUS 10
#define ACT_SOFTSIGN 11
#define ACT_EXP 12
#define ACT_LOG 13
#define ACT_ABS 14
#define ACT_NEG 15
#define ACT_SQRT 16
#define ACT_RECIP 17
#define ACT_FLOOR 18
#define ACT_CEIL 19
#define ACT_ERF 20
#define ACT_SIN 21
#define ACT_COS 22
#define ACT_GELU 23
#define ACT_GELU_TANH 24
#define ACT_ROUND 25
#define ACT_SIGN 26
#define ACT_MISH 27
#define ACT_CELU 28
#define ACT_THRESHOLDED 29
#define ACT_TAN 30
#define ACT_ASIN 31
#define ACT_ACOS 32
#define ACT_ATAN 33
#define ACT_SINH 34
#define ACT_COSH 35
#define ACT_ASINH 36
#define ACT_ACOSH 37
#define ACT_ATANH 38
#define ACT_COUNT 39

#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3
#define BIN_POW 4
#define BIN_MAX 5
#define BIN_MIN 6
#define BIN_PRELU 7

#define RED_SUM 0
#define RED_MEAN 1
#define RED_MAX 2
#define RED_MIN 3
#define RED_PROD 4
#define RED_L1 5
#define RED_L2 6
#define RED_LOGSUM 7
#define RED_LOGSUMEXP 8
#define RED_SUMSQUARE 9

#define POOL_MAX 0
#define POOL_AVG_PAD 1
#define POOL_AVG 2

#define RS_HALF_PIXEL 0
#define RS_PYTORCH_HALF_PIXEL 1
#define RS_ALIGN_CORNERS 2
#define RS_ASYMMETRIC 3
#define RS_TF_HALF_PIXEL_NN 4
#define RS_HALF_PIXEL_SYM 5
#define RS_NEAR_ROUND_FLOOR 0
#define RS_NEAR_ROUND_CEIL 1
#define RS_NEAR_FLOOR 2
#define RS_NEAR_CEIL 3
