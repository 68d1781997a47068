/* SPDX-License-Identifier: MIT */
/* NonMaxSuppression (greedy per batch and class, corner or center boxes), RoiAlign (avg or max of
 * bilinear samples, half_pixel or output_half_pixel) and MaxRoiPool; float32, with float16,
 * bfloat16 and double through float32 for the RoI ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/f32_io.h"

/* ---- NonMaxSuppression ---- */

typedef struct nms_kernel {
    cpu_kernel base;
    int center;
} nms_kernel;

typedef struct nms_cand {
    float score;
    int64_t idx;
} nms_cand;

/* Higher score first; equal scores keep the lower index first. */
static int cand_cmp(const void *a, const void *b) {
    const nms_cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Box as (ymin, xmin, ymax, xmax). */
static void box_corners(const float *b, int center, float *o) {
    if (center) {
        o[0] = b[1] - b[3] / 2, o[2] = b[1] + b[3] / 2;
        o[1] = b[0] - b[2] / 2, o[3] = b[0] + b[2] / 2;
    } else {
        o[0] = fminf(b[0], b[2]), o[2] = fmaxf(b[0], b[2]);
        o[1] = fminf(b[1], b[3]), o[3] = fmaxf(b[1], b[3]);
    }
}

/* IoU strictly above the threshold (degenerate boxes never suppress). */
static int suppresses(const float *a, const float *b, float thr) {
    float ix0 = fmaxf(a[1], b[1]), ix1 = fminf(a[3], b[3]);
    if (ix1 <= ix0) return 0;
    float iy0 = fmaxf(a[0], b[0]), iy1 = fminf(a[2], b[2]);
    if (iy1 <= iy0) return 0;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    float a1 = (a[3] - a[1]) * (a[2] - a[0]), a2 = (b[3] - b[1]) * (b[2] - b[0]);
    float uni = a1 + a2 - inter;
    if (inter <= 0 || a1 <= 0 || a2 <= 0 || uni <= 0) return 0;
    return inter / uni > thr;
}

static kiln_status nms_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const nms_kernel *k = (const nms_kernel *)base;
    const kiln_value_desc *boxes = cpu_in(ctx, 0), *scores = cpu_in(ctx, 1), *maxv = cpu_in(ctx, 2), *iouv = cpu_in(ctx, 3),
                          *scv = cpu_in(ctx, 4);
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 || scores->dims[0] != boxes->dims[0] ||
        scores->dims[2] != boxes->dims[1])
        return cpu_fail(err, KILN_ERR_SHAPE, "boxes must be [batches, boxes, 4] and scores [batches, classes, boxes]");
    int64_t nb = boxes->dims[0], nc = scores->dims[1], n = boxes->dims[1];
    int64_t max_out = maxv && maxv->count ? ((const int64_t *)maxv->data)[0] : 0;
    float iou = iouv && iouv->count ? ((const float *)iouv->data)[0] : 0.0f;
    int has_score = scv && scv->count;
    float sthr = has_score ? ((const float *)scv->data)[0] : 0.0f;
    if (max_out < 0) max_out = 0;
    if (max_out > n) max_out = n;
    /* Selections go to scratch first: the count is known only at the end. */
    size_t cap = (size_t)(nb * nc * max_out);
    int64_t *sel = ctx->host->scratch(ctx, cap * 3 * sizeof(int64_t) + 1);
    nms_cand *cand = ctx->host->scratch(ctx, (size_t)n * sizeof(nms_cand) + 1);
    float *corners = ctx->host->scratch(ctx, (size_t)n * 4 * sizeof(float) + 1);
    int64_t *kept = ctx->host->scratch(ctx, (size_t)max_out * sizeof(int64_t) + 1);
    if (!sel || !cand || !corners || !kept) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for NonMaxSuppression");
    size_t count = 0;
    for (int64_t b = 0; b < nb && max_out > 0; b++) {
        const float *bb = (const float *)boxes->data + b * n * 4;
        for (int64_t i = 0; i < n; i++) box_corners(bb + i * 4, k->center, corners + i * 4);
        for (int64_t c = 0; c < nc; c++) {
            const float *sc = (const float *)scores->data + (b * nc + c) * n;
            int64_t m = 0;
            for (int64_t i = 0; i < n; i++)
                if (!has_score || sc[i] > sthr) cand[m].score = sc[i], cand[m].idx = i, m++;
            qsort(cand, (size_t)m, sizeof(nms_cand), cand_cmp);
            int64_t nk = 0;
            for (int64_t i = 0; i < m && nk < max_out; i++) {
                int keep = 1;
                for (int64_t j = 0; j < nk && keep; j++)
                    if (suppresses(corners + cand[i].idx * 4, corners + kept[j] * 4, iou)) keep = 0;
                if (!keep) continue;
                kept[nk++] = cand[i].idx;
                sel[count * 3] = b, sel[count * 3 + 1] = c, sel[count * 3 + 2] = cand[i].idx;
                count++;
            }
        }
    }
    kiln_value_desc *y;
    int64_t dims[2] = {(int64_t)count, 3};
    KILN_CPU_TRY(cpu_output(ctx, 0, 2, dims, &y, err));
    if (count) memcpy(y->data, sel, count * 3 * sizeof(int64_t));
    return KILN_OK;
}

kiln_status kiln_cpu_non_max_suppression(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    if (cpu_input_dtype(n, 0) != KILN_DTYPE_FLOAT || cpu_input_dtype(n, 1) != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "NonMaxSuppression is implemented for float boxes and scores, not %s",
                        cpu_dtype_name(cpu_input_dtype(n, 0)));
    if ((cpu_input_dtype(n, 2) && cpu_input_dtype(n, 2) != KILN_DTYPE_INT64) ||
        (cpu_input_dtype(n, 3) && cpu_input_dtype(n, 3) != KILN_DTYPE_FLOAT) ||
        (cpu_input_dtype(n, 4) && cpu_input_dtype(n, 4) != KILN_DTYPE_FLOAT))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "NonMaxSuppression thresholds must be int64 / float scalars");
    int64_t center = cpu_attr_int(n, "center_point_box", 0);
    if (center != 0 && center != 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "center_point_box must be 0 or 1");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(nms_kernel), nms_compute, out, err));
    ((nms_kernel *)*out)->center = (int)center;
    return KILN_OK;
}

/* ---- RoiAlign ---- */

typedef struct roi_align_kernel {
    cpu_kernel base;
    int max_mode, half_pixel;
    int64_t oh, ow, sampling;
    float spatial_scale;
} roi_align_kernel;

/* Bilinear sample of plane x (h x w) at (y, xx), the ONNX/Caffe2 way: points beyond one pixel
 * outside give 0, the rest clamp to the border. The four weighted corners go to v[4]. */
static void bilinear4(const float *x, int64_t h, int64_t w, float y, float xx, float *v) {
    v[0] = v[1] = v[2] = v[3] = 0.0f;
    if (!(y >= -1.0f && y <= (float)h && xx >= -1.0f && xx <= (float)w)) return; /* NaN included */
    if (y <= 0) y = 0;
    if (xx <= 0) xx = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)xx, y1, x1;
    if (y0 >= h - 1) y1 = y0 = h - 1, y = (float)y0;
    else y1 = y0 + 1;
    if (x0 >= w - 1) x1 = x0 = w - 1, xx = (float)x0;
    else x1 = x0 + 1;
    float ly = y - (float)y0, lx = xx - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
    v[0] = hy * hx * x[y0 * w + x0], v[1] = hy * lx * x[y0 * w + x1];
    v[2] = ly * hx * x[y1 * w + x0], v[3] = ly * lx * x[y1 * w + x1];
}

static kiln_status roi_align_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const roi_align_kernel *k = (const roi_align_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *rois = cpu_in(ctx, 1), *bi = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || bi->rank != 1 || bi->dims[0] != rois->dims[0])
        return cpu_fail(err, KILN_ERR_SHAPE, "X must be 4-D, rois [num_rois, 4] and batch_indices [num_rois]");
    int64_t nr = rois->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    const float *xd = f32_view(ctx, x), *rd = f32_view(ctx, rois);
    float *yd = f32_out(ctx, y);
    if (!xd || !rd || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for RoiAlign");
    const int64_t *bd = bi->data;
    float off = k->half_pixel ? 0.5f : 0.0f;
    for (int64_t r = 0; r < nr; r++) {
        if (bd[r] < 0 || bd[r] >= x->dims[0])
            return cpu_fail(err, KILN_ERR_SHAPE, "batch index %lld is out of range [0, %lld)", (long long)bd[r], (long long)x->dims[0]);
        const float *roi = rd + r * 4;
        for (int i = 0; i < 4; i++)
            if (!isfinite(roi[i])) return cpu_fail(err, KILN_ERR_SHAPE, "RoI %lld has a non-finite coordinate", (long long)r);
        float sw = roi[0] * k->spatial_scale - off, sh = roi[1] * k->spatial_scale - off;
        float rw = roi[2] * k->spatial_scale - off - sw, rh = roi[3] * k->spatial_scale - off - sh;
        if (!k->half_pixel) rw = fmaxf(rw, 1.0f), rh = fmaxf(rh, 1.0f);
        float bh = rh / (float)k->oh, bw = rw / (float)k->ow;
        double gh = k->sampling > 0 ? (double)k->sampling : ceil((double)rh / (double)k->oh);
        double gw = k->sampling > 0 ? (double)k->sampling : ceil((double)rw / (double)k->ow);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        if (!isfinite(gh) || !isfinite(gw) || gh * gw > (double)(1 << 24)) return cpu_fail(err, KILN_ERR_SHAPE, "RoI %lld needs too many samples per bin", (long long)r);
        int64_t ngh = (int64_t)gh, ngw = (int64_t)gw, count = ngh * ngw > 1 ? ngh * ngw : 1;
        for (int64_t ch = 0; ch < c; ch++) {
            const float *plane = xd + (bd[r] * c + ch) * h * w;
            float *out = yd + ((r * c + ch) * k->oh) * k->ow;
            for (int64_t ph = 0; ph < k->oh; ph++)
                for (int64_t pw = 0; pw < k->ow; pw++) {
                    float acc = 0.0f;
                    int first = 1;
                    for (int64_t iy = 0; iy < ngh; iy++) {
                        float yy = sh + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)ngh;
                        for (int64_t ix = 0; ix < ngw; ix++) {
                            float xx = sw + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)ngw, v[4];
                            bilinear4(plane, h, w, yy, xx, v);
                            if (!k->max_mode) {
                                acc += v[0] + v[1] + v[2] + v[3];
                            } else {
                                /* max mode takes the largest weighted corner (as onnxruntime does) */
                                float m = fmaxf(fmaxf(v[0], v[1]), fmaxf(v[2], v[3]));
                                acc = first ? m : fmaxf(acc, m);
                                first = 0;
                            }
                        }
                    }
                    out[ph * k->ow + pw] = k->max_mode ? acc : acc / (float)count;
                }
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_roi_align(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "RoiAlign is not implemented for %s", cpu_dtype_name(dt));
    if (cpu_input_dtype(n, 2) != KILN_DTYPE_INT64) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "batch_indices must be int64");
    const char *mode = cpu_attr_str(n, "mode", "avg");
    /* before opset 16 there was no coordinate_transformation_mode and no half-pixel shift */
    const char *ct = cpu_attr_str(n, "coordinate_transformation_mode", n->opset < 16 ? "output_half_pixel" : "half_pixel");
    int max_mode = strcmp(mode, "max") == 0, half = strcmp(ct, "half_pixel") == 0;
    if (!max_mode && strcmp(mode, "avg") != 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown RoiAlign mode '%s'", mode);
    if (!half && strcmp(ct, "output_half_pixel") != 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown coordinate_transformation_mode '%s'", ct);
    int64_t oh = cpu_attr_int(n, "output_height", 1), ow = cpu_attr_int(n, "output_width", 1), sr = cpu_attr_int(n, "sampling_ratio", 0);
    if (oh < 1 || ow < 1 || sr < 0 || sr > 4096) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "output sizes must be positive and sampling_ratio in [0, 4096]");
    float scale = cpu_attr_float(n, "spatial_scale", 1.0f);
    if (!isfinite(scale)) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "spatial_scale must be finite, not %g", (double)scale);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(roi_align_kernel), roi_align_compute, out, err));
    roi_align_kernel *k = (roi_align_kernel *)*out;
    k->max_mode = max_mode, k->half_pixel = half;
    k->oh = oh, k->ow = ow, k->sampling = sr;
    k->spatial_scale = scale;
    return KILN_OK;
}

/* ---- MaxRoiPool ---- */

typedef struct roi_pool_kernel {
    cpu_kernel base;
    int64_t ph, pw;
    float spatial_scale;
} roi_pool_kernel;

static kiln_status roi_pool_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const roi_pool_kernel *k = (const roi_pool_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *rois = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 5) return cpu_fail(err, KILN_ERR_SHAPE, "X must be 4-D and rois [num_rois, 5]");
    int64_t nr = rois->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    const float *xd = f32_view(ctx, x), *rd = f32_view(ctx, rois);
    float *yd = f32_out(ctx, y);
    if (!xd || !rd || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for MaxRoiPool");
    for (int64_t r = 0; r < nr; r++) {
        const float *roi = rd + r * 5;
        for (int i = 0; i < 5; i++)
            if (!isfinite(roi[i]) || fabsf(roi[i] * (i ? k->spatial_scale : 1.0f)) > 1e15f)
                return cpu_fail(err, KILN_ERR_SHAPE, "RoI %lld has an out-of-range value", (long long)r);
        int64_t b = (int64_t)roi[0];
        if (b < 0 || b >= x->dims[0]) return cpu_fail(err, KILN_ERR_SHAPE, "RoI %lld: batch index %lld is out of range", (long long)r, (long long)b);
        int64_t x0 = llroundf(roi[1] * k->spatial_scale), y0 = llroundf(roi[2] * k->spatial_scale);
        int64_t x1 = llroundf(roi[3] * k->spatial_scale), y1 = llroundf(roi[4] * k->spatial_scale);
        int64_t rh = y1 - y0 + 1 > 1 ? y1 - y0 + 1 : 1, rw = x1 - x0 + 1 > 1 ? x1 - x0 + 1 : 1;
        double bh = (double)rh / (double)k->ph, bw = (double)rw / (double)k->pw;
        for (int64_t ch = 0; ch < c; ch++) {
            const float *plane = xd + (b * c + ch) * h * w;
            float *out = yd + ((r * c + ch) * k->ph) * k->pw;
            for (int64_t i = 0; i < k->ph; i++) {
                int64_t hs = (int64_t)floor((double)i * bh) + y0, he = (int64_t)ceil((double)(i + 1) * bh) + y0;
                hs = hs < 0 ? 0 : hs > h ? h : hs, he = he < 0 ? 0 : he > h ? h : he;
                for (int64_t j = 0; j < k->pw; j++) {
                    int64_t ws = (int64_t)floor((double)j * bw) + x0, we = (int64_t)ceil((double)(j + 1) * bw) + x0;
                    ws = ws < 0 ? 0 : ws > w ? w : ws, we = we < 0 ? 0 : we > w ? w : we;
                    float m = 0.0f;
                    if (he > hs && we > ws) {
                        m = -INFINITY;
                        for (int64_t yy = hs; yy < he; yy++)
                            for (int64_t xx = ws; xx < we; xx++) m = fmaxf(m, plane[yy * w + xx]);
                    }
                    out[i * k->pw + j] = m;
                }
            }
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_max_roi_pool(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "MaxRoiPool is not implemented for %s", cpu_dtype_name(dt));
    uint32_t np;
    const int64_t *ps = cpu_attr_ints(n, "pooled_shape", &np);
    if (!ps || np != 2 || ps[0] < 1 || ps[1] < 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "pooled_shape must be two positive sizes");
    float scale = cpu_attr_float(n, "spatial_scale", 1.0f);
    if (!(scale > 0.0f) || !isfinite(scale)) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "spatial_scale must be positive");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(roi_pool_kernel), roi_pool_compute, out, err));
    roi_pool_kernel *k = (roi_pool_kernel *)*out;
    k->ph = ps[0], k->pw = ps[1];
    k->spatial_scale = scale;
    return KILN_OK;
}
