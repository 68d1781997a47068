/* SPDX-License-Identifier: MIT */
/* The graph optimizer: runs the passes of a level over the main graph through the rewrite API
 * (rewrite.h), checks the invariants after every pass, and reports what each pass did.
 * docs/optimizer.md lists the passes; docs/kiln-ops.md the fused ops they create. */
#ifndef KILN_GRAPH_OPTIMIZER_H
#define KILN_GRAPH_OPTIMIZER_H

#include "graph/ir.h"
#include "graph/optimizer/rewrite.h"

/* One output of a node computed by kiln_opt_hooks.fold. */
typedef struct kiln_folded {
    int32_t dtype, rank;
    int64_t dims[KILN_MAX_RANK];
    const void *data;          /* valid until fold_release */
    size_t nbytes;
} kiln_folded;

/* What the optimizer asks the runtime. */
typedef struct kiln_opt_hooks {
    void *user;
    /* Computes node n, whose inputs are all constants, with the CPU provider's kernel: out has
     * n->n_outputs entries; *state is handed to fold_release. 0 when it cannot (then nothing to
     * release). NULL: no constant folding. */
    int (*fold)(void *user, const kiln_node *n, kiln_folded *out, void **state);
    void (*fold_release)(void *user, void *state);
    /* 1 when the provider that would run `anchor` (the pattern's main node) also runs `fused`,
     * a new node in the graph with its inputs and outputs set. NULL: every fusion is allowed. */
    int (*supports)(void *user, const kiln_node *fused, const kiln_node *anchor);
} kiln_opt_hooks;

#define KILN_OPT_MAX_PASSES 32

typedef struct kiln_opt_pass_stat {
    const char *name;
    uint32_t fired;
    uint64_t ns;
} kiln_opt_pass_stat;

typedef struct kiln_opt_report {
    int32_t level;
    uint32_t nodes_before, nodes_after;
    uint64_t ns;
    uint32_t n_passes;
    kiln_opt_pass_stat passes[KILN_OPT_MAX_PASSES];
} kiln_opt_report;

/* One pass: changes g through rw and counts how often it fired. */
typedef struct kiln_opt_ctx {
    kiln_rw *rw;
    const kiln_opt_hooks *hooks;
    uint32_t fired;
} kiln_opt_ctx;
typedef kiln_status (*kiln_opt_pass_fn)(kiln_opt_ctx *c);

typedef struct kiln_opt_pass {
    const char *name;
    int32_t level;             /* lowest level it runs at (kiln_opt_level) */
    kiln_opt_pass_fn run;
} kiln_opt_pass;

/* Every pass, in the order they run. */
const kiln_opt_pass *kiln_opt_passes(uint32_t *count);
int kiln_opt_pass_known(const char *name);

/* Optimizes g (the main graph; types already inferred) at `level`, skipping the passes named in
 * `disabled`. The graph is sorted and consistent on return; its new values have the types the
 * passes gave them (run kiln_graph_infer afterwards for the rest). */
kiln_status kiln_optimize(kiln_graph *g, int32_t level, const char *const *disabled, uint32_t n_disabled,
                          const kiln_opt_hooks *hooks, kiln_opt_report *rep, kiln_error *err);

/* The report as JSON into buf (snprintf rules); returns the full length. */
size_t kiln_opt_report_json(const kiln_opt_report *rep, char *buf, size_t size);

/* Whether the fused node may replace the pattern anchored at `anchor` (asks the hooks). */
int kiln_opt_supported(const kiln_opt_ctx *c, const kiln_node *fused, const kiln_node *anchor);

/* ---- the passes (graph/optimizer/pass_*.c) ---- */
kiln_status kiln_pass_identity_elimination(kiln_opt_ctx *c);
kiln_status kiln_pass_constant_folding(kiln_opt_ctx *c);
kiln_status kiln_pass_noop_elimination(kiln_opt_ctx *c);
kiln_status kiln_pass_shape_folding(kiln_opt_ctx *c);
kiln_status kiln_pass_reshape_chain(kiln_opt_ctx *c);
kiln_status kiln_pass_transpose_chain(kiln_opt_ctx *c);
kiln_status kiln_pass_squeeze_unsqueeze(kiln_opt_ctx *c);
kiln_status kiln_pass_cse(kiln_opt_ctx *c);
kiln_status kiln_pass_dead_nodes(kiln_opt_ctx *c);
kiln_status kiln_pass_conv_bn_fold(kiln_opt_ctx *c);
kiln_status kiln_pass_conv_mul_add_fold(kiln_opt_ctx *c);
kiln_status kiln_pass_gelu_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_layernorm_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_skip_layernorm_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_matmul_add_to_gemm(kiln_opt_ctx *c);
kiln_status kiln_pass_dynamic_quant_matmul_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_attention_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_conv_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_gemm_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_matmul_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_qdq_movement(kiln_opt_ctx *c);
kiln_status kiln_pass_qdq_pair_elimination(kiln_opt_ctx *c);
kiln_status kiln_pass_qdq_conv_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_qdq_matmul_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_qdq_conv_add_fusion(kiln_opt_ctx *c);
kiln_status kiln_pass_qdq_weight_fold(kiln_opt_ctx *c);

/* Helpers shared by passes. */
int kiln_opt_is(const kiln_node *n, const char *op_type);  /* default domain and op_type */
/* The activation node n maps to kiln-ops.md's `activation` names; 0 when it is none of them. */
int kiln_opt_activation(const kiln_node *n, const char **name, float *params, uint32_t *n_params);

#endif
