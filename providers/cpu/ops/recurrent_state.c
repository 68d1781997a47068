/* SPDX-License-Identifier: MIT */
/* Ops carrying state between decoding steps (opset 27): LinearAttention (linear, gated, delta,
 * gated_delta; GQA; per-head or per-key decay) and CausalConvWithState (depthwise causal 1-D conv
 * with past_state, optional SiLU), computed token by token in float32. */
#include <math.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/f32_io.h"

/* ---- LinearAttention ---- */

enum { RULE_LINEAR, RULE_GATED, RULE_DELTA, RULE_GATED_DELTA };

typedef struct la_kernel {
    cpu_kernel base;
    int rule;
    int64_t q_heads, kv_heads;
    float scale; /* 0: 1/sqrt(d_k) */
} la_kernel;

static kiln_status la_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const la_kernel *k = (const la_kernel *)base;
    const kiln_value_desc *q = cpu_in(ctx, 0), *kk = cpu_in(ctx, 1), *v = cpu_in(ctx, 2), *past = cpu_in(ctx, 3),
                          *decay = cpu_in(ctx, 4), *beta = cpu_in(ctx, 5);
    kiln_value_desc *y = ctx->outputs[0], *present = ctx->n_outputs > 1 ? ctx->outputs[1] : NULL;
    int gating = k->rule == RULE_GATED || k->rule == RULE_GATED_DELTA, delta = k->rule == RULE_DELTA || k->rule == RULE_GATED_DELTA;
    if (gating != !!decay) return cpu_fail(err, KILN_ERR_SHAPE, "decay is %s for this update_rule", gating ? "required" : "not allowed");
    if (delta != !!beta) return cpu_fail(err, KILN_ERR_SHAPE, "beta is %s for this update_rule", delta ? "required" : "not allowed");
    if (q->rank != 3 || kk->rank != 3 || v->rank != 3) return cpu_fail(err, KILN_ERR_SHAPE, "query, key and value must be 3-D");
    int64_t B = q->dims[0], T = q->dims[1], hq = k->q_heads, hkv = k->kv_heads;
    if (q->dims[2] % hq || v->dims[2] % hkv) return cpu_fail(err, KILN_ERR_SHAPE, "last dims are not multiples of the head counts");
    int64_t dk = q->dims[2] / hq, dv = v->dims[2] / hkv, group = hq / hkv;
    if (kk->dims[0] != B || kk->dims[1] != T || kk->dims[2] != hkv * dk || v->dims[0] != B || v->dims[1] != T)
        return cpu_fail(err, KILN_ERR_SHAPE, "query, key and value shapes do not agree");
    int64_t st[4] = {B, hkv, dk, dv};
    if (past && (past->rank != 4 || memcmp(past->dims, st, sizeof(st)) != 0))
        return cpu_fail(err, KILN_ERR_SHAPE, "past_state must be [%lld, %lld, %lld, %lld]", (long long)B, (long long)hkv, (long long)dk, (long long)dv);
    int per_key = 0;
    if (decay) {
        if (decay->rank != 3 || decay->dims[0] != B || decay->dims[1] != T || (decay->dims[2] != hkv && decay->dims[2] != hkv * dk))
            return cpu_fail(err, KILN_ERR_SHAPE, "decay must be [B, T, kv_num_heads] or [B, T, kv_num_heads * d_k]");
        per_key = decay->dims[2] == hkv * dk && dk != 1;
    }
    if (beta && (beta->rank != 3 || beta->dims[0] != B || beta->dims[1] != T || (beta->dims[2] != hkv && beta->dims[2] != 1)))
        return cpu_fail(err, KILN_ERR_SHAPE, "beta must be [B, T, kv_num_heads] or [B, T, 1]");
    const float *qd = f32_view(ctx, q), *kd = f32_view(ctx, kk), *vd = f32_view(ctx, v);
    const float *pd = past ? f32_view(ctx, past) : NULL, *gd = decay ? f32_view(ctx, decay) : NULL, *bd = beta ? f32_view(ctx, beta) : NULL;
    float *yd = f32_out(ctx, y);
    float *state = ctx->host->scratch(ctx, (size_t)(B * hkv * dk * dv) * sizeof(float) + 1);
    float *corr = ctx->host->scratch(ctx, (size_t)dv * sizeof(float) + 1);
    if (!qd || !kd || !vd || (past && !pd) || (decay && !gd) || (beta && !bd) || !yd || !state || !corr)
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for LinearAttention");
    if (pd) memcpy(state, pd, (size_t)(B * hkv * dk * dv) * sizeof(float));
    else memset(state, 0, (size_t)(B * hkv * dk * dv) * sizeof(float) + 1);
    float scale = k->scale != 0.0f ? k->scale : (float)(1.0 / sqrt((double)dk));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < hkv; h++) {
                float *S = state + ((b * hkv + h) * dk) * dv; /* [dk][dv] */
                const float *kt = kd + (b * T + t) * hkv * dk + h * dk, *vt = vd + (b * T + t) * hkv * dv + h * dv;
                if (gating) {
                    const float *g = gd + (b * T + t) * decay->dims[2];
                    for (int64_t i = 0; i < dk; i++) {
                        float e = expf(per_key ? g[h * dk + i] : g[h]);
                        for (int64_t j = 0; j < dv; j++) S[i * dv + j] *= e;
                    }
                }
                const float *upd = vt;
                if (delta) {
                    float bt = bd[(b * T + t) * beta->dims[2] + (beta->dims[2] == 1 ? 0 : h)];
                    for (int64_t j = 0; j < dv; j++) {
                        float r = 0.0f; /* S^T k */
                        for (int64_t i = 0; i < dk; i++) r += S[i * dv + j] * kt[i];
                        corr[j] = bt * (vt[j] - r);
                    }
                    upd = corr;
                }
                for (int64_t i = 0; i < dk; i++)
                    for (int64_t j = 0; j < dv; j++) S[i * dv + j] += kt[i] * upd[j];
                for (int64_t g = 0; g < group; g++) {
                    int64_t qh = h * group + g;
                    const float *qt = qd + (b * T + t) * hq * dk + qh * dk;
                    float *o = yd + (b * T + t) * hq * dv + qh * dv;
                    for (int64_t j = 0; j < dv; j++) {
                        float acc = 0.0f;
                        for (int64_t i = 0; i < dk; i++) acc += qt[i] * S[i * dv + j];
                        o[j] = scale * acc;
                    }
                }
            }
        }
    f32_commit(y, yd);
    if (present) f32_store(present->dtype, state, present->data, (size_t)present->count);
    return KILN_OK;
}

kiln_status kiln_cpu_linear_attention(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    for (uint32_t i = 0; i < 6; i++) {
        int32_t t = cpu_input_dtype(n, i);
        if (t && t != KILN_DTYPE_FLOAT && t != KILN_DTYPE_FLOAT16 && t != KILN_DTYPE_BFLOAT16)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "LinearAttention is not implemented for %s", cpu_dtype_name(t));
    }
    (void)dt;
    const char *rule = cpu_attr_str(n, "update_rule", "gated_delta");
    int r = strcmp(rule, "linear") == 0 ? RULE_LINEAR : strcmp(rule, "gated") == 0 ? RULE_GATED
          : strcmp(rule, "delta") == 0 ? RULE_DELTA : strcmp(rule, "gated_delta") == 0 ? RULE_GATED_DELTA : -1;
    if (r < 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown update_rule '%s'", rule);
    int64_t qh = cpu_attr_int(n, "q_num_heads", 0), kvh = cpu_attr_int(n, "kv_num_heads", 0);
    if (qh <= 0 || kvh <= 0 || qh % kvh) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "q_num_heads must be a positive multiple of kv_num_heads");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(la_kernel), la_compute, out, err));
    la_kernel *k = (la_kernel *)*out;
    k->rule = r;
    k->q_heads = qh, k->kv_heads = kvh;
    k->scale = cpu_attr_float(n, "scale", 0.0f);
    return KILN_OK;
}

/* ---- CausalConvWithState ---- */

typedef struct ccs_kernel {
    cpu_kernel base;
    int silu;
} ccs_kernel;

static float rnd16(int32_t dt, float v) {
    if (dt == KILN_DTYPE_FLOAT16) return kiln_f16_to_f32(kiln_f32_to_f16(v));
    if (dt == KILN_DTYPE_BFLOAT16) return kiln_bf16_to_f32(kiln_f32_to_bf16(v));
    return v;
}

static kiln_status ccs_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const ccs_kernel *k = (const ccs_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *w = cpu_in(ctx, 1), *bias = cpu_in(ctx, 2), *past = cpu_in(ctx, 3);
    kiln_value_desc *y = ctx->outputs[0], *present = ctx->n_outputs > 1 ? ctx->outputs[1] : NULL;
    if (x->rank != 3 || w->rank != 3) return cpu_fail(err, KILN_ERR_SHAPE, "input and weight must be 3-D");
    int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2], K = w->dims[2], P = K - 1;
    if (w->dims[0] != C || w->dims[1] != 1 || K < 1) return cpu_fail(err, KILN_ERR_SHAPE, "weight must be [%lld, 1, k]", (long long)C);
    if (bias && (bias->rank != 1 || bias->dims[0] != C)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)C);
    if (past && (past->rank != 3 || past->dims[0] != B || past->dims[1] != C || past->dims[2] != P))
        return cpu_fail(err, KILN_ERR_SHAPE, "past_state must be [%lld, %lld, %lld]", (long long)B, (long long)C, (long long)P);
    const float *xd = f32_view(ctx, x), *wd = f32_view(ctx, w), *bd = bias ? f32_view(ctx, bias) : NULL, *pd = past ? f32_view(ctx, past) : NULL;
    float *yd = f32_out(ctx, y);
    float *seq = ctx->host->scratch(ctx, (size_t)(P + L) * sizeof(float) + 1);
    float *st = present ? f32_out(ctx, present) : NULL;
    if (!xd || !wd || (bias && !bd) || (past && !pd) || !yd || !seq || (present && !st))
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for CausalConvWithState");
    int32_t dt = x->dtype;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            /* the effective sequence: past state (or zeros), then the input */
            for (int64_t i = 0; i < P; i++) seq[i] = pd ? pd[(b * C + c) * P + i] : 0.0f;
            memcpy(seq + P, xd + (b * C + c) * L, (size_t)L * sizeof(float));
            const float *wc = wd + c * K;
            float *yo = yd + (b * C + c) * L;
            for (int64_t t = 0; t < L; t++) {
                float acc = bd ? bd[c] : 0.0f;
                for (int64_t j = 0; j < K; j++) acc += wc[j] * seq[t + j];
                acc = rnd16(dt, acc);
                yo[t] = k->silu ? acc / (1.0f + expf(-acc)) : acc;
            }
            if (st) memcpy(st + (b * C + c) * P, seq + L, (size_t)P * sizeof(float));
        }
    f32_commit(y, yd);
    if (present) f32_commit(present, st);
    return KILN_OK;
}

kiln_status kiln_cpu_causal_conv_with_state(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if ((dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16) || cpu_input_dtype(n, 1) != dt ||
        (cpu_input_dtype(n, 2) && cpu_input_dtype(n, 2) != dt) || (cpu_input_dtype(n, 3) && cpu_input_dtype(n, 3) != dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "CausalConvWithState is not implemented for %s", cpu_dtype_name(dt));
    const char *act = cpu_attr_str(n, "activation", "none");
    int silu = strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0;
    if (!silu && strcmp(act, "none") != 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown activation '%s'", act);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(ccs_kernel), ccs_compute, out, err));
    ((ccs_kernel *)*out)->silu = silu;
    return KILN_OK;
}
