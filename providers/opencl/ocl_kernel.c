/* SPDX-License-Identifier: MIT */
/* Kernel objects and the helpers the op files share: argument setting, launches, attributes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ocl_kernel.h"

int ocl_elem_size(int32_t dtype) {
    switch (dtype) {
    case KILN_DTYPE_FLOAT: return 4;
    case KILN_DTYPE_FLOAT16: return 2;
    case KILN_DTYPE_INT64: return 8;
    case KILN_DTYPE_INT32: return 4;
    default: return 0;
    }
}

const char *ocl_dtype_name(int32_t dtype) {
    static const char *names[] = {"undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
                                  "bool", "float16", "float64", "uint32", "uint64", "complex64", "complex128", "bfloat16"};
    return dtype >= 0 && dtype < (int32_t)(sizeof(names) / sizeof(names[0])) ? names[dtype] : "an unknown dtype";
}

int ocl_fits_int(const kiln_value_desc *d) {
    if (d->count > 0x7fffffffull) return 0;
    for (int32_t i = 0; i < d->rank; i++)
        if (d->dims[i] > 0x7fffffff) return 0;
    return 1;
}

void ocl_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* The compute slot: checks the values (dtype, allocated outputs, sizes that fit the kernels' int
 * indexing), then runs the op. Work is queued on the in-order queue; whoever reads it next (a
 * copy or another kernel of this instance) is queued after it. */
static int32_t compute(kiln_kernel *kk, kiln_kernel_ctx *gctx, kiln_error *err) {
    ocl_kern *k = (ocl_kern *)kk;
    kiln_kernel_ctx local, *ctx = gctx;
    const kiln_value_desc *ins[16];
    if (k->n_map) {
        /* A fused group: the producer's inputs, picked from the group's. */
        local = *gctx;
        for (uint32_t i = 0; i < k->n_map; i++)
            ins[i] = k->map[i] >= 0 && (uint32_t)k->map[i] < gctx->n_inputs ? gctx->inputs[k->map[i]] : NULL;
        local.inputs = ins;
        local.n_inputs = k->n_map;
        ctx = &local;
    }
    for (uint32_t i = 0; i < ctx->n_inputs && i < k->n_data_in; i++) {
        const kiln_value_desc *d = ctx->inputs[i];
        if (!d) continue;
        if (d->dtype != k->dtype)
            return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: input %u is %s, the kernel was built for %s", k->op, i,
                            ocl_dtype_name(d->dtype), ocl_dtype_name(k->dtype));
        if (!ocl_fits_int(d)) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: input %u has more than 2^31 elements", k->op, i);
        if (d->count && d->mem_kind != (int32_t)k->pv->abi.mem_kind)
            return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s on OpenCL: input %u is not in OpenCL device memory", k->op, i);
    }
    for (uint32_t i = 0; i < ctx->n_outputs; i++) {
        if (!ctx->outputs[i]) return ocl_fail(err, KILN_ERR_INTERNAL, "%s on OpenCL: output %u was not sized by the host", k->op, i);
        if (!ocl_fits_int(ctx->outputs[i])) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: output %u is too large", k->op, i);
    }
    return k->run(k, ctx, err);
}

void ocl_kern_release(kiln_kernel *kk) {
    ocl_kern *k = (ocl_kern *)kk;
    for (int i = 0; i < 2; i++)
        if (k->k[i]) clReleaseKernel(k->k[i]);
    if (k->flag) clReleaseMemObject(k->flag);
    k->pv->host->free(k->pv->host_ctx, k);
}

int32_t ocl_kern_new(ocl_provider *pv, const kiln_node_view *n, ocl_kern **out, kiln_error *err) {
    const kiln_host_api *h = pv->host;
    *out = NULL;
    ocl_kern *k = h->alloc(pv->host_ctx, sizeof(*k), 16);
    if (!k) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating an OpenCL kernel");
    memset(k, 0, sizeof(*k));
    k->abi.hdr.struct_size = sizeof(k->abi);
    k->abi.hdr.abi_version = pv->version;
    k->abi.compute = compute;
    k->abi.release = ocl_kern_release;
    k->pv = pv;
    k->n_data_in = 1;
    snprintf(k->op, sizeof(k->op), "%s", h->node_op_type(n));
    kiln_value_info vi;
    if (ocl_input_info(h, n, 0, &vi) == KILN_OK) k->dtype = vi.dtype;
    k->type = k->dtype == KILN_DTYPE_FLOAT16 ? OCL_F16 : OCL_F32;
    *out = k;
    return KILN_OK;
}

int32_t ocl_get_kernel(ocl_kern *k, int slot, const char *name, kiln_error *err) {
    if (k->k[slot]) return KILN_OK;
    return ocl_kernel_create(k->pv, k->type, name, k->op, &k->k[slot], err);
}

int32_t ocl_args(ocl_kern *k, cl_kernel kern, kiln_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cl_uint idx = 0;
    cl_int e = CL_SUCCESS;
    for (const char *f = fmt; *f && e == CL_SUCCESS; f++) {
        switch (*f) {
        case 'B':
        case 'C': {
            const kiln_value_desc *d = va_arg(ap, const kiln_value_desc *);
            int64_t extra = *f == 'C' ? va_arg(ap, int64_t) : 0;
            cl_mem m = d ? ocl_buf_mem(d->data) : NULL;
            int es = d ? ocl_elem_size(d->dtype) : 1;
            cl_ulong off = d && es ? (cl_ulong)(d->offset / (uint64_t)es) + (cl_ulong)extra : 0;
            if (d && d->count && !m) {
                va_end(ap);
                return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s on OpenCL: a value is not an OpenCL buffer", k->op);
            }
            if (d && es && d->offset % (uint64_t)es) {
                va_end(ap);
                return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s on OpenCL: offset %llu is not aligned to the element", k->op,
                                (unsigned long long)d->offset);
            }
            e = clSetKernelArg(kern, idx++, sizeof(cl_mem), m ? (const void *)&m : NULL);
            if (e == CL_SUCCESS) e = clSetKernelArg(kern, idx++, sizeof(off), &off);
            break;
        }
        case 'M': {
            cl_mem m = va_arg(ap, cl_mem);
            e = clSetKernelArg(kern, idx++, sizeof(cl_mem), m ? (const void *)&m : NULL);
            break;
        }
        case 'i': {
            cl_int v = va_arg(ap, int);
            e = clSetKernelArg(kern, idx++, sizeof(v), &v);
            break;
        }
        case 'f': {
            cl_float v = (cl_float)va_arg(ap, double);
            e = clSetKernelArg(kern, idx++, sizeof(v), &v);
            break;
        }
        case 'v': {
            const int *p = va_arg(ap, const int *);
            cl_int8 v;
            for (int i = 0; i < 8; i++) v.s[i] = p[i];
            e = clSetKernelArg(kern, idx++, sizeof(v), &v);
            break;
        }
        case 'q': {
            const int *p = va_arg(ap, const int *);
            cl_int4 v;
            for (int i = 0; i < 4; i++) v.s[i] = p[i];
            e = clSetKernelArg(kern, idx++, sizeof(v), &v);
            break;
        }
        case 'w': {
            const float *p = va_arg(ap, const float *);
            cl_float8 v;
            for (int i = 0; i < 8; i++) v.s[i] = p[i];
            e = clSetKernelArg(kern, idx++, sizeof(v), &v);
            break;
        }
        default: e = CL_INVALID_VALUE; break;
        }
    }
    va_end(ap);
    cl_uint want = 0;
    if (e == CL_SUCCESS && clGetKernelInfo(kern, CL_KERNEL_NUM_ARGS, sizeof(want), &want, NULL) == CL_SUCCESS && want != idx)
        return ocl_fail(err, KILN_ERR_INTERNAL, "%s on OpenCL: %u kernel arguments set, the kernel has %u", k->op, idx, want);
    if (e != CL_SUCCESS)
        return ocl_fail(err, KILN_ERR_PROVIDER, "%s on OpenCL: clSetKernelArg(%u) failed: %s (%d)", k->op, idx ? idx - 1 : 0, ocl_errstr(e), e);
    return KILN_OK;
}

int32_t ocl_launch(ocl_kern *k, cl_kernel kern, cl_uint dims, const size_t *global, const size_t *local, kiln_error *err) {
    size_t g[3];
    for (cl_uint i = 0; i < dims; i++) {
        if (!global[i]) return KILN_OK;
        g[i] = local ? (global[i] + local[i] - 1) / local[i] * local[i] : global[i];
    }
    cl_int e = clEnqueueNDRangeKernel(k->pv->queue, kern, dims, NULL, g, local, 0, NULL, NULL);
    if (e != CL_SUCCESS)
        return ocl_fail(err, e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES ? KILN_ERR_OUT_OF_MEMORY : KILN_ERR_PROVIDER,
                        "%s on OpenCL: clEnqueueNDRangeKernel failed: %s (%d)", k->op, ocl_errstr(e), e);
    return KILN_OK;
}

int32_t ocl_launch1(ocl_kern *k, cl_kernel kern, int64_t n, kiln_error *err) {
    size_t g = (size_t)n, l = 64;
    if (n <= 0) return KILN_OK;
    return ocl_launch(k, kern, 1, &g, &l, err);
}

/* ---- attributes and constants ---- */

int64_t ocl_attr_i(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t def) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_INT ? h->attr_int(a) : def;
}

float ocl_attr_f(const kiln_host_api *h, const kiln_node_view *n, const char *name, float def) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_FLOAT ? h->attr_float(a) : def;
}

const char *ocl_attr_s(const kiln_host_api *h, const kiln_node_view *n, const char *name, const char *def) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_STRING ? h->attr_string(a, 0, NULL) : def;
}

int ocl_attr_ints(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t *out, int max) {
    const kiln_attr_view *a = h->node_attr(n, name);
    if (!a || h->attr_type(a) != KILN_ATTR_INTS) return -1;
    uint32_t c = h->attr_count(a);
    const int64_t *v = h->attr_ints(a);
    if ((int)c > max) return -2;
    for (uint32_t i = 0; i < c; i++) out[i] = v[i];
    return (int)c;
}

int32_t ocl_input_info(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, kiln_value_info *vi) {
    memset(vi, 0, sizeof(*vi));
    vi->hdr.struct_size = sizeof(*vi);
    if (i >= h->node_input_count(n)) return KILN_ERR_INVALID_ARGUMENT;
    return h->node_input_info(n, i, vi);
}

int ocl_const_scalar(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, float *v) {
    kiln_value_info vi;
    if (ocl_input_info(h, n, i, &vi) != KILN_OK || !vi.present || !vi.constant) return 0;
    const kiln_value_desc *c = vi.constant;
    if (c->count != 1 || !c->data) return 0;
    if (c->dtype == KILN_DTYPE_FLOAT) *v = *(const float *)c->data;
    else return 0;
    return 1;
}

int ocl_const_ints(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, int64_t *out, int max) {
    kiln_value_info vi;
    if (ocl_input_info(h, n, i, &vi) != KILN_OK || !vi.present || !vi.constant) return -1;
    return ocl_host_ints(vi.constant, out, max);
}

int ocl_host_ints(const kiln_value_desc *d, int64_t *out, int max) {
    if (!d || d->mem_kind != 0 || d->count > (uint64_t)max || (d->count && !d->data)) return -1;
    for (uint64_t j = 0; j < d->count; j++) {
        if (d->dtype == KILN_DTYPE_INT64) out[j] = ((const int64_t *)d->data)[j];
        else if (d->dtype == KILN_DTYPE_INT32) out[j] = ((const int32_t *)d->data)[j];
        else return -1;
    }
    return (int)d->count;
}
