/* SPDX-License-Identifier: MIT */
/* Attention (opsets 23-25: 3-D/4-D, GQA, past/present KV, masks, offset-aware causal, windows,
 * nonpad_kv_seqlen, softcap, softmax_precision, qk_matmul_output modes) and FlexAttention; two
 * GEMMs per (batch, head) around a row softmax; 16-bit inputs round every step to their type. */
#include <math.h>
#include <string.h>

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"

typedef struct attn_kernel {
    cpu_kernel base;
    int64_t q_heads, kv_heads; /* attributes, 0 when absent */
    int has_scale, causal, mode;
    float scale, softcap;
    int64_t left, right;        /* window sizes, -1 unbounded */
    int32_t softmax_precision;  /* dtype, 0 when absent: the input type */
} attn_kernel;

/* Strides of a 3-D [B, S, H*D] or 4-D [B, H, S, D] tensor, in elements. */
typedef struct heads_view {
    int64_t heads, seq, dim;
    int64_t bs, hs, ss;
} heads_view;

static heads_view view_of(const kiln_value_desc *t, int64_t heads) {
    heads_view v;
    if (t->rank == 3) {
        v.heads = heads, v.seq = t->dims[1], v.dim = heads > 0 ? t->dims[2] / heads : 0;
        v.bs = t->dims[1] * t->dims[2], v.hs = v.dim, v.ss = t->dims[2];
    } else {
        v.heads = t->dims[1], v.seq = t->dims[2], v.dim = t->dims[3];
        v.bs = v.heads * v.seq * v.dim, v.hs = v.seq * v.dim, v.ss = v.dim;
    }
    return v;
}

/* Copies past (4-D, may be NULL) then the new keys or values into cat [B][H][total][dim]. */
static void concat_kv(const float *past, int64_t plen, const float *cur, const heads_view *cv, int64_t batch, float *cat) {
    int64_t total = plen + cv->seq, dim = cv->dim;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < cv->heads; h++) {
            float *dst = cat + ((b * cv->heads + h) * total) * dim;
            if (plen) memcpy(dst, past + ((b * cv->heads + h) * plen) * dim, (size_t)(plen * dim) * sizeof(float));
            for (int64_t s = 0; s < cv->seq; s++)
                memcpy(dst + (plen + s) * dim, cur + b * cv->bs + h * cv->hs + s * cv->ss, (size_t)dim * sizeof(float));
        }
}

/* v rounded to float16 or bfloat16 (p), unchanged for 0 or a wider type. */
static float round_prec(int32_t p, float v) {
    if (p == KILN_DTYPE_FLOAT16) return kiln_f16_to_f32(kiln_f32_to_f16(v));
    if (p == KILN_DTYPE_BFLOAT16) return kiln_bf16_to_f32(kiln_f32_to_bf16(v));
    return v;
}

static kiln_status attn_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const attn_kernel *k = (const attn_kernel *)base;
    const kiln_value_desc *q = cpu_in(ctx, 0), *kk = cpu_in(ctx, 1), *v = cpu_in(ctx, 2), *mask = cpu_in(ctx, 3),
                          *pk = cpu_in(ctx, 4), *pv = cpu_in(ctx, 5), *nonpad = cpu_in(ctx, 6);
    kiln_value_desc *y = ctx->outputs[0];
    kiln_value_desc *present_k = ctx->n_outputs > 1 ? ctx->outputs[1] : NULL, *present_v = ctx->n_outputs > 2 ? ctx->outputs[2] : NULL;
    kiln_value_desc *qk_out = ctx->n_outputs > 3 ? ctx->outputs[3] : NULL;
    int32_t r = q->rank;
    if ((r != 3 && r != 4) || kk->rank != r || v->rank != r) return cpu_fail(err, KILN_ERR_SHAPE, "Q, K and V must all be 3-D or all 4-D");
    if (r == 3 && (k->q_heads <= 0 || k->kv_heads <= 0)) return cpu_fail(err, KILN_ERR_SHAPE, "3-D inputs need q_num_heads and kv_num_heads");
    heads_view qv = view_of(q, k->q_heads), kv = view_of(kk, k->kv_heads), vv = view_of(v, k->kv_heads);
    int64_t batch = q->dims[0], hq = qv.heads, hkv = kv.heads, sq = qv.seq, d = qv.dim, dv = vv.dim;
    if (kk->dims[0] != batch || v->dims[0] != batch || kv.dim != d || vv.heads != hkv || vv.seq != kv.seq)
        return cpu_fail(err, KILN_ERR_SHAPE, "Q, K and V shapes do not agree");
    if (r == 3 && (q->dims[2] % k->q_heads || kk->dims[2] % k->kv_heads || v->dims[2] % k->kv_heads))
        return cpu_fail(err, KILN_ERR_SHAPE, "hidden sizes are not multiples of the head counts");
    if (hkv <= 0 || hq % hkv) return cpu_fail(err, KILN_ERR_SHAPE, "q heads (%lld) are not a multiple of kv heads (%lld)", (long long)hq, (long long)hkv);
    if (!pk != !pv) return cpu_fail(err, KILN_ERR_SHAPE, "past_key and past_value must be given together");
    int64_t plen = 0;
    if (pk) {
        if (pk->rank != 4 || pv->rank != 4 || pk->dims[0] != batch || pk->dims[1] != hkv || pk->dims[3] != d || pv->dims[0] != batch ||
            pv->dims[1] != hkv || pv->dims[2] != pk->dims[2] || pv->dims[3] != dv)
            return cpu_fail(err, KILN_ERR_SHAPE, "past_key / past_value shapes do not match K and V");
        plen = pk->dims[2];
    }
    int64_t total = plen + kv.seq;
    const int64_t *np = NULL;
    if (nonpad) {
        if (pk) return cpu_fail(err, KILN_ERR_SHAPE, "nonpad_kv_seqlen cannot be used with past_key / past_value");
        if (nonpad->rank != 1 || nonpad->dims[0] != batch) return cpu_fail(err, KILN_ERR_SHAPE, "nonpad_kv_seqlen must be [batch]");
        np = nonpad->data;
        for (int64_t b = 0; b < batch; b++)
            if (np[b] < 0 || np[b] > total) return cpu_fail(err, KILN_ERR_SHAPE, "nonpad_kv_seqlen[%lld] = %lld is out of range", (long long)b, (long long)np[b]);
    }
    /* Mask broadcast to [B, Hq, Sq, mlen] with mlen <= total; positions past mlen are disallowed. */
    int64_t mdims[4] = {1, 1, 1, 1}, mstr[4] = {0, 0, 0, 0}, mlen = total;
    if (mask) {
        if (mask->rank < 1 || mask->rank > 4) return cpu_fail(err, KILN_ERR_SHAPE, "attn_mask must have rank 1 to 4");
        for (int32_t i = 0; i < mask->rank; i++) mdims[4 - mask->rank + i] = mask->dims[i];
        int64_t want[4] = {batch, hq, sq, total}, s = 1;
        mlen = mdims[3];
        if (mlen > total) return cpu_fail(err, KILN_ERR_SHAPE, "attn_mask is longer (%lld) than the keys (%lld)", (long long)mlen, (long long)total);
        for (int32_t i = 3; i >= 0; i--) {
            if (i < 3 && mdims[i] != 1 && mdims[i] != want[i]) return cpu_fail(err, KILN_ERR_SHAPE, "attn_mask does not broadcast to the scores");
            mstr[i] = mdims[i] == 1 && i < 3 ? 0 : s;
            s *= mdims[i];
        }
    }
    if (y->count == 0 && !(present_k && present_k->count) && !(present_v && present_v->count)) return KILN_OK;

    const float *qd = f32_view(ctx, q), *kd = f32_view(ctx, kk), *vd = f32_view(ctx, v);
    const float *pkd = pk ? f32_view(ctx, pk) : NULL, *pvd = pv ? f32_view(ctx, pv) : NULL;
    float *kc = ctx->host->scratch(ctx, (size_t)(batch * hkv * total * d) * sizeof(float) + 1);
    float *vc = ctx->host->scratch(ctx, (size_t)(batch * hkv * total * dv) * sizeof(float) + 1);
    float *scores = ctx->host->scratch(ctx, (size_t)(sq * total) * sizeof(float) + 1);
    float *bias = ctx->host->scratch(ctx, (size_t)total * sizeof(float) + 1);
    double *row = ctx->host->scratch(ctx, (size_t)total * sizeof(double) + 1);
    float *mk = NULL;
    if (mask && mask->count) {
        mk = ctx->host->scratch(ctx, (size_t)mask->count * sizeof(float));
        if (mk) {
            for (uint64_t i = 0; i < mask->count; i++) {
                float m;
                switch (mask->dtype) {
                case KILN_DTYPE_BOOL: m = ((const uint8_t *)mask->data)[i] ? 0.0f : -INFINITY; break;
                case KILN_DTYPE_FLOAT: m = ((const float *)mask->data)[i]; break;
                case KILN_DTYPE_DOUBLE: m = (float)((const double *)mask->data)[i]; break;
                case KILN_DTYPE_FLOAT16: m = kiln_f16_to_f32(((const uint16_t *)mask->data)[i]); break;
                case KILN_DTYPE_BFLOAT16: m = kiln_bf16_to_f32(((const uint16_t *)mask->data)[i]); break;
                case KILN_DTYPE_UINT8: m = ((const uint8_t *)mask->data)[i]; break;
                case KILN_DTYPE_INT8: m = ((const int8_t *)mask->data)[i]; break;
                case KILN_DTYPE_UINT16: m = ((const uint16_t *)mask->data)[i]; break;
                case KILN_DTYPE_INT16: m = ((const int16_t *)mask->data)[i]; break;
                case KILN_DTYPE_INT32: m = (float)((const int32_t *)mask->data)[i]; break;
                case KILN_DTYPE_UINT32: m = (float)((const uint32_t *)mask->data)[i]; break;
                case KILN_DTYPE_INT64: m = (float)((const int64_t *)mask->data)[i]; break;
                default: m = (float)((const uint64_t *)mask->data)[i]; break;
                }
                mk[i] = m;
            }
        }
    }
    float *yd = f32_out(ctx, y), *qo = qk_out ? f32_out(ctx, qk_out) : NULL;
    if (!qd || !kd || !vd || (pk && (!pkd || !pvd)) || !kc || !vc || !scores || !bias || !row || (mask && mask->count && !mk) || !yd ||
        (qk_out && !qo))
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Attention buffers");
    concat_kv(pkd, plen, kd, &kv, batch, kc);
    concat_kv(pvd, plen, vd, &vv, batch, vc);
    if (present_k) f32_store(present_k->dtype, kc, present_k->data, (size_t)present_k->count);
    if (present_v) f32_store(present_v->dtype, vc, present_v->data, (size_t)present_v->count);

    /* float16 / bfloat16 inputs: every step rounds to the input type, as the spec's step-by-step
     * definition does (matmul sums in float32). Q and K are each scaled by sqrt(scale). */
    int32_t tp = q->dtype == KILN_DTYPE_FLOAT16 || q->dtype == KILN_DTYPE_BFLOAT16 ? q->dtype : 0;
    double scale = k->has_scale ? (double)k->scale : 1.0 / sqrt((double)d);
    float sqs = round_prec(tp, (float)sqrt(scale)), alpha = (float)scale;
    if (tp) {
        float *qs = ctx->host->scratch(ctx, (size_t)q->count * sizeof(float) + 1);
        if (!qs) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Attention buffers");
        for (uint64_t i = 0; i < q->count; i++) qs[i] = round_prec(tp, qd[i] * sqs);
        for (int64_t i = 0; i < batch * hkv * total * d; i++) kc[i] = round_prec(tp, kc[i] * sqs);
        qd = qs, alpha = 1.0f;
    }
    int32_t sp = k->softmax_precision ? k->softmax_precision : tp;
    float cap = round_prec(tp, k->softcap);
    int64_t group = hq / hkv;
    int64_t ystride_s = r == 3 ? hq * dv : dv;
    for (int64_t b = 0; b < batch; b++) {
        /* keys before the query block: the causal and window frontiers are offset by it */
        int64_t offset = pk ? plen : np ? np[b] - sq : 0;
        for (int64_t h = 0; h < hq; h++) {
            const float *qb = qd + b * qv.bs + h * qv.hs;
            const float *kb = kc + ((b * hkv + h / group) * total) * d, *vb = vc + ((b * hkv + h / group) * total) * dv;
            kiln_cpu_f32_gemm(ctx, 0, 1, (size_t)sq, (size_t)total, (size_t)d, alpha, qb, (size_t)qv.ss, kb, (size_t)d, 0.0f, scores,
                          (size_t)total);
            for (int64_t i = 0; i < sq; i++) {
                float *s = scores + i * total;
                int all_masked = 1;
                for (int64_t j = 0; j < total; j++) {
                    float bj = 0.0f;
                    if (mask) bj = j < mlen ? mk[b * mstr[0] + h * mstr[1] + i * mstr[2] + j * mstr[3]] : -INFINITY;
                    int64_t p = offset + i; /* absolute position of the query */
                    if ((k->causal && j > p) || (k->left >= 0 && p - j > k->left) || (k->right >= 0 && j - p > k->right) ||
                        (np && j >= np[b]))
                        bj += -INFINITY;
                    bias[j] = bj;
                    if (!(isinf(bj) && bj < 0)) all_masked = 0;
                    s[j] = round_prec(tp, s[j]);
                }
                float *qrow = qo ? qo + ((b * hq + h) * sq + i) * total : NULL;
                if (qrow && k->mode == 0) memcpy(qrow, s, (size_t)total * sizeof(float));
                if (k->softcap > 0.0f)
                    for (int64_t j = 0; j < total; j++)
                        s[j] = round_prec(tp, round_prec(tp, tanhf(round_prec(tp, s[j] / cap))) * cap);
                if (qrow && k->mode == 1) memcpy(qrow, s, (size_t)total * sizeof(float));
                for (int64_t j = 0; j < total; j++) s[j] = round_prec(tp, s[j] + bias[j]);
                if (qrow && k->mode == 2) memcpy(qrow, s, (size_t)total * sizeof(float));
                if (all_masked) {
                    memset(s, 0, (size_t)total * sizeof(float));
                } else if (sp == KILN_DTYPE_DOUBLE) {
                    double mx = -INFINITY, sum = 0.0;
                    for (int64_t j = 0; j < total; j++) mx = s[j] > mx ? s[j] : mx;
                    if (isinf(mx) && mx < 0) mx = 0.0;
                    for (int64_t j = 0; j < total; j++) sum += row[j] = exp((double)s[j] - mx);
                    for (int64_t j = 0; j < total; j++) s[j] = round_prec(tp, (float)(row[j] / sum));
                } else {
                    /* in float32, rounding each step to a 16-bit softmax precision; bfloat16 sums
                     * round every addition, float16 sums accumulate in float32 */
                    float mx = -INFINITY, sum = 0.0f;
                    for (int64_t j = 0; j < total; j++) {
                        s[j] = round_prec(sp, s[j]);
                        mx = s[j] > mx ? s[j] : mx;
                    }
                    if (isinf(mx) && mx < 0) mx = 0.0f;
                    for (int64_t j = 0; j < total; j++) {
                        s[j] = round_prec(sp, expf(round_prec(sp, s[j] - mx)));
                        sum = sp == KILN_DTYPE_BFLOAT16 ? round_prec(sp, sum + s[j]) : sum + s[j];
                    }
                    sum = round_prec(sp, sum);
                    if (sum == 0.0f) sum = 1.0f;
                    for (int64_t j = 0; j < total; j++) s[j] = round_prec(tp, round_prec(sp, s[j] / sum));
                }
                if (qrow && k->mode == 3) memcpy(qrow, s, (size_t)total * sizeof(float));
            }
            float *yb = yd + b * (r == 3 ? sq * hq * dv : hq * sq * dv) + h * (r == 3 ? dv : sq * dv);
            kiln_cpu_f32_gemm(ctx, 0, 0, (size_t)sq, (size_t)dv, (size_t)total, 1.0f, scores, (size_t)total, vb, (size_t)dv, 0.0f, yb,
                          (size_t)ystride_s);
        }
    }
    f32_commit(y, yd);
    if (qk_out) f32_commit(qk_out, qo);
    return KILN_OK;
}

kiln_status kiln_cpu_attention(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t qt = cpu_input_dtype(n, 0), vt = cpu_input_dtype(n, 2);
    if (!f32_io_supported(qt) || cpu_input_dtype(n, 1) != qt || !f32_io_supported(vt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Attention is not implemented for %s", cpu_dtype_name(qt));
    int32_t mt = cpu_input_dtype(n, 3);
    if (mt == KILN_DTYPE_STRING || mt == KILN_DTYPE_COMPLEX64 || mt == KILN_DTYPE_COMPLEX128 || (mt && cpu_dtype_size(mt) == 0) ||
        (mt >= KILN_DTYPE_FLOAT8E4M3FN && mt <= KILN_DTYPE_FLOAT8E5M2FNUZ) || mt == KILN_DTYPE_FLOAT8E8M0)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Attention is not implemented for attn_mask of type %s", cpu_dtype_name(mt));
    if (cpu_input_dtype(n, 6) && cpu_input_dtype(n, 6) != KILN_DTYPE_INT64)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "nonpad_kv_seqlen must be int64");
    int64_t mode = cpu_attr_int(n, "qk_matmul_output_mode", 0);
    if (mode < 0 || mode > 3) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "qk_matmul_output_mode must be 0 to 3");
    int64_t sp = cpu_attr_int(n, "softmax_precision", 0);
    if (sp && sp != KILN_DTYPE_FLOAT && sp != KILN_DTYPE_FLOAT16 && sp != KILN_DTYPE_DOUBLE && sp != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "softmax_precision %lld is not FLOAT, FLOAT16, DOUBLE or BFLOAT16", (long long)sp);
    int64_t left = cpu_attr_int(n, "left_window_size", -1), right = cpu_attr_int(n, "right_window_size", -1);
    if (left < -1 || right < -1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "window sizes must be -1 or nonnegative");
    float softcap = cpu_attr_float(n, "softcap", 0.0f);
    if (softcap < 0.0f || softcap != softcap) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "softcap must not be negative");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(attn_kernel), attn_compute, out, err));
    attn_kernel *k = (attn_kernel *)*out;
    k->q_heads = cpu_attr_int(n, "q_num_heads", 0);
    k->kv_heads = cpu_attr_int(n, "kv_num_heads", 0);
    k->has_scale = cpu_has_attr(n, "scale");
    k->scale = cpu_attr_float(n, "scale", 1.0f);
    k->causal = cpu_attr_int(n, "is_causal", 0) != 0;
    k->mode = (int)mode;
    k->softcap = softcap;
    k->left = left, k->right = right;
    /* Without softmax_precision the softmax runs at the input precision. */
    k->softmax_precision = (int32_t)sp;
    return KILN_OK;
}

/* ---- FlexAttention (ai.onnx.preview) ---- */

typedef struct flex_kernel {
    cpu_kernel base;
    int has_scale, has_score_mod, has_prob_mod;
    float scale;
    int32_t cdt; /* dtype of scores and probabilities: float or double */
} flex_kernel;

/* Runs modifier subgraph `name` on buf ([B, Hq, L, S] of dtype cdt) and copies its output back. */
static kiln_status run_mod(kiln_kernel_ctx *ctx, const char *name, int32_t cdt, const int64_t *dims, double *buf, float *fbuf,
                           kiln_error *err) {
    kiln_value_desc in;
    memset(&in, 0, sizeof(in));
    in.hdr.struct_size = sizeof(in);
    in.hdr.abi_version = KILN_ABI_VERSION;
    in.kind = KILN_VALUE_TENSOR;
    in.dtype = cdt;
    in.rank = 4;
    in.dims = dims;
    in.count = (uint64_t)(dims[0] * dims[1] * dims[2] * dims[3]);
    in.data = cdt == KILN_DTYPE_DOUBLE ? (void *)buf : (void *)fbuf;
    const kiln_value_desc *ins[1] = {&in};
    const kiln_value_desc *const *outs;
    uint32_t n_out;
    KILN_CPU_TRY((kiln_status)ctx->host->run_subgraph(ctx, name, 0, ins, 1, &outs, &n_out, err));
    const kiln_value_desc *o = n_out == 1 ? outs[0] : NULL;
    if (!o || o->kind != KILN_VALUE_TENSOR || o->dtype != cdt || o->rank != 4 || memcmp(o->dims, dims, 4 * sizeof(int64_t)) != 0 ||
        o->mem_kind != 0)
        return cpu_fail(err, KILN_ERR_SHAPE, "'%s' must return one host tensor of the shape and type it was given", name);
    memcpy(in.data, o->data, (size_t)in.count * (cdt == KILN_DTYPE_DOUBLE ? sizeof(double) : sizeof(float)));
    return KILN_OK;
}

static kiln_status flex_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const flex_kernel *k = (const flex_kernel *)base;
    const kiln_value_desc *q = cpu_in(ctx, 0), *kk = cpu_in(ctx, 1), *v = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    if (q->rank != 4 || kk->rank != 4 || v->rank != 4) return cpu_fail(err, KILN_ERR_SHAPE, "Q, K and V must be 4-D");
    int64_t B = q->dims[0], hq = q->dims[1], L = q->dims[2], E = q->dims[3], hkv = kk->dims[1], S = kk->dims[2], ev = v->dims[3];
    if (kk->dims[0] != B || v->dims[0] != B || kk->dims[3] != E || v->dims[1] != hkv || v->dims[2] != S)
        return cpu_fail(err, KILN_ERR_SHAPE, "Q, K and V shapes do not agree");
    if (hkv <= 0 || hq % hkv) return cpu_fail(err, KILN_ERR_SHAPE, "q heads (%lld) are not a multiple of kv heads (%lld)", (long long)hq, (long long)hkv);
    int64_t group = hq / hkv, n = B * hq * L * S;
    int dbl = q->dtype == KILN_DTYPE_DOUBLE;
    int32_t tp = q->dtype == KILN_DTYPE_FLOAT16 || q->dtype == KILN_DTYPE_BFLOAT16 ? q->dtype : 0;
    double *sc = ctx->host->scratch(ctx, (size_t)n * sizeof(double) + 1);
    float *fs = ctx->host->scratch(ctx, (size_t)n * sizeof(float) + 1);
    const float *qf = dbl ? NULL : f32_view(ctx, q), *kf = dbl ? NULL : f32_view(ctx, kk), *vf = dbl ? NULL : f32_view(ctx, v);
    float *qs = dbl ? NULL : ctx->host->scratch(ctx, (size_t)q->count * sizeof(float) + 1);
    float *ks = dbl ? NULL : ctx->host->scratch(ctx, (size_t)kk->count * sizeof(float) + 1);
    if (!sc || !fs || (!dbl && (!qf || !kf || !vf || !qs || !ks))) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for FlexAttention");
    double scale = k->has_scale ? (double)k->scale : 1.0 / sqrt((double)E);
    /* scores = (Q * sqrt(scale)) · (K * sqrt(scale))^T, the factor rounded to the input type */
    float sqs = round_prec(tp, sqrtf((float)scale));
    if (dbl) {
        const double *qd = q->data, *kd = kk->data;
        double sq = sqrt((double)(float)scale);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < hq; h++)
                for (int64_t i = 0; i < L; i++)
                    for (int64_t j = 0; j < S; j++) {
                        const double *qr = qd + ((b * hq + h) * L + i) * E, *kr = kd + ((b * hkv + h / group) * S + j) * E;
                        double acc = 0.0;
                        for (int64_t e = 0; e < E; e++) acc += (qr[e] * sq) * (kr[e] * sq);
                        sc[((b * hq + h) * L + i) * S + j] = acc;
                    }
    } else {
        for (uint64_t i = 0; i < q->count; i++) qs[i] = round_prec(tp, qf[i] * sqs);
        for (uint64_t i = 0; i < kk->count; i++) ks[i] = round_prec(tp, kf[i] * sqs);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < hq; h++) {
                float *o = fs + ((b * hq + h) * L) * S;
                kiln_cpu_f32_gemm(ctx, 0, 1, (size_t)L, (size_t)S, (size_t)E, 1.0f, qs + ((b * hq + h) * L) * E, (size_t)E,
                              ks + ((b * hkv + h / group) * S) * E, (size_t)E, 0.0f, o, (size_t)S);
            }
        for (int64_t i = 0; i < n; i++) sc[i] = round_prec(tp, fs[i]);
    }
    int64_t dims[4] = {B, hq, L, S};
    int cf = k->cdt == KILN_DTYPE_FLOAT;
    if (cf)
        for (int64_t i = 0; i < n; i++) fs[i] = (float)sc[i];
    if (k->has_score_mod) {
        KILN_CPU_TRY(run_mod(ctx, "score_mod", k->cdt, dims, sc, fs, err));
    }
    /* softmax over keys, in the compute precision */
    for (int64_t r = 0; r < B * hq * L; r++) {
        if (cf) {
            float *row = fs + r * S, mx = -INFINITY, sum = 0.0f;
            for (int64_t j = 0; j < S; j++) mx = row[j] > mx ? row[j] : mx;
            for (int64_t j = 0; j < S; j++) sum += row[j] = expf(row[j] - mx);
            for (int64_t j = 0; j < S; j++) row[j] /= sum;
        } else {
            double *row = sc + r * S, mx = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < S; j++) mx = row[j] > mx ? row[j] : mx;
            for (int64_t j = 0; j < S; j++) sum += row[j] = exp(row[j] - mx);
            for (int64_t j = 0; j < S; j++) row[j] /= sum;
        }
    }
    if (k->has_prob_mod) {
        KILN_CPU_TRY(run_mod(ctx, "prob_mod", k->cdt, dims, sc, fs, err));
    }
    /* Y = P · V */
    if (cf && !dbl) {
        float *yd = f32_out(ctx, y);
        if (!yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for FlexAttention");
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < hq; h++)
                kiln_cpu_f32_gemm(ctx, 0, 0, (size_t)L, (size_t)ev, (size_t)S, 1.0f, fs + ((b * hq + h) * L) * S, (size_t)S,
                              vf + ((b * hkv + h / group) * S) * ev, (size_t)ev, 0.0f, yd + ((b * hq + h) * L) * ev, (size_t)ev);
        f32_commit(y, yd);
        return KILN_OK;
    }
    double *yd = ctx->host->scratch(ctx, (size_t)y->count * sizeof(double) + 1);
    if (!yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for FlexAttention");
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < hq; h++)
            for (int64_t i = 0; i < L; i++)
                for (int64_t e = 0; e < ev; e++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < S; j++) {
                        size_t pi = (size_t)(((b * hq + h) * L + i) * S + j), vi = (size_t)(((b * hkv + h / group) * S + j) * ev + e);
                        double p = cf ? (double)fs[pi] : sc[pi];
                        double vv = dbl ? ((const double *)v->data)[vi] : (double)vf[vi];
                        acc += p * vv;
                    }
                    yd[((b * hq + h) * L + i) * ev + e] = acc;
                }
    for (uint64_t i = 0; i < y->count; i++) {
        if (y->dtype == KILN_DTYPE_DOUBLE) ((double *)y->data)[i] = yd[i];
        else {
            float f = (float)yd[i];
            f32_store(y->dtype, &f, (char *)y->data + i * cpu_dtype_size(y->dtype), 1);
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_flex_attention(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t qt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(qt) || cpu_input_dtype(n, 1) != qt || cpu_input_dtype(n, 2) != qt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "FlexAttention is not implemented for %s", cpu_dtype_name(qt));
    int64_t sp = cpu_attr_int(n, "softmax_precision", 0);
    int32_t cdt = sp ? (int32_t)sp : qt == KILN_DTYPE_DOUBLE ? KILN_DTYPE_DOUBLE : KILN_DTYPE_FLOAT;
    if (cdt != KILN_DTYPE_FLOAT && cdt != KILN_DTYPE_DOUBLE)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "FlexAttention with softmax_precision %s is not implemented", cpu_dtype_name(cdt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(flex_kernel), flex_compute, out, err));
    flex_kernel *k = (flex_kernel *)*out;
    k->has_scale = cpu_has_attr(n, "scale");
    k->scale = cpu_attr_float(n, "scale", 1.0f);
    k->has_score_mod = cpu_has_attr(n, "score_mod");
    k->has_prob_mod = cpu_has_attr(n, "prob_mod");
    k->cdt = cdt;
    return KILN_OK;
}
