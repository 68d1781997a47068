/* SPDX-License-Identifier: MIT */
/* kiln.QLinearConvAdd (docs/kiln-ops.md): the quantized residual block. The QLinearConv kernel
 * (u8s8 GEMM, requantizing epilogue; providers/cpu/ops/qlinear.c) writes C into Y's buffer, then
 * one parallel pass turns each C in place into
 *   Y = sat(rne(act(float(C - c_zp) * c_scale + float(S - s_zp) * s_scale) / y_scale) + y_zp),
 * the float arithmetic of the unfused DequantizeLinear, Add, Relu, QuantizeLinear chain, so
 * the result equals the chain's bit for bit. */
#include <string.h>

#include "providers/cpu/ops/quant_common.h"

kiln_status kiln_cpu_qlinear_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err);

typedef struct qca_kernel {
    cpu_kernel base;
    cpu_kernel *conv;          /* the QLinearConv kernel of inputs 0-8 */
    int relu;
} qca_kernel;

static void qca_cleanup(cpu_kernel *base) {
    qca_kernel *k = (qca_kernel *)base;
    if (k->conv) k->conv->abi.release(&k->conv->abi);
}

typedef struct qca_job {
    void *y;                   /* C on entry, Y on return (same 8-bit dtype) */
    const void *s;
    int y_s8, s_s8, relu;
    float c_scale, c_zp, s_scale, s_zp, y_scale, y_zp;
} qca_job;

/* One loop per (Y, S) type pair and activation, branch-free so that the compiler vectorizes it
 * (the division stays a division: QuantizeLinear divides by y_scale). */
#define QCA_LOOP(TY, TS, RELU)                                                                     \
    do {                                                                                           \
        TY *y = (TY *)j->y;                                                                        \
        const TS *s = (const TS *)j->s;                                                            \
        for (size_t i = begin; i < end; i++) {                                                     \
            float v = ((float)y[i] - czp) * cs + ((float)s[i] - szp) * ss;                         \
            if (RELU) v = v > 0.0f ? v : 0.0f;                                                     \
            float q = v / ys;                                                                      \
            q = q > flo ? q : flo; /* NaN goes low */                                              \
            q = q < fhi ? q : fhi;                                                                 \
            y[i] = (TY)((int32_t)((q + 12582912.0f) - 12582912.0f) + yzp); /* half to even */       \
        }                                                                                          \
    } while (0)

static void qca_range(void *arg, size_t begin, size_t end) {
    const qca_job *j = arg;
    const float czp = j->c_zp, cs = j->c_scale, szp = j->s_zp, ss = j->s_scale, ys = j->y_scale;
    const int32_t yzp = (int32_t)j->y_zp;
    const float flo = (float)(j->y_s8 ? -128 : 0) - j->y_zp, fhi = (float)(j->y_s8 ? 127 : 255) - j->y_zp;
    switch (j->y_s8 * 4 + j->s_s8 * 2 + j->relu) {
    case 0: QCA_LOOP(uint8_t, uint8_t, 0); break;
    case 1: QCA_LOOP(uint8_t, uint8_t, 1); break;
    case 2: QCA_LOOP(uint8_t, int8_t, 0); break;
    case 3: QCA_LOOP(uint8_t, int8_t, 1); break;
    case 4: QCA_LOOP(int8_t, uint8_t, 0); break;
    case 5: QCA_LOOP(int8_t, uint8_t, 1); break;
    case 6: QCA_LOOP(int8_t, int8_t, 0); break;
    default: QCA_LOOP(int8_t, int8_t, 1); break;
    }
}

static float scalar_f32(const kiln_value_desc *v) { return ((const float *)v->data)[0]; }

static kiln_status qca_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qca_kernel *k = (const qca_kernel *)base;
    KILN_CPU_TRY(k->conv->compute(k->conv, ctx, err));
    kiln_value_desc *y = ctx->outputs[0];
    const kiln_value_desc *cs = cpu_in(ctx, 6), *cz = cpu_in(ctx, 7), *s = cpu_in(ctx, 9), *ss = cpu_in(ctx, 10),
                          *sz = cpu_in(ctx, 11), *ys = cpu_in(ctx, 12), *yz = cpu_in(ctx, 13);
    if (!s || !ss || !sz || !ys || !yz || !cz)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "S, its scale and zero point, y_scale, y_zero_point and c_zero_point are required");
    if (s->rank != y->rank || s->count != y->count)
        return cpu_fail(err, KILN_ERR_SHAPE, "the shortcut S must have the convolution output's shape");
    for (int32_t i = 0; i < s->rank; i++)
        if (s->dims[i] != y->dims[i]) return cpu_fail(err, KILN_ERR_SHAPE, "the shortcut S must have the convolution output's shape");
    if (cs->count != 1 || cz->count != 1 || ss->count != 1 || sz->count != 1 || ys->count != 1 || yz->count != 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "scales and zero points must be scalars");
    qca_job j = {y->data, s->data, y->dtype == KILN_DTYPE_INT8, s->dtype == KILN_DTYPE_INT8, k->relu,
                 scalar_f32(cs), (float)q_get(cz->dtype, cz->data, 0), scalar_f32(ss), (float)q_get(sz->dtype, sz->data, 0),
                 scalar_f32(ys), (float)q_get(yz->dtype, yz->data, 0)};
    if (y->count) cpu_parallel_for(ctx, (size_t)y->count, cpu_grain(2), qca_range, &j);
    return KILN_OK;
}

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

kiln_status kiln_cpu_kiln_qconv_add(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t yt = cpu_output_info(n, 0).dtype;
    if (!is8(yt) || cpu_input_dtype(n, 7) != yt || cpu_input_dtype(n, 13) != yt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.QLinearConvAdd needs c_zero_point, y_zero_point and Y of one 8-bit type");
    if (!is8(cpu_input_dtype(n, 9)) || cpu_input_dtype(n, 11) != cpu_input_dtype(n, 9))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.QLinearConvAdd needs an 8-bit S with a zero point of its type");
    if (cpu_input_dtype(n, 6) != KILN_DTYPE_FLOAT || cpu_input_dtype(n, 10) != KILN_DTYPE_FLOAT || cpu_input_dtype(n, 12) != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.QLinearConvAdd needs float32 c_scale, s_scale and y_scale");
    const char *act = cpu_attr_str(n, "activation", "");
    if (strcmp(act, "") != 0 && strcmp(act, "Relu") != 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kiln.QLinearConvAdd: activation '%s' is not \"\" or Relu", act);
    cpu_kernel *conv = NULL;
    KILN_CPU_TRY(kiln_cpu_qlinear_conv(n, &conv, err));
    kiln_status st = cpu_kernel_new(n, sizeof(qca_kernel), qca_compute, out, err);
    if (st != KILN_OK) {
        conv->abi.release(&conv->abi);
        return st;
    }
    qca_kernel *k = (qca_kernel *)*out;
    k->base.cleanup = qca_cleanup;
    k->conv = conv;
    k->relu = act[0] != 0;
    return KILN_OK;
}
