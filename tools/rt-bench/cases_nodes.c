/* SPDX-License-Identifier: MIT */
/* The node cases `rt-bench shapes` finds beyond 2-D Conv and plain GEMMs: Conv of spatial rank
 * 1..3 with any pads, ConvTranspose, QLinearConv, and MatMul with a batched B. Each is a one-node
 * model run through the public API, so what is timed is the CPU provider's own op code
 * (providers/cpu/ops/conv.c, conv_transpose.c, qlinear.c, gemm.c) with the kernels it calls, its
 * threading included; each is checked against a naive loop first (graph_case.c). No library
 * reference is wired for these (rt-bench's oneDNN convolution is 2-D f32): the table says so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_case.h"

/* Spatial extent d of a shape padded to three dims (leading 1s), so one loop nest serves 1-D,
 * 2-D and 3-D: a size-1 leading axis changes no memory offset. */
typedef struct sp3 {
    int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
} sp3;

int64_t rb_convnd_out(const rb_convnd_shape *s, int d) {
    int64_t ext = s->dil[d] * (s->k[d] - 1) + 1;
    if (s->transpose) return s->stride[d] * (s->in[d] - 1) + s->out_pad[d] + ext - s->pad_b[d] - s->pad_e[d];
    int64_t span = s->in[d] + s->pad_b[d] + s->pad_e[d] - ext;
    return span < 0 || s->stride[d] < 1 ? 0 : span / s->stride[d] + 1;
}

static void to_sp3(const rb_convnd_shape *s, sp3 *p) {
    int off = 3 - s->nsp;
    for (int d = 0; d < 3; d++) p->in[d] = p->k[d] = p->s[d] = p->d[d] = p->out[d] = 1, p->pb[d] = 0;
    for (int d = 0; d < s->nsp; d++) {
        p->in[off + d] = s->in[d], p->k[off + d] = s->k[d], p->s[off + d] = s->stride[d];
        p->d[off + d] = s->dil[d], p->pb[off + d] = s->pad_b[d], p->out[off + d] = rb_convnd_out(s, d);
    }
}

static int64_t prod3(const int64_t *v) { return v[0] * v[1] * v[2]; }

/* Conv: y[n][m][o] = sum over c in m's group and the window of x * w; x outside the input is
 * zero (or, for QLinearConv, the zero point: a zero term). `xv`/`wv` read an element as a
 * double, minus the zero point for the quantized op. */
typedef double (*rd_fn)(const void *p, size_t i, double zp);
static double rd_f32(const void *p, size_t i, double zp) { return ((const float *)p)[i] - zp; }
static double rd_u8(const void *p, size_t i, double zp) { return ((const uint8_t *)p)[i] - zp; }
static double rd_s8(const void *p, size_t i, double zp) { return ((const int8_t *)p)[i] - zp; }

static void naive_conv(const rb_convnd_shape *s, const sp3 *p, const void *x, rd_fn rx, double xzp, const void *w,
                       rd_fn rw, double wzp, double *acc) {
    int64_t cg = s->c / s->group, mg = s->m / s->group, nin = prod3(p->in), nk = prod3(p->k), nout = prod3(p->out);
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t m = 0; m < s->m; m++) {
            int64_t g = m / mg;
            for (int64_t o0 = 0; o0 < p->out[0]; o0++)
                for (int64_t o1 = 0; o1 < p->out[1]; o1++)
                    for (int64_t o2 = 0; o2 < p->out[2]; o2++) {
                        double sum = 0;
                        for (int64_t c = 0; c < cg; c++) {
                            size_t xb = (size_t)((n * s->c + g * cg + c) * nin), wb = (size_t)((m * cg + c) * nk);
                            for (int64_t k0 = 0; k0 < p->k[0]; k0++) {
                                int64_t i0 = o0 * p->s[0] - p->pb[0] + k0 * p->d[0];
                                if (i0 < 0 || i0 >= p->in[0]) continue;
                                for (int64_t k1 = 0; k1 < p->k[1]; k1++) {
                                    int64_t i1 = o1 * p->s[1] - p->pb[1] + k1 * p->d[1];
                                    if (i1 < 0 || i1 >= p->in[1]) continue;
                                    for (int64_t k2 = 0; k2 < p->k[2]; k2++) {
                                        int64_t i2 = o2 * p->s[2] - p->pb[2] + k2 * p->d[2];
                                        if (i2 < 0 || i2 >= p->in[2]) continue;
                                        size_t xi = xb + (size_t)((i0 * p->in[1] + i1) * p->in[2] + i2);
                                        size_t wi = wb + (size_t)((k0 * p->k[1] + k1) * p->k[2] + k2);
                                        sum += rx(x, xi, xzp) * rw(w, wi, wzp);
                                    }
                                }
                            }
                        }
                        acc[(size_t)((n * s->m + m) * nout) + (size_t)((o0 * p->out[1] + o1) * p->out[2] + o2)] = sum;
                    }
        }
}

/* ConvTranspose: every input element scatters x * w over the window it maps to; W is
 * C x M/group x k. */
static void naive_convt(const rb_convnd_shape *s, const sp3 *p, const float *x, const float *w, double *acc) {
    int64_t cg = s->c / s->group, mg = s->m / s->group, nin = prod3(p->in), nk = prod3(p->k), nout = prod3(p->out);
    memset(acc, 0, (size_t)(s->n * s->m * nout) * sizeof(double));
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t c = 0; c < s->c; c++) {
            int64_t g = c / cg;
            for (int64_t i = 0; i < nin; i++) {
                int64_t i0 = i / (p->in[1] * p->in[2]), i1 = i / p->in[2] % p->in[1], i2 = i % p->in[2];
                double xv = x[(n * s->c + c) * nin + i];
                for (int64_t mm = 0; mm < mg; mm++) {
                    const float *wr = w + (c * mg + mm) * nk;
                    double *yr = acc + (n * s->m + g * mg + mm) * nout;
                    for (int64_t k = 0; k < nk; k++) {
                        int64_t k0 = k / (p->k[1] * p->k[2]), k1 = k / p->k[2] % p->k[1], k2 = k % p->k[2];
                        int64_t o0 = i0 * p->s[0] - p->pb[0] + k0 * p->d[0];
                        int64_t o1 = i1 * p->s[1] - p->pb[1] + k1 * p->d[1];
                        int64_t o2 = i2 * p->s[2] - p->pb[2] + k2 * p->d[2];
                        if (o0 < 0 || o0 >= p->out[0] || o1 < 0 || o1 >= p->out[1] || o2 < 0 || o2 >= p->out[2]) continue;
                        yr[(o0 * p->out[1] + o1) * p->out[2] + o2] += xv * wr[k];
                    }
                }
            }
        }
}

static void fill_bytes(void *p, size_t n, uint32_t seed) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        b[i] = (uint8_t)(seed >> 24);
    }
}

static void list(char *buf, size_t size, const int64_t *v, int n, const char *sep) {
    buf[0] = 0;
    for (int d = 0; d < n; d++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%lld", d ? sep : "", (long long)v[d]);
}

static int all_one(const int64_t *v, int n) {
    for (int d = 0; d < n; d++)
        if (v[d] != 1) return 0;
    return 1;
}

/* A scalar initializer (QLinearConv's scales and zero points). */
static void scalar_init(mb *b, const char *name, int32_t dtype, const void *v, size_t bytes) {
    rb_io io = {name, dtype, 0, {0}, (void *)v, bytes};
    rb_mb_initializer(b, &io);
}

int rb_bench_convnd_shape(const rb_args *a, const rb_convnd_shape *s, rb_rows *rows) {
    graph_case gc = {0};
    sp3 p;
    to_sp3(s, &p);
    const char *op = s->quant ? "QLinearConv" : s->transpose ? "ConvTranspose" : "Conv";
    char in[48], k[24], st[24], pads[48], dl[24];
    list(in, sizeof(in), s->in, s->nsp, "x");
    list(k, sizeof(k), s->k, s->nsp, "x");
    list(st, sizeof(st), s->stride, s->nsp, ",");
    list(dl, sizeof(dl), s->dil, s->nsp, ",");
    int64_t pv[2 * RB_MAX_SPATIAL];
    memcpy(pv, s->pad_b, (size_t)s->nsp * sizeof(int64_t));
    memcpy(pv + s->nsp, s->pad_e, (size_t)s->nsp * sizeof(int64_t));
    list(pads, sizeof(pads), pv, 2 * s->nsp, ",");
    char gs[24] = "";
    if (s->group > 1) snprintf(gs, sizeof(gs), " g=%lld", (long long)s->group);
    char desc[512]; /* the case's name, cut to the row's group field */
    snprintf(desc, sizeof(desc), "%s%dd%s %lldx%lldx%s m=%lld k=%s s=%s p=%s%s%s%s",
             s->transpose ? "convtranspose" : s->quant ? "qlinearconv" : "conv", s->nsp,
             s->quant ? (s->x_signed ? (s->w_signed ? " s8s8" : " s8u8") : s->w_signed ? " u8s8" : " u8u8") : "", (long long)s->n,
             (long long)s->c, in, (long long)s->m, k, st, pads, all_one(s->dil, s->nsp) ? "" : " d=",
             all_one(s->dil, s->nsp) ? "" : dl, gs);
    snprintf(gc.group, sizeof(gc.group), "%.95s", desc);
    char impl[32];
    snprintf(impl, sizeof(impl), "kiln:%s", op);
    gc.impl = impl;
    if (s->nsp < 1 || s->nsp > RB_MAX_SPATIAL || s->group < 1 || s->c % s->group || s->m % s->group) {
        fprintf(stderr, "rt-bench: %s: bad shape (spatial rank 1..3, channels multiples of group)\n", gc.group);
        return RB_USAGE;
    }
    for (int d = 0; d < s->nsp; d++)
        if (rb_convnd_out(s, d) < 1) {
            fprintf(stderr, "rt-bench: %s: empty output (the filter is larger than the padded input)\n", gc.group);
            return RB_USAGE;
        }
    int r = 2 + s->nsp;
    int64_t xd[2 + RB_MAX_SPATIAL] = {s->n, s->c}, wd[2 + RB_MAX_SPATIAL], yd[2 + RB_MAX_SPATIAL] = {s->n, s->m};
    wd[0] = s->transpose ? s->c : s->m;
    wd[1] = s->transpose ? s->m / s->group : s->c / s->group;
    for (int d = 0; d < s->nsp; d++) xd[2 + d] = s->in[d], wd[2 + d] = s->k[d], yd[2 + d] = rb_convnd_out(s, d);
    size_t nx = rb_numel(xd, r), nw = rb_numel(wd, r), ny = rb_numel(yd, r), esz = s->quant ? 1 : sizeof(float);
    int32_t xt = s->quant ? (s->x_signed ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8) : KILN_DTYPE_FLOAT;
    int32_t wt = s->quant ? (s->w_signed ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8) : KILN_DTYPE_FLOAT;
    void *x = malloc(nx * esz), *w = malloc(nw * esz), *y = malloc(ny * esz), *ref = malloc(ny * esz);
    double *acc = malloc(ny * sizeof(double));
    if (!x || !w || !y || !ref || !acc) {
        free(x), free(w), free(y), free(ref), free(acc);
        fprintf(stderr, "rt-bench: %s: out of memory\n", gc.group);
        return RB_RUN;
    }
    gc.ref = ref;
    gc.in[0] = (rb_io){"X", xt, r, {0}, x, nx * esz};
    memcpy(gc.in[0].dims, xd, (size_t)r * sizeof(int64_t));
    gc.n_in = 1;
    gc.out = (rb_io){"Y", xt, r, {0}, y, ny * esz};
    memcpy(gc.out.dims, yd, (size_t)r * sizeof(int64_t));
    rb_io wio = {"W", wt, r, {0}, w, nw * esz};
    memcpy(wio.dims, wd, (size_t)r * sizeof(int64_t));
    int64_t red = s->transpose ? s->m / s->group * prod3(p.k) : s->c / s->group * prod3(p.k);
    gc.flops = 2.0 * (double)(s->transpose ? nx : ny) * (double)red;
    /* QLinearConv: x and w over their whole 8-bit range around their zero points; y_scale puts
     * the accumulator's spread (about sqrt(reduction) x 74 x 74 units) at about 40 output units. */
    float xs = 0.02f, ws = 0.01f, ys = 0;
    uint8_t xzp = s->x_signed ? 0 : 128, wzp = s->w_signed ? 0 : 128, yzp = xzp;
    double t0 = rb_clock_now(a, 1);
    if (s->quant) {
        fill_bytes(x, nx, 5);
        fill_bytes(w, nw, 6);
        ys = (float)(xs * ws * sqrt((double)red) * 5400.0 / 40.0);
        naive_conv(s, &p, x, s->x_signed ? rd_s8 : rd_u8, s->x_signed ? (int8_t)xzp : xzp, w,
                   s->w_signed ? rd_s8 : rd_u8, s->w_signed ? (int8_t)wzp : wzp, acc);
        /* y = saturate(round_half_even(acc x (x_scale x w_scale / y_scale)) + y_zero_point) */
        double mult = (double)xs * ws / ys;
        for (size_t i = 0; i < ny; i++) {
            double v = nearbyint(acc[i] * mult) + (s->x_signed ? (int8_t)yzp : yzp);
            double lo = s->x_signed ? -128 : 0, hi = s->x_signed ? 127 : 255;
            v = v < lo ? lo : v > hi ? hi : v;
            if (s->x_signed) ((int8_t *)ref)[i] = (int8_t)v;
            else ((uint8_t *)ref)[i] = (uint8_t)v;
        }
        gc.tol = 1; /* one quantized unit: the op may round its float multiplier differently */
    } else {
        rb_frand(x, nx, 1, -1, 1);
        rb_frand(w, nw, 2, -1, 1);
        if (s->transpose) naive_convt(s, &p, x, w, acc);
        else naive_conv(s, &p, x, rd_f32, 0, w, rd_f32, 0, acc);
        for (size_t i = 0; i < ny; i++) ((float *)ref)[i] = (float)acc[i];
        gc.tol = 1e-4 * fmax(1.0, sqrt((double)red) / 8);
    }
    gc.naive_s = rb_clock_now(a, 1) - t0;
    free(acc);
    gc.ref_note = "none wired for this case (rt-bench's oneDNN conv is 2-D f32 Conv)";
    gc.b = mb_new(8, s->quant ? 10 : 17);
    rb_mb_input(gc.b, &gc.in[0]);
    rb_mb_initializer(gc.b, &wio);
    rb_mb_output(gc.b, &gc.out);
    const char *fins[] = {"X", "W", NULL};
    const char *qins[] = {"X", "xs", "xz", "W", "ws", "wz", "ys", "yz", NULL};
    const char *outs[] = {"Y", NULL};
    if (s->quant) {
        scalar_init(gc.b, "xs", KILN_DTYPE_FLOAT, &xs, 4);
        scalar_init(gc.b, "xz", xt, &xzp, 1);
        scalar_init(gc.b, "ws", KILN_DTYPE_FLOAT, &ws, 4);
        scalar_init(gc.b, "wz", wt, &wzp, 1);
        scalar_init(gc.b, "ys", KILN_DTYPE_FLOAT, &ys, 4);
        scalar_init(gc.b, "yz", xt, &yzp, 1);
    }
    KilnOnnx__NodeProto *node = mb_node(gc.b, mb_graph(gc.b), op, "node", s->quant ? qins : fins, outs);
    mb_attr_ints(gc.b, node, "kernel_shape", s->k, (size_t)s->nsp);
    mb_attr_ints(gc.b, node, "strides", s->stride, (size_t)s->nsp);
    mb_attr_ints(gc.b, node, "dilations", s->dil, (size_t)s->nsp);
    mb_attr_ints(gc.b, node, "pads", pv, (size_t)(2 * s->nsp));
    mb_attr_int(gc.b, node, "group", s->group);
    if (s->transpose) mb_attr_ints(gc.b, node, "output_padding", s->out_pad, (size_t)s->nsp);
    int rc = rb_run_case(a, &gc, rows, NULL, NULL, NULL);
    free(w);
    rb_case_free(&gc);
    return rc;
}

int rb_bench_batched_matmul(const rb_args *a, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k,
                            rb_rows *rows) {
    graph_case gc = {0};
    int64_t batch = batch_a > batch_b ? batch_a : batch_b;
    snprintf(gc.group, sizeof(gc.group), "matmul f32 batched A=%lldx%lldx%lld B=%lldx%lldx%lld", (long long)batch_a,
             (long long)m, (long long)k, (long long)batch_b, (long long)k, (long long)n);
    gc.impl = "kiln:MatMul";
    if (batch_a < 1 || batch_b < 1 || (batch_a != batch_b && batch_a != 1 && batch_b != 1)) {
        fprintf(stderr, "rt-bench: %s: batches must match or one be 1\n", gc.group);
        return RB_USAGE;
    }
    int64_t ad[3] = {batch_a, m, k}, bd[3] = {batch_b, k, n}, cd[3] = {batch, m, n};
    size_t na = rb_numel(ad, 3), nb = rb_numel(bd, 3), nc = rb_numel(cd, 3);
    float *x = rb_falloc(na), *w = rb_falloc(nb), *y = rb_falloc(nc), *ref = rb_falloc(nc);
    if (!x || !w || !y || !ref) {
        free(x), free(w), free(y), free(ref);
        fprintf(stderr, "rt-bench: %s: out of memory\n", gc.group);
        return RB_RUN;
    }
    rb_frand(x, na, 7, -1, 1);
    rb_frand(w, nb, 8, -1, 1);
    gc.ref = ref;
    gc.in[0] = rb_io_f32("A", 3, ad, x);
    gc.in[1] = rb_io_f32("B", 3, bd, w);
    gc.n_in = 2;
    gc.out = rb_io_f32("C", 3, cd, y);
    gc.flops = 2.0 * (double)batch * (double)m * (double)n * (double)k;
    gc.tol = 1e-4 * fmax(1.0, sqrt((double)k) / 8);
    double t0 = rb_clock_now(a, 1);
    for (int64_t bi = 0; bi < batch; bi++) {
        const float *ab = x + (batch_a == 1 ? 0 : bi) * m * k, *bb = w + (batch_b == 1 ? 0 : bi) * k * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) s += (double)ab[i * k + p] * bb[p * n + j];
                ref[(bi * m + i) * n + j] = (float)s;
            }
    }
    gc.naive_s = rb_clock_now(a, 1) - t0;
    gc.ref_note = "none wired for batched MatMul (OpenBLAS/oneDNN gemm rows: rt-bench gemm, one matrix)";
    gc.b = mb_new(8, 17);
    rb_mb_input(gc.b, &gc.in[0]);
    rb_mb_input(gc.b, &gc.in[1]);
    rb_mb_output(gc.b, &gc.out);
    const char *ins[] = {"A", "B", NULL}, *outs[] = {"C", NULL};
    mb_node(gc.b, mb_graph(gc.b), "MatMul", "node", ins, outs);
    int rc = rb_run_case(a, &gc, rows, NULL, NULL, NULL);
    rb_case_free(&gc);
    return rc;
}
