/* SPDX-License-Identifier: MIT */
/* Lookup of CPU kernel factories by op (table generated from graph/ops.def). */
#include "registry.h"

#include <string.h>

#define CPU_DOMAIN_ONNX ""
#define CPU_DOMAIN_ML "ai.onnx.ml"
#define CPU_DOMAIN_TRAINING "ai.onnx.preview.training"
#define CPU_DOMAIN_PREVIEW "ai.onnx.preview"
#define CPU_DOMAIN_MS "com.microsoft"
#define CPU_DOMAIN_KILN "kiln"

static const struct {
    const char *op_type;
    const char *domain;
    cpu_factory factory;
} table[] = {
#define KILN_OP(name, dom, since, shape, vin, cpu) {#name, CPU_DOMAIN_##dom, kiln_cpu_##cpu},
#include "graph/ops.def"
#undef KILN_OP
};

cpu_factory kiln_cpu_find(const char *domain, const char *op_type) {
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].op_type, op_type) == 0 && strcmp(table[i].domain, domain) == 0) return table[i].factory;
    return NULL;
}
