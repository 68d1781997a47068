/* SPDX-License-Identifier: MIT */
/* `rt-bench suite resnet50|mobilenetv2|bert` (the GEMM and conv shapes of those models, batch 1,
 * 224x224 images, BERT-base at sequence 128) and `rt-bench shapes MODEL.onnx`. Progress goes to
 * stderr, results to stdout. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "shapes.h"

/* A conv: C, H(=W), M, K, stride, pad, group (0: depthwise, group = C). */
typedef struct { int c, hw, m, k, s, p, g; } conv_row;
typedef struct { int m, n, k; } gemm_row;

static const conv_row resnet50[] = {
    {3, 224, 64, 7, 2, 3, 1},
    {64, 56, 64, 1, 1, 0, 1}, {64, 56, 64, 3, 1, 1, 1}, {64, 56, 256, 1, 1, 0, 1}, {256, 56, 64, 1, 1, 0, 1},
    {256, 56, 128, 1, 1, 0, 1}, {128, 56, 128, 3, 2, 1, 1}, {128, 28, 512, 1, 1, 0, 1}, {256, 56, 512, 1, 2, 0, 1},
    {512, 28, 128, 1, 1, 0, 1}, {128, 28, 128, 3, 1, 1, 1},
    {512, 28, 256, 1, 1, 0, 1}, {256, 28, 256, 3, 2, 1, 1}, {256, 14, 1024, 1, 1, 0, 1}, {512, 28, 1024, 1, 2, 0, 1},
    {1024, 14, 256, 1, 1, 0, 1}, {256, 14, 256, 3, 1, 1, 1},
    {1024, 14, 512, 1, 1, 0, 1}, {512, 14, 512, 3, 2, 1, 1}, {512, 7, 2048, 1, 1, 0, 1}, {1024, 14, 2048, 1, 2, 0, 1},
    {2048, 7, 512, 1, 1, 0, 1}, {512, 7, 512, 3, 1, 1, 1},
};
static const gemm_row resnet50_fc[] = {{1, 1000, 2048}};

static const conv_row mobilenetv2[] = {
    {3, 224, 32, 3, 2, 1, 1},
    {32, 112, 32, 3, 1, 1, 0}, {32, 112, 16, 1, 1, 0, 1},
    {16, 112, 96, 1, 1, 0, 1}, {96, 112, 96, 3, 2, 1, 0}, {96, 56, 24, 1, 1, 0, 1},
    {24, 56, 144, 1, 1, 0, 1}, {144, 56, 144, 3, 1, 1, 0}, {144, 56, 24, 1, 1, 0, 1}, {144, 56, 144, 3, 2, 1, 0},
    {144, 28, 32, 1, 1, 0, 1}, {32, 28, 192, 1, 1, 0, 1}, {192, 28, 192, 3, 1, 1, 0}, {192, 28, 32, 1, 1, 0, 1},
    {192, 28, 192, 3, 2, 1, 0}, {192, 14, 64, 1, 1, 0, 1}, {64, 14, 384, 1, 1, 0, 1}, {384, 14, 384, 3, 1, 1, 0},
    {384, 14, 64, 1, 1, 0, 1}, {384, 14, 96, 1, 1, 0, 1}, {96, 14, 576, 1, 1, 0, 1}, {576, 14, 576, 3, 1, 1, 0},
    {576, 14, 96, 1, 1, 0, 1}, {576, 14, 576, 3, 2, 1, 0}, {576, 7, 160, 1, 1, 0, 1}, {160, 7, 960, 1, 1, 0, 1},
    {960, 7, 960, 3, 1, 1, 0}, {960, 7, 160, 1, 1, 0, 1}, {960, 7, 320, 1, 1, 0, 1}, {320, 7, 1280, 1, 1, 0, 1},
};
static const gemm_row mobilenetv2_fc[] = {{1, 1000, 1280}};

/* BERT-base, sequence 128: QKV / output projection, attention scores and context (one head),
 * feed-forward up and down. */
static const gemm_row bert[] = {{128, 768, 768}, {128, 128, 64}, {128, 64, 128}, {128, 3072, 768}, {128, 768, 3072}};

static void progress(int i, int n, const char *what) {
    fprintf(stderr, "[%d/%d] %s\n", i, n, what);
}

int rb_cmd_suite(const rb_args *a) {
    const conv_row *convs = NULL;
    const gemm_row *gemms = NULL;
    size_t nc = 0, ng = 0;
    if (!strcmp(a->op, "resnet50")) {
        convs = resnet50, nc = sizeof(resnet50) / sizeof(resnet50[0]);
        gemms = resnet50_fc, ng = 1;
    } else if (!strcmp(a->op, "mobilenetv2")) {
        convs = mobilenetv2, nc = sizeof(mobilenetv2) / sizeof(mobilenetv2[0]);
        gemms = mobilenetv2_fc, ng = 1;
    } else {
        gemms = bert, ng = sizeof(bert) / sizeof(bert[0]);
    }
    int total = (int)(nc + ng);
    if (a->dry_run) {
        for (size_t i = 0; i < nc; i++)
            printf("conv 1x%dx%dx%d m=%d k=%dx%d s=%d p=%d g=%d\n", convs[i].c, convs[i].hw, convs[i].hw, convs[i].m,
                   convs[i].k, convs[i].k, convs[i].s, convs[i].p, convs[i].g ? convs[i].g : convs[i].c);
        for (size_t i = 0; i < ng; i++) printf("gemm f32 m=%d n=%d k=%d\n", gemms[i].m, gemms[i].n, gemms[i].k);
        return RB_OK;
    }
    rb_rows rows = {0};
    int rc = RB_OK;
    for (size_t i = 0; i < nc && rc == RB_OK; i++) {
        const conv_row *c = &convs[i];
        rb_conv_shape s = {1, c->c, c->hw, c->hw, c->m, c->k, c->k, c->s, c->s, c->p, c->p, 1, 1, c->g ? c->g : c->c};
        char what[96];
        snprintf(what, sizeof(what), "conv 1x%dx%dx%d m=%d k=%d s=%d", c->c, c->hw, c->hw, c->m, c->k, c->s);
        progress((int)i + 1, total, what);
        rc = rb_bench_conv_shape(a, &s, &rows);
    }
    for (size_t i = 0; i < ng && rc == RB_OK; i++) {
        char what[96];
        snprintf(what, sizeof(what), "gemm m=%d n=%d k=%d", gemms[i].m, gemms[i].n, gemms[i].k);
        progress((int)(nc + i) + 1, total, what);
        rc = rb_bench_gemm_shape(a, gemms[i].m, gemms[i].n, gemms[i].k, 0, 0, "f32", &rows);
    }
    rb_rows_finish(&rows);
    rb_output_rows(&rows, a->format, stdout);
    rb_rows_free(&rows);
    return rc;
}

static void ilist(char *buf, size_t size, const char *name, const int64_t *v, int n) {
    snprintf(buf + strlen(buf), size - strlen(buf), " %s=", name);
    for (int d = 0; d < n; d++) snprintf(buf + strlen(buf), size - strlen(buf), "%s%lld", d ? "," : "", (long long)v[d]);
}

static void describe(const rb_shape *s, char *desc, size_t size) {
    const rb_convnd_shape *c = &s->nd;
    desc[0] = 0;
    if (s->kind == RB_SHAPE_CONV && c->nsp) {
        snprintf(desc, size, "%dd n=%lld c=%lld m=%lld group=%lld", c->nsp, (long long)c->n, (long long)c->c,
                 (long long)c->m, (long long)c->group);
        ilist(desc, size, "in", c->in, c->nsp);
        ilist(desc, size, "k", c->k, c->nsp);
        ilist(desc, size, "s", c->stride, c->nsp);
        ilist(desc, size, "pb", c->pad_b, c->nsp);
        ilist(desc, size, "pe", c->pad_e, c->nsp);
        ilist(desc, size, "d", c->dil, c->nsp);
        if (c->transpose) ilist(desc, size, "out_pad", c->out_pad, c->nsp);
    } else if (s->kind == RB_SHAPE_CONV) {
        snprintf(desc, size, "n=%lld c=%lld h=%lld w=%lld m=%lld kh=%lld kw=%lld sh=%lld sw=%lld ph=%lld pw=%lld dh=%lld dw=%lld group=%lld",
                 (long long)s->conv.n, (long long)s->conv.c, (long long)s->conv.h, (long long)s->conv.w,
                 (long long)s->conv.m, (long long)s->conv.kh, (long long)s->conv.kw, (long long)s->conv.sh,
                 (long long)s->conv.sw, (long long)s->conv.ph, (long long)s->conv.pw, (long long)s->conv.dh,
                 (long long)s->conv.dw, (long long)s->conv.group);
    } else {
        snprintf(desc, size, "m=%lld n=%lld k=%lld batch=%lld trans_a=%d trans_b=%d", (long long)s->m, (long long)s->n,
                 (long long)s->k, (long long)s->batch, s->trans_a, s->trans_b);
        if (s->batch > 1)
            snprintf(desc + strlen(desc), size - strlen(desc), " batch_a=%lld batch_b=%lld", (long long)s->batch_a,
                     (long long)s->batch_b);
    }
}

int rb_cmd_shapes(const rb_args *a) {
    rb_shape *v;
    size_t n;
    int rc = rb_extract_shapes(a->op, a, &v, &n);
    if (rc) return rc;
    if (a->list_only || a->dry_run) {
        if (a->format == RB_JSON) printf("[");
        for (size_t i = 0; i < n; i++) {
            const rb_shape *s = &v[i];
            char desc[200];
            describe(s, desc, sizeof(desc));
            if (a->format == RB_JSON)
                printf("%s\n{\"op\":\"%s\",\"node\":\"%s\",\"count\":%d,\"dtype\":\"%s\",\"shape\":\"%s\",\"skip\":\"%s\"}",
                       i ? "," : "", s->op, s->node, s->count, s->dtype, desc, s->skip);
            else if (a->format == RB_CSV)
                printf("%s,%s,%d,%s,\"%s\",\"%s\"\n", s->op, s->node, s->count, s->dtype, desc, s->skip);
            else
                printf("%-14s x%-3d %-5s %s%s%s\n", s->op, s->count, s->dtype, desc, s->skip[0] ? "  -- " : "", s->skip);
        }
        if (a->format == RB_JSON) printf("\n]\n");
        free(v);
        return RB_OK;
    }
    rb_rows rows = {0};
    for (size_t i = 0; i < n && rc == RB_OK; i++) {
        const rb_shape *s = &v[i];
        char what[256];
        snprintf(what, sizeof(what), "%s %s (x%d)%s%s", s->op, s->node, s->count, s->skip[0] ? ": skipped, " : "", s->skip);
        progress((int)i + 1, (int)n, what);
        if (s->skip[0]) continue;
        if (s->kind == RB_SHAPE_CONV && s->nd.nsp) rc = rb_bench_convnd_shape(a, &s->nd, &rows);
        else if (s->kind == RB_SHAPE_CONV) rc = rb_bench_conv_shape(a, &s->conv, &rows);
        else if (s->batch > 1) rc = rb_bench_batched_matmul(a, s->batch_a, s->batch_b, s->m, s->n, s->k, &rows);
        else rc = rb_bench_gemm_shape(a, s->m, s->n, s->k, s->trans_a, s->trans_b, s->dtype, &rows);
    }
    rb_rows_finish(&rows);
    rb_output_rows(&rows, a->format, stdout);
    rb_rows_free(&rows);
    free(v);
    return rc;
}
