/* SPDX-License-Identifier: MIT */
/* `rt-bench conv|dwconv|pool|unary|softmax|layernorm|transpose|reduce`: a one-node model built in
 * memory and run through the public API (kiln_session_run_binding), so whatever CPU path Kiln has
 * for the op is what is measured; checked against a naive loop first (graph_case.c); oneDNN's
 * convolution primitive as a reference for conv and dwconv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_case.h"

/* ---- conv ---- */

static void naive_conv(const rb_conv_shape *s, const float *x, const float *w, float *y, int64_t oh, int64_t ow) {
    int64_t cg = s->c / s->group, mg = s->m / s->group;
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t m = 0; m < s->m; m++) {
            int64_t g = m / mg;
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double acc = 0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t p = 0; p < s->kh; p++) {
                            int64_t yy = i * s->sh - s->ph + p * s->dh;
                            if (yy < 0 || yy >= s->h) continue;
                            for (int64_t q = 0; q < s->kw; q++) {
                                int64_t xx = j * s->sw - s->pw + q * s->dw;
                                if (xx < 0 || xx >= s->w) continue;
                                acc += (double)x[((n * s->c + g * cg + c) * s->h + yy) * s->w + xx] *
                                       w[((m * cg + c) * s->kh + p) * s->kw + q];
                            }
                        }
                    y[((n * s->m + m) * oh + i) * ow + j] = (float)acc;
                }
        }
}

int rb_bench_conv_shape(const rb_args *a, const rb_conv_shape *s, rb_rows *rows) {
    graph_case gc = {0};
    int64_t oh = (s->h + 2 * s->ph - (s->dh * (s->kh - 1) + 1)) / s->sh + 1;
    int64_t ow = (s->w + 2 * s->pw - (s->dw * (s->kw - 1) + 1)) / s->sw + 1;
    int dw = s->group == s->c && s->group > 1;
    snprintf(gc.group, sizeof(gc.group), "%s %lldx%lldx%lldx%lld m=%lld k=%lldx%lld s=%lld p=%lld%s%s", dw ? "dwconv" : "conv",
             (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->m, (long long)s->kh,
             (long long)s->kw, (long long)s->sh, (long long)s->ph, s->dh > 1 ? " d>1" : "",
             s->group > 1 && !dw ? " g>1" : "");
    gc.impl = "kiln:Conv";
    int64_t xd[4] = {s->n, s->c, s->h, s->w}, wd[4] = {s->m, s->c / s->group, s->kh, s->kw}, yd[4] = {s->n, s->m, oh, ow};
    size_t nx = rb_numel(xd, 4), nw = rb_numel(wd, 4), ny = rb_numel(yd, 4);
    float *x = rb_falloc(nx), *w = rb_falloc(nw), *y = rb_falloc(ny);
    float *ref = rb_falloc(ny);
    gc.ref = ref;
    if (!x || !w || !y || !ref) {
        free(x), free(w), free(y), free(ref);
        fprintf(stderr, "rt-bench: %s: out of memory\n", gc.group);
        return RB_RUN;
    }
    rb_frand(x, nx, 1, -1, 1);
    rb_frand(w, nw, 2, -1, 1);
    gc.in[0] = rb_io_f32("X", 4, xd, x);
    gc.n_in = 1;
    rb_io wio = rb_io_f32("W", 4, wd, w);
    gc.out = rb_io_f32("Y", 4, yd, y);
    gc.flops = 2.0 * (double)ny * (double)(s->c / s->group) * (double)(s->kh * s->kw);
    gc.tol = 1e-4 * fmax(1.0, sqrt((double)(s->c / s->group * s->kh * s->kw)) / 8);
    double t0 = rb_clock_now(a, 1);
    naive_conv(s, x, w, ref, oh, ow);
    gc.naive_s = rb_clock_now(a, 1) - t0;
    gc.b = mb_new(8, 17);
    rb_mb_input(gc.b, &gc.in[0]);
    rb_mb_initializer(gc.b, &wio);
    rb_mb_output(gc.b, &gc.out);
    const char *ins[] = {"X", "W", NULL}, *outs[] = {"Y", NULL};
    KilnOnnx__NodeProto *node = mb_node(gc.b, mb_graph(gc.b), "Conv", "conv", ins, outs);
    int64_t k2[2] = {s->kh, s->kw}, st[2] = {s->sh, s->sw}, dl[2] = {s->dh, s->dw}, pd[4] = {s->ph, s->pw, s->ph, s->pw};
    mb_attr_ints(gc.b, node, "kernel_shape", k2, 2);
    mb_attr_ints(gc.b, node, "strides", st, 2);
    mb_attr_ints(gc.b, node, "dilations", dl, 2);
    mb_attr_ints(gc.b, node, "pads", pd, 4);
    mb_attr_int(gc.b, node, "group", s->group);
    int rc = rb_run_case(a, &gc, rows, s, x, w);
    free(w);
    rb_case_free(&gc);
    return rc;
}

/* ---- the memory-bound and elementwise ops ---- */

static double gelu_ref(double v) { return 0.5 * v * (1 + erf(v / sqrt(2.0))); }

static int graph_simple(const rb_args *a, rb_rows *rows) {
    graph_case gc = {0};
    const char *c = a->command;
    int64_t dims[RB_MAX_DIMS], odims[RB_MAX_DIMS];
    int rank = a->rank, orank;
    if (!strcmp(c, "unary")) {
        dims[0] = a->count;
        rank = 1;
    } else if (!strcmp(c, "pool")) {
        memcpy(dims, a->input, sizeof(a->input));
        rank = 4;
    } else {
        memcpy(dims, a->shape, sizeof(int64_t) * (size_t)rank);
    }
    orank = rank;
    memcpy(odims, dims, sizeof(dims));
    int axis = (int)(a->axis < 0 ? a->axis + rank : a->axis);
    int64_t ph = a->pad[0], pw = a->pad[1], kh = a->filter[1], kw = a->filter[2], sh = a->stride[0], sw = a->stride[1];
    if (!strcmp(c, "pool")) {
        if (dims[2] + 2 * ph < kh || dims[3] + 2 * pw < kw) {
            fprintf(stderr, "rt-bench: pool: the window is larger than the padded input\n");
            return RB_USAGE;
        }
        odims[2] = (dims[2] + 2 * ph - kh) / sh + 1;
        odims[3] = (dims[3] + 2 * pw - kw) / sw + 1;
    } else if (!strcmp(c, "reduce")) {
        odims[axis] = 1;
    } else if (!strcmp(c, "transpose")) {
        for (int d = 0; d < rank; d++) odims[d] = dims[a->perm[d]];
    }
    size_t nx = rb_numel(dims, rank), ny = rb_numel(odims, orank);
    float *x = rb_falloc(nx), *y = rb_falloc(ny);
    float *ref = rb_falloc(ny);
    gc.ref = ref;
    if (!x || !y || !ref) {
        free(x), free(y), free(ref);
        fprintf(stderr, "rt-bench: %s: out of memory\n", c);
        return RB_RUN;
    }
    rb_frand(x, nx, 3, -4, 4);
    gc.in[0] = rb_io_f32("X", rank, dims, x);
    gc.n_in = 1;
    gc.out = rb_io_f32("Y", orank, odims, y);
    gc.memory_bound = 1;
    gc.bytes = (double)(nx + ny) * sizeof(float);
    gc.tol = 1e-5;
    char shape[64] = "";
    for (int d = 0; d < rank; d++)
        snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape), "%s%lld", d ? "x" : "", (long long)dims[d]);
    gc.b = mb_new(8, 20);
    const char *ins[] = {"X", "", "", NULL}, *outs[] = {"Y", NULL};
    const char *op = NULL;
    KilnOnnx__NodeProto *node = NULL;
    /* Naive reference: softmax / layernorm / reduce work over rows along `axis` (inner stride). */
    size_t inner = 1, outer = 1, len = (size_t)dims[axis < rank ? axis : 0];
    for (int d = axis + 1; d < rank; d++) inner *= (size_t)dims[d];
    for (int d = 0; d < axis; d++) outer *= (size_t)dims[d];
    double t0 = rb_clock_now(a, 1);
    if (!strcmp(c, "unary")) {
        static const char *const names[][2] = {{"exp", "Exp"}, {"tanh", "Tanh"}, {"sigmoid", "Sigmoid"}, {"erf", "Erf"}, {"gelu", "Gelu"}};
        for (int i = 0; i < 5; i++)
            if (!strcmp(a->op, names[i][0])) op = names[i][1];
        for (size_t i = 0; i < nx; i++) {
            double v = x[i];
            ref[i] = (float)(!strcmp(a->op, "exp") ? exp(v) : !strcmp(a->op, "tanh") ? tanh(v)
                                : !strcmp(a->op, "sigmoid") ? 1 / (1 + exp(-v)) : !strcmp(a->op, "erf") ? erf(v) : gelu_ref(v));
        }
        gc.tol = 1e-5; /* relative to the largest |value| (exp(4) ~ 55) */
        snprintf(gc.group, sizeof(gc.group), "unary %s n=%lld", a->op, (long long)nx);
    } else if (!strcmp(c, "pool")) {
        int is_max = strcmp(a->op, "avg") != 0;
        op = is_max ? "MaxPool" : "AveragePool";
        for (int64_t nc = 0; nc < dims[0] * dims[1]; nc++)
            for (int64_t i = 0; i < odims[2]; i++)
                for (int64_t j = 0; j < odims[3]; j++) {
                    double acc = is_max ? -INFINITY : 0;
                    int cnt = 0;
                    for (int64_t p = 0; p < kh; p++)
                        for (int64_t q = 0; q < kw; q++) {
                            int64_t yy = i * sh - ph + p, xx = j * sw - pw + q;
                            if (yy < 0 || yy >= dims[2] || xx < 0 || xx >= dims[3]) continue;
                            double v = x[(nc * dims[2] + yy) * dims[3] + xx];
                            acc = is_max ? fmax(acc, v) : acc + v;
                            cnt++;
                        }
                    ref[(nc * odims[2] + i) * odims[3] + j] = (float)(is_max ? acc : acc / cnt);
                }
        snprintf(gc.group, sizeof(gc.group), "pool %s %s k=%lldx%lld s=%lld p=%lld", a->op, shape, (long long)kh,
                 (long long)kw, (long long)sh, (long long)ph);
    } else if (!strcmp(c, "softmax") || !strcmp(c, "layernorm")) {
        int sm = !strcmp(c, "softmax");
        op = sm ? "Softmax" : "LayerNormalization";
        for (size_t o = 0; o < outer; o++)
            for (size_t in = 0; in < inner; in++) {
                const float *xr = x + o * len * inner + in;
                float *yr = ref + o * len * inner + in;
                if (sm) {
                    double mx = -INFINITY, sum = 0;
                    for (size_t i = 0; i < len; i++) mx = fmax(mx, xr[i * inner]);
                    for (size_t i = 0; i < len; i++) sum += exp(xr[i * inner] - mx);
                    for (size_t i = 0; i < len; i++) yr[i * inner] = (float)(exp(xr[i * inner] - mx) / sum);
                } else {
                    double mean = 0, var = 0;
                    for (size_t i = 0; i < len; i++) mean += xr[i * inner];
                    mean /= (double)len;
                    for (size_t i = 0; i < len; i++) var += (xr[i * inner] - mean) * (xr[i * inner] - mean);
                    var /= (double)len;
                    for (size_t i = 0; i < len; i++) yr[i * inner] = (float)((xr[i * inner] - mean) / sqrt(var + 1e-5));
                }
            }
        gc.tol = sm ? 1e-5 : 1e-4;
        snprintf(gc.group, sizeof(gc.group), "%s %s axis=%d", c, shape, axis);
    } else if (!strcmp(c, "reduce")) {
        int mx = !strcmp(a->op, "max"), mean = !strcmp(a->op, "mean");
        op = mx ? "ReduceMax" : mean ? "ReduceMean" : "ReduceSum";
        for (size_t o = 0; o < outer; o++)
            for (size_t in = 0; in < inner; in++) {
                double acc = mx ? -INFINITY : 0;
                for (size_t i = 0; i < len; i++) {
                    double v = x[(o * len + i) * inner + in];
                    acc = mx ? fmax(acc, v) : acc + v;
                }
                ref[o * inner + in] = (float)(mean ? acc / (double)len : acc);
            }
        gc.tol = 1e-5;
        snprintf(gc.group, sizeof(gc.group), "reduce %s %s axis=%d", a->op, shape, axis);
    } else { /* transpose */
        op = "Transpose";
        size_t stride[RB_MAX_DIMS];
        stride[rank - 1] = 1;
        for (int d = rank - 2; d >= 0; d--) stride[d] = stride[d + 1] * (size_t)dims[d + 1];
        size_t idx[RB_MAX_DIMS] = {0};
        for (size_t i = 0; i < ny; i++) {
            size_t src = 0;
            for (int d = 0; d < rank; d++) src += idx[d] * stride[a->perm[d]];
            ref[i] = x[src];
            for (int d = rank - 1; d >= 0; d--) {
                if (++idx[d] < (size_t)odims[d]) break;
                idx[d] = 0;
            }
        }
        gc.tol = 0;
        char perm[32] = "";
        for (int d = 0; d < rank; d++)
            snprintf(perm + strlen(perm), sizeof(perm) - strlen(perm), "%s%lld", d ? "," : "", (long long)a->perm[d]);
        snprintf(gc.group, sizeof(gc.group), "transpose %s perm=%s", shape, perm);
    }
    gc.naive_s = rb_clock_now(a, 1) - t0;
    rb_mb_input(gc.b, &gc.in[0]);
    rb_mb_output(gc.b, &gc.out);
    char impl[32];
    snprintf(impl, sizeof(impl), "kiln:%s", op);
    gc.impl = impl;
    if (!strcmp(c, "layernorm")) {
        /* Scale 1 and bias 0 as initializers over the normalized dims. */
        size_t nsc = 1;
        for (int d = axis; d < rank; d++) nsc *= (size_t)dims[d];
        float *sc = rb_falloc(nsc), *bi = rb_falloc(nsc);
        if (!sc || !bi) {
            free(sc), free(bi);
            rb_case_free(&gc);
            return RB_RUN;
        }
        for (size_t i = 0; i < nsc; i++) sc[i] = 1, bi[i] = 0;
        rb_io sio = rb_io_f32("scale", rank - axis, dims + axis, sc), bio = rb_io_f32("bias", rank - axis, dims + axis, bi);
        rb_mb_initializer(gc.b, &sio);
        rb_mb_initializer(gc.b, &bio);
        free(sc), free(bi);
        ins[1] = "scale", ins[2] = "bias";
    } else if (!strcmp(c, "reduce")) {
        int64_t ax = axis, one = 1;
        rb_io axio = {"axes", KILN_DTYPE_INT64, 1, {1}, &ax, sizeof(ax)};
        rb_mb_initializer(gc.b, &axio);
        ins[1] = "axes", ins[2] = NULL;
        (void)one;
    } else {
        ins[1] = NULL;
    }
    node = mb_node(gc.b, mb_graph(gc.b), op, "node", ins, outs);
    if (!strcmp(c, "softmax") || !strcmp(c, "layernorm")) mb_attr_int(gc.b, node, "axis", axis);
    if (!strcmp(c, "transpose")) mb_attr_ints(gc.b, node, "perm", a->perm, (size_t)rank);
    if (!strcmp(c, "pool")) {
        int64_t k2[2] = {kh, kw}, st[2] = {sh, sw}, pd[4] = {ph, pw, ph, pw};
        mb_attr_ints(gc.b, node, "kernel_shape", k2, 2);
        mb_attr_ints(gc.b, node, "strides", st, 2);
        mb_attr_ints(gc.b, node, "pads", pd, 4);
    }
    int rc = rb_run_case(a, &gc, rows, NULL, NULL, NULL);
    rb_case_free(&gc);
    return rc;
}

int rb_cmd_graph(const rb_args *a, rb_rows *rows) {
    if (!strcmp(a->command, "conv") || !strcmp(a->command, "dwconv")) {
        rb_conv_shape s = {a->input[0], a->input[1], a->input[2], a->input[3], a->filter[0], a->filter[1], a->filter[2],
                           a->stride[0], a->stride[1], a->pad[0], a->pad[1], a->dilation[0], a->dilation[1], a->group};
        return rb_bench_conv_shape(a, &s, rows);
    }
    return graph_simple(a, rows);
}
