/* SPDX-License-Identifier: MIT */
/* QuantizeLinear and DequantizeLinear (per-tensor, per-axis, blocked; 16/8/4/2-bit integers,
 * float8 and float4 types; output_dtype, precision, saturate) and DynamicQuantizeLinear; quotients
 * round half to even and saturate. */
#include <math.h>
#include <string.h>

#include "kernels/config/qgemm-config.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/quant_common.h"

/* x viewed as [outer, dim, inner] around the quantization axis; the scale of element
 * (o, a, i) is 0 (per tensor), a (per axis) or (o * ceil(dim / block) + a / block) * inner + i. */
/* ceil(d / block) without overflow, for d >= 0 and block >= 1. */
static int64_t blocks(int64_t d, int64_t block) { return d == 0 ? 0 : (d - 1) / block + 1; }

typedef struct qgran {
    int per_tensor;
    int64_t outer, dim, inner, block;
} qgran;

static kiln_status gran_resolve(const kiln_value_desc *x, const kiln_value_desc *s, const kiln_value_desc *z, int64_t axis,
                                int64_t block, qgran *g, kiln_error *err) {
    /* Same shape, except that a scalar and a one-element vector are interchangeable. */
    int same = z && z->rank == s->rank;
    for (int32_t i = 0; same && i < s->rank; i++) same = z->dims[i] == s->dims[i];
    if (z && !same && !(z->count == 1 && s->count == 1))
        return cpu_fail(err, KILN_ERR_SHAPE, "scale and zero point have different shapes");
    memset(g, 0, sizeof(*g));
    g->outer = 1, g->dim = 1, g->inner = (int64_t)x->count;
    if (s->count == 1) {
        g->per_tensor = 1;
        return KILN_OK;
    }
    if (x->rank == 0) return cpu_fail(err, KILN_ERR_SHAPE, "a scalar input needs a scalar scale");
    if (axis < -x->rank || axis >= x->rank)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)x->rank);
    if (axis < 0) axis += x->rank;
    g->outer = cpu_count(x->dims, (int32_t)axis);
    g->dim = x->dims[axis];
    g->inner = cpu_count(x->dims + axis + 1, x->rank - (int32_t)axis - 1);
    if (block < 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "block_size must not be negative");
    if (block == 0) {
        if (s->rank != 1 || s->dims[0] != g->dim)
            return cpu_fail(err, KILN_ERR_SHAPE, "a per-axis scale must be 1-D with %lld values", (long long)g->dim);
        return KILN_OK;
    }
    g->block = block;
    if (s->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "a blocked scale must have the input's rank");
    for (int32_t i = 0; i < x->rank; i++) {
        int64_t want = i == axis ? blocks(x->dims[i], block) : x->dims[i];
        if (s->dims[i] != want) return cpu_fail(err, KILN_ERR_SHAPE, "blocked scale dim %d must be %lld", (int)i, (long long)want);
    }
    return KILN_OK;
}

/* Calls body(idx, si) for every element in order: idx its offset, si its scale's. */
#define QGRAN_FOR(g, BODY)                                                                    \
    do {                                                                                      \
        int64_t nb_ = (g)->block ? blocks((g)->dim, (g)->block) : 0;                          \
        for (int64_t o_ = 0; o_ < (g)->outer; o_++)                                           \
            for (int64_t a_ = 0; a_ < (g)->dim; a_++) {                                       \
                size_t base_ = (size_t)((o_ * (g)->dim + a_) * (g)->inner);                   \
                size_t sb_ = (g)->per_tensor ? 0                                              \
                           : (g)->block ? (size_t)((o_ * nb_ + a_ / (g)->block) * (g)->inner) \
                                        : (size_t)a_;                                         \
                for (int64_t i_ = 0; i_ < (g)->inner; i_++) {                                 \
                    size_t idx = base_ + (size_t)i_;                                          \
                    size_t si = (g)->block ? sb_ + (size_t)i_ : sb_;                          \
                    BODY;                                                                     \
                }                                                                             \
            }                                                                                 \
    } while (0)

/* ---- QuantizeLinear ---- */

typedef struct quant_kernel {
    cpu_kernel base;
    int32_t out_dtype;
    int32_t precision; /* dtype the division rounds to: float, float16 or bfloat16 */
    int64_t axis, block;
    int saturate;      /* float8 outputs: clamp to the largest finite value */
} quant_kernel;

static float round_to(int32_t dt, float v) {
    if (dt == KILN_DTYPE_FLOAT16) return kiln_f16_to_f32(kiln_f32_to_f16(v));
    if (dt == KILN_DTYPE_BFLOAT16) return kiln_bf16_to_f32(kiln_f32_to_bf16(v));
    return v;
}

static float load_x(int32_t dt, const void *p, size_t i) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)p)[i];
    case KILN_DTYPE_FLOAT16: return kiln_f16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_BFLOAT16: return kiln_bf16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_INT32: return (float)((const int32_t *)p)[i];
    default: return 0.0f;
    }
}

static int ot_bits(int32_t dt) {
    return dt == KILN_DTYPE_UINT4 || dt == KILN_DTYPE_INT4 ? 4 : dt == KILN_DTYPE_UINT2 || dt == KILN_DTYPE_INT2 ? 2 : 8;
}

typedef struct qt_job {
    const float *x;
    void *y;
    float scale, zp;
    int32_t lo, hi, dtype;
    const kiln_q8_vcvt_config *vc;
} qt_job;

/* Per-tensor float32 → 8-bit: the hot path of quantized models. */
/* (kernels/q8-vcvt: x / scale clamped to [lo - zp, hi - zp], NaN low, rounded half to even, + zp) */
static void quant_u8_range(void *arg, size_t begin, size_t end) {
    const qt_job *j = arg;
    j->vc->quantize(end - begin, j->x + begin, j->scale, (int32_t)j->zp, 0, (uint8_t *)j->y + begin);
}

static void quant_s8_range(void *arg, size_t begin, size_t end) {
    const qt_job *j = arg;
    j->vc->quantize(end - begin, j->x + begin, j->scale, (int32_t)j->zp, 1, (int8_t *)j->y + begin);
}

static kiln_status quant_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const quant_kernel *k = (const quant_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *s = cpu_in(ctx, 1), *z = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    qgran g;
    KILN_CPU_TRY(gran_resolve(x, s, z, k->axis, k->block, &g, err));
    int32_t lo, hi;
    q_range(k->out_dtype, &lo, &hi);
    if (g.per_tensor && x->dtype == KILN_DTYPE_FLOAT && s->dtype == KILN_DTYPE_FLOAT &&
        k->precision == KILN_DTYPE_FLOAT && (k->out_dtype == KILN_DTYPE_UINT8 || k->out_dtype == KILN_DTYPE_INT8)) {
        qt_job j = {x->data, y->data, ((const float *)s->data)[0], z ? (float)q_get(z->dtype, z->data, 0) : 0.0f, lo, hi,
                    k->out_dtype, kiln_q8_vcvt_config_get()};
        cpu_parallel_for(ctx, (size_t)x->count, 16384, k->out_dtype == KILN_DTYPE_UINT8 ? quant_u8_range : quant_s8_range, &j);
        return KILN_OK;
    }
    const void *xd = x->data, *sd = s->data, *zd = z ? z->data : NULL;
    void *yd = y->data;
    /* Packed outputs are written a few bits at a time: clear the padding bits of the last byte. */
    if (ot_bits(k->out_dtype) < 8) memset(yd, 0, ((size_t)y->count * (size_t)ot_bits(k->out_dtype) + 7) / 8);
    int32_t xt = x->dtype, st = s->dtype, zt = z ? z->dtype : 0, ot = k->out_dtype, pt = k->precision;
    const kiln_minifloat *mf = minifloat_of(ot);
    if (mf) {
        if (ot == KILN_DTYPE_FLOAT4E2M1) memset(yd, 0, ((size_t)y->count + 1) / 2);
        /* float4 has no infinity and always saturates */
        int sat = k->saturate || ot == KILN_DTYPE_FLOAT4E2M1;
        QGRAN_FOR(&g, {
            float sv = round_to(pt, q_scale(st, sd, si));
            float q = round_to(pt, round_to(pt, load_x(xt, xd, idx)) / sv) + (zd ? mf_get(zt, zd, si) : 0.0f);
            mf_set(ot, yd, idx, kiln_mf_encode(mf, (double)q, sat));
        });
        return KILN_OK;
    }
    QGRAN_FOR(&g, {
        float sv = round_to(pt, q_scale(st, sd, si));
        float zv = zd ? (float)q_get(zt, zd, si) : 0.0f;
        float q = round_to(pt, round_to(pt, load_x(xt, xd, idx)) / sv);
        q_set(ot, yd, idx, q_saturate(q, zv, lo, hi));
    });
    return KILN_OK;
}

kiln_status kiln_cpu_quantize_linear(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t xt = cpu_input_dtype(n, 0), st = cpu_input_dtype(n, 1), zt = cpu_input_dtype(n, 2);
    int32_t ot = cpu_output_info(n, 0).dtype;
    if (xt != KILN_DTYPE_FLOAT && xt != KILN_DTYPE_FLOAT16 && xt != KILN_DTYPE_BFLOAT16 && xt != KILN_DTYPE_INT32)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QuantizeLinear is not implemented for input %s", cpu_dtype_name(xt));
    if (!q_scale_type(st))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QuantizeLinear is not implemented for scale %s", cpu_dtype_name(st));
    if ((!q_is_int(ot) && !minifloat_of(ot)) || (zt && zt != ot))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QuantizeLinear is not implemented for output %s", cpu_dtype_name(ot));
    int64_t prec = cpu_attr_int(n, "precision", 0);
    if (prec && prec != KILN_DTYPE_FLOAT && prec != KILN_DTYPE_FLOAT16 && prec != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QuantizeLinear precision %s is not implemented", cpu_dtype_name((int32_t)prec));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(quant_kernel), quant_compute, out, err));
    quant_kernel *k = (quant_kernel *)*out;
    k->out_dtype = ot;
    /* Without `precision`, numpy-like promotion of x and the scale: 16-bit only when both are. */
    k->precision = prec ? (int32_t)prec : (xt == st && (st == KILN_DTYPE_FLOAT16 || st == KILN_DTYPE_BFLOAT16)) ? st : KILN_DTYPE_FLOAT;
    k->axis = cpu_attr_int(n, "axis", 1);
    k->block = cpu_attr_int(n, "block_size", 0);
    k->saturate = cpu_attr_int(n, "saturate", 1) != 0;
    return KILN_OK;
}

/* ---- DequantizeLinear ---- */

typedef struct dequant_kernel {
    cpu_kernel base;
    int64_t axis, block;
} dequant_kernel;

typedef struct dq_job {
    const void *x;
    float *y;
    float scale, zp;
    int32_t dtype;
    const kiln_q8_vcvt_config *vc;
} dq_job;

static void dequant8_range(void *arg, size_t begin, size_t end) {
    const dq_job *j = arg;
    j->vc->dequantize(end - begin, (const uint8_t *)j->x + begin, j->dtype == KILN_DTYPE_INT8, j->scale, j->zp, j->y + begin);
}

static kiln_status dequant_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const dequant_kernel *k = (const dequant_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *s = cpu_in(ctx, 1), *z = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    qgran g;
    KILN_CPU_TRY(gran_resolve(x, s, z, k->axis, k->block, &g, err));
    float *yd = f32_out(ctx, y);
    if (!yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for DequantizeLinear");
    if (g.per_tensor && (x->dtype == KILN_DTYPE_UINT8 || x->dtype == KILN_DTYPE_INT8)) {
        dq_job j = {x->data, yd, q_scale(s->dtype, s->data, 0), z ? (float)q_get(z->dtype, z->data, 0) : 0.0f, x->dtype,
                     kiln_q8_vcvt_config_get()};
        cpu_parallel_for(ctx, (size_t)x->count, 16384, dequant8_range, &j);
    } else {
        const void *xd = x->data, *sd = s->data, *zd = z ? z->data : NULL;
        int32_t xt = x->dtype, st = s->dtype, zt = z ? z->dtype : 0;
        if (minifloat_of(xt)) {
            QGRAN_FOR(&g, {
                float zv = zd ? mf_get(zt, zd, si) : 0.0f;
                yd[idx] = (mf_get(xt, xd, idx) - zv) * q_scale(st, sd, si);
            });
        } else {
            QGRAN_FOR(&g, {
                float zv = zd ? (float)q_get(zt, zd, si) : 0.0f;
                yd[idx] = ((float)q_get(xt, xd, idx) - zv) * q_scale(st, sd, si);
            });
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_dequantize_linear(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t xt = cpu_input_dtype(n, 0), st = cpu_input_dtype(n, 1), zt = cpu_input_dtype(n, 2);
    int32_t ot = cpu_output_info(n, 0).dtype;
    if (!q_is_int(xt) && xt != KILN_DTYPE_INT32 && !minifloat_of(xt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "DequantizeLinear is not implemented for %s", cpu_dtype_name(xt));
    if (zt && zt != xt) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "x and x_zero_point have different types");
    if (!q_scale_type(st))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "DequantizeLinear is not implemented for scale %s", cpu_dtype_name(st));
    if (ot != KILN_DTYPE_FLOAT && ot != KILN_DTYPE_FLOAT16 && ot != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "DequantizeLinear is not implemented for output %s", cpu_dtype_name(ot));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(dequant_kernel), dequant_compute, out, err));
    dequant_kernel *k = (dequant_kernel *)*out;
    k->axis = cpu_attr_int(n, "axis", 1);
    k->block = cpu_attr_int(n, "block_size", 0);
    return KILN_OK;
}

/* ---- DynamicQuantizeLinear: uint8 with scale and zero point from the data's range ---- */

static kiln_status dynq_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0], *ys = ctx->outputs[1], *yz = ctx->outputs[2];
    if (!ys || !yz) return cpu_fail(err, KILN_ERR_SHAPE, "DynamicQuantizeLinear needs its scale and zero point outputs");
    const float *xd = x->data;
    /* The range always includes 0 so that 0 is exact. */
    float mn = 0.0f, mx = 0.0f;
    const kiln_q8_vcvt_config *vc = kiln_q8_vcvt_config_get();
    vc->minmax((size_t)x->count, xd, &mn, &mx);
    float scale = (mx == mn ? 1.0f : mx - mn) / 255.0f;
    float zp = fminf(fmaxf(0.0f - mn / scale, 0.0f), 255.0f);
    zp = q_rne(zp);
    ((float *)ys->data)[0] = scale;
    ((uint8_t *)yz->data)[0] = (uint8_t)zp;
    qt_job j = {xd, y->data, scale, zp, 0, 255, KILN_DTYPE_UINT8, vc};
    cpu_parallel_for(ctx, (size_t)x->count, 16384, quant_u8_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_dynamic_quantize_linear(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t xt = cpu_input_dtype(n, 0);
    if (xt != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "DynamicQuantizeLinear is not implemented for %s", cpu_dtype_name(xt));
    return cpu_kernel_new(n, sizeof(cpu_kernel), dynq_compute, out, err);
}
