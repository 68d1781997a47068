/* SPDX-License-Identifier: MIT */
/* Strided copies (see strided.h): the view is simplified (size-1 dims dropped, dims that are
 * contiguous in both views merged), then copied as rows of the innermost dim, or in square
 * tiles when the innermost dims of source and destination differ (a transpose). */
#include "strided.h"

#include <string.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

void cpu_strides(const int64_t *dims, int32_t rank, int64_t *strides) {
    int64_t s = 1;
    for (int32_t d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

unsigned cpu_sub_bits(int32_t dtype) {
    switch (dtype) {
    case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: case KILN_DTYPE_FLOAT4E2M1: return 4;
    case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2: return 2;
    default: return 0;
    }
}

typedef struct view {
    int32_t rank;
    int64_t dims[CPU_VIEW_MAX], ss[CPU_VIEW_MAX], ds[CPU_VIEW_MAX];
} view;

typedef struct job {
    const view *v;
    const char *src;
    char *dst;
    size_t es;
    int32_t tk;      /* tile path: the dim contiguous in the source; -1 for the row path */
} job;

typedef struct { uint64_t a, b; } u128;

#define ROW_LOOP(T)                                                         \
    do {                                                                    \
        const T *s_ = (const T *)src;                                       \
        T *d_ = (T *)dst;                                                   \
        for (int64_t i_ = 0; i_ < n; i_++) d_[i_ * ds] = s_[i_ * ss];       \
    } while (0)

/* n elements from src (stride ss) to dst (stride ds), strides in elements. */
static void copy_row(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n, size_t es) {
    if (ss == 1 && ds == 1) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    switch (es) {
    case 1: ROW_LOOP(uint8_t); break;
    case 2: ROW_LOOP(uint16_t); break;
    case 4: ROW_LOOP(uint32_t); break;
    case 8: ROW_LOOP(uint64_t); break;
    default: ROW_LOOP(u128); break;
    }
}

/* Offsets of row r (all dims but the last) of the view. */
static void row_offsets(const view *v, int64_t r, int32_t skip, int64_t *so, int64_t *dof) {
    *so = 0, *dof = 0;
    for (int32_t d = v->rank - 2; d >= 0; d--) {
        if (d == skip) continue;
        int64_t i = r % v->dims[d];
        r /= v->dims[d];
        *so += i * v->ss[d];
        *dof += i * v->ds[d];
    }
}

static void rows_range(void *arg, size_t begin, size_t end) {
    const job *j = arg;
    const view *v = j->v;
    int32_t last = v->rank - 1;
    for (size_t r = begin; r < end; r++) {
        int64_t so, dof;
        row_offsets(v, (int64_t)r, -1, &so, &dof);
        copy_row(j->dst + dof * (int64_t)j->es, v->ds[last], j->src + so * (int64_t)j->es, v->ss[last], v->dims[last],
                 j->es);
    }
}

#define TILE 64

/* dst[a * D + b] = src[b * S + a] for a < na, b < nb (strides in elements): a 2-D transpose of
 * one tile. 4-byte elements go through 4x4 register transposes (SSE2, part of x86-64), which
 * read and write 16 contiguous bytes at a time instead of one element per strided access. */
static void transpose_tile(char *dst, int64_t D, const char *src, int64_t S, int64_t na, int64_t nb, size_t es) {
    int64_t a0 = 0;
#if defined(__SSE2__)
    if (es == 4) {
        float *d = (float *)dst;
        const float *x = (const float *)src;
        for (; a0 + 4 <= na; a0 += 4) {
            int64_t b = 0;
            for (; b + 4 <= nb; b += 4) {
                __m128 r0 = _mm_loadu_ps(x + (b + 0) * S + a0), r1 = _mm_loadu_ps(x + (b + 1) * S + a0);
                __m128 r2 = _mm_loadu_ps(x + (b + 2) * S + a0), r3 = _mm_loadu_ps(x + (b + 3) * S + a0);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_ps(d + (a0 + 0) * D + b, r0);
                _mm_storeu_ps(d + (a0 + 1) * D + b, r1);
                _mm_storeu_ps(d + (a0 + 2) * D + b, r2);
                _mm_storeu_ps(d + (a0 + 3) * D + b, r3);
            }
            for (; b < nb; b++)
                for (int64_t a = a0; a < a0 + 4; a++) d[a * D + b] = x[b * S + a];
        }
    }
#endif
    for (int64_t a = a0; a < na; a++) copy_row(dst + a * D * (int64_t)es, 1, src + a * (int64_t)es, S, nb, es);
}

/* Work item t of the tile path: one block of TILE indices of dim tk for one combination of
 * the other outer dims; inside, TILE x TILE tiles keep both sides in cache. */
static void tiles_range(void *arg, size_t begin, size_t end) {
    const job *j = arg;
    const view *v = j->v;
    int32_t last = v->rank - 1, k = j->tk;
    int64_t nk = v->dims[k], nl = v->dims[last], blocks = (nk + TILE - 1) / TILE;
    for (size_t t = begin; t < end; t++) {
        int64_t outer = (int64_t)t / blocks, k0 = ((int64_t)t % blocks) * TILE, k1 = k0 + TILE < nk ? k0 + TILE : nk;
        int64_t so, dof;
        row_offsets(v, outer, k, &so, &dof);
        for (int64_t l0 = 0; l0 < nl; l0 += TILE) {
            int64_t l1 = l0 + TILE < nl ? l0 + TILE : nl;
            const char *s = j->src + (so + k0 + l0 * v->ss[last]) * (int64_t)j->es;
            char *d = j->dst + (dof + k0 * v->ds[k] + l0) * (int64_t)j->es;
            transpose_tile(d, v->ds[k], s, v->ss[last], k1 - k0, l1 - l0, j->es);
        }
    }
}

/* Per-element walk for strings and sub-byte types (serial: set_string allocates). */
static kiln_status copy_each(kiln_kernel_ctx *ctx, const kiln_value_desc *src, int64_t soff, kiln_value_desc *dst,
                             int64_t doff, const view *v, kiln_error *err) {
    int64_t idx[CPU_VIEW_MAX] = {0};
    int64_t total = 1;
    for (int32_t d = 0; d < v->rank; d++) total *= v->dims[d];
    unsigned bits = cpu_sub_bits(src->dtype);
    int64_t so = soff, dof = doff;
    for (int64_t e = 0; e < total; e++) {
        if (src->dtype == KILN_DTYPE_STRING) {
            const char *s = ((char *const *)src->data)[so];
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, dst, (uint64_t)dof, s, strlen(s), err));
        } else {
            cpu_sub_set(dst->data, dof, bits, cpu_sub_get(src->data, so, bits));
        }
        for (int32_t d = v->rank - 1; d >= 0; d--) {
            so += v->ss[d], dof += v->ds[d];
            if (++idx[d] < v->dims[d]) break;
            so -= v->ss[d] * v->dims[d], dof -= v->ds[d] * v->dims[d];
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

kiln_status cpu_copy_strided(kiln_kernel_ctx *ctx, const kiln_value_desc *src, int64_t soff, const int64_t *sstr,
                             kiln_value_desc *dst, int64_t doff, const int64_t *dstr, int32_t rank,
                             const int64_t *dims, kiln_error *err) {
    if (src->dtype != dst->dtype) return cpu_fail(err, KILN_ERR_INTERNAL, "strided copy between different dtypes");
    view v;
    v.rank = 0;
    for (int32_t d = 0; d < rank; d++) {
        if (dims[d] == 0) return KILN_OK;
        if (dims[d] == 1) continue;
        int32_t m = v.rank;
        if (m > 0 && v.ss[m - 1] == sstr[d] * dims[d] && v.ds[m - 1] == dstr[d] * dims[d]) {
            v.dims[m - 1] *= dims[d];
            v.ss[m - 1] = sstr[d];
            v.ds[m - 1] = dstr[d];
        } else {
            v.dims[m] = dims[d], v.ss[m] = sstr[d], v.ds[m] = dstr[d];
            v.rank++;
        }
    }
    if (v.rank == 0) v.rank = 1, v.dims[0] = 1, v.ss[0] = 1, v.ds[0] = 1;
    size_t es = cpu_dtype_size(src->dtype);
    if (src->dtype == KILN_DTYPE_STRING || es == 0) return copy_each(ctx, src, soff, dst, doff, &v, err);
    job j = {&v, (const char *)src->data + soff * (int64_t)es, (char *)dst->data + doff * (int64_t)es, es, -1};
    int32_t last = v.rank - 1;
    int64_t rows = 1;
    for (int32_t d = 0; d < last; d++) rows *= v.dims[d];
    if (v.ds[last] == 1 && v.ss[last] != 1 && v.dims[last] >= 4) {
        for (int32_t d = 0; d < last; d++)
            if (v.ss[d] == 1 && v.dims[d] >= 4) j.tk = d;
    }
    if (j.tk >= 0) {
        int64_t blocks = (v.dims[j.tk] + TILE - 1) / TILE, items = rows / v.dims[j.tk] * blocks;
        int64_t per = TILE * v.dims[last];
        cpu_parallel_for(ctx, (size_t)items, cpu_grain((uint64_t)per), tiles_range, &j);
    } else {
        int64_t inner = v.dims[last];
        cpu_parallel_for(ctx, (size_t)rows, cpu_grain((uint64_t)inner), rows_range, &j);
    }
    return KILN_OK;
}

kiln_status cpu_copy_run(kiln_kernel_ctx *ctx, const kiln_value_desc *src, int64_t soff, kiln_value_desc *dst,
                         int64_t doff, int64_t n, kiln_error *err) {
    if (n <= 0) return KILN_OK;
    size_t es = cpu_dtype_size(src->dtype);
    if (src->dtype == KILN_DTYPE_STRING) {
        char *const *s = src->data;
        for (int64_t i = 0; i < n; i++)
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, dst, (uint64_t)(doff + i), s[soff + i],
                                                            strlen(s[soff + i]), err));
    } else if (es) {
        memcpy((char *)dst->data + doff * (int64_t)es, (const char *)src->data + soff * (int64_t)es, (size_t)n * es);
    } else {
        unsigned bits = cpu_sub_bits(src->dtype);
        for (int64_t i = 0; i < n; i++) cpu_sub_set(dst->data, doff + i, bits, cpu_sub_get(src->data, soff + i, bits));
    }
    return KILN_OK;
}
