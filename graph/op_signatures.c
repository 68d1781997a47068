/* SPDX-License-Identifier: MIT */
/* Node signatures against the ONNX operator schemas (op_signatures.def): input and output
 * counts, and no empty name where the spec requires a value. Checked at load, so kernels and
 * shape functions can rely on every required input being there. */
#include "graph/op_signatures.h"

#include <string.h>

#include "graph/ops.h"
#include "runtime/base/error.h"

typedef struct op_sig {
    const char *op, *domain;
    int32_t since, min_in, max_in, min_out, max_out;
    const char *ins, *outs; /* R required, O optional, V variadic: one letter per formal parameter */
} op_sig;

static const op_sig sigs[] = {
#define KILN_SIG(op, dom, since, min_in, max_in, min_out, max_out, ins, outs) \
    {#op, KILN_DOMAIN_##dom, since, min_in, max_in, min_out, max_out, ins, outs},
#include "graph/op_signatures.def"
#undef KILN_SIG
};

/* The signature of the newest version of (domain, op) at or below `opset`; NULL when none. */
static const op_sig *find(const char *domain, const char *op, int64_t opset) {
    const op_sig *best = NULL;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        const op_sig *s = &sigs[i];
        if (s->since > opset || strcmp(s->op, op) != 0 || strcmp(s->domain, domain) != 0) continue;
        if (!best || s->since > best->since) best = s;
    }
    return best;
}

/* Checks one side (inputs or outputs) of node n: `count` entries, `vals[i]` NULL when empty. */
static kiln_status check_side(const kiln_node *n, const op_sig *s, const char *side, uint32_t count,
                              kiln_value *const *vals, int32_t min, int32_t max, const char *formal, kiln_error *err) {
    if ((int64_t)count < min)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": has %u %ss; %s-%d needs at least %d",
                         KILN_NODE_ARGS(n), count, side, n->op_type, (int)s->since, (int)min);
    if (max >= 0 && (int64_t)count > max)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": has %u %ss; %s-%d takes at most %d",
                         KILN_NODE_ARGS(n), count, side, n->op_type, (int)s->since, (int)max);
    size_t n_formal = strlen(formal);
    for (uint32_t i = 0; i < count && i < n_formal; i++) {
        if (formal[i] == 'V') break; /* a variadic parameter is the last; its items may be empty */
        if (formal[i] == 'R' && !vals[i])
            return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                             KILN_NODE_FMT ": %s %u is required by %s-%d but its name is empty", KILN_NODE_ARGS(n),
                             side, i, n->op_type, (int)s->since);
    }
    return KILN_OK;
}

kiln_status kiln_node_check_signature(const kiln_node *n, kiln_error *err) {
    const op_sig *s = find(n->domain, n->op_type, n->opset);
    if (!s) return KILN_OK; /* Kiln's own ops (kiln domain) have no ONNX schema */
    KILN_TRY(check_side(n, s, "input", n->n_inputs, n->inputs, s->min_in, s->max_in, s->ins, err));
    return check_side(n, s, "output", n->n_outputs, n->outputs, s->min_out, s->max_out, s->outs, err);
}
