/* SPDX-License-Identifier: MIT */
/* What the com.microsoft QOperator kernels share (qlinear_ms_*.c, qgemm_ms.c; docs/int8.md §5):
 * reading a per-tensor scale and zero point, onnxruntime's quantization formula, and the
 * 256-entry lookup tables of the unary ops. The arithmetic follows onnxruntime's CPU kernels
 * step for step (float32, same operation order, round half to even), so that outputs are the
 * same bytes; where they differ by design it is written next to the op. */
#ifndef KILN_CPU_OPS_QLINEAR_MS_H
#define KILN_CPU_OPS_QLINEAR_MS_H

#include <math.h>
#include <stdint.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/quant_common.h"

/* A per-tensor quantization: scale, zero point and the type's range. */
typedef struct qms_q {
    float scale;
    int32_t zp, lo, hi;
} qms_q;

/* Reads scale s (float, one element, finite and > 0) and zero point z (NULL: 0; one element of
 * dtype dt) into q. `what` names the tensor in errors. */
static inline kiln_status qms_read(const kiln_value_desc *s, const kiln_value_desc *z, int32_t dt, const char *what,
                                   qms_q *q, kiln_error *err) {
    *q = (qms_q){1.0f, 0, 0, 255};
    if (!s || s->count != 1 || s->dtype != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "the scale of %s must be one float (per-tensor)", what);
    if (z && (z->count != 1 || z->dtype != dt))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "the zero point of %s must be one %s (per-tensor)", what,
                        cpu_dtype_name(dt));
    q->scale = ((const float *)s->data)[0];
    if (!(q->scale > 0.0f) || !isfinite(q->scale))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "the scale of %s is %g; it must be finite and positive", what,
                        (double)q->scale);
    q->zp = z ? q_get(dt, z->data, 0) : 0;
    q_range(dt, &q->lo, &q->hi);
    return KILN_OK;
}

/* onnxruntime's MlasQuantizeLinear: sat(rne(v / scale) + zp), v / scale clamped to
 * [lo - zp, hi - zp] first (NaN to lo). */
static inline int32_t qms_quant(float v, const qms_q *q) { return q_saturate(v / q->scale, (float)q->zp, q->lo, q->hi); }

/* Byte b of a tensor of type dt as its integer value. */
static inline int32_t qms_byte(int32_t dt, uint32_t b) { return dt == KILN_DTYPE_INT8 ? (int32_t)(int8_t)(uint8_t)b : (int32_t)b; }

/* y[i] = table[x[i]] over bytes (u8 or s8 alike). */
static inline void qms_lut_apply(const uint8_t *table, const uint8_t *x, uint8_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = table[x[i]];
}

/* table[b] = quantize_y(f(dequantize_x(b))) for every byte b: dequantize as onnxruntime does,
 * x_scale * (x - x_zp) in float; f NULL is the identity (requantization). */
typedef void (*qms_fn)(const float *in, float *out, size_t n, const void *p);
static inline void qms_lut_build(int32_t dt, const qms_q *x, const qms_q *y, qms_fn f, const void *p, uint8_t *table) {
    float in[256], out[256];
    for (uint32_t b = 0; b < 256; b++) in[b] = x->scale * (float)(qms_byte(dt, b) - x->zp);
    if (f) f(in, out, 256, p);
    else
        for (uint32_t b = 0; b < 256; b++) out[b] = in[b];
    for (uint32_t b = 0; b < 256; b++) table[b] = (uint8_t)qms_quant(out[b], y);
}

/* A factory's status after cpu_kernel_new: on failure the half-made kernel is released. */
static inline kiln_status qms_created(cpu_kernel **out, kiln_status s) {
    if (s != KILN_OK && *out) {
        (*out)->abi.release(&(*out)->abi);
        *out = NULL;
    }
    return s;
}

#endif
