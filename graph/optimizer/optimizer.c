/* SPDX-License-Identifier: MIT */
/* The pass list, the driver and the report (see optimizer.h). */
#include "graph/optimizer/optimizer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "graph/ops.h"
#include "kiln.h"

static const kiln_opt_pass passes[] = {
    {"identity_elimination", KILN_OPT_BASIC, kiln_pass_identity_elimination},
    {"shape_folding", KILN_OPT_BASIC, kiln_pass_shape_folding},
    /* QDQ rewrites before constant folding, which would fold small DequantizeLinear weights */
    {"qdq_movement", KILN_OPT_EXTENDED, kiln_pass_qdq_movement},
    {"qdq_pair_elimination", KILN_OPT_EXTENDED, kiln_pass_qdq_pair_elimination},
    {"qdq_conv_fusion", KILN_OPT_EXTENDED, kiln_pass_qdq_conv_fusion},
    {"qdq_matmul_fusion", KILN_OPT_EXTENDED, kiln_pass_qdq_matmul_fusion},
    {"qdq_conv_add_fusion", KILN_OPT_EXTENDED, kiln_pass_qdq_conv_add_fusion},
    {"qdq_weight_fold", KILN_OPT_EXTENDED, kiln_pass_qdq_weight_fold},
    {"constant_folding", KILN_OPT_BASIC, kiln_pass_constant_folding},
    {"noop_elimination", KILN_OPT_BASIC, kiln_pass_noop_elimination},
    {"reshape_chain", KILN_OPT_BASIC, kiln_pass_reshape_chain},
    {"transpose_chain", KILN_OPT_BASIC, kiln_pass_transpose_chain},
    {"squeeze_unsqueeze", KILN_OPT_BASIC, kiln_pass_squeeze_unsqueeze},
    {"cse", KILN_OPT_BASIC, kiln_pass_cse},
    {"dead_nodes", KILN_OPT_BASIC, kiln_pass_dead_nodes},
    {"conv_bn_fold", KILN_OPT_EXTENDED, kiln_pass_conv_bn_fold},
    {"conv_mul_add_fold", KILN_OPT_EXTENDED, kiln_pass_conv_mul_add_fold},
    {"gelu_fusion", KILN_OPT_EXTENDED, kiln_pass_gelu_fusion},
    {"layernorm_fusion", KILN_OPT_EXTENDED, kiln_pass_layernorm_fusion},
    {"skip_layernorm_fusion", KILN_OPT_EXTENDED, kiln_pass_skip_layernorm_fusion},
    {"attention_fusion", KILN_OPT_EXTENDED, kiln_pass_attention_fusion},
    {"matmul_add_to_gemm", KILN_OPT_EXTENDED, kiln_pass_matmul_add_to_gemm},
    {"dynamic_quant_matmul_fusion", KILN_OPT_EXTENDED, kiln_pass_dynamic_quant_matmul_fusion},
    {"conv_fusion", KILN_OPT_EXTENDED, kiln_pass_conv_fusion},
    {"gemm_fusion", KILN_OPT_EXTENDED, kiln_pass_gemm_fusion},
    {"matmul_fusion", KILN_OPT_EXTENDED, kiln_pass_matmul_fusion},
};

const kiln_opt_pass *kiln_opt_passes(uint32_t *count) {
    *count = (uint32_t)(sizeof(passes) / sizeof(passes[0]));
    return passes;
}

int kiln_opt_pass_known(const char *name) {
    for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++)
        if (strcmp(passes[i].name, name) == 0) return 1;
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int kiln_opt_supported(const kiln_opt_ctx *c, const kiln_node *fused, const kiln_node *anchor) {
    return !c->hooks || !c->hooks->supports || c->hooks->supports(c->hooks->user, fused, anchor);
}

int kiln_opt_is(const kiln_node *n, const char *op_type) {
    return n && n->domain[0] == 0 && strcmp(n->op_type, op_type) == 0;
}

int kiln_opt_activation(const kiln_node *n, const char **name, float *params, uint32_t *n_params) {
    *n_params = 0;
    if (!n || n->n_inputs < 1 || n->n_outputs != 1) return 0;
    if (kiln_opt_is(n, "Relu") || kiln_opt_is(n, "Sigmoid") || kiln_opt_is(n, "Tanh") || kiln_opt_is(n, "HardSwish")) {
        *name = n->op_type;
        return n->n_inputs == 1;
    }
    if (kiln_opt_is(n, "LeakyRelu")) {
        *name = "LeakyRelu";
        params[0] = kiln_attr_float(n, "alpha", 0.01f);
        *n_params = 1;
        return 1;
    }
    if (kiln_opt_is(n, "HardSigmoid")) {
        *name = "HardSigmoid";
        params[0] = kiln_attr_float(n, "alpha", 0.2f);
        params[1] = kiln_attr_float(n, "beta", 0.5f);
        *n_params = 2;
        return 1;
    }
    if (kiln_opt_is(n, "Clip")) {
        float lo = -3.402823466e38f, hi = 3.402823466e38f;
        if (n->opset < 11) {
            lo = kiln_attr_float(n, "min", lo);
            hi = kiln_attr_float(n, "max", hi);
        } else {
            int64_t cnt;
            for (uint32_t i = 1; i < n->n_inputs && i < 3; i++) {
                if (!n->inputs[i]) continue;
                const float *v = kiln_rw_const_f32(n->inputs[i], &cnt);
                if (!v || cnt != 1) return 0;
                if (i == 1) lo = v[0];
                else hi = v[0];
            }
        }
        *name = "Clip";
        params[0] = lo;
        params[1] = hi;
        *n_params = 2;
        return 1;
    }
    if (kiln_opt_is(n, "Gelu") || (n->domain && strcmp(n->domain, KILN_DOMAIN_KILN) == 0 && strcmp(n->op_type, "Gelu") == 0)) {
        const char *ap = kiln_attr_str(n, "approximate", "none");
        *name = strcmp(ap, "tanh") == 0 ? "GeluTanh" : "Gelu";
        return 1;
    }
    return 0;
}

static int disabled_pass(const char *name, const char *const *disabled, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (disabled[i] && strcmp(disabled[i], name) == 0) return 1;
    return 0;
}

kiln_status kiln_optimize(kiln_graph *g, int32_t level, const char *const *disabled, uint32_t n_disabled,
                          const kiln_opt_hooks *hooks, kiln_opt_report *rep, kiln_error *err) {
    uint64_t t0 = now_ns();
    memset(rep, 0, sizeof(*rep));
    rep->level = level;
    rep->nodes_before = rep->nodes_after = g->n_nodes;
    if (level <= KILN_OPT_DISABLED) return KILN_OK;
    kiln_rw rw;
    KILN_TRY(kiln_rw_init(&rw, g, err));
    kiln_status st = KILN_OK;
    uint32_t np;
    const kiln_opt_pass *list = kiln_opt_passes(&np);
    /* Two rounds: fusions expose eliminations and the reverse (a folded shape makes a Reshape a
     * no-op; a removed Identity joins a Conv to its BatchNormalization). */
    for (int round = 0; round < 2 && st == KILN_OK; round++) {
        for (uint32_t i = 0; i < np && st == KILN_OK; i++) {
            const kiln_opt_pass *p = &list[i];
            if (p->level > level || disabled_pass(p->name, disabled, n_disabled)) continue;
            uint64_t p0 = now_ns();
            kiln_opt_ctx c = {&rw, hooks, 0};
            uint64_t edits = rw.edits;
            st = p->run(&c);
            /* Also when nothing fired: a fusion the providers refused was taken back. */
            int changed = rw.edits != edits;
            if (st == KILN_OK && changed) st = kiln_rw_commit(&rw);
            if (st == KILN_OK && changed) st = kiln_rw_check(g, p->name, err);
            uint32_t k = 0;
            while (k < rep->n_passes && strcmp(rep->passes[k].name, p->name) != 0) k++;
            if (k == rep->n_passes && k < KILN_OPT_MAX_PASSES) {
                rep->passes[k].name = p->name;
                rep->n_passes++;
            }
            if (k < KILN_OPT_MAX_PASSES) {
                rep->passes[k].fired += c.fired;
                rep->passes[k].ns += now_ns() - p0;
            }
        }
    }
    kiln_rw_free(&rw);
    rep->nodes_after = g->n_nodes;
    rep->ns = now_ns() - t0;
    return st;
}

size_t kiln_opt_report_json(const kiln_opt_report *rep, char *buf, size_t size) {
    static const char *names[] = {"disabled", "basic", "extended", "all"};
    size_t len = 0;
#define PUT(...)                                                                          \
    do {                                                                                  \
        int w_ = snprintf(buf && len < size ? buf + len : NULL, buf && len < size ? size - len : 0, __VA_ARGS__); \
        if (w_ > 0) len += (size_t)w_;                                                    \
    } while (0)
    PUT("{\"level\":\"%s\",\"nodes_before\":%u,\"nodes_after\":%u,\"time_us\":%.1f,\"passes\":[",
        names[rep->level >= 0 && rep->level <= 3 ? rep->level : 0], rep->nodes_before, rep->nodes_after, (double)rep->ns / 1e3);
    for (uint32_t i = 0; i < rep->n_passes; i++)
        PUT("%s{\"name\":\"%s\",\"fired\":%u,\"time_us\":%.1f}", i ? "," : "", rep->passes[i].name, rep->passes[i].fired,
            (double)rep->passes[i].ns / 1e3);
    PUT("]}");
#undef PUT
    return len;
}
