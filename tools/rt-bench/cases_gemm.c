/* SPDX-License-Identifier: MIT */
/* `rt-bench gemm`: Kiln's GEMM kernels (called directly) and Kiln's MatMul / Gemm /
 * MatMulInteger nodes (through the public API), against OpenBLAS, oneDNN and a naive loop.
 * A Kiln kernel is one entry of f32_kernels[] or i8_kernels[]; the packed fp32 GEMM and the
 * u8s8 GEMM entries expand into one row per config (ISA level) this build has, those above the
 * CPU or the --isa cap say so instead of running. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kernels/config/cpu.h"
#include "kernels/config/gemm-config.h"
#include "kernels/config/qgemm-config.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/igemm.h"
#include "onenode.h"
#include "refs.h"

typedef struct gemm_ctx {
    int64_t m, n, k;
    int trans_a, trans_b;             /* trans_a: A stored k x m (Gemm transA; f32 only) */
    int int8, a_signed;
    float *a, *b, *c, *ref;           /* f32 */
    uint8_t *a8;                      /* u8 or s8 bits */
    int8_t *b8;
    int32_t *ci, *refi;
    int16_t *a16, *b16, *packed;      /* Kiln's int16 path */
    kiln_f32_gemm_fn f32_fn;
    const kiln_f32_gemm_config *cfg;  /* packed fp32 GEMM: the config B was packed for */
    float *pa, *pb;                   /* A packed per call (scratch), B packed once */
    const kiln_qgemm_config *qcfg;    /* u8s8 GEMM */
    int8_t *qb;                       /* B packed once (VNNI quads) */
    int32_t *colsum, *col_add;        /* column sums of B; s8s8: -128 * colsum */
    uint8_t *ax;                      /* s8s8: A ^ 0x80 (u8), per call */
    rb_session rs;
    int threads;
} gemm_ctx;

/* ---- Kiln kernels, called directly (one thread) ---- */

static void run_f32_kernel(void *p) {
    gemm_ctx *g = p;
    g->f32_fn(g->trans_a, g->trans_b, (size_t)g->m, (size_t)g->n, (size_t)g->k, 1.0f, g->a,
              (size_t)(g->trans_a ? g->m : g->k), g->b,
              (size_t)(g->trans_b ? g->k : g->n), 0.0f, g->c, (size_t)g->n);
}

static const char *variant_isa(const char *variant) {
    const char *s = strstr(variant, "__");
    return s ? s + 2 : variant;
}
static const char *isa_f32_gemm(void) { return variant_isa(kiln_f32_gemm_variant()); }
static const char *isa_scalar(void) { return "scalar"; }
static const char *isa_s16_gemm(void) { return variant_isa(kiln_s16_gemm_variant()); }

/* The packed fp32 GEMM as MatMul/Gemm run it on one thread (docs/kernels.md §3-6): B, the
 * weight, packed once for g->cfg (outside the timing); A packed per call; the macro-kernel over
 * the whole of C. */
static void run_f32_packed(void *p) {
    gemm_ctx *g = p;
    const kiln_f32_gemm_config *cfg = g->cfg;
    size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
    kiln_f32_packa(cfg, m, k, g->a, g->trans_a ? m : k, g->trans_a, 1.0f, 0, (m + cfg->mr - 1) / cfg->mr, g->pa);
    kiln_f32_gemm_packed(cfg, m, n, k, g->pa, (kiln_f32_bview){g->pb, 0}, 0, m, 0, n, g->c, n, 0, NULL);
}

/* The f32 kernels: add a kernel here and rt-bench measures it. An entry with fn == NULL is the
 * packed GEMM: one row per config of kiln_f32_gemm_config_at() (row name = config name). */
static const struct {
    const char *name;
    kiln_f32_gemm_fn fn;
    const char *(*isa)(void);
} f32_kernels[] = {
    {"kiln_f32_gemm_packed", NULL, NULL},
    /* The older unpacked entry point (OpenBLAS when built with -Dblas, else scalar), still
     * behind RNN/attention/einsum-style callers. */
    {"kiln_f32_gemm", kiln_f32_gemm, isa_f32_gemm},
    {"kiln_f32_gemm__scalar", kiln_f32_gemm__scalar, isa_scalar},
};

/* Kiln's integer path as MatMulInteger runs it: A widened to int16 at every run, B packed once. */
static void run_s16_kernel(void *p) {
    gemm_ctx *g = p;
    size_t mk = (size_t)(g->m * g->k);
    if (g->a_signed)
        for (size_t i = 0; i < mk; i++) g->a16[i] = (int8_t)g->a8[i];
    else
        for (size_t i = 0; i < mk; i++) g->a16[i] = g->a8[i];
    kiln_s16_gemm((size_t)g->m, (size_t)g->n, (size_t)g->k, g->a16, (size_t)g->k, g->packed, g->ci, (size_t)g->n);
}

/* The exact u8s8 GEMM as MatMulInteger runs it on one thread: B packed once (with its column
 * sums, outside the timing); s8 A becomes u8 as a ^ 0x80 per call, corrected by
 * col_add = -128 * colsum(B) in the epilogue (kernels/u8s8-gemm/u8s8-gemm.h); int32 output. */
static void run_u8s8_kernel(void *p) {
    gemm_ctx *g = p;
    const uint8_t *a = g->a8;
    if (g->a_signed) {
        size_t mk = (size_t)(g->m * g->k);
        for (size_t i = 0; i < mk; i++) g->ax[i] = g->a8[i] ^ 0x80u;
        a = g->ax;
    }
    kiln_qgemm_epilogue ep = {.out = KILN_QGEMM_OUT_S32, .col_add = g->a_signed ? g->col_add : NULL};
    kiln_u8s8_gemm_run(g->qcfg, 0, (size_t)g->m, 0, (size_t)g->n, (size_t)g->k, a, (size_t)g->k, g->qb, g->ci,
                       (size_t)g->n, &ep);
}

/* The int8 kernels. An entry with run == run_u8s8_kernel names the ISA level of one u8s8
 * config (kiln_qgemm_config_for); the row is named after the config. */
static const struct {
    const char *name;
    void (*run)(void *);
    const char *(*isa)(void);
    kiln_isa level;
} i8_kernels[] = {
    {"u8s8-gemm (avx512vnni)", run_u8s8_kernel, NULL, KILN_ISA_AVX512VNNI},
    {"u8s8-gemm (avxvnni)", run_u8s8_kernel, NULL, KILN_ISA_AVXVNNI},
    {"u8s8-gemm (avx2)", run_u8s8_kernel, NULL, KILN_ISA_AVX2},
    {"u8s8-gemm (scalar)", run_u8s8_kernel, NULL, KILN_ISA_SCALAR},
    /* The older int16 path (A widened per call). */
    {"kiln_s16_gemm", run_s16_kernel, isa_s16_gemm, KILN_ISA_SCALAR},
};

/* ---- References ---- */

static void run_naive(gemm_ctx *g) {
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            if (g->int8) {
                int64_t s = 0;
                for (int64_t p = 0; p < g->k; p++) {
                    int32_t av = g->a_signed ? (int8_t)g->a8[i * g->k + p] : g->a8[i * g->k + p];
                    s += (int64_t)av * g->b8[g->trans_b ? j * g->k + p : p * g->n + j];
                }
                g->refi[i * g->n + j] = (int32_t)s;
            } else {
                double s = 0;
                for (int64_t p = 0; p < g->k; p++)
                    s += (double)g->a[g->trans_a ? p * g->m + i : i * g->k + p] * g->b[g->trans_b ? j * g->k + p : p * g->n + j];
                g->ref[i * g->n + j] = (float)s;
            }
        }
}

static void run_cblas(void *p) {
    gemm_ctx *g = p;
    rb_ref_sgemm(g->trans_a, g->trans_b, g->m, g->n, g->k, g->a, g->b, g->c);
}
static void run_dnnl_sgemm(void *p) {
    gemm_ctx *g = p;
    rb_dnnl_sgemm(g->trans_a, g->trans_b, g->m, g->n, g->k, g->a, g->b, g->c);
}
static void run_dnnl_igemm(void *p) {
    gemm_ctx *g = p;
    rb_dnnl_igemm(g->a_signed, g->trans_b, g->m, g->n, g->k, g->a8, g->b8, g->ci);
}
static void run_session(void *p) {
    gemm_ctx *g = p;
    (void)rb_session_run(&g->rs);
}

/* Max |got - want| / max(1, max |want|); NaN or Inf is an infinite error. */
static double f32_error(const float *got, const float *want, size_t n) {
    double scale = 1, err = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!isfinite(got[i])) return INFINITY;
        err = fmax(err, d);
    }
    return err / scale;
}
static double int_error(const int32_t *got, const int32_t *want, size_t n) {
    double err = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
    return err;
}

/* The deliberately wrong kernel of the gate test: corrupts one element of Kiln's result. */
static void maybe_inject(gemm_ctx *g, const char *impl) {
    if (!rb_inject_wrong(impl)) return;
    size_t last = (size_t)(g->m * g->n) - 1;
    if (g->int8) g->ci[last] += 7;
    else g->c[last] += 100.0f + 10.0f * fabsf(g->c[last]);
}

/* Checks the result in g->c / g->ci, then times `fn`; returns RB_MISMATCH when a Kiln result
 * is wrong. */
static int measure(const rb_args *a, gemm_ctx *g, rb_rows *rows, const char *group, const char *impl, rb_role role,
                   const char *isa, void (*fn)(void *), int threads) {
    size_t mn = (size_t)(g->m * g->n);
    if (g->int8) memset(g->ci, 0xA5, mn * sizeof(int32_t));
    else memset(g->c, 0xFF, mn * sizeof(float)); /* NaN: an element not written shows */
    rb_set_blas_threads(role == RB_KILN ? 1 : threads);
    if (role == RB_REF) rb_set_ref_threads(threads);
    fn(g);
    if (role == RB_KILN) maybe_inject(g, impl);
    rb_row *r = rb_rows_add(rows);
    if (!r) return RB_RUN;
    snprintf(r->group, sizeof(r->group), "%s", group);
    snprintf(r->impl, sizeof(r->impl), "%s", impl);
    snprintf(r->isa, sizeof(r->isa), "%s", isa);
    r->role = role;
    r->threads = threads;
    r->flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
    r->max_err = g->int8 ? int_error(g->ci, g->refi, mn) : f32_error(g->c, g->ref, mn);
    double tol = g->int8 ? 0 : 1e-4 * fmax(1.0, sqrt((double)g->k) / 8);
    if (!(r->max_err <= tol)) {
        snprintf(r->note, sizeof(r->note), "WRONG RESULT (max error %.3g > %.3g): not timed", r->max_err, tol);
        fprintf(stderr, "rt-bench: %s: %s gives a wrong result (max error %.3g, tolerance %.3g vs the naive loop)\n",
                group, impl, r->max_err, tol);
        return RB_MISMATCH;
    }
    if (a->check_only) {
        snprintf(r->note, sizeof(r->note), "correct (max error %.3g): not timed (--check)", r->max_err);
        return RB_OK;
    }
    r->clock = rb_clock_name(a, threads);
    rb_time(a, threads, fn, g, &r->median_s, &r->min_s, &r->p90_s, &r->reps);
    r->rate = r->flops / r->median_s * 1e-9;
    return RB_OK;
}

static void note_row(rb_rows *rows, const char *group, const char *impl, rb_role role, int threads,
                     const char *note) {
    rb_row *r = rb_rows_add(rows);
    if (!r) return;
    snprintf(r->group, sizeof(r->group), "%s", group);
    snprintf(r->impl, sizeof(r->impl), "%s", impl);
    snprintf(r->isa, sizeof(r->isa), "-");
    r->role = role;
    r->threads = threads;
    snprintf(r->note, sizeof(r->note), "%s", note);
}

static int open_session(gemm_ctx *g, int threads, const char *group, rb_rows *rows) {
    mb *b = mb_new(8, 17);
    rb_io in = {"A", g->int8 ? (g->a_signed ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8) : KILN_DTYPE_FLOAT, 2,
                {g->trans_a ? g->k : g->m, g->trans_a ? g->m : g->k}, g->int8 ? (void *)g->a8 : (void *)g->a, 0};
    in.bytes = (size_t)(g->m * g->k) * (g->int8 ? 1 : 4);
    rb_io w = {"B", g->int8 ? KILN_DTYPE_INT8 : KILN_DTYPE_FLOAT, 2,
               {g->trans_b ? g->n : g->k, g->trans_b ? g->k : g->n}, g->int8 ? (void *)g->b8 : (void *)g->b, 0};
    w.bytes = (size_t)(g->k * g->n) * (g->int8 ? 1 : 4);
    rb_io out = {"C", g->int8 ? KILN_DTYPE_INT32 : KILN_DTYPE_FLOAT, 2, {g->m, g->n},
                 g->int8 ? (void *)g->ci : (void *)g->c, (size_t)(g->m * g->n) * 4};
    rb_mb_input(b, &in);
    rb_mb_initializer(b, &w);
    rb_mb_output(b, &out);
    const char *ins[] = {"A", "B", NULL}, *outs[] = {"C", NULL};
    int gemm = !g->int8 && (g->trans_a || g->trans_b);
    const char *op = g->int8 ? "MatMulInteger" : gemm ? "Gemm" : "MatMul";
    KilnOnnx__NodeProto *n = mb_node(b, mb_graph(b), op, "node", ins, outs);
    if (gemm && g->trans_a) mb_attr_int(b, n, "transA", 1);
    if (gemm && g->trans_b) mb_attr_int(b, n, "transB", 1);
    int rc = rb_session_open(&g->rs, b, threads, &in, 1, &out, 1);
    mb_free(b);
    if (rc) {
        char note[96];
        snprintf(note, sizeof(note), "failed: %.80s", g->rs.error);
        note_row(rows, group, g->int8 ? "kiln:MatMulInteger" : gemm ? "kiln:Gemm" : "kiln:MatMul", RB_KILN,
                 threads, note);
        fprintf(stderr, "rt-bench: %s: %s\n", group, g->rs.error);
    }
    return rc;
}

static void fill(gemm_ctx *g) {
    uint32_t s = 12345;
    size_t mk = (size_t)(g->m * g->k), kn = (size_t)(g->k * g->n);
    for (size_t i = 0; i < mk; i++) {
        s = s * 1664525u + 1013904223u;
        if (g->int8) g->a8[i] = (uint8_t)(s >> 24);
        else g->a[i] = (float)((s >> 8) * (2.0 / 16777216.0) - 1.0);
    }
    for (size_t i = 0; i < kn; i++) {
        s = s * 1664525u + 1013904223u;
        if (g->int8) g->b8[i] = (int8_t)(s >> 24);
        else g->b[i] = (float)((s >> 8) * (2.0 / 16777216.0) - 1.0);
    }
}

static void gemm_free(gemm_ctx *g) {
    free(g->a), free(g->b), free(g->c), free(g->ref), free(g->a8), free(g->b8), free(g->ci), free(g->refi);
    free(g->a16), free(g->b16), free(g->packed);
    free(g->pa), free(g->pb), free(g->qb), free(g->colsum), free(g->col_add), free(g->ax);
}

/* 64-byte aligned floats (the packed layouts want it), zero-filled size rounding. */
static float *alloc_floats(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* One row per packed fp32 GEMM config: those the CPU (under the --isa cap) runs are checked
 * and timed with B packed for that config; the others get a note. */
static int measure_f32_packed(const rb_args *a, gemm_ctx *g, rb_rows *rows, const char *group, int t) {
    const kiln_f32_gemm_config *cfg;
    for (unsigned i = 0; (cfg = kiln_f32_gemm_config_at(i)) != NULL; i++) {
        if ((int)kiln_cpu()->level < cfg->isa) {
            char note[96];
            snprintf(note, sizeof(note), "needs %s: above this CPU or the --isa cap", kiln_isa_name(cfg->isa));
            note_row(rows, group, cfg->name, RB_KILN, t, note);
            continue;
        }
        size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
        free(g->pa), free(g->pb);
        g->pa = alloc_floats(kiln_f32_packa_size(cfg, m, k));
        g->pb = alloc_floats(kiln_f32_packb_size(cfg, k, n));
        if (!g->pa || !g->pb) {
            fprintf(stderr, "rt-bench: %s: out of memory\n", group);
            return RB_RUN;
        }
        kiln_f32_packb(cfg, k, n, g->b, g->trans_b ? k : n, g->trans_b, 1.0f, 0, (n + cfg->nr - 1) / cfg->nr, g->pb);
        g->cfg = cfg;
        int rc = measure(a, g, rows, group, cfg->name, RB_KILN, kiln_isa_name(cfg->isa), run_f32_packed, t);
        if (rc) return rc;
    }
    return RB_OK;
}

/* B (k x n, row-major, s8) packed once for the u8s8 GEMM, with -128 * colsum for s8 A. */
static int pack_u8s8(gemm_ctx *g) {
    size_t k = (size_t)g->k, n = (size_t)g->n;
    g->qb = malloc(kiln_u8s8_packed_size(k, n));
    g->colsum = malloc((n + KILN_U8S8_NR) * sizeof(int32_t));
    g->col_add = malloc((n + KILN_U8S8_NR) * sizeof(int32_t));
    g->ax = malloc(k * (size_t)g->m);
    uint8_t *kn = malloc(k * n);
    if (!g->qb || !g->colsum || !g->col_add || !g->ax || !kn) {
        free(kn);
        return RB_RUN;
    }
    for (size_t p = 0; p < k; p++)
        for (size_t j = 0; j < n; j++) kn[p * n + j] = (uint8_t)g->b8[g->trans_b ? j * k + p : p * n + j];
    kiln_u8s8_pack_b(k, 0, n, kn, n, 0, g->qb, g->colsum);
    free(kn);
    for (size_t j = 0; j < n; j++) g->col_add[j] = (int32_t)(-128 * (int64_t)g->colsum[j]);
    return RB_OK;
}

int rb_bench_gemm_shape(const rb_args *a, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                        const char *dtype, rb_rows *rows) {
    char group[64];
    snprintf(group, sizeof(group), "gemm %s m=%lld n=%lld k=%lld%s%s", dtype, (long long)m, (long long)n, (long long)k,
             trans_a ? " trans_a" : "", trans_b ? " trans_b" : "");
    if (trans_a && strcmp(dtype, "f32")) {
        fprintf(stderr, "rt-bench: %s: a transposed A is f32 only (Gemm transA; MatMulInteger has none)\n", group);
        return RB_USAGE;
    }
    if (!strcmp(dtype, "bf16")) {
        for (int t = 0; t < a->n_threads; t++) {
            note_row(rows, group, "kiln (bf16)", RB_KILN, a->threads[t], "no Kiln kernel yet");
            note_row(rows, group, "cblas_sbgemm", RB_REF, a->threads[t],
                     "not in this OpenBLAS build (libopenblas 0.3.21 Debian exports no sbgemm)");
            note_row(rows, group, "dnnl bf16 gemm", RB_REF, a->threads[t],
                     "oneDNN's C API has no bf16 gemm call (its matmul primitive is not wired yet)");
        }
        return RB_OK;
    }
    gemm_ctx g = {.m = m, .n = n, .k = k, .trans_a = trans_a, .trans_b = trans_b};
    g.int8 = strcmp(dtype, "f32") != 0;
    g.a_signed = !strcmp(dtype, "s8s8");
    size_t mk = (size_t)(m * k), kn = (size_t)(k * n), mn = (size_t)(m * n);
    int ok;
    if (g.int8) {
        g.a8 = malloc(mk), g.b8 = malloc(kn), g.ci = malloc(mn * 4), g.refi = malloc(mn * 4);
        g.a16 = malloc(mk * 2), g.b16 = malloc(kn * 2);
        g.packed = malloc(kiln_s16_gemm_packed_size((size_t)k, (size_t)n) * 2);
        ok = g.a8 && g.b8 && g.ci && g.refi && g.a16 && g.b16 && g.packed;
    } else {
        g.a = malloc(mk * 4), g.b = malloc(kn * 4), g.c = malloc(mn * 4), g.ref = malloc(mn * 4);
        ok = g.a && g.b && g.c && g.ref;
    }
    if (!ok) {
        gemm_free(&g);
        fprintf(stderr, "rt-bench: %s: out of memory\n", group);
        return RB_RUN;
    }
    fill(&g);
    double t0 = rb_clock_now(a, 1);
    run_naive(&g);
    double naive_s = rb_clock_now(a, 1) - t0;
    if (g.int8) { /* B as Kiln's kernel wants it: k x n int16, packed */
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < n; j++) g.b16[p * n + j] = g.b8[trans_b ? j * k + p : p * n + j];
        kiln_s16_gemm_pack_b((size_t)k, (size_t)n, g.b16, (size_t)n, g.packed);
        if (pack_u8s8(&g)) {
            gemm_free(&g);
            fprintf(stderr, "rt-bench: %s: out of memory\n", group);
            return RB_RUN;
        }
    }
    int rc = RB_OK;
    for (int ti = 0; ti < a->n_threads && rc == RB_OK; ti++) {
        int t = a->threads[ti];
        /* Kernels: one thread (the runtime splits GEMMs over its pool; see the kiln:MatMul row). */
        if (g.int8) {
            for (size_t i = 0; i < sizeof(i8_kernels) / sizeof(i8_kernels[0]) && rc == RB_OK; i++) {
                if (t > 1) continue;
                if (i8_kernels[i].run == run_u8s8_kernel) { /* B is packed from either layout */
                    g.qcfg = kiln_qgemm_config_for(i8_kernels[i].level);
                    if (!g.qcfg) {
                        char note[96];
                        snprintf(note, sizeof(note), "needs %s: above this CPU or the --isa cap, or not built",
                                 kiln_isa_name(i8_kernels[i].level));
                        note_row(rows, group, i8_kernels[i].name, RB_KILN, t, note);
                        continue;
                    }
                    rc = measure(a, &g, rows, group, g.qcfg->name, RB_KILN, kiln_isa_name(g.qcfg->isa),
                                 run_u8s8_kernel, t);
                    continue;
                }
                if (trans_b) {
                    note_row(rows, group, i8_kernels[i].name, RB_KILN, t, "B transposed: see kiln:MatMulInteger");
                    continue;
                }
                rc = measure(a, &g, rows, group, i8_kernels[i].name, RB_KILN, i8_kernels[i].isa(), i8_kernels[i].run, t);
            }
        } else {
            for (size_t i = 0; i < sizeof(f32_kernels) / sizeof(f32_kernels[0]) && rc == RB_OK; i++) {
                if (t > 1) continue;
                if (!f32_kernels[i].fn) {
                    rc = measure_f32_packed(a, &g, rows, group, t);
                    continue;
                }
                if (!strcmp(f32_kernels[i].name, "kiln_f32_gemm__scalar") && m * n * k > (int64_t)1 << 31) {
                    note_row(rows, group, f32_kernels[i].name, RB_KILN, t, "skipped: m*n*k > 2^31 (too slow)");
                    continue;
                }
                g.f32_fn = f32_kernels[i].fn;
                rc = measure(a, &g, rows, group, f32_kernels[i].name, RB_KILN, f32_kernels[i].isa(), run_f32_kernel, t);
            }
        }
        if (rc) break;
        /* The node through the public API, with the session's intra-op threads. */
        if (g.int8 && trans_b) {
            note_row(rows, group, "kiln:MatMulInteger", RB_KILN, t, "MatMulInteger has no transposed B");
        } else if (open_session(&g, t, group, rows) == RB_OK) {
            const char *name = g.int8 ? "kiln:MatMulInteger" : trans_a || trans_b ? "kiln:Gemm" : "kiln:MatMul";
            rc = measure(a, &g, rows, group, name, RB_KILN, kiln_isa_name(kiln_cpu()->level), run_session, t);
            rb_session_close(&g.rs);
        } else {
            rc = RB_RUN;
        }
        if (rc || a->no_refs) continue;
        if (!g.int8) {
            if (rb_have_blas()) rc = measure(a, &g, rows, group, "cblas_sgemm", RB_REF, "openblas", run_cblas, t);
            else note_row(rows, group, "cblas_sgemm", RB_REF, t, "not built (OpenBLAS not found)");
        } else {
            note_row(rows, group, "openblas", RB_REF, t, "OpenBLAS has no int8 GEMM");
        }
        if (rc) break;
        if (rb_have_dnnl())
            rc = measure(a, &g, rows, group, g.int8 ? (g.a_signed ? "dnnl_gemm_s8s8s32" : "dnnl_gemm_u8s8s32") : "dnnl_sgemm",
                         RB_REF, "onednn", g.int8 ? run_dnnl_igemm : run_dnnl_sgemm, t);
        else
            note_row(rows, group, "onednn", RB_REF, t, "not built (libdnnl-dev not found, -Dbench_dnnl)");
        rb_row *r = rb_rows_add(rows);
        if (r) {
            snprintf(r->group, sizeof(r->group), "%s", group);
            snprintf(r->impl, sizeof(r->impl), "naive");
            snprintf(r->isa, sizeof(r->isa), "c");
            r->role = RB_NAIVE;
            r->threads = 1;
            r->flops = 2.0 * (double)m * (double)n * (double)k;
            r->median_s = r->min_s = r->p90_s = naive_s;
            r->reps = 1;
            r->rate = r->flops / naive_s * 1e-9;
            r->clock = rb_clock_name(a, 1);
            snprintf(r->note, sizeof(r->note), "one run, double accumulation");
            if (t > 1) r->median_s = 0, snprintf(r->note, sizeof(r->note), "one thread only");
            if (a->check_only) r->median_s = 0, snprintf(r->note, sizeof(r->note), "the reference (--check)");
        }
    }
    gemm_free(&g);
    return rc;
}

int rb_cmd_gemm(const rb_args *a, rb_rows *rows) {
    return rb_bench_gemm_shape(a, a->m, a->n, a->k, a->trans_a, a->trans_b, a->dtype, rows);
}
