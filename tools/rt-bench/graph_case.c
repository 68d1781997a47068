/* SPDX-License-Identifier: MIT */
/* The gate and timing of rt-bench's node-level cases (graph_case.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_case.h"
#include "kernels/config/cpu.h"
#include "refs.h"

float *rb_falloc(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

void rb_frand(float *p, size_t n, uint32_t seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)((seed >> 8) * (1.0 / 16777216.0));
    }
}

size_t rb_numel(const int64_t *d, int r) {
    size_t n = 1;
    for (int i = 0; i < r; i++) n *= (size_t)d[i];
    return n;
}

rb_io rb_io_f32(const char *name, int rank, const int64_t *dims, float *data) {
    rb_io io = {name, KILN_DTYPE_FLOAT, rank, {0}, data, 0};
    memcpy(io.dims, dims, (size_t)rank * sizeof(int64_t));
    io.bytes = rb_numel(dims, rank) * sizeof(float);
    return io;
}

static double max_error(const float *got, const float *want, size_t n) {
    double scale = 1, err = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i]) && isnan(got[i])) continue;
        if (!isfinite(got[i]) && got[i] != want[i]) return INFINITY;
        if (got[i] == want[i]) continue;
        err = fmax(err, fabs((double)got[i] - want[i]));
    }
    return err / scale;
}

/* 8-bit outputs (QLinearConv): the largest absolute difference, in quantized units. */
static double q8_error(const void *got, const void *want, size_t n, int is_signed) {
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        int g = is_signed ? ((const int8_t *)got)[i] : ((const uint8_t *)got)[i];
        int w = is_signed ? ((const int8_t *)want)[i] : ((const uint8_t *)want)[i];
        err = fmax(err, abs(g - w));
    }
    return err;
}

static int out_q8(const graph_case *gc) {
    return gc->out.dtype == KILN_DTYPE_UINT8 || gc->out.dtype == KILN_DTYPE_INT8;
}

static double case_error(const graph_case *gc, const void *y) {
    if (out_q8(gc)) return q8_error(y, gc->ref, gc->out.bytes, gc->out.dtype == KILN_DTYPE_INT8);
    return max_error(y, gc->ref, gc->out.bytes / sizeof(float));
}

/* The deliberately wrong kernel of the gate test: corrupts the last element of Kiln's result
 * (an 8-bit one by at least 43 units). */
static void inject(const graph_case *gc, void *y) {
    if (out_q8(gc)) {
        uint8_t *q = y;
        q[gc->out.bytes - 1] ^= 0x55;
        return;
    }
    float *f = y;
    size_t n = gc->out.bytes / sizeof(float);
    f[n - 1] += 100.0f + 10.0f * fabsf(f[n - 1]);
}

static void run_session(void *p) { (void)rb_session_run(p); }

static void add_row(rb_rows *rows, const graph_case *gc, const char *impl, rb_role role, const char *isa, int threads,
                    const char *note) {
    rb_row *r = rb_rows_add(rows);
    if (!r) return;
    snprintf(r->group, sizeof(r->group), "%s", gc->group);
    snprintf(r->impl, sizeof(r->impl), "%s", impl);
    snprintf(r->isa, sizeof(r->isa), "%s", isa);
    r->role = role;
    r->threads = threads;
    r->flops = gc->flops;
    r->bytes = gc->bytes;
    r->memory_bound = gc->memory_bound;
    if (note) snprintf(r->note, sizeof(r->note), "%.95s", note);
}

static void set_rate(rb_row *r) {
    if (r->median_s > 0) r->rate = (r->memory_bound ? r->bytes : r->flops) / r->median_s * 1e-9;
}

/* Gate and time one timed implementation whose result lands in `y`. */
static int check_and_time(const rb_args *a, rb_rows *rows, const graph_case *gc, const char *impl, rb_role role,
                          const char *isa, int threads, void (*fn)(void *), void *ctx, void *y,
                          void (*fetch)(void *, float *), void *fetch_ctx) {
    memset(y, 0xFF, gc->out.bytes);
    rb_set_blas_threads(role == RB_KILN ? 1 : threads);
    fn(ctx);
    if (fetch) fetch(fetch_ctx, y);
    if (role == RB_KILN && rb_inject_wrong(impl)) inject(gc, y);
    add_row(rows, gc, impl, role, isa, threads, NULL);
    rb_row *r = &rows->v[rows->n - 1];
    r->max_err = case_error(gc, y);
    if (!(r->max_err <= gc->tol)) {
        snprintf(r->note, sizeof(r->note), "WRONG RESULT (max error %.3g > %.3g): not timed", r->max_err, gc->tol);
        fprintf(stderr, "rt-bench: %s: %s gives a wrong result (max error %.3g, tolerance %.3g vs the naive loop)\n",
                gc->group, impl, r->max_err, gc->tol);
        return RB_MISMATCH;
    }
    if (a->check_only) {
        snprintf(r->note, sizeof(r->note), "correct (max error %.3g): not timed (--check)", r->max_err);
        return RB_OK;
    }
    r->clock = rb_clock_name(a, threads);
    rb_time(a, threads, fn, ctx, &r->median_s, &r->min_s, &r->p90_s, &r->reps);
    set_rate(r);
    return RB_OK;
}

static void fetch_dnnl(void *c, float *y) { rb_dnnl_conv_fetch(c, y); }

/* Runs a prepared case: Kiln through the session for every thread count, then references. */
int rb_run_case(const rb_args *a, graph_case *gc, rb_rows *rows, const rb_conv_shape *conv, const float *x,
                    const float *w) {
    int rc = RB_OK;
    void *y = gc->out.data;
    for (int ti = 0; ti < a->n_threads && rc == RB_OK; ti++) {
        int t = a->threads[ti];
        rb_session rs;
        rc = rb_session_open(&rs, gc->b, t, gc->in, gc->n_in, &gc->out, 1);
        if (rc) {
            char note[96];
            snprintf(note, sizeof(note), "failed: %.80s", rs.error);
            add_row(rows, gc, gc->impl, RB_KILN, "-", t, note);
            fprintf(stderr, "rt-bench: %s: %s\n", gc->group, rs.error);
            break;
        }
        if (rb_session_run(&rs)) {
            add_row(rows, gc, gc->impl, RB_KILN, "-", t, "run failed");
            fprintf(stderr, "rt-bench: %s: %s\n", gc->group, rs.error);
            rb_session_close(&rs);
            rc = RB_RUN;
            break;
        }
        rc = check_and_time(a, rows, gc, gc->impl, RB_KILN, kiln_isa_name(kiln_cpu()->level), t, run_session, &rs, y,
                            NULL, NULL);
        rb_session_close(&rs);
        if (rc || a->no_refs) continue;
        if (conv) {
            if (rb_have_dnnl()) {
                char err[256];
                rb_dnnl_conv *dc = rb_dnnl_conv_create(conv, x, w, t, err, sizeof(err));
                if (dc) {
                    char name[48];
                    snprintf(name, sizeof(name), "dnnl conv %.30s", rb_dnnl_conv_impl(dc));
                    rb_set_ref_threads(t);
                    rc = check_and_time(a, rows, gc, name, RB_REF, "onednn", t, rb_dnnl_conv_run, dc, y, fetch_dnnl, dc);
                    rb_dnnl_conv_destroy(dc);
                } else {
                    add_row(rows, gc, "dnnl conv", RB_REF, "-", t, err);
                }
            } else {
                add_row(rows, gc, "dnnl conv", RB_REF, "-", t, "not built (libdnnl-dev not found, -Dbench_dnnl)");
            }
        }
        if (gc->ref_note) add_row(rows, gc, "references", RB_REF, "-", t, gc->ref_note);
        add_row(rows, gc, "naive", RB_NAIVE, "c", t, t > 1 ? "one thread only" : "one run, double accumulation");
        rb_row *r = &rows->v[rows->n - 1];
        if (t == 1 && !a->check_only) {
            r->median_s = r->min_s = r->p90_s = gc->naive_s;
            r->reps = 1;
            r->clock = rb_clock_name(a, 1);
            set_rate(r);
        }
    }
    return rc;
}

void rb_case_free(graph_case *gc) {
    for (int i = 0; i < gc->n_in; i++) free(gc->in[i].data);
    free(gc->out.data);
    free(gc->ref);
    if (gc->b) mb_free(gc->b);
}
