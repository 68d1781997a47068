/* SPDX-License-Identifier: MIT */
/* Conv (float32; float16, bfloat16 and double through float32), any rank, groups, dilations,
 * strides, pads, auto_pad, on the packed GEMM (docs/kernels.md): constant float32 weights are
 * packed once per group when the kernel is created (the A side, MR output channels per panel);
 * 1x1 stride-1 convs multiply the NCHW activations in place, others through im2col; the bias and
 * the fused activation/residual (conv.h) run in the GEMM's epilogue. Depthwise 2-D convs by a
 * kernel (kernels/f32-dwconv) with the activation fused. */
#include <stdlib.h>
#include <string.h>

#include "kernels/config/gemm-config.h"
#include "kernels/f32-conv/f32-conv.h"
#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/conv.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

typedef struct conv_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group;
    int32_t act; /* kiln_act applied last (fused ops) */
    float p0, p1;
    int32_t residual_input; /* input index of a residual of Y's shape added before act; -1: none */
    kiln_f32_packed *packed; /* one per group when the weights were constant float32; NULL otherwise */
    int64_t packed_dims[KILN_MAX_RANK]; /* the weight shape they were packed from */
} conv_kernel;

static void conv_cleanup(cpu_kernel *base) {
    conv_kernel *k = (conv_kernel *)base;
    if (!k->packed) return;
    for (int64_t g = 0; g < k->group; g++) cpu_free(base, k->packed[g].data);
    cpu_free(base, k->packed);
    k->packed = NULL;
}

/* ---- depthwise 2-D: y[n, c] = act(x[n, c] (*) w[c] + b[c] (+ residual)) ---- */

typedef struct dw_job {
    kiln_f32_dwconv_params p;
    kiln_f32_dwconv_fn fn;
    const float *x, *wt, *b, *r;
    float *y;
    int64_t channels;
    float *work;        /* kiln_f32_dwconv_work_size floats per chunk */
    size_t work_floats, chunks, planes;
    int32_t act;        /* applied after the kernel when it cannot be (residual, transcendental) */
    float p0, p1;
} dw_job;

/* Chunk t of the planes, with its own work buffer. */
static void dw_range(void *arg, size_t begin, size_t end) {
    const dw_job *j = arg;
    size_t in_plane = (size_t)(j->p.ih * j->p.iw), out_plane = (size_t)(j->p.oh * j->p.ow);
    for (size_t t = begin; t < end; t++) {
        float *work = j->work + t * j->work_floats;
        size_t p0 = t * j->planes / j->chunks, p1 = (t + 1) * j->planes / j->chunks;
        for (size_t plane = p0; plane < p1; plane++) {
            int64_t c = (int64_t)plane % j->channels;
            float *y = j->y + plane * out_plane;
            j->fn(&j->p, j->x + plane * in_plane, j->wt + c * j->p.kh * j->p.kw, j->b ? j->b[c] : 0.0f, work, y);
            if (j->r)
                for (size_t e = 0; e < out_plane; e++) y[e] += j->r[plane * out_plane + e];
            if (j->act != KILN_ACT_NONE) kiln_f32_vact(out_plane, y, y, j->act, j->p0, j->p1);
        }
    }
}

/* ---- 1-D and 2-D: im2col fused into packing, per block of output pixels ---- */

typedef struct conv_job {
    const kiln_f32_gemm_config *cfg;
    kiln_f32_conv2d_geom geom;
    const float *x, *bias, *res;
    float *y;
    const float *const *pa; /* packed weights per group */
    int64_t c, m, g, cg, mg;
    size_t in_size, out_size, k, nb, nblocks, mstep, mblocks, tasks, chunks, work_floats;
    float *work;
    int32_t act;
    float p0, p1;
} conv_job;

/* Chunk t of the (image, group, pixel block) tasks, with its own packing buffer. */
static void conv_chunks(void *arg, size_t begin, size_t end) {
    const conv_job *j = arg;
    for (size_t t = begin; t < end; t++) {
        float *work = j->work + t * j->work_floats;
        for (size_t task = t * j->tasks / j->chunks; task < (t + 1) * j->tasks / j->chunks; task++) {
            size_t mb = task % j->mblocks, blk = task / j->mblocks % j->nblocks, ig = task / j->mblocks / j->nblocks;
            int64_t gi = (int64_t)ig % j->g, i = (int64_t)ig / j->g;
            size_t j0 = blk * j->nb, j1 = j0 + j->nb < j->out_size ? j0 + j->nb : j->out_size;
            size_t i0 = mb * j->mstep, i1 = i0 + j->mstep < (size_t)j->mg ? i0 + j->mstep : (size_t)j->mg;
            if (i0 >= i1) continue;
            /* the same block is packed again by the next task only when M is split */
            if (mb == 0 || task == t * j->tasks / j->chunks)
                kiln_f32_packb_im2col(j->cfg, j->x + (size_t)(i * j->c + gi * j->cg) * j->in_size, &j->geom, j0, j1, work);
            size_t yoff = (size_t)(i * j->m + gi * j->mg) * j->out_size + j0;
            kiln_f32_epilogue ep = {j->bias ? j->bias + gi * j->mg : NULL, 1, j->res ? j->res + yoff : NULL, j->out_size,
                                    j->act, j->p0, j->p1};
            kiln_f32_bview bv = {work, 0};
            kiln_f32_gemm_packed(j->cfg, (size_t)j->mg, j1 - j0, j->k, j->pa[gi], bv, i0, i1, 0, j1 - j0, j->y + yoff,
                                 j->out_size, 0, &ep);
        }
    }
}

/* Bytes of a packed block of the unfolded input: sized to stay in L2 with the weights' panels. */
#define CONV_BLOCK_BYTES (384u * 1024u)

static kiln_status conv_packed_im2col(const conv_kernel *k, kiln_kernel_ctx *ctx, const cpu_window *w, const float *xd,
                                      const float *wd, const float *bd, const float *rd, float *yd, int64_t n, int64_t c,
                                      int64_t m, int64_t g, int use_packed, kiln_error *err) {
    conv_job j;
    memset(&j, 0, sizeof j);
    int64_t cg = c / g, mg = m / g;
    int two = w->sp == 2;
    j.geom = (kiln_f32_conv2d_geom){cg, two ? w->in[0] : 1, w->in[two], two ? w->out[0] : 1, w->out[two],
                                    two ? w->k[0] : 1, w->k[two], two ? w->s[0] : 1, w->s[two], two ? w->d[0] : 1,
                                    w->d[two], two ? w->pb[0] : 0, w->pb[two]};
    j.cfg = use_packed ? k->packed[0].cfg : kiln_f32_gemm_config_get();
    j.x = xd, j.bias = bd, j.res = rd, j.y = yd;
    j.c = c, j.m = m, j.g = g, j.cg = cg, j.mg = mg;
    j.in_size = (size_t)w->in_size, j.out_size = (size_t)w->out_size, j.k = (size_t)(cg * w->k_size);
    j.act = k->act, j.p0 = k->p0, j.p1 = k->p1;
    const float **pa = ctx->host->scratch(ctx, sizeof(float *) * (size_t)g + 1);
    if (!pa) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");
    if (use_packed) {
        for (int64_t gi = 0; gi < g; gi++) pa[gi] = k->packed[gi].data;
    } else {
        size_t per = kiln_f32_packa_size(j.cfg, (size_t)mg, j.k);
        float *mem = ctx->host->scratch(ctx, (per * (size_t)g + 16) * sizeof(float));
        if (!mem) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing Conv weights");
        for (int64_t gi = 0; gi < g; gi++) {
            float *dst = mem + (size_t)gi * per;
            kiln_f32_packa(j.cfg, (size_t)mg, j.k, wd + (size_t)(gi * mg) * j.k, j.k, 0, 1.0f, 0,
                           ((size_t)mg + j.cfg->mr - 1) / j.cfg->mr, dst);
            pa[gi] = dst;
        }
    }
    j.pa = pa;
    size_t nr = j.cfg->nr, mr = j.cfg->mr, threads = cpu_thread_count(ctx);
    size_t nb = CONV_BLOCK_BYTES / sizeof(float) / (j.k ? j.k : 1) / nr * nr;
    if (nb < nr) nb = nr;
    if (nb > 1024) nb = 1024;
    /* Few output pixels (late layers): one block, so the weights stream through once. */
    if (j.out_size <= 2 * nb) nb = (j.out_size + nr - 1) / nr * nr;
    size_t imgs = (size_t)(n * g);
    /* Then enough tasks for every thread: split M when there are few blocks and many rows, else
     * smaller pixel blocks. */
    j.mblocks = 1;
    if (imgs * ((j.out_size + nb - 1) / nb) < 2 * threads && (size_t)mg >= 4 * mr * threads) j.mblocks = threads;
    else
        while (nb > nr && imgs * ((j.out_size + nb - 1) / nb) < 2 * threads) nb = (nb / 2 + nr - 1) / nr * nr;
    j.mstep = ((size_t)mg + j.mblocks - 1) / j.mblocks;
    j.mstep = (j.mstep + mr - 1) / mr * mr;
    j.nb = nb;
    j.nblocks = (j.out_size + nb - 1) / nb;
    j.tasks = imgs * j.nblocks * j.mblocks;
    double macs = (double)n * (double)m * (double)j.out_size * (double)j.k;
    /* Threads never hurt: as gemm_parallel.c's tiles, each thread's share is at least 256 K
     * multiply-adds, so a convolution too small to pay for waking a worker (Silero's STFT, 264 K
     * in all) stays on the calling thread. */
    double shares = macs / (256.0 * 1024.0);
    j.chunks = shares >= (double)threads ? threads : (size_t)shares;
    if (j.chunks > j.tasks) j.chunks = j.tasks;
    if (j.chunks < 1) j.chunks = 1;
    j.work_floats = (nb + nr) * j.k + 16;
    j.work = ctx->host->scratch(ctx, j.chunks * j.work_floats * sizeof(float) + 64);
    if (!j.work) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the Conv packing buffers");
    if (j.chunks < 2) conv_chunks(&j, 0, 1);
    else cpu_parallel_for(ctx, j.chunks, 1, conv_chunks, &j);
    return KILN_OK;
}

/* ---- 1-D and 2-D stride 1: implicit GEMM on padded planes (kernels/f32-conv) ---- */

typedef struct igemm_job {
    const kiln_f32_conv_config *cfg;
    kiln_f32_conv_igeom geom;
    const float *x, *bias, *res;
    float *y, *xp, *work;
    const float *const *pa; /* packed weights per group */
    const size_t *off;
    int64_t c, m, g, cg, mg;
    size_t in_size, out_size, plane, qn, qb, qblocks, mstep, mblocks, tasks, chunks, work_floats, pad_chunks, planes, cblock;
    int32_t act;
    float p0, p1;
} igemm_job;

/* Pads chunk t of the n*c input planes (consecutive channels of consecutive images). */
static void igemm_pad(void *arg, size_t begin, size_t end) {
    const igemm_job *j = arg;
    size_t cs = (size_t)j->c;
    for (size_t t = begin; t < end; t++) {
        size_t p0 = t * j->planes / j->pad_chunks, p1 = (t + 1) * j->planes / j->pad_chunks;
        while (p0 < p1) {
            size_t img = p0 / cs, c0 = p0 % cs, c1 = cs;
            if (c1 - c0 > p1 - p0) c1 = c0 + (p1 - p0);
            kiln_f32_conv_pad(&j->geom, j->x + img * cs * j->in_size, c0, c1, j->xp + p0 * j->plane);
            p0 += c1 - c0;
        }
    }
}

/* Chunk t of the (image, group, pixel block, output-channel block) tasks, with its own tile buffer. */
static void igemm_chunks(void *arg, size_t begin, size_t end) {
    const igemm_job *j = arg;
    for (size_t t = begin; t < end; t++) {
        float *work = j->work + t * j->work_floats;
        for (size_t task = t * j->tasks / j->chunks; task < (t + 1) * j->tasks / j->chunks; task++) {
            size_t mb = task % j->mblocks, blk = task / j->mblocks % j->qblocks, ig = task / j->mblocks / j->qblocks;
            int64_t gi = (int64_t)ig % j->g, i = (int64_t)ig / j->g;
            size_t q0 = blk * j->qb, q1 = q0 + j->qb < j->qn ? q0 + j->qb : j->qn;
            size_t i0 = mb * j->mstep, i1 = i0 + j->mstep < (size_t)j->mg ? i0 + j->mstep : (size_t)j->mg;
            if (i0 >= i1) continue;
            size_t yoff = (size_t)(i * j->m + gi * j->mg) * j->out_size;
            kiln_f32_epilogue ep = {j->bias ? j->bias + gi * j->mg : NULL, 1, j->res ? j->res + yoff : NULL, j->out_size,
                                    j->act, j->p0, j->p1};
            kiln_f32_conv_igemm(j->cfg, &j->geom, j->xp + (size_t)(i * j->c + gi * j->cg) * j->plane, j->pa[gi],
                                (size_t)j->mg, j->off, i0, i1, q0, q1, j->cblock, work, j->y + yoff, &ep);
        }
    }
}

/* 1 unless KILN_CONV_IGEMM=0 (benchmarks compare it with the im2col path). */
static int igemm_enabled(void) {
    const char *e = getenv("KILN_CONV_IGEMM");
    return !(e && e[0] == '0');
}

static kiln_status conv_igemm(const conv_kernel *k, kiln_kernel_ctx *ctx, const cpu_window *w,
                              const kiln_f32_conv_config *cfg, const float *xd, const float *wd, const float *bd,
                              const float *rd, float *yd, int64_t n, int64_t c, int64_t m, int64_t g, int use_packed,
                              kiln_error *err) {
    igemm_job j;
    memset(&j, 0, sizeof j);
    int64_t cg = c / g, mg = m / g;
    int two = w->sp == 2;
    j.geom = (kiln_f32_conv_igeom){cg, two ? w->in[0] : 1, w->in[two], two ? w->out[0] : 1, w->out[two],
                                   two ? w->k[0] : 1, w->k[two], two ? w->d[0] : 1, w->d[two],
                                   two ? w->pb[0] : 0, w->pb[two]};
    j.cfg = cfg;
    j.x = xd, j.bias = bd, j.res = rd, j.y = yd;
    j.c = c, j.m = m, j.g = g, j.cg = cg, j.mg = mg;
    j.in_size = (size_t)w->in_size, j.out_size = (size_t)w->out_size;
    j.act = k->act, j.p0 = k->p0, j.p1 = k->p1;
    j.plane = kiln_f32_conv_plane_size(&j.geom);
    j.qn = kiln_f32_conv_qcount(&j.geom);
    size_t taps = (size_t)(j.geom.kh * j.geom.kw), kk = (size_t)cg * taps;
    size_t *off = ctx->host->scratch(ctx, taps * sizeof(size_t));
    const float **pa = ctx->host->scratch(ctx, sizeof(float *) * (size_t)g + 1);
    if (!off || !pa) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");
    kiln_f32_conv_taps(&j.geom, off);
    j.off = off;
    if (use_packed) {
        for (int64_t gi = 0; gi < g; gi++) pa[gi] = k->packed[gi].data;
    } else {
        size_t per = kiln_f32_packa_size(cfg->gemm, (size_t)mg, kk);
        float *mem = ctx->host->scratch(ctx, (per * (size_t)g + 16) * sizeof(float));
        if (!mem) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing Conv weights");
        for (int64_t gi = 0; gi < g; gi++) {
            float *dst = mem + (size_t)gi * per;
            kiln_f32_packa(cfg->gemm, (size_t)mg, kk, wd + (size_t)(gi * mg) * kk, kk, 0, 1.0f, 0,
                           ((size_t)mg + cfg->mr - 1) / cfg->mr, dst);
            pa[gi] = dst;
        }
    }
    j.pa = pa;
    if ((uint64_t)n * (uint64_t)c > SIZE_MAX / sizeof(float) / j.plane)
        return cpu_fail(err, KILN_ERR_SHAPE, "Conv padded input is too large");
    j.xp = ctx->host->scratch(ctx, (size_t)(n * c) * j.plane * sizeof(float) + 64);
    if (!j.xp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the Conv padded input");

    size_t nr = cfg->nr, mr = cfg->mr, threads = cpu_thread_count(ctx);
    size_t qb = 8 * nr;
    if (j.qn <= 2 * qb) qb = (j.qn + nr - 1) / nr * nr;
    size_t imgs = (size_t)(n * g);
    j.mblocks = 1;
    if (imgs * ((j.qn + qb - 1) / qb) < 2 * threads && (size_t)mg >= 4 * mr * threads) j.mblocks = threads;
    else
        while (qb > nr && imgs * ((j.qn + qb - 1) / qb) < 2 * threads) qb = (qb / 2 + nr - 1) / nr * nr;
    j.mstep = ((size_t)mg + j.mblocks - 1) / j.mblocks;
    j.mstep = (j.mstep + mr - 1) / mr * mr;
    j.qb = qb;
    j.qblocks = (j.qn + qb - 1) / qb;
    j.tasks = imgs * j.qblocks * j.mblocks;
    double macs = (double)n * (double)m * (double)j.out_size * (double)kk;
    j.chunks = macs < 256.0 * 1024.0 ? 1 : threads;
    if (j.chunks > j.tasks) j.chunks = j.tasks;
    if (j.chunks < 1) j.chunks = 1;
    j.work_floats = mr * qb + 16;
    /* channels per pass: an MR x cblock x taps slice of A of about 16 KiB stays in L1 beside the
     * tile buffer and the input rows (KILN_CONV_CBLOCK overrides, 0: all, for measurements) */
    j.cblock = 4096 / (mr * taps);
    if (j.cblock < 1) j.cblock = 1;
    const char *cbe = getenv("KILN_CONV_CBLOCK");
    if (cbe) j.cblock = (size_t)strtoul(cbe, NULL, 10);
    j.work = ctx->host->scratch(ctx, j.chunks * j.work_floats * sizeof(float) + 64);
    if (!j.work) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the Conv tile buffers");
    j.planes = (size_t)(n * c);
    j.pad_chunks = j.chunks < j.planes ? j.chunks : j.planes;
    if (j.pad_chunks < 2) igemm_pad(&j, 0, 1);
    else cpu_parallel_for(ctx, j.pad_chunks, 1, igemm_pad, &j);
    if (j.chunks < 2) igemm_chunks(&j, 0, 1);
    else cpu_parallel_for(ctx, j.chunks, 1, igemm_chunks, &j);
    return KILN_OK;
}

/* ---- general: im2col + GEMM ---- */

static kiln_status conv_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const conv_kernel *k = (const conv_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *wt = cpu_in(ctx, 1), *b = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    if (wt->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "weights have rank %d, input rank %d", (int)wt->rank, (int)x->rank);
    cpu_window w;
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, wt->dims + 2, &w, err));
    int64_t g = k->group, n = x->dims[0], c = x->dims[1], m = wt->dims[0];
    if (c % g || m % g || wt->dims[1] != c / g || y->dims[1] != m)
        return cpu_fail(err, KILN_ERR_SHAPE, "channels (input %lld, weights %lldx%lld) do not fit group %lld", (long long)c,
                        (long long)m, (long long)wt->dims[1], (long long)g);
    int64_t cg = c / g, mg = m / g;
    if (b && (b->rank != 1 || b->dims[0] != m)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)m);
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != wt->dims[2 + i]) return cpu_fail(err, KILN_ERR_SHAPE, "kernel_shape does not match the weights");
    if (y->count == 0) return KILN_OK;

    const kiln_value_desc *r = k->residual_input >= 0 ? cpu_in(ctx, (uint32_t)k->residual_input) : NULL;
    if (r && (r->rank != y->rank || r->count != y->count))
        return cpu_fail(err, KILN_ERR_SHAPE, "the residual input must have the output's shape");
    const float *xd = f32_view(ctx, x), *wd = wt->data ? f32_view(ctx, wt) : NULL, *bd = b ? f32_view(ctx, b) : NULL;
    const float *rd = r ? f32_view(ctx, r) : NULL;
    float *yd = f32_out(ctx, y);
    if (!xd || (!wd && !k->packed) || (b && !bd) || (r && !rd) || !yd)
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");

    if (w.sp == 2 && cg == 1 && mg == 1 && w.k[0] <= 64) {
        if (!wd) return cpu_fail(err, KILN_ERR_INTERNAL, "depthwise Conv weights were released");
        dw_job j = {{w.in[0], w.in[1], w.out[0], w.out[1], w.k[0], w.k[1], w.s[0], w.s[1], w.d[0], w.d[1], w.pb[0], w.pb[1],
                     KILN_ACT_NONE, 0.0f, 0.0f},
                    kiln_f32_dwconv_get(), xd, wd, bd, rd, yd, c, NULL, 0, 1, (size_t)(n * c), KILN_ACT_NONE, k->p0, k->p1};
        /* Clamp-type activations run inside the kernel; others (and any with a residual) after it. */
        if (!rd && kiln_act_in_registers(k->act)) j.p.act = k->act, j.p.p0 = k->p0, j.p.p1 = k->p1;
        else j.act = k->act;
        /* One chunk of planes per thread (each with its padded-plane buffer), or one when small. */
        uint64_t work_total = (uint64_t)n * (uint64_t)c * (uint64_t)w.out_size * (uint64_t)w.k_size;
        j.chunks = work_total < 4u * CPU_TASK_WORK ? 1 : cpu_thread_count(ctx);
        if (j.chunks > j.planes) j.chunks = j.planes;
        j.work_floats = kiln_f32_dwconv_work_size(&j.p);
        j.work = ctx->host->scratch(ctx, j.chunks * j.work_floats * sizeof(float) + 1);
        if (!j.work) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");
        if (j.chunks < 2) dw_range(&j, 0, 1);
        else cpu_parallel_for(ctx, j.chunks, 1, dw_range, &j);
        f32_commit(y, yd);
        return KILN_OK;
    }

    int direct = 1;
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != 1 || w.s[i] != 1 || w.pb[i] || w.pe[i] || w.in[i] != w.out[i]) direct = 0;
    int64_t rows = cpu_mul_size(cg, w.k_size), col_n = cpu_mul_size(rows, w.out_size);
    if (rows < 0 || col_n < 0 || (uint64_t)col_n > SIZE_MAX / sizeof(float))
        return cpu_fail(err, KILN_ERR_SHAPE, "Conv im2col buffer is too large");
    int use_packed = k->packed != NULL;
    for (int32_t i = 0; use_packed && i < wt->rank; i++)
        if (wt->dims[i] != k->packed_dims[i]) use_packed = 0;
    if (!direct && (w.sp == 1 || w.sp == 2)) {
        /* stride 1 (any dilation, pads): the implicit GEMM on padded planes, when a kernel reads
         * the weights' packing; else (strides, large kernels) im2col fused into packing */
        int unit = w.k_size <= KILN_CONV_MAX_TAPS;
        for (int32_t i = 0; i < w.sp; i++)
            if (w.s[i] != 1) unit = 0;
        /* the columns between output rows are computed and dropped: not when they outnumber half
         * the outputs (a wide kernel on a narrow output), where im2col wastes nothing */
        int64_t kwid = w.sp == 2 ? (w.k[1] - 1) * w.d[1] : (w.k[0] - 1) * w.d[0];
        int64_t orows = w.sp == 2 ? w.out[0] : 1;
        if (2 * (orows - 1) * kwid > w.out_size) unit = 0;
        const kiln_f32_conv_config *icfg = NULL;
        if (unit && igemm_enabled())
            icfg = use_packed ? kiln_f32_conv_config_for(k->packed[0].cfg) : kiln_f32_conv_config_get();
        if (icfg) {
            KILN_CPU_TRY(conv_igemm(k, ctx, &w, icfg, xd, wd, bd, rd, yd, n, c, m, g, use_packed, err));
            f32_commit(y, yd);
            return KILN_OK;
        }
        KILN_CPU_TRY(conv_packed_im2col(k, ctx, &w, xd, wd, bd, rd, yd, n, c, m, g, use_packed, err));
        f32_commit(y, yd);
        return KILN_OK;
    }
    float *col = NULL;
    if (!direct) {
        col = ctx->host->scratch(ctx, (size_t)col_n * sizeof(float) + 1);
        if (!col) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the im2col buffer");
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            const float *xg = xd + (i * c + gi * cg) * w.in_size;
            float *yg = yd + (i * m + gi * mg) * w.out_size;
            const float *bmat = xg;
            if (!direct) {
                kiln_cpu_im2col_f32(ctx, xg, cg, &w, 0.0f, col);
                bmat = col;
            }
            /* Y[mg x pixels] = W[mg x rows] . X'[rows x pixels]: the weights are the packed A side,
             * the activations (in place, or im2col's columns) are read by rows of B. */
            cpu_f32_operand a = {wd ? wd + gi * mg * rows : NULL, (size_t)rows, 0, use_packed ? &k->packed[gi] : NULL};
            cpu_f32_operand bo = {bmat, (size_t)w.out_size, 0, NULL};
            kiln_f32_epilogue ep = {bd ? bd + gi * mg : NULL, 1, rd ? rd + (i * m + gi * mg) * w.out_size : NULL,
                                    (size_t)w.out_size, k->act, k->p0, k->p1};
            KILN_CPU_TRY(kiln_cpu_sgemm(ctx, (size_t)mg, (size_t)w.out_size, (size_t)rows, 1.0f, &a, &bo, yg,
                                        (size_t)w.out_size, 0, &ep, err));
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

/* The packed weights replace input 1 (W): compute reads only its dims (prepack, docs/kernels.md §5). */
static int conv_owns_input(const cpu_kernel *base, uint32_t input) {
    return input == 1 && ((const conv_kernel *)base)->packed != NULL;
}

/* Packs constant float32 weights once per group (the A side of the GEMM); depthwise convs keep
 * reading the original. */
static kiln_status conv_prepack(conv_kernel *k, const cpu_node *n, kiln_error *err) {
    kiln_value_info wi = cpu_input_info(n, 1);
    const kiln_value_desc *wc = wi.constant;
    if (!wc || wc->dtype != KILN_DTYPE_FLOAT || wc->rank < 3 || !wc->data) return KILN_OK;
    int64_t mg = wc->dims[0] / k->group, rows = 1;
    for (int32_t i = 1; i < wc->rank; i++) rows = cpu_mul_size(rows, wc->dims[i]);
    if (wc->dims[0] % k->group || rows <= 0 || mg <= 0) return KILN_OK; /* compute reports the error */
    if (wc->dims[1] == 1 && mg == 1 && wc->rank == 4) return KILN_OK;    /* depthwise: own kernel */
    k->packed = cpu_alloc(&k->base, sizeof(kiln_f32_packed) * (size_t)k->group);
    if (!k->packed) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing Conv weights");
    memset(k->packed, 0, sizeof(kiln_f32_packed) * (size_t)k->group);
    for (int64_t g = 0; g < k->group; g++)
        KILN_CPU_TRY(kiln_cpu_pack_weight(k->base.host, k->base.host_ctx, KILN_PACKED_A, (size_t)mg, (size_t)rows,
                                          (const float *)wc->data + g * mg * rows, (size_t)rows, 0, 1.0f, &k->packed[g],
                                          err));
    for (int32_t i = 0; i < wc->rank; i++) k->packed_dims[i] = wc->dims[i];
    for (int64_t g = 0; g < k->group; g++) k->base.held_bytes += k->packed[g].bytes;
    k->base.owns_input = conv_owns_input;
    return KILN_OK;
}

kiln_status kiln_cpu_conv_create(const cpu_node *n, int32_t act, float p0, float p1, int32_t residual_input,
                                 cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt || (cpu_input_dtype(n, 2) && cpu_input_dtype(n, 2) != dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Conv is not implemented for %s (float, float16, bfloat16, double only)",
                        cpu_dtype_name(dt));
    if (act < 0 || act >= KILN_ACT_COUNT) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown fused activation %d", (int)act);
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1);
    if (group < 1 || group > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group %lld is out of range", (long long)group);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(conv_kernel), conv_compute, out, err));
    conv_kernel *k = (conv_kernel *)*out;
    k->base.cleanup = conv_cleanup;
    k->wa = wa;
    k->group = group;
    k->act = act;
    k->p0 = p0;
    k->p1 = p1;
    k->residual_input = residual_input;
    kiln_status st = conv_prepack(k, n, err);
    if (st != KILN_OK) {
        k->base.abi.release(&k->base.abi);
        *out = NULL;
    }
    return st;
}

kiln_status kiln_cpu_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return kiln_cpu_conv_create(n, KILN_ACT_NONE, 0.0f, 0.0f, -1, out, err);
}
