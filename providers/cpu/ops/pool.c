/* SPDX-License-Identifier: MIT */
/* Pooling: MaxPool (with the optional Indices output), AveragePool (count_include_pad),
 * GlobalAveragePool, GlobalMaxPool, for float32, any number of spatial axes. */
#include <float.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/window.h"

enum { POOL_MAX, POOL_AVG, POOL_GLOBAL_AVG, POOL_GLOBAL_MAX };

typedef struct pool_kernel {
    cpu_kernel base;
    int kind;
    cpu_window_attrs wa;
    int count_include_pad;
    int storage_order;
} pool_kernel;

typedef struct pool_job {
    const pool_kernel *k;
    cpu_window w;
    const float *x;
    float *y;
    int64_t *idx;          /* MaxPool Indices output, or NULL */
    int64_t in_size, out_size, channels;
} pool_job;

static void pool_range(void *arg, size_t begin, size_t end) {
    const pool_job *j = arg;
    const cpu_window *w = &j->w;
    int32_t sp = w->sp;
    for (size_t plane = begin; plane < end; plane++) {
        const float *x = j->x + plane * j->in_size;
        float *y = j->y + plane * j->out_size;
        int64_t oidx[KILN_MAX_RANK] = {0};
        for (int64_t o = 0; o < j->out_size; o++) {
            int64_t lo[KILN_MAX_RANK], kidx[KILN_MAX_RANK] = {0}, ksize = 1;
            for (int32_t i = 0; i < sp; i++) {
                lo[i] = oidx[i] * w->s[i] - w->pb[i];
                ksize *= w->k[i];
            }
            float best = -FLT_MAX;
            int64_t best_at = -1, count = 0, padded = 0;
            double sum = 0.0;
            for (int64_t kk = 0; kk < ksize; kk++) {
                int64_t off = 0, inside = 1, in_padded_box = 1;
                for (int32_t i = 0; i < sp; i++) {
                    int64_t p = lo[i] + kidx[i] * w->d[i];
                    if (p < 0 || p >= w->in[i]) inside = 0;
                    if (p >= w->in[i] + w->pe[i]) in_padded_box = 0;
                    off = off * w->in[i] + p;
                }
                if (inside) {
                    float v = x[off];
                    if (v > best || best_at < 0) best = v, best_at = off;
                    sum += v;
                    count++;
                }
                if (in_padded_box) padded++;
                for (int32_t i = sp - 1; i >= 0; i--) {
                    if (++kidx[i] < w->k[i]) break;
                    kidx[i] = 0;
                }
            }
            if (j->k->kind == POOL_MAX) {
                y[o] = best_at >= 0 ? best : 0.0f;
                if (j->idx) {
                    int64_t at = best_at < 0 ? 0 : best_at;
                    if (j->k->storage_order && sp == 2) {
                        /* column-major index within the plane */
                        int64_t r = at / w->in[1], c = at % w->in[1];
                        at = c * w->in[0] + r;
                    }
                    j->idx[plane * j->out_size + o] = (int64_t)plane * j->in_size + at;
                }
            } else {
                int64_t div = j->k->count_include_pad ? padded : count;
                y[o] = div ? (float)(sum / (double)div) : 0.0f;
            }
            for (int32_t i = sp - 1; i >= 0; i--) {
                if (++oidx[i] < w->out[i]) break;
                oidx[i] = 0;
            }
        }
    }
}

typedef struct global_job {
    int kind;
    const float *x;
    float *y;
    int64_t size;
} global_job;

static void global_range(void *arg, size_t begin, size_t end) {
    const global_job *j = arg;
    for (size_t p = begin; p < end; p++) {
        const float *x = j->x + p * j->size;
        if (j->kind == POOL_GLOBAL_AVG) {
            double s = 0.0;
            for (int64_t i = 0; i < j->size; i++) s += x[i];
            j->y[p] = j->size ? (float)(s / (double)j->size) : 0.0f;
        } else {
            float m = j->size ? x[0] : 0.0f;
            for (int64_t i = 1; i < j->size; i++) m = x[i] > m ? x[i] : m;
            j->y[p] = m;
        }
    }
}

static kiln_status pool_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const pool_kernel *k = (const pool_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t in_size = planes ? (int64_t)x->count / planes : 0;
    if (k->kind == POOL_GLOBAL_AVG || k->kind == POOL_GLOBAL_MAX) {
        global_job j = {k->kind, x->data, y->data, in_size};
        cpu_parallel_for(ctx, (size_t)planes, 1, global_range, &j);
        return KILN_OK;
    }
    pool_job j = {k, {0}, x->data, y->data, NULL, in_size, planes ? (int64_t)y->count / planes : 0, x->dims[1]};
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, NULL, &j.w, err));
    if (ctx->n_outputs > 1 && ctx->outputs[1]) j.idx = ctx->outputs[1]->data;
    cpu_parallel_for(ctx, (size_t)planes, 1, pool_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_pool(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is implemented for float only, not %s", n->op_type, cpu_dtype_name(dt));
    int kind = cpu_op_is(n, "MaxPool") ? POOL_MAX : cpu_op_is(n, "AveragePool") ? POOL_AVG
             : cpu_op_is(n, "GlobalAveragePool") ? POOL_GLOBAL_AVG : POOL_GLOBAL_MAX;
    cpu_window_attrs wa;
    memset(&wa, 0, sizeof(wa));
    if (kind == POOL_MAX || kind == POOL_AVG) {
        KILN_CPU_TRY(cpu_window_read(n, &wa, err));
        if (!wa.n_kernel) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape is required");
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(pool_kernel), pool_compute, out, err));
    pool_kernel *k = (pool_kernel *)*out;
    k->kind = kind;
    k->wa = wa;
    k->count_include_pad = (int)cpu_attr_int(n, "count_include_pad", 0);
    k->storage_order = (int)cpu_attr_int(n, "storage_order", 0);
    return KILN_OK;
}
