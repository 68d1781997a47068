/* SPDX-License-Identifier: MIT */
/* oneDNN references: dnnl_sgemm, dnnl_gemm_u8s8s32 / s8s8s32 and the convolution primitive
 * (oneDNN 2.x C API), built with -Dbench_dnnl when libdnnl-dev is found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refs.h"

#ifdef RB_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

int rb_have_dnnl(void) { return 1; }

const char *rb_dnnl_version(void) {
    static char buf[32];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof(buf), "%d.%d.%d", v->major, v->minor, v->patch);
    return buf;
}

void rb_dnnl_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c) {
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, trans_a ? m : k, b, trans_b ? k : n, 0.0f, c, n);
}

void rb_dnnl_igemm(int a_signed, int trans_b, int64_t m, int64_t n, int64_t k, const uint8_t *a, const int8_t *b,
                   int32_t *c) {
    const int32_t co = 0;
    if (a_signed)
        dnnl_gemm_s8s8s32('N', trans_b ? 'T' : 'N', 'F', m, n, k, 1.0f, (const int8_t *)a, k, 0, b, trans_b ? k : n, 0,
                          0.0f, c, n, &co);
    else
        dnnl_gemm_u8s8s32('N', trans_b ? 'T' : 'N', 'F', m, n, k, 1.0f, a, k, 0, b, trans_b ? k : n, 0, 0.0f, c, n,
                          &co);
}

struct rb_dnnl_conv {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t conv;
    dnnl_memory_t src, wei, dst, dst_user;
    dnnl_primitive_t dst_reorder;
    int threads;
};

#define DN(call)                                                                   \
    do {                                                                           \
        dnnl_status_t st_ = (call);                                                \
        if (st_ != dnnl_success) {                                                 \
            snprintf(err, es, "oneDNN: %s failed (status %d)", #call, (int)st_);   \
            goto fail;                                                             \
        }                                                                          \
    } while (0)

/* Reorders `from` (user layout) into a new memory of layout `md`. */
static dnnl_status_t reorder_into(dnnl_engine_t eng, dnnl_stream_t s, dnnl_memory_t from, const dnnl_memory_desc_t *md,
                                  dnnl_memory_t *out) {
    const dnnl_memory_desc_t *from_md;
    dnnl_status_t st = dnnl_memory_get_memory_desc(from, &from_md);
    if (st) return st;
    if ((st = dnnl_memory_create(out, md, eng, DNNL_MEMORY_ALLOCATE))) return st;
    if (dnnl_memory_desc_equal(from_md, md)) {
        void *src, *dst;
        dnnl_memory_get_data_handle(from, &src);
        dnnl_memory_get_data_handle(*out, &dst);
        memcpy(dst, src, dnnl_memory_desc_get_size(md));
        return dnnl_success;
    }
    dnnl_primitive_desc_t rpd;
    if ((st = dnnl_reorder_primitive_desc_create(&rpd, from_md, eng, md, eng, NULL))) return st;
    dnnl_primitive_t r;
    st = dnnl_primitive_create(&r, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st) return st;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, *out}};
    st = dnnl_primitive_execute(r, s, 2, args);
    if (!st) st = dnnl_stream_wait(s);
    dnnl_primitive_destroy(r);
    return st;
}

rb_dnnl_conv *rb_dnnl_conv_create(const rb_conv_shape *s, const float *x, const float *w, int threads, char *err,
                                  size_t es) {
    rb_dnnl_conv *c = calloc(1, sizeof(*c));
    dnnl_memory_t xu = NULL, wu = NULL;
    if (!c) {
        snprintf(err, es, "out of memory");
        return NULL;
    }
    c->threads = threads;
    rb_set_ref_threads(threads);
    int64_t oh = (s->h + 2 * s->ph - (s->dh * (s->kh - 1) + 1)) / s->sh + 1;
    int64_t ow = (s->w + 2 * s->pw - (s->dw * (s->kw - 1) + 1)) / s->sw + 1;
    dnnl_dims_t xd = {s->n, s->c, s->h, s->w}, yd = {s->n, s->m, oh, ow};
    dnnl_dims_t wd = {s->group, s->m / s->group, s->c / s->group, s->kh, s->kw};
    dnnl_dims_t strides = {s->sh, s->sw}, pads = {s->ph, s->pw}, dil = {s->dh - 1, s->dw - 1};
    dnnl_memory_desc_t xmd_u, wmd_u, ymd_u, xmd, wmd, ymd;
    DN(dnnl_engine_create(&c->engine, dnnl_cpu, 0));
    DN(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags));
    DN(dnnl_memory_desc_init_by_tag(&xmd_u, 4, xd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&ymd_u, 4, yd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&wmd_u, 5, wd, dnnl_f32, dnnl_goihw));
    DN(dnnl_memory_desc_init_by_tag(&xmd, 4, xd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&ymd, 4, yd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&wmd, 5, wd, dnnl_f32, dnnl_format_tag_any));
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &xmd, &wmd, NULL,
                                                  &ymd, strides, dil, pads, pads));
    DN(dnnl_primitive_desc_create(&c->pd, &cd, NULL, c->engine, NULL));
    DN(dnnl_primitive_create(&c->conv, c->pd));
    DN(dnnl_memory_create(&xu, &xmd_u, c->engine, (void *)x));
    DN(dnnl_memory_create(&wu, &wmd_u, c->engine, (void *)w));
    DN(dnnl_memory_create(&c->dst_user, &ymd_u, c->engine, DNNL_MEMORY_ALLOCATE));
    DN(reorder_into(c->engine, c->stream, xu, dnnl_primitive_desc_query_md(c->pd, dnnl_query_src_md, 0), &c->src));
    DN(reorder_into(c->engine, c->stream, wu, dnnl_primitive_desc_query_md(c->pd, dnnl_query_weights_md, 0), &c->wei));
    DN(dnnl_memory_create(&c->dst, dnnl_primitive_desc_query_md(c->pd, dnnl_query_dst_md, 0), c->engine,
                          DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    DN(dnnl_reorder_primitive_desc_create(&rpd, dnnl_primitive_desc_query_md(c->pd, dnnl_query_dst_md, 0), c->engine,
                                          &ymd_u, c->engine, NULL));
    dnnl_status_t st = dnnl_primitive_create(&c->dst_reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    DN(st);
    dnnl_memory_destroy(xu);
    dnnl_memory_destroy(wu);
    return c;
fail:
    dnnl_memory_destroy(xu);
    dnnl_memory_destroy(wu);
    rb_dnnl_conv_destroy(c);
    return NULL;
}

void rb_dnnl_conv_run(void *p) {
    rb_dnnl_conv *c = p;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->wei}, {DNNL_ARG_DST, c->dst}};
    dnnl_primitive_execute(c->conv, c->stream, 3, args);
    dnnl_stream_wait(c->stream);
}

void rb_dnnl_conv_fetch(rb_dnnl_conv *c, float *y) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, c->dst}, {DNNL_ARG_TO, c->dst_user}};
    dnnl_primitive_execute(c->dst_reorder, c->stream, 2, args);
    dnnl_stream_wait(c->stream);
    void *h;
    dnnl_memory_get_data_handle(c->dst_user, &h);
    const dnnl_memory_desc_t *md;
    dnnl_memory_get_memory_desc(c->dst_user, &md);
    memcpy(y, h, dnnl_memory_desc_get_size(md));
}

const char *rb_dnnl_conv_impl(rb_dnnl_conv *c) {
    const char *name = NULL;
    if (dnnl_primitive_desc_query(c->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name) return "?";
    return name;
}

void rb_dnnl_conv_destroy(rb_dnnl_conv *c) {
    if (!c) return;
    dnnl_primitive_destroy(c->dst_reorder);
    dnnl_primitive_destroy(c->conv);
    dnnl_primitive_desc_destroy(c->pd);
    dnnl_memory_destroy(c->src);
    dnnl_memory_destroy(c->wei);
    dnnl_memory_destroy(c->dst);
    dnnl_memory_destroy(c->dst_user);
    dnnl_stream_destroy(c->stream);
    dnnl_engine_destroy(c->engine);
    free(c);
}
#else
int rb_have_dnnl(void) { return 0; }
const char *rb_dnnl_version(void) { return "not built"; }
void rb_dnnl_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c) {
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}
void rb_dnnl_igemm(int a_signed, int trans_b, int64_t m, int64_t n, int64_t k, const uint8_t *a, const int8_t *b,
                   int32_t *c) {
    (void)a_signed, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}
rb_dnnl_conv *rb_dnnl_conv_create(const rb_conv_shape *s, const float *x, const float *w, int threads, char *err,
                                  size_t es) {
    (void)s, (void)x, (void)w, (void)threads;
    snprintf(err, es, "not built with oneDNN");
    return NULL;
}
void rb_dnnl_conv_run(void *c) { (void)c; }
void rb_dnnl_conv_fetch(rb_dnnl_conv *c, float *y) { (void)c, (void)y; }
const char *rb_dnnl_conv_impl(rb_dnnl_conv *c) { (void)c; return ""; }
void rb_dnnl_conv_destroy(rb_dnnl_conv *c) { (void)c; }
#endif
