/* SPDX-License-Identifier: MIT */
/* One node's (or fused group's) kernel: the OpenCL kernel objects, the op's parameters read at
 * creation, the fused activation, and the helpers every op file uses. */
#ifndef KILN_OCL_KERNEL_H
#define KILN_OCL_KERNEL_H

#include "ocl.h"

typedef struct ocl_kern ocl_kern;
typedef int32_t (*ocl_run_fn)(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err);

#define OCL_MAX_PARAMS 48

struct ocl_kern {
    kiln_kernel abi;
    ocl_provider *pv;
    ocl_run_fn run;
    int type;                     /* OCL_F32 or OCL_F16 */
    int32_t dtype;                /* kiln dtype of the data values */
    char op[32];                  /* op type, for messages ("Conv+Relu" when fused) */
    cl_kernel k[2];
    int act;                      /* activation applied to the result (ACT_NONE: none) */
    float act_a, act_b;
    int code;                     /* the op's code: ACT_*, BIN_*, RED_*, POOL_* */
    int64_t iv[OCL_MAX_PARAMS];   /* integer parameters (attributes) */
    float fv[8];                  /* float parameters */
    uint32_t n_data_in;           /* inputs checked for dtype at compute (the first n) */
    cl_mem flag;                  /* a device int the kernel sets on bad data (Gather indices) */
    uint32_t n_map;               /* fused group: the producer's n_map inputs are group inputs map[i] */
    int32_t map[16];
};

/* A node's op description: the kernel factory by op type. */
typedef int32_t (*ocl_make_fn)(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);

/* ocl_kernel.c */
int32_t ocl_kern_new(ocl_provider *pv, const kiln_node_view *n, ocl_kern **out, kiln_error *err);
void ocl_kern_release(kiln_kernel *kk);
/* Sets the kernel's arguments from a format: 'B' a value (const kiln_value_desc *: buffer and element
 * offset; NULL passes a NULL buffer), 'C' a value and an int64_t
 * element offset added to it, 'M' a cl_mem, 'i' int, 'f' float (as double), 'v' int8 from
 * const int *, 'q' int4 from const int *, 'w' float8 from const float *. */
int32_t ocl_args(ocl_kern *k, cl_kernel kern, kiln_error *err, const char *fmt, ...);
/* Enqueues kern over `global` work-items (rounded up to `local`, which may be NULL). */
int32_t ocl_launch(ocl_kern *k, cl_kernel kern, cl_uint dims, const size_t *global, const size_t *local, kiln_error *err);
/* 1-D launch of n work-items (nothing when n is 0). */
int32_t ocl_launch1(ocl_kern *k, cl_kernel kern, int64_t n, kiln_error *err);
int32_t ocl_get_kernel(ocl_kern *k, int slot, const char *name, kiln_error *err);
int ocl_elem_size(int32_t dtype);
const char *ocl_dtype_name(int32_t dtype);
/* Dims of a value as ints (checks they and the count fit in int). */
int ocl_fits_int(const kiln_value_desc *d);

/* Attribute helpers. */
int64_t ocl_attr_i(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t def);
float ocl_attr_f(const kiln_host_api *h, const kiln_node_view *n, const char *name, float def);
const char *ocl_attr_s(const kiln_host_api *h, const kiln_node_view *n, const char *name, const char *def);
/* Copies up to `max` ints of list attribute `name`; returns the count, -1 when absent. */
int ocl_attr_ints(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t *out, int max);
int32_t ocl_input_info(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, kiln_value_info *vi);
/* A scalar float constant input (Clip's min and max); 1 when present and constant. */
int ocl_const_scalar(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, float *v);
/* Integer values of a constant input (axes, pads); returns the count, -1 when not constant. */
int ocl_const_ints(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, int64_t *out, int max);
/* Integer values of a host-memory input at compute (int32 or int64); -1 when not readable. */
int ocl_host_ints(const kiln_value_desc *d, int64_t *out, int max);

/* The op factories, one per op family file. */
int32_t ocl_make_unary(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_binary(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_batchnorm(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_gemm(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_matmul(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_conv(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_pool(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_softmax(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_layernorm(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_reduce(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_transpose(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_concat(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_split(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_slice(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_gather(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_resize(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_reshape(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);
int32_t ocl_make_expand(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err);

/* The activation an op computes when fused after a producer: its code and parameters; 0 when the
 * node is not a simple activation. */
int ocl_activation_of(const kiln_host_api *h, const kiln_node_view *n, int *code, float *a, float *b);

/* Row-major strides of dims. */
void ocl_strides(int rank, const int64_t *dims, int64_t *strides);

#endif
