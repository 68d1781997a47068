/* SPDX-License-Identifier: MIT */
/* RotaryEmbedding: rotates the first rotary_embedding_dim values of every head by the cached
 * cos/sin of its position, in halves or interleaved pairs, for 3-D or 4-D input; float16 and
 * bfloat16 round each product and sum to their type. */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/f32_io.h"

typedef struct rope_kernel {
    cpu_kernel base;
    int interleaved;
    int64_t heads, rot_dim; /* attributes; 0 when absent */
} rope_kernel;

static float rnd(int32_t dt, float v) {
    if (dt == KILN_DTYPE_FLOAT16) return kiln_f16_to_f32(kiln_f32_to_f16(v));
    if (dt == KILN_DTYPE_BFLOAT16) return kiln_bf16_to_f32(kiln_f32_to_bf16(v));
    return v;
}

static kiln_status rope_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const rope_kernel *k = (const rope_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *cc = cpu_in(ctx, 1), *sc = cpu_in(ctx, 2), *pos = cpu_in(ctx, 3);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t batch, seq, heads, hsz, bs, hs, ss; /* strides in elements */
    if (x->rank == 4) {
        batch = x->dims[0], heads = x->dims[1], seq = x->dims[2], hsz = x->dims[3];
        bs = heads * seq * hsz, hs = seq * hsz, ss = hsz;
    } else if (x->rank == 3) {
        if (k->heads <= 0) return cpu_fail(err, KILN_ERR_SHAPE, "3-D input needs a positive num_heads");
        if (x->dims[2] % k->heads) return cpu_fail(err, KILN_ERR_SHAPE, "hidden size is not a multiple of num_heads");
        batch = x->dims[0], seq = x->dims[1], heads = k->heads, hsz = x->dims[2] / k->heads;
        bs = seq * x->dims[2], hs = hsz, ss = x->dims[2];
    } else {
        return cpu_fail(err, KILN_ERR_SHAPE, "X must be 3-D or 4-D");
    }
    int64_t rd = k->rot_dim ? k->rot_dim : hsz, half = rd / 2;
    if (rd > hsz || rd % 2) return cpu_fail(err, KILN_ERR_SHAPE, "rotary_embedding_dim %lld must be even and at most the head size %lld", (long long)rd, (long long)hsz);
    if (cc->rank != sc->rank) return cpu_fail(err, KILN_ERR_SHAPE, "cos_cache and sin_cache differ in rank");
    for (int32_t i = 0; i < cc->rank; i++)
        if (cc->dims[i] != sc->dims[i]) return cpu_fail(err, KILN_ERR_SHAPE, "cos_cache and sin_cache differ in shape");
    int64_t max_pos = 0;
    if (pos) {
        if (pos->rank != 2 || pos->dims[0] != batch || pos->dims[1] != seq)
            return cpu_fail(err, KILN_ERR_SHAPE, "position_ids must be [batch, sequence]");
        if (cc->rank != 2 || cc->dims[1] != half) return cpu_fail(err, KILN_ERR_SHAPE, "caches must be [max_position, %lld]", (long long)half);
        max_pos = cc->dims[0];
    } else if (cc->rank != 3 || cc->dims[0] != batch || cc->dims[1] != seq || cc->dims[2] != half) {
        return cpu_fail(err, KILN_ERR_SHAPE, "without position_ids the caches must be [batch, sequence, %lld]", (long long)half);
    }
    const float *xd = f32_view(ctx, x), *cd = f32_view(ctx, cc), *sd = f32_view(ctx, sc);
    float *yd = f32_out(ctx, y);
    if (!xd || !cd || !sd || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for RotaryEmbedding");
    int32_t dt = x->dtype;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t s = 0; s < seq; s++) {
            int64_t row = b * seq + s;
            if (pos) {
                int64_t p = ((const int64_t *)pos->data)[row];
                if (p < 0 || p >= max_pos)
                    return cpu_fail(err, KILN_ERR_SHAPE, "position id %lld is outside [0, %lld)", (long long)p, (long long)max_pos);
                row = p;
            }
            const float *cr = cd + row * half, *sr = sd + row * half;
            for (int64_t h = 0; h < heads; h++) {
                const float *xi = xd + b * bs + h * hs + s * ss;
                float *yo = yd + b * bs + h * hs + s * ss;
                for (int64_t i = 0; i < half; i++) {
                    int64_t i1 = k->interleaved ? 2 * i : i, i2 = k->interleaved ? 2 * i + 1 : i + half;
                    float x1 = xi[i1], x2 = xi[i2], cv = cr[i], sv = sr[i];
                    float re = rnd(dt, rnd(dt, cv * x1) - rnd(dt, sv * x2));
                    float im = rnd(dt, rnd(dt, sv * x1) + rnd(dt, cv * x2));
                    yo[i1] = re, yo[i2] = im;
                }
                if (yo != xi) memcpy(yo + rd, xi + rd, (size_t)(hsz - rd) * sizeof(float));
            }
        }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_rotary_embedding(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if ((dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16) || cpu_input_dtype(n, 1) != dt ||
        cpu_input_dtype(n, 2) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "RotaryEmbedding is not implemented for %s", cpu_dtype_name(dt));
    if (cpu_input_dtype(n, 3) && cpu_input_dtype(n, 3) != KILN_DTYPE_INT64)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "position_ids must be int64");
    int64_t rd = cpu_attr_int(n, "rotary_embedding_dim", 0), heads = cpu_attr_int(n, "num_heads", 0);
    if (rd < 0 || heads < 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "rotary_embedding_dim and num_heads must not be negative");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(rope_kernel), rope_compute, out, err));
    rope_kernel *k = (rope_kernel *)*out;
    k->interleaved = cpu_attr_int(n, "interleaved", 0) != 0;
    k->heads = heads;
    k->rot_dim = rd;
    return KILN_OK;
}
