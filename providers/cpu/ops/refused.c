/* SPDX-License-Identifier: MIT */
/* The CPU factory of the ops Kiln refuses (graph/shape/refused.c says why): shape inference
 * already fails at session creation; a provider asked anyway refuses too. */
#include "providers/cpu/cpu_op.h"

kiln_status kiln_cpu_refused(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    *out = NULL;
    return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is a training-only or random op, which Kiln does not run", n->op_type);
}
