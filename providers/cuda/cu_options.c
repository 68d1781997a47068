/* SPDX-License-Identifier: MIT */
/* Option parsing and the claim decision of the CUDA provider (pure C: see cu_options.h). */
#include "cu_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_types.h"

static int flag(const char *v, int *out) {
    if (!strcmp(v, "0") || !strcmp(v, "1")) {
        *out = v[0] == '1';
        return 0;
    }
    return -1;
}

int cu_options_parse(const char *const *keys, const char *const *values, uint32_t n, cu_options *o, char *warn,
                     size_t warn_size, char *msg, size_t msg_size) {
    memset(o, 0, sizeof(*o));
    if (warn_size) warn[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i] ? values[i] : "";
        if (!strcmp(k, "tf32")) {
            if (flag(v, &o->tf32)) goto bad;
        } else if (!strcmp(k, "graphs")) {
            if (flag(v, &o->graphs)) goto bad;
        } else if (!strcmp(k, "precision")) {
            if (!strcmp(v, "fp32")) o->fp16 = 0;
            else if (!strcmp(v, "fp16")) {
                snprintf(msg, msg_size, "cuda: precision=fp16 is not implemented in this build (docs/cuda.md); use precision=fp32");
                return -1;
            } else goto bad;
        } else if (!strcmp(k, "mem_limit")) {
            char *end;
            errno = 0;
            unsigned long long b = strtoull(v, &end, 10);
            if (!*v || *end || errno || v[0] == '-') goto bad;
            o->mem_limit = b;
        } else {
            size_t used = strlen(warn);
            if (used < warn_size)
                snprintf(warn + used, warn_size - used, "%sunknown option %s=%s ignored (known: tf32=0|1, graphs=0|1, precision=fp32, mem_limit=BYTES)",
                         used ? "; " : "", k, v);
        }
        continue;
    bad:
        snprintf(msg, msg_size, "cuda: bad value '%s' for option %s", v, k);
        return -1;
    }
    return 0;
}

static int is(const cu_node_facts *f, const char *op) { return !f->domain[0] && !strcmp(f->op, op); }

static int any_of(const cu_node_facts *f, const char *const *ops) {
    for (; *ops; ops++)
        if (is(f, *ops)) return 1;
    return 0;
}

cu_kernel_kind cu_claim_decide(const cu_node_facts *f) {
    static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", NULL};
    static const char *const unary[] = {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Gelu", "LeakyRelu", NULL};
    if (!f->op || !f->domain || f->n_out < 1) return CU_K_NONE;
    int fl = f->dtype[0] == KILN_DTYPE_FLOAT;
    if (any_of(f, binary)) {
        /* Max/Min are variadic: two inputs only. Ranks up to 6 (the kernel's broadcast strides). */
        if (f->n_in != 2 || !fl || f->dtype[1] != KILN_DTYPE_FLOAT) return CU_K_NONE;
        if (f->rank[0] < 0 || f->rank[1] < 0 || f->rank[0] > 6 || f->rank[1] > 6) return CU_K_NONE;
        return CU_K_BINARY;
    }
    if (any_of(f, unary)) {
        if (f->n_in != 1 || !fl || f->has_other_attrs) return CU_K_NONE;
        return CU_K_UNARY;
    }
    if (is(f, "Softmax")) {
        if (!fl || f->opset < 13 || f->rank[0] < 1 || (f->axis != -1 && f->axis != f->rank[0] - 1)) return CU_K_NONE;
        return CU_K_SOFTMAX;
    }
    if (is(f, "LayerNormalization")) {
        if (!fl || f->rank[0] < 1 || f->n_out > 1 || (f->axis != -1 && f->axis != f->rank[0] - 1)) return CU_K_NONE;
        if (f->n_in < 2 || f->dtype[1] != KILN_DTYPE_FLOAT || (f->n_in > 2 && f->dtype[2] && f->dtype[2] != KILN_DTYPE_FLOAT))
            return CU_K_NONE;
        return CU_K_LAYERNORM;
    }
    if (is(f, "MatMul")) {
        /* Both operands rank >= 2 with equal batch dims or a rank-2 B shared by every batch. */
        if (!fl || f->dtype[1] != KILN_DTYPE_FLOAT || f->rank[0] < 2 || f->rank[1] < 2) return CU_K_NONE;
        if (f->rank[1] != 2 && f->rank[1] != f->rank[0]) return CU_K_NONE;
        return CU_K_MATMUL;
    }
    if (is(f, "Gemm")) {
        if (!fl || f->dtype[1] != KILN_DTYPE_FLOAT || f->rank[0] != 2 || f->rank[1] != 2) return CU_K_NONE;
        if (f->n_in > 2 && f->dtype[2] && (f->dtype[2] != KILN_DTYPE_FLOAT || f->rank[2] < 0 || f->rank[2] > 2)) return CU_K_NONE;
        return CU_K_GEMM;
    }
    if (is(f, "Transpose")) {
        if (f->rank[0] < 1 || f->rank[0] > 6 || f->has_other_attrs) return CU_K_NONE;
        if (f->dtype[0] != KILN_DTYPE_FLOAT && f->dtype[0] != KILN_DTYPE_INT64 && f->dtype[0] != KILN_DTYPE_INT32) return CU_K_NONE;
        return CU_K_TRANSPOSE;
    }
    return CU_K_NONE;
}
