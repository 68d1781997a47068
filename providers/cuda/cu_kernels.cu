// SPDX-License-Identifier: MIT
// The CUDA provider's own kernels: broadcasting binary ops, unary functions, Softmax and
// LayerNormalization over the last axis (one block per row, warp-shuffle reductions), Transpose.
#include <cuda_runtime.h>
#include <math.h>

#include "cu_kernels.h"

struct cu_shape {
    int rank;
    int64_t dims[CU_MAX_RANK];
    int64_t as[CU_MAX_RANK];
    int64_t bs[CU_MAX_RANK];
};

__device__ __forceinline__ float binop(int op, float x, float y) {
    switch (op) {
    case CU_OP_ADD: return x + y;
    case CU_OP_SUB: return x - y;
    case CU_OP_MUL: return x * y;
    case CU_OP_DIV: return x / y;
    case CU_OP_POW: return powf(x, y);
    case CU_OP_MAX: return fmaxf(x, y);
    default: return fminf(x, y);
    }
}

__global__ void k_binary_same(int op, float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = binop(op, a[i], b[i]);
}

__global__ void k_binary_bcast(int op, float *out, const float *a, const float *b, int64_t n, cu_shape s) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i, ia = 0, ib = 0;
        for (int d = s.rank - 1; d >= 0; d--) {
            int64_t c = r % s.dims[d];
            r /= s.dims[d];
            ia += c * s.as[d];
            ib += c * s.bs[d];
        }
        out[i] = binop(op, a[ia], b[ib]);
    }
}

static unsigned blocks_for(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

extern "C" int cu_launch_binary(int op, float *out, const float *a, const float *b, int64_t n, int rank,
                                const int64_t *dims, const int64_t *a_strides, const int64_t *b_strides, void *stream) {
    if (n <= 0) return 0;
    cudaStream_t st = (cudaStream_t)stream;
    int same = 1;
    int64_t expect = 1;
    for (int d = rank - 1; d >= 0; d--) {
        if (a_strides[d] != expect || b_strides[d] != expect) same = 0;
        expect *= dims[d];
    }
    if (same) {
        k_binary_same<<<blocks_for(n, 256), 256, 0, st>>>(op, out, a, b, n);
    } else {
        cu_shape s;
        s.rank = rank;
        for (int d = 0; d < rank; d++) s.dims[d] = dims[d], s.as[d] = a_strides[d], s.bs[d] = b_strides[d];
        k_binary_bcast<<<blocks_for(n, 256), 256, 0, st>>>(op, out, a, b, n, s);
    }
    return (int)cudaGetLastError();
}

__global__ void k_unary(int op, float *out, const float *in, int64_t n, float alpha) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float x = in[i], y;
        switch (op) {
        case CU_UN_RELU: y = x > 0.0f ? x : 0.0f; break;
        case CU_UN_SIGMOID: y = 1.0f / (1.0f + expf(-x)); break;
        case CU_UN_TANH: y = tanhf(x); break;
        case CU_UN_EXP: y = expf(x); break;
        case CU_UN_LOG: y = logf(x); break;
        case CU_UN_SQRT: y = sqrtf(x); break;
        case CU_UN_NEG: y = -x; break;
        case CU_UN_ABS: y = fabsf(x); break;
        case CU_UN_ERF: y = erff(x); break;
        case CU_UN_GELU: y = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); break;
        default: y = x >= 0.0f ? x : alpha * x; break;
        }
        out[i] = y;
    }
}

extern "C" int cu_launch_unary(int op, float *out, const float *in, int64_t n, float alpha, void *stream) {
    if (n <= 0) return 0;
    k_unary<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(op, out, in, n, alpha);
    return (int)cudaGetLastError();
}

// Block-wide reductions of 256 threads: warp shuffles, then one warp over the warp results.
__device__ float block_sum(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int w = threadIdx.x / 32, l = threadIdx.x % 32;
    if (l == 0) sh[w] = v;
    __syncthreads();
    v = threadIdx.x < blockDim.x / 32 ? sh[threadIdx.x] : 0.0f;
    if (w == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__device__ float block_max(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    int w = threadIdx.x / 32, l = threadIdx.x % 32;
    if (l == 0) sh[w] = v;
    __syncthreads();
    v = threadIdx.x < blockDim.x / 32 ? sh[threadIdx.x] : -INFINITY;
    if (w == 0)
        for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__global__ void k_softmax(float *out, const float *in, int64_t cols) {
    __shared__ float sh[32];
    const float *x = in + blockIdx.x * cols;
    float *y = out + blockIdx.x * cols;
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, x[c]);
    m = block_max(m, sh);
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(x[c] - m);
    s = block_sum(s, sh);
    float inv = 1.0f / s;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[c] = expf(x[c] - m) * inv;
}

extern "C" int cu_launch_softmax(float *out, const float *in, int64_t rows, int64_t cols, void *stream) {
    if (rows <= 0 || cols <= 0) return 0;
    if (rows > 2147483647) return (int)cudaErrorInvalidValue;
    k_softmax<<<(unsigned)rows, 256, 0, (cudaStream_t)stream>>>(out, in, cols);
    return (int)cudaGetLastError();
}

__global__ void k_layernorm(float *out, const float *in, const float *gamma, const float *beta, int64_t cols, float eps) {
    __shared__ float sh[32];
    const float *x = in + blockIdx.x * cols;
    float *y = out + blockIdx.x * cols;
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += x[c];
    float mean = block_sum(s, sh) / (float)cols;
    float q = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = x[c] - mean;
        q += d * d;
    }
    float rstd = rsqrtf(block_sum(q, sh) / (float)cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        y[c] = (x[c] - mean) * rstd * gamma[c] + (beta ? beta[c] : 0.0f);
}

extern "C" int cu_launch_layernorm(float *out, const float *in, const float *gamma, const float *beta, int64_t rows,
                                   int64_t cols, float eps, void *stream) {
    if (rows <= 0 || cols <= 0) return 0;
    if (rows > 2147483647) return (int)cudaErrorInvalidValue;
    k_layernorm<<<(unsigned)rows, 256, 0, (cudaStream_t)stream>>>(out, in, gamma, beta, cols, eps);
    return (int)cudaGetLastError();
}

struct cu_perm {
    int rank;
    int64_t dims[CU_MAX_RANK];
    int64_t strides[CU_MAX_RANK];
};

template <typename T>
__global__ void k_transpose(T *out, const T *in, int64_t n, cu_perm p) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i, src = 0;
        for (int d = p.rank - 1; d >= 0; d--) {
            src += (r % p.dims[d]) * p.strides[d];
            r /= p.dims[d];
        }
        out[i] = in[src];
    }
}

extern "C" int cu_launch_transpose(void *out, const void *in, int elem, int rank, const int64_t *out_dims,
                                   const int64_t *in_strides, int64_t n, void *stream) {
    if (n <= 0) return 0;
    cu_perm p;
    p.rank = rank;
    for (int d = 0; d < rank; d++) p.dims[d] = out_dims[d], p.strides[d] = in_strides[d];
    if (elem == 4)
        k_transpose<float><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>((float *)out, (const float *)in, n, p);
    else if (elem == 8)
        k_transpose<double><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>((double *)out, (const double *)in, n, p);
    else
        return (int)cudaErrorInvalidValue;
    return (int)cudaGetLastError();
}
