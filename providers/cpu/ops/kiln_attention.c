/* SPDX-License-Identifier: MIT */
/* kiln.Attention (float32; docs/kiln-ops.md): per batch b and head h,
 * Yh = Softmax(scale · Qh · Khᵀ + AttnBias[b, h]) · Vh, with Q [B, S, N·D], K and V [B, Skv, N·D]
 * read in place (head h is columns h·D .. h·D + D - 1) and Y [B, S, N·D]. One task per (b, h)
 * on the intra-op pool, each running two GEMMs on its head with the packed single-threaded
 * macro-kernel (kernels/f32-gemm): Q·scale packed as A and Kᵀ as B, then the scores packed as A
 * with V's rows read in place, in pack buffers of its own task. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/f32-vmath/f32-vmath.h"
#include "kernels/config/gemm-config.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "providers/cpu/cpu_op.h"

typedef struct attn_kernel {
    cpu_kernel base;
    int64_t heads;
    float scale;
    int has_scale;
} attn_kernel;

typedef struct attn_job {
    const float *q, *k, *v, *bias;
    float *y, *scores, *pack;
    const kiln_f32_gemm_config *cfg;
    size_t pack_a, pack_floats; /* per task: A panels at pack, B panels at pack + pack_a */
    size_t b, n, s, skv, d, h;
    float scale;
    int64_t bstride[4]; /* strides of the bias broadcast to [B, N, S, Skv]; 0 on broadcast dims */
} attn_job;

static void attn_range(void *arg, size_t begin, size_t end) {
    const attn_job *j = arg;
    for (size_t t = begin; t < end; t++) {
        size_t bi = t / j->n, hi = t % j->n;
        const float *q = j->q + bi * j->s * j->h + hi * j->d;
        const float *k = j->k + bi * j->skv * j->h + hi * j->d;
        const float *v = j->v + bi * j->skv * j->h + hi * j->d;
        float *sc = j->scores + t * j->s * j->skv;
        float *y = j->y + bi * j->s * j->h + hi * j->d;
        const kiln_f32_vmath_ops *sm = kiln_f32_vmath();
        const kiln_f32_gemm_config *cfg = j->cfg;
        float *pa = j->pack + t * j->pack_floats, *pb = pa + j->pack_a;
        size_t mt = (j->s + cfg->mr - 1) / cfg->mr;
        /* scores = (scale · Qh) · Khᵀ: Kh is [Skv, D] with row stride h, so op(B) = Khᵀ is trans */
        kiln_f32_packa(cfg, j->s, j->d, q, j->h, 0, j->scale, 0, mt, pa);
        kiln_f32_packb(cfg, j->d, j->skv, k, j->h, 1, 1.0f, 0, (j->skv + cfg->nr - 1) / cfg->nr, pb);
        kiln_f32_gemm_packed(cfg, j->s, j->skv, j->d, pa, (kiln_f32_bview){pb, 0}, 0, j->s, 0, j->skv, sc, j->skv, 0, NULL);
        for (size_t i = 0; i < j->s; i++) {
            float *row = sc + i * j->skv;
            if (j->bias) {
                const float *br = j->bias + (int64_t)bi * j->bstride[0] + (int64_t)hi * j->bstride[1] + (int64_t)i * j->bstride[2];
                for (size_t c = 0; c < j->skv; c++) row[c] += br[(int64_t)c * j->bstride[3]];
            }
            if (j->skv) sm->softmax(j->skv, row, row); /* kernels/f32-vmath, in place */
        }
        /* Yh = P · Vh: P packed as A, Vh's rows read in place */
        kiln_f32_packa(cfg, j->s, j->skv, sc, j->skv, 0, 1.0f, 0, mt, pa);
        kiln_f32_gemm_packed(cfg, j->s, j->d, j->skv, pa, (kiln_f32_bview){v, j->h}, 0, j->s, 0, j->d, y, j->h, 0, NULL);
    }
}

static kiln_status attn_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const attn_kernel *ak = (const attn_kernel *)base;
    const kiln_value_desc *q = cpu_in(ctx, 0), *k = cpu_in(ctx, 1), *v = cpu_in(ctx, 2), *bias = cpu_in(ctx, 3);
    if (q->rank != 3 || k->rank != 3 || v->rank != 3) return cpu_fail(err, KILN_ERR_SHAPE, "Q, K and V must be [B, S, N*D]");
    size_t b = (size_t)q->dims[0], s = (size_t)q->dims[1], h = (size_t)q->dims[2], skv = (size_t)k->dims[1];
    size_t n = (size_t)ak->heads;
    if (h % n) return cpu_fail(err, KILN_ERR_SHAPE, "the hidden size %zu is not a multiple of num_heads %zu", h, n);
    if ((size_t)k->dims[0] != b || (size_t)v->dims[0] != b || (size_t)k->dims[2] != h || (size_t)v->dims[2] != h ||
        (size_t)v->dims[1] != skv)
        return cpu_fail(err, KILN_ERR_SHAPE, "K and V must be [%zu, Skv, %zu] with the same Skv", b, h);
    attn_job j;
    memset(&j, 0, sizeof(j));
    size_t full[4] = {b, n, s, skv};
    if (bias) {
        if (bias->dtype != KILN_DTYPE_FLOAT || bias->rank > 4) return cpu_fail(err, KILN_ERR_SHAPE, "AttnBias must be float32 of rank 4 or less");
        int64_t stride = 1;
        for (int32_t i = 3, bd = bias->rank - 1; i >= 0; i--, bd--) {
            int64_t dim = bd >= 0 ? bias->dims[bd] : 1;
            if (dim != 1 && (size_t)dim != full[i])
                return cpu_fail(err, KILN_ERR_SHAPE, "AttnBias does not broadcast to [%zu, %zu, %zu, %zu]", b, n, s, skv);
            j.bstride[i] = dim == 1 ? 0 : stride;
            stride *= dim;
        }
        j.bias = bias->data;
    }
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, 3, q->dims, &y, err));
    if (!b || !s || !h) return KILN_OK;
    j.q = q->data, j.k = k->data, j.v = v->data, j.y = y->data;
    j.b = b, j.n = n, j.s = s, j.skv = skv, j.h = h, j.d = h / n;
    j.scale = ak->has_scale ? ak->scale : 1.0f / sqrtf((float)j.d);
    if (skv == 0) {
        memset(y->data, 0, (size_t)y->count * sizeof(float));
        return KILN_OK;
    }
    j.scores = ctx->host->scratch(ctx, b * n * s * skv * sizeof(float));
    if (!j.scores) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the attention scores");
    j.cfg = kiln_f32_gemm_config_get();
    j.pack_a = (kiln_f32_packa_size(j.cfg, s, j.d > skv ? j.d : skv) + 15) / 16 * 16;
    j.pack_floats = j.pack_a + (kiln_f32_packb_size(j.cfg, j.d, skv) + 15) / 16 * 16;
    j.pack = ctx->host->scratch(ctx, b * n * j.pack_floats * sizeof(float) + 64);
    if (!j.pack) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the attention's packed operands");
    j.pack = (float *)(((uintptr_t)j.pack + 63) & ~(uintptr_t)63);
    cpu_parallel_for(ctx, b * n, 1, attn_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_kiln_attention(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    for (uint32_t i = 0; i < cpu_input_count(n) && i < 4; i++) {
        int32_t dt = cpu_input_dtype(n, i);
        if (dt && dt != KILN_DTYPE_FLOAT)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.Attention is implemented for float32 only, input %u is %s", i, cpu_dtype_name(dt));
    }
    int64_t heads = cpu_attr_int(n, "num_heads", 0);
    if (heads < 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "num_heads must be given and positive");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(attn_kernel), attn_compute, out, err));
    attn_kernel *k = (attn_kernel *)*out;
    k->heads = heads;
    k->has_scale = cpu_has_attr(n, "scale");
    k->scale = cpu_attr_float(n, "scale", 1.0f);
    return KILN_OK;
}
