/* SPDX-License-Identifier: MIT */
/* Comparisons with bool outputs (Equal, Less, LessOrEqual, Greater, GreaterOrEqual; Equal also
 * on bool and string), logic on bools (And, Or, Xor), and Where. numpy broadcasting, plus the
 * opset < 7 `broadcast`/`axis` form; float16/bfloat16 compared in float32. */
#include <string.h>

#include "providers/cpu/broadcast.h"
#include "providers/cpu/ops/elementwise.h"

enum { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_COUNT };

#define CMP_ROW(SUF, T)                                    \
    CPU_EW_ZIP(eq_##SUF, T, T, uint8_t, x == y)            \
    CPU_EW_ZIP(lt_##SUF, T, T, uint8_t, x < y)             \
    CPU_EW_ZIP(le_##SUF, T, T, uint8_t, x <= y)            \
    CPU_EW_ZIP(gt_##SUF, T, T, uint8_t, x > y)             \
    CPU_EW_ZIP(ge_##SUF, T, T, uint8_t, x >= y)
CMP_ROW(f32, float)
CMP_ROW(f64, double)
CMP_ROW(s8, int8_t)
CMP_ROW(s16, int16_t)
CMP_ROW(s32, int32_t)
CMP_ROW(s64, int64_t)
CMP_ROW(u8, uint8_t)
CMP_ROW(u16, uint16_t)
CMP_ROW(u32, uint32_t)
CMP_ROW(u64, uint64_t)

/* Bools are 0 or 1 but read as "nonzero is true" so bit-cast data cannot give other values. */
CPU_EW_ZIP(eq_b8, uint8_t, uint8_t, uint8_t, !x == !y)
CPU_EW_ZIP(and_b8, uint8_t, uint8_t, uint8_t, x && y)
CPU_EW_ZIP(or_b8, uint8_t, uint8_t, uint8_t, x || y)
CPU_EW_ZIP(xor_b8, uint8_t, uint8_t, uint8_t, !x != !y)

typedef char *cstr;
CPU_EW_ZIP(eq_str, cstr, cstr, uint8_t, strcmp(x ? x : "", y ? y : "") == 0)

#define ROW(S) {eq_##S, lt_##S, le_##S, gt_##S, ge_##S}

static cpu_ew_zip pick(int32_t dt, int op) {
    static const cpu_ew_zip t[CPU_LANE_COUNT][CMP_COUNT] = CPU_LANE_TABLE(ROW);
    if (dt == KILN_DTYPE_BOOL) return op == CMP_EQ ? eq_b8 : NULL;
    if (dt == KILN_DTYPE_STRING) return op == CMP_EQ ? eq_str : NULL;
    int lane = cpu_lane(dt);
    return lane < 0 ? NULL : t[lane][op];
}

typedef struct compare_kernel {
    cpu_kernel base;
    cpu_ew_zip f;
    cpu_ew_spec spec;
    int64_t legacy_axis;
} compare_kernel;

static kiln_status compare_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const compare_kernel *k = (const compare_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1);
    kiln_value_desc view;
    int64_t dims[KILN_MAX_RANK];
    b = cpu_ew_legacy_b(k->legacy_axis, a, b, &view, dims);
    cpu_ew_zip_run(ctx, k->f, NULL, &k->spec, a, b, ctx->outputs[0]);
    return KILN_OK;
}

kiln_status kiln_cpu_compare(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    static const struct {
        const char *name;
        int op;
    } names[] = {{"Equal", CMP_EQ}, {"Less", CMP_LT}, {"LessOrEqual", CMP_LE}, {"Greater", CMP_GT},
                 {"GreaterOrEqual", CMP_GE}};
    int32_t dt = cpu_input_dtype(n, 0);
    cpu_ew_zip f = NULL;
    if (cpu_op_is(n, "And") || cpu_op_is(n, "Or") || cpu_op_is(n, "Xor")) {
        if (dt == KILN_DTYPE_BOOL) f = cpu_op_is(n, "And") ? and_b8 : cpu_op_is(n, "Or") ? or_b8 : xor_b8;
    } else {
        int op = -1;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && op < 0; i++)
            if (cpu_op_is(n, names[i].name)) op = names[i].op;
        if (op < 0) return cpu_fail(err, KILN_ERR_INTERNAL, "%s is not a comparison", n->op_type);
        f = pick(dt, op);
    }
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(compare_kernel), compare_compute, out, err));
    compare_kernel *k = (compare_kernel *)*out;
    k->f = f;
    k->spec = cpu_ew_same(dt, 1);
    k->legacy_axis = cpu_ew_legacy_axis(n);
    return KILN_OK;
}

/* ---- Where(condition, X, Y) ---- */

typedef struct where_job {
    cpu_bcast bc;
    const uint8_t *c;
    const char *x, *y;
    char *o;
    size_t es;
} where_job;

/* One run of `n` outputs: condition, X and Y advance by sc/sx/sy elements (0 or 1); the
 * all-contiguous case as a plain loop that vectorizes. */
#define WHERE_RUN(T)                                                                      \
    do {                                                                                  \
        const T *x = (const T *)xp, *y = (const T *)yp;                                   \
        T *o = (T *)op;                                                                   \
        if (sc && sx && sy)                                                               \
            for (int64_t i = 0; i < n; i++) {                                             \
                T xv = x[i], yv = y[i]; /* both read, so the select needs no branch */  \
                o[i] = c[i] ? xv : yv;                                                    \
            }                                                                             \
        else                                                                              \
            for (int64_t i = 0; i < n; i++) o[i] = c[i * sc] ? x[i * sx] : y[i * sy];     \
    } while (0)

static void where_range(void *arg, size_t begin, size_t end) {
    const where_job *j = arg;
    int32_t last = j->bc.rank - 1;
    int64_t n = j->bc.inner, sc = j->bc.strides[0][last], sx = j->bc.strides[1][last], sy = j->bc.strides[2][last];
    int64_t off[CPU_BCAST_MAX_IN];
    for (size_t r = begin; r < end; r++) {
        cpu_bcast_offsets(&j->bc, (int64_t)r, off);
        const uint8_t *c = j->c + off[0];
        const char *xp = j->x + (size_t)off[1] * j->es, *yp = j->y + (size_t)off[2] * j->es;
        char *op = j->o + r * (size_t)n * j->es;
        switch (j->es) {
        case 1: WHERE_RUN(uint8_t); break;
        case 2: WHERE_RUN(uint16_t); break;
        case 4: WHERE_RUN(uint32_t); break;
        case 8: WHERE_RUN(uint64_t); break;
        default:
            for (int64_t i = 0; i < n; i++)
                memcpy(op + (size_t)i * j->es, c[i * sc] ? xp + (size_t)(i * sx) * j->es : yp + (size_t)(i * sy) * j->es,
                       j->es);
        }
    }
}

typedef struct where_kernel {
    cpu_kernel base;
    size_t es;
    int strings;
} where_kernel;

/* Strings are copied element by element through the host (which may fail), in one thread. */
static kiln_status where_strings(kiln_kernel_ctx *ctx, const where_job *j, kiln_value_desc *out, kiln_error *err) {
    int32_t last = j->bc.rank - 1;
    int64_t n = j->bc.inner, sc = j->bc.strides[0][last], sx = j->bc.strides[1][last], sy = j->bc.strides[2][last];
    int64_t off[CPU_BCAST_MAX_IN];
    for (int64_t r = 0; r < j->bc.outer; r++) {
        cpu_bcast_offsets(&j->bc, r, off);
        for (int64_t i = 0; i < n; i++) {
            const char *s = j->c[off[0] + i * sc] ? ((char *const *)j->x)[off[1] + i * sx]
                                                  : ((char *const *)j->y)[off[2] + i * sy];
            if (!s) s = "";
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, out, (uint64_t)(r * n + i), s, strlen(s), err));
        }
    }
    return KILN_OK;
}

static kiln_status where_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const where_kernel *k = (const where_kernel *)base;
    const kiln_value_desc *in[3] = {cpu_in(ctx, 0), cpu_in(ctx, 1), cpu_in(ctx, 2)};
    kiln_value_desc *out = ctx->outputs[0];
    where_job j = {{0}, in[0]->data, in[1]->data, in[2]->data, out->data, k->es};
    cpu_bcast_init(&j.bc, 3, in, out);
    if (j.bc.outer == 0) return KILN_OK;
    if (k->strings) return where_strings(ctx, &j, out, err);
    size_t grain = cpu_grain((uint64_t)j.bc.inner);
    cpu_parallel_for(ctx, (size_t)j.bc.outer, grain, where_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_where(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 1);
    size_t es = cpu_dtype_size(dt);
    if (cpu_input_dtype(n, 0) != KILN_DTYPE_BOOL)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Where condition must be bool, not %s",
                        cpu_dtype_name(cpu_input_dtype(n, 0)));
    if (!es) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Where is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(where_kernel), where_compute, out, err));
    where_kernel *k = (where_kernel *)*out;
    k->es = es;
    k->strings = dt == KILN_DTYPE_STRING;
    return KILN_OK;
}
