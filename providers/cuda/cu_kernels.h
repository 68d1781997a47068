/* SPDX-License-Identifier: MIT */
/* Launchers of the CUDA provider's own kernels (cu_kernels.cu), callable from C. Each queues its
 * work on `stream` and returns the launch's cudaError_t as an int (0: queued). */
#ifndef KILN_CUDA_KERNELS_H
#define KILN_CUDA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CU_MAX_RANK 6

enum { CU_OP_ADD, CU_OP_SUB, CU_OP_MUL, CU_OP_DIV, CU_OP_POW, CU_OP_MAX, CU_OP_MIN };
enum { CU_UN_RELU, CU_UN_SIGMOID, CU_UN_TANH, CU_UN_EXP, CU_UN_LOG, CU_UN_SQRT, CU_UN_NEG, CU_UN_ABS, CU_UN_ERF,
       CU_UN_GELU, CU_UN_LEAKY };

/* Broadcasting binary op: out has `rank` dims `dims`; a and b are read with element strides
 * (0 on broadcast dims), all padded to `rank`. */
int cu_launch_binary(int op, float *out, const float *a, const float *b, int64_t n, int rank, const int64_t *dims,
                     const int64_t *a_strides, const int64_t *b_strides, void *stream);
int cu_launch_unary(int op, float *out, const float *in, int64_t n, float alpha, void *stream);
/* Softmax over rows of `cols` contiguous elements. */
int cu_launch_softmax(float *out, const float *in, int64_t rows, int64_t cols, void *stream);
/* LayerNormalization over rows of `cols`; beta may be NULL. */
int cu_launch_layernorm(float *out, const float *in, const float *gamma, const float *beta, int64_t rows, int64_t cols,
                        float eps, void *stream);
/* out[i] = in[sum_d idx_d(i) * in_strides[d]] for elements of `elem` bytes (4 or 8). */
int cu_launch_transpose(void *out, const void *in, int elem, int rank, const int64_t *out_dims, const int64_t *in_strides,
                        int64_t n, void *stream);

#ifdef __cplusplus
}
#endif
#endif
