/* SPDX-License-Identifier: MIT */
/* Det: the determinant of each trailing M x M matrix, by LU factorization with partial pivoting
 * in double (O(M^3) per matrix). float16/bfloat16 results are rounded from double. */
#include <math.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"

typedef struct det_kernel {
    cpu_kernel base;
    int32_t dtype;
} det_kernel;

typedef struct det_job {
    const det_kernel *k;
    const void *x;
    void *y;
    double *work; /* one M x M matrix per thread task, indexed by batch */
    int64_t m;
} det_job;

static double get_f(int32_t dt, const void *p, size_t i) { return cpu_load_f64(p, dt, (int64_t)i); }

static void det_range(void *arg, size_t b, size_t e) {
    const det_job *j = arg;
    int64_t m = j->m;
    int32_t dt = j->k->dtype;
    for (size_t t = b; t < e; t++) {
        double *a = j->work + t * (size_t)(m * m);
        for (int64_t i = 0; i < m * m; i++) a[i] = get_f(dt, j->x, t * (size_t)(m * m) + (size_t)i);
        double det = 1.0;
        for (int64_t c = 0; c < m && det != 0.0; c++) {
            int64_t p = c;
            for (int64_t r = c + 1; r < m; r++)
                if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
            if (a[p * m + c] == 0.0) {
                det = 0.0;
                break;
            }
            if (p != c) {
                for (int64_t q = 0; q < m; q++) {
                    double s = a[c * m + q];
                    a[c * m + q] = a[p * m + q];
                    a[p * m + q] = s;
                }
                det = -det;
            }
            double piv = a[c * m + c];
            det *= piv;
            for (int64_t r = c + 1; r < m; r++) {
                double f = a[r * m + c] / piv;
                for (int64_t q = c + 1; q < m; q++) a[r * m + q] -= f * a[c * m + q];
            }
        }
        switch (dt) {
        case KILN_DTYPE_FLOAT: ((float *)j->y)[t] = (float)det; break;
        case KILN_DTYPE_DOUBLE: ((double *)j->y)[t] = det; break;
        case KILN_DTYPE_FLOAT16: ((uint16_t *)j->y)[t] = kiln_f32_to_f16((float)det); break;
        default: ((uint16_t *)j->y)[t] = kiln_f32_to_bf16((float)det); break;
        }
    }
}

static kiln_status det_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const det_kernel *k = (const det_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return cpu_fail(err, KILN_ERR_SHAPE, "X must hold square matrices in its last two dims");
    det_job j = {k, x->data, y->data, NULL, x->dims[x->rank - 1]};
    if (!y->count) return KILN_OK;
    j.work = ctx->host->scratch(ctx, (size_t)x->count * sizeof(double) + 1);
    if (!j.work) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %llu matrix elements", (unsigned long long)x->count);
    int64_t per = j.m * j.m * (j.m + 1) + 1;
    cpu_parallel_for(ctx, (size_t)y->count, per >= 32768 ? 1 : (size_t)(32768 / per), det_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_det(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Det is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(det_kernel), det_compute, out, err));
    ((det_kernel *)*out)->dtype = dt;
    return KILN_OK;
}
