/* SPDX-License-Identifier: MIT */
/* The element-wise com.microsoft QOperator ops (docs/int8.md §5), u8 and s8, per-tensor
 * parameters, numpy broadcasting:
 *  - QLinearAdd: c = sat(rne(F + a * (sa / sc) + b * (sb / sc))), F = zc - ((sa / sc) * za +
 *    (sb / sc) * zb), in float32 in that order (onnxruntime's MLAS x86 kernel; the same value as
 *    (sa(a - za) + sb(b - zb)) / sc + zc up to float rounding of the intermediate terms);
 *  - QLinearMul: c = sat(rne(float((a - za)(b - zb)) * (sa * sb / sc) + zc));
 *    both are plain float loops over contiguous runs (the compiler vectorizes them); out-of-range
 *    values are clamped in float before rounding (NaN to the low end);
 *  - QLinearSigmoid, QLinearLeakyRelu: a 256-entry table of quantize(f(dequantize(x))), built
 *    once at kernel creation when the parameters are constants, then one byte lookup per element.
 *    LeakyRelu is exact. Sigmoid uses 1 / (1 + expf(-x)) in float: onnxruntime evaluates it with
 *    its own rational approximation (MlasComputeLogistic), so a table entry that lands within a
 *    float ulp of a rounding tie may differ by 1 LSB (docs/int8.md);
 *  - QLinearWhere: X and Y each requantized to Z's parameters through a table, then selected. */
#include <string.h>

#include "providers/cpu/broadcast.h"
#include "providers/cpu/ops/elementwise.h"
#include "providers/cpu/ops/qlinear_ms.h"

/* ---- QLinearAdd, QLinearMul ---- */

typedef struct qbin_param {
    float r_a, r_b, fixed; /* Add: the two ratios and F; Mul: r_a the ratio, fixed = zc */
    int32_t za, zb;        /* Mul: the zero points */
    float flo, fhi;        /* output range (Add: absolute; Mul: absolute) */
} qbin_param;

static inline float qclamp(float v, float lo, float hi) {
    v = v > lo ? v : lo; /* NaN goes low */
    return v < hi ? v : hi;
}

#define QADD_EXPR q_rne(qclamp(pp->fixed + (float)x * pp->r_a + (float)y * pp->r_b, pp->flo, pp->fhi))
#define QMUL_EXPR q_rne(qclamp((float)(((int32_t)x - pp->za) * ((int32_t)y - pp->zb)) * pp->r_a + pp->fixed, pp->flo, pp->fhi))

#define QBIN_ZIP(NAME, T, EXPR)                                                                            \
    static void NAME(size_t n, const void *va, size_t sa, const void *vb, size_t sb, void *vo, const void *p) { \
        const T *a = va, *b = vb;                                                                          \
        T *o = vo;                                                                                         \
        const qbin_param *pp = p;                                                                          \
        if (sa && sb) {                                                                                    \
            for (size_t i = 0; i < n; i++) {                                                               \
                T x = a[i], y = b[i];                                                                      \
                o[i] = (T)(int32_t)(EXPR);                                                                               \
            }                                                                                              \
        } else if (sa) {                                                                                   \
            T y = b[0];                                                                                    \
            for (size_t i = 0; i < n; i++) {                                                               \
                T x = a[i];                                                                                \
                o[i] = (T)(int32_t)(EXPR);                                                                               \
            }                                                                                              \
        } else if (sb) {                                                                                   \
            T x = a[0];                                                                                    \
            for (size_t i = 0; i < n; i++) {                                                               \
                T y = b[i];                                                                                \
                o[i] = (T)(int32_t)(EXPR);                                                                               \
            }                                                                                              \
        } else {                                                                                           \
            T x = a[0], y = b[0];                                                                          \
            T r = (T)(int32_t)(EXPR);                                                                                    \
            for (size_t i = 0; i < n; i++) o[i] = r;                                                       \
        }                                                                                                  \
    }

QBIN_ZIP(qadd_u8, uint8_t, QADD_EXPR)
QBIN_ZIP(qadd_s8, int8_t, QADD_EXPR)
QBIN_ZIP(qmul_u8, uint8_t, QMUL_EXPR)
QBIN_ZIP(qmul_s8, int8_t, QMUL_EXPR)

typedef struct qbin_kernel {
    cpu_kernel base;
    int mul;
    int32_t dt;
} qbin_kernel;

static kiln_status qbin_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qbin_kernel *k = (const qbin_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 3);
    qms_q qa, qb, qc;
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 1), cpu_in(ctx, 2), k->dt, "A", &qa, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 4), cpu_in(ctx, 5), k->dt, "B", &qb, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 6), cpu_in(ctx, 7), k->dt, "C", &qc, err));
    qbin_param p;
    memset(&p, 0, sizeof(p));
    p.flo = (float)qc.lo, p.fhi = (float)qc.hi;
    if (k->mul) {
        p.r_a = qa.scale * qb.scale / qc.scale;
        p.fixed = (float)qc.zp;
        p.za = qa.zp, p.zb = qb.zp;
    } else {
        p.r_a = qa.scale / qc.scale;
        p.r_b = qb.scale / qc.scale;
        p.fixed = (float)qc.zp - (p.r_a * (float)qa.zp + p.r_b * (float)qb.zp);
    }
    cpu_ew_zip f = k->mul ? (k->dt == KILN_DTYPE_UINT8 ? qmul_u8 : qmul_s8) : (k->dt == KILN_DTYPE_UINT8 ? qadd_u8 : qadd_s8);
    cpu_ew_spec s = cpu_ew_same(k->dt, 0);
    cpu_ew_zip_run(ctx, f, &p, &s, a, b, ctx->outputs[0]);
    return KILN_OK;
}

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

kiln_status kiln_cpu_ms_qlinear_binary(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!is8(dt) || cpu_input_dtype(n, 3) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is implemented for uint8 and int8 operands of one type, not %s and %s",
                        n->op_type, cpu_dtype_name(dt), cpu_dtype_name(cpu_input_dtype(n, 3)));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qbin_kernel), qbin_compute, out, err));
    qbin_kernel *k = (qbin_kernel *)*out;
    k->mul = cpu_op_is(n, "QLinearMul");
    k->dt = dt;
    return KILN_OK;
}

/* ---- QLinearSigmoid, QLinearLeakyRelu: one table lookup per element ---- */

static void sigmoid_f(const float *in, float *out, size_t n, const void *p) {
    (void)p;
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

static void leaky_f(const float *in, float *out, size_t n, const void *p) {
    float alpha = *(const float *)p;
    for (size_t i = 0; i < n; i++) out[i] = in[i] >= 0.0f ? in[i] : alpha * in[i];
}

typedef struct qlut_kernel {
    cpu_kernel base;
    int32_t dt;
    qms_fn f;
    float alpha;
    int fixed;          /* table built at creation */
    uint8_t table[256];
} qlut_kernel;

typedef struct qlut_job {
    const uint8_t *table, *x;
    uint8_t *y;
} qlut_job;

static void qlut_range(void *arg, size_t begin, size_t end) {
    const qlut_job *j = arg;
    qms_lut_apply(j->table, j->x + begin, j->y + begin, end - begin);
}

static kiln_status qlut_table(const qlut_kernel *k, const kiln_value_desc *xs, const kiln_value_desc *xz,
                              const kiln_value_desc *ys, const kiln_value_desc *yz, uint8_t *table, kiln_error *err) {
    qms_q qx, qy;
    KILN_CPU_TRY(qms_read(xs, xz, k->dt, "X", &qx, err));
    KILN_CPU_TRY(qms_read(ys, yz, k->dt, "Y", &qy, err));
    qms_lut_build(k->dt, &qx, &qy, k->f, &k->alpha, table);
    return KILN_OK;
}

static kiln_status qlut_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qlut_kernel *k = (const qlut_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    uint8_t table[256];
    const uint8_t *t = k->table;
    if (!k->fixed) {
        KILN_CPU_TRY(qlut_table(k, cpu_in(ctx, 1), cpu_in(ctx, 2), cpu_in(ctx, 3), cpu_in(ctx, 4), table, err));
        t = table;
    }
    qlut_job j = {t, x->data, ctx->outputs[0]->data};
    cpu_parallel_for(ctx, (size_t)x->count, CPU_TASK_WORK, qlut_range, &j);
    return KILN_OK;
}

/* The constant value of input i; *known 0 when it is present but not a constant. */
static const kiln_value_desc *const_in(const cpu_node *n, uint32_t i, int *known) {
    kiln_value_info v = cpu_input_info(n, i);
    if (v.present && !v.constant) *known = 0;
    return v.present ? v.constant : NULL;
}

kiln_status kiln_cpu_ms_qlinear_lut(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!is8(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is implemented for uint8 and int8, not %s", n->op_type, cpu_dtype_name(dt));
    int leaky = cpu_op_is(n, "QLinearLeakyRelu");
    float alpha = leaky ? cpu_attr_float(n, "alpha", 0.01f) : 0.0f;
    if (!isfinite(alpha)) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "alpha must be finite");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qlut_kernel), qlut_compute, out, err));
    qlut_kernel *k = (qlut_kernel *)*out;
    k->dt = dt;
    k->f = leaky ? leaky_f : sigmoid_f;
    k->alpha = alpha;
    int known = 1;
    const kiln_value_desc *xs = const_in(n, 1, &known), *xz = const_in(n, 2, &known), *ys = const_in(n, 3, &known),
                          *yz = const_in(n, 4, &known);
    if (known) {
        k->fixed = 1;
        return qms_created(out, qlut_table(k, xs, xz, ys, yz, k->table, err));
    }
    return KILN_OK;
}

/* ---- QLinearWhere ---- */

typedef struct qwhere_job {
    cpu_bcast bc;
    const uint8_t *c, *x, *y, *tx, *ty;
    uint8_t *o;
} qwhere_job;

static void qwhere_range(void *arg, size_t begin, size_t end) {
    const qwhere_job *j = arg;
    int32_t last = j->bc.rank - 1;
    int64_t n = j->bc.inner, sc = j->bc.strides[0][last], sx = j->bc.strides[1][last], sy = j->bc.strides[2][last];
    int64_t off[CPU_BCAST_MAX_IN];
    for (size_t r = begin; r < end; r++) {
        cpu_bcast_offsets(&j->bc, (int64_t)r, off);
        const uint8_t *c = j->c + off[0], *x = j->x + off[1], *y = j->y + off[2];
        uint8_t *o = j->o + r * (size_t)n;
        for (int64_t i = 0; i < n; i++) o[i] = c[i * sc] ? j->tx[x[i * sx]] : j->ty[y[i * sy]];
    }
}

typedef struct qwhere_kernel {
    cpu_kernel base;
    int32_t dt;
} qwhere_kernel;

static kiln_status qwhere_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qwhere_kernel *k = (const qwhere_kernel *)base;
    qms_q qx, qy, qz;
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 2), cpu_in(ctx, 3), k->dt, "X", &qx, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 5), cpu_in(ctx, 6), k->dt, "Y", &qy, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 7), cpu_in(ctx, 8), k->dt, "Z", &qz, err));
    uint8_t tx[256], ty[256];
    qms_lut_build(k->dt, &qx, &qz, NULL, NULL, tx);
    qms_lut_build(k->dt, &qy, &qz, NULL, NULL, ty);
    /* identical parameters: the value itself (no rounding through float) */
    if (qx.scale == qz.scale && qx.zp == qz.zp)
        for (uint32_t b = 0; b < 256; b++) tx[b] = (uint8_t)b;
    if (qy.scale == qz.scale && qy.zp == qz.zp)
        for (uint32_t b = 0; b < 256; b++) ty[b] = (uint8_t)b;
    const kiln_value_desc *in[3] = {cpu_in(ctx, 0), cpu_in(ctx, 1), cpu_in(ctx, 4)};
    kiln_value_desc *out = ctx->outputs[0];
    qwhere_job j = {{0}, in[0]->data, in[1]->data, in[2]->data, tx, ty, out->data};
    cpu_bcast_init(&j.bc, 3, in, out);
    if (j.bc.outer == 0 || out->count == 0) return KILN_OK;
    cpu_parallel_for(ctx, (size_t)j.bc.outer, cpu_grain((uint64_t)j.bc.inner), qwhere_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_ms_qlinear_where(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 1);
    if (cpu_input_dtype(n, 0) != KILN_DTYPE_BOOL)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "condition must be bool, not %s", cpu_dtype_name(cpu_input_dtype(n, 0)));
    if (!is8(dt) || cpu_input_dtype(n, 4) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearWhere is implemented for uint8 and int8 X and Y of one type");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qwhere_kernel), qwhere_compute, out, err));
    ((qwhere_kernel *)*out)->dt = dt;
    return KILN_OK;
}
