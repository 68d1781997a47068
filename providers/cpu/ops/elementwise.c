/* SPDX-License-Identifier: MIT */
/* The elementwise drivers (see elementwise.h): contiguous maps and broadcast zips split into
 * chunks for cpu_parallel_for, with 16-bit float operands widened to float32 per chunk. */
#include "providers/cpu/ops/elementwise.h"

#include <string.h>

#include "kernels/common/half.h"
#include "kernels/common/minifloat.h"
#include "providers/cpu/broadcast.h"

/* Elements widened at a time: 1 KiB of float per operand on the stack. */
#define HALF_CHUNK 256
/* Elements per parallel work item of a zip, and per range of a map. */
#define ZIP_CHUNK 4096
#define MAP_GRAIN 16384

static void widen(int32_t h, const void *src, float *dst, size_t n) {
    const uint16_t *s = src;
    if (h == KILN_DTYPE_FLOAT16)
        for (size_t i = 0; i < n; i++) dst[i] = kiln_f16_to_f32_v(s[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = kiln_bf16_to_f32(s[i]);
}

static void narrow(int32_t h, const float *src, void *dst, size_t n) {
    uint16_t *d = dst;
    if (h == KILN_DTYPE_FLOAT16)
        for (size_t i = 0; i < n; i++) d[i] = kiln_f32_to_f16_v(src[i]);
    else
        for (size_t i = 0; i < n; i++) d[i] = kiln_f32_to_bf16(src[i]);
}

cpu_ew_spec cpu_ew_same(int32_t dtype, int bool_out) {
    size_t e = cpu_dtype_size(dtype);
    int32_t h = cpu_is_half(dtype) ? dtype : 0;
    cpu_ew_spec s = {e, e, bool_out ? 1 : e, h, h, bool_out ? 0 : h};
    return s;
}

/* ---- maps ---- */

typedef struct map_job {
    cpu_ew_map f;
    const void *p;
    const cpu_ew_spec *s;
    const char *x;
    char *y;
} map_job;

static void map_range(void *arg, size_t begin, size_t end) {
    const map_job *j = arg;
    const cpu_ew_spec *s = j->s;
    if (!s->ha && !s->ho) {
        j->f(j->x + begin * s->ea, j->y + begin * s->eo, end - begin, j->p);
        return;
    }
    float xb[HALF_CHUNK], yb[HALF_CHUNK];
    for (size_t i = begin; i < end; i += HALF_CHUNK) {
        size_t n = end - i < HALF_CHUNK ? end - i : HALF_CHUNK;
        const void *xp = j->x + i * s->ea;
        void *yp = j->y + i * s->eo;
        if (s->ha) {
            widen(s->ha, xp, xb, n);
            xp = xb;
        }
        j->f(xp, s->ho ? (void *)yb : yp, n, j->p);
        if (s->ho) narrow(s->ho, yb, yp, n);
    }
}

void cpu_ew_map_run(kiln_kernel_ctx *ctx, cpu_ew_map f, const void *p, const cpu_ew_spec *s, const void *x, void *y,
                    uint64_t count) {
    map_job j = {f, p, s, x, y};
    cpu_parallel_for(ctx, (size_t)count, MAP_GRAIN, map_range, &j);
}

/* ---- zips ---- */

typedef struct zip_job {
    cpu_ew_zip f;
    const void *p;
    const cpu_ew_spec *s;
    cpu_bcast bc;
    const char *a, *b;
    char *o;
    size_t sa, sb;          /* steps of a and b within a run: 0 or 1 */
    int64_t chunk, nchunks; /* a run of bc.inner outputs is split into nchunks pieces of chunk */
} zip_job;

/* One piece with 16-bit float operands: widen what is read, narrow what is written. */
static void zip_half(const zip_job *j, size_t n, const char *ap, const char *bp, char *op) {
    const cpu_ew_spec *s = j->s;
    float ab[HALF_CHUNK], bb[HALF_CHUNK], ob[HALF_CHUNK];
    for (size_t i = 0; i < n; i += HALF_CHUNK) {
        size_t m = n - i < HALF_CHUNK ? n - i : HALF_CHUNK;
        const void *x = ap + i * j->sa * s->ea, *y = bp + i * j->sb * s->eb;
        void *z = op + i * s->eo;
        if (s->ha) {
            widen(s->ha, x, ab, j->sa ? m : 1);
            x = ab;
        }
        if (s->hb) {
            widen(s->hb, y, bb, j->sb ? m : 1);
            y = bb;
        }
        j->f(m, x, j->sa, y, j->sb, s->ho ? (void *)ob : z, j->p);
        if (s->ho) narrow(s->ho, ob, z, m);
    }
}

static void zip_range(void *arg, size_t begin, size_t end) {
    const zip_job *j = arg;
    const cpu_ew_spec *s = j->s;
    int half = s->ha || s->hb || s->ho;
    int64_t off[CPU_BCAST_MAX_IN], run = -1;
    for (size_t w = begin; w < end; w++) {
        int64_t r = (int64_t)w / j->nchunks, i0 = ((int64_t)w % j->nchunks) * j->chunk;
        if (r != run) {
            cpu_bcast_offsets(&j->bc, r, off);
            run = r;
        }
        size_t n = (size_t)(j->bc.inner - i0 < j->chunk ? j->bc.inner - i0 : j->chunk);
        const char *ap = j->a + ((size_t)off[0] + (size_t)i0 * j->sa) * s->ea;
        const char *bp = j->b + ((size_t)off[1] + (size_t)i0 * j->sb) * s->eb;
        char *op = j->o + ((size_t)r * (size_t)j->bc.inner + (size_t)i0) * s->eo;
        if (half)
            zip_half(j, n, ap, bp, op);
        else
            j->f(n, ap, j->sa, bp, j->sb, op, j->p);
    }
}

void cpu_ew_zip_run(kiln_kernel_ctx *ctx, cpu_ew_zip f, const void *p, const cpu_ew_spec *s, const kiln_value_desc *a,
                    const kiln_value_desc *b, kiln_value_desc *out) {
    zip_job j;
    memset(&j, 0, sizeof(j));
    j.f = f;
    j.p = p;
    j.s = s;
    j.a = a->data;
    j.b = b->data;
    j.o = out->data;
    const kiln_value_desc *in[2] = {a, b};
    cpu_bcast_init(&j.bc, 2, in, out);
    if (j.bc.outer == 0 || j.bc.inner == 0) return;
    j.sa = (size_t)j.bc.strides[0][j.bc.rank - 1];
    j.sb = (size_t)j.bc.strides[1][j.bc.rank - 1];
    j.chunk = j.bc.inner < ZIP_CHUNK ? j.bc.inner : ZIP_CHUNK;
    j.nchunks = (j.bc.inner + j.chunk - 1) / j.chunk;
    size_t items = (size_t)(j.bc.outer * j.nchunks);
    size_t grain = (size_t)(MAP_GRAIN / j.chunk);
    cpu_parallel_for(ctx, items, grain ? grain : 1, zip_range, &j);
}

/* ---- legacy broadcast ---- */

int64_t cpu_ew_legacy_axis(const cpu_node *n) {
    if (n->opset >= 7 || !cpu_attr_int(n, "broadcast", 0) || !cpu_has_attr(n, "axis")) return CPU_EW_NUMPY;
    return cpu_attr_int(n, "axis", 0);
}

const kiln_value_desc *cpu_ew_legacy_b(int64_t axis, const kiln_value_desc *a, const kiln_value_desc *b,
                                       kiln_value_desc *view, int64_t *dims) {
    if (axis == CPU_EW_NUMPY) return b;
    if (axis < 0) axis += a->rank;
    if (axis == a->rank - b->rank) return b;
    *view = *b;
    for (int32_t d = 0; d < a->rank; d++)
        dims[d] = d >= axis && d < axis + b->rank ? b->dims[d - axis] : 1;
    view->rank = a->rank;
    view->dims = dims;
    return view;
}
