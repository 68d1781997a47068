/* SPDX-License-Identifier: MIT */
/* The CPU provider's kernel table, generated from graph/ops.def. */
#ifndef KILN_CPU_REGISTRY_H
#define KILN_CPU_REGISTRY_H

#include "cpu_op.h"

#define KILN_OP(name, dom, since, shape, vin, cpu) \
    kiln_status kiln_cpu_##cpu(const cpu_node *n, cpu_kernel **out, kiln_error *err);
#include "graph/ops.def"
#undef KILN_OP

/* The factory for (domain, op_type), or NULL. */
cpu_factory kiln_cpu_find(const char *domain, const char *op_type);

#endif
