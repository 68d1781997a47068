/* SPDX-License-Identifier: MIT */
/* Selecting, repeating and padding regions, any dtype: Slice (steps, negative and clamped
 * indices), Expand, Tile, Pad (constant / reflect / edge / wrap, negative pads crop) and
 * CenterCropPad. Output shapes come from shape inference; the kernels recompute the region
 * parameters from the same inputs. */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

#define MAXV (KILN_MAX_RANK * 2)

/* Integer input i (int32/int64) into v; *n 0 when omitted. */
static kiln_status read_ints(kiln_kernel_ctx *ctx, uint32_t i, int64_t *v, uint32_t *n, const char *what, kiln_error *err) {
    const kiln_value_desc *t = cpu_in(ctx, i);
    *n = 0;
    if (!t) return KILN_OK;
    if (t->dtype != KILN_DTYPE_INT64 && t->dtype != KILN_DTYPE_INT32)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must be int32 or int64", what);
    if (t->rank > 1 || t->count > MAXV) return cpu_fail(err, KILN_ERR_SHAPE, "%s must be 1-D with at most %d values", what, MAXV);
    for (uint64_t k = 0; k < t->count; k++) v[k] = cpu_index_at(t->data, t->dtype, (int64_t)k);
    *n = (uint32_t)t->count;
    return KILN_OK;
}

/* Normalizes n axes for rank r; fails when out of range or repeated. */
static kiln_status norm_axes(int64_t *axes, uint32_t n, int32_t r, kiln_error *err) {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (a < -(int64_t)r || a >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a, (int)r);
        if (a < 0) a += r;
        if (seen & (1u << a)) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is given twice", (long long)axes[i]);
        seen |= 1u << a;
        axes[i] = a;
    }
    return KILN_OK;
}

/* ---- Slice ---- */

typedef struct slice_kernel {
    cpu_kernel base;
    int from_attrs;                     /* opset < 10: starts, ends, axes are attributes */
    uint32_t n, n_axes;
    int64_t starts[MAXV], ends[MAXV], axes[MAXV];
} slice_kernel;

static kiln_status slice_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const slice_kernel *k = (const slice_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t starts[MAXV], ends[MAXV], axes[MAXV], steps[MAXV];
    uint32_t ns, ne, na, nst;
    if (k->from_attrs) {
        ns = ne = k->n, na = k->n_axes, nst = 0;
        memcpy(starts, k->starts, sizeof(starts));
        memcpy(ends, k->ends, sizeof(ends));
        memcpy(axes, k->axes, sizeof(axes));
    } else {
        KILN_CPU_TRY(read_ints(ctx, 1, starts, &ns, "starts", err));
        KILN_CPU_TRY(read_ints(ctx, 2, ends, &ne, "ends", err));
        KILN_CPU_TRY(read_ints(ctx, 3, axes, &na, "axes", err));
        KILN_CPU_TRY(read_ints(ctx, 4, steps, &nst, "steps", err));
        if (ns != ne || (cpu_in(ctx, 3) && na != ns) || (cpu_in(ctx, 4) && nst != ns))
            return cpu_fail(err, KILN_ERR_SHAPE, "starts, ends, axes and steps have different lengths");
    }
    int32_t r = x->rank;
    if (!na) {
        if (ns > (uint32_t)r) return cpu_fail(err, KILN_ERR_SHAPE, "%u starts for rank %d", ns, (int)r);
        for (uint32_t i = 0; i < ns; i++) axes[i] = i;
    }
    KILN_CPU_TRY(norm_axes(axes, ns, r, err));
    int64_t xs[KILN_MAX_RANK], ss[KILN_MAX_RANK], ds[KILN_MAX_RANK], dims[KILN_MAX_RANK], off = 0;
    cpu_strides(x->dims, r, xs);
    memcpy(ss, xs, sizeof(int64_t) * (size_t)r);
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
    for (uint32_t i = 0; i < ns; i++) {
        int64_t a = axes[i], dim = x->dims[a], step = nst ? steps[i] : 1, s = starts[i], e = ends[i];
        if (step == 0) return cpu_fail(err, KILN_ERR_SHAPE, "step %u is 0", i);
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t cnt;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt = s > e ? (s - e - 1) / -step + 1 : 0;
        }
        dims[a] = cnt;
        if (cnt) off += s * xs[a];
        ss[a] = xs[a] * step;
    }
    if (y->rank != r || memcmp(y->dims, dims, sizeof(int64_t) * (size_t)r) != 0)
        return cpu_fail(err, KILN_ERR_INTERNAL, "Slice output shape differs from shape inference");
    cpu_strides(dims, r, ds);
    return cpu_copy_strided(ctx, x, off, ss, y, 0, ds, r, dims, err);
}

kiln_status kiln_cpu_slice(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Slice is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(slice_kernel), slice_compute, out, err));
    slice_kernel *k = (slice_kernel *)*out;
    if (n->opset < 10) {
        uint32_t ns, ne, na;
        const int64_t *s = cpu_attr_ints(n, "starts", &ns), *e = cpu_attr_ints(n, "ends", &ne), *a = cpu_attr_ints(n, "axes", &na);
        if (!s || !e || ns != ne || ns > MAXV || (a && na != ns)) {
            (*out)->abi.release(&(*out)->abi);
            *out = NULL;
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Slice's starts, ends and axes do not match");
        }
        memcpy(k->starts, s, ns * sizeof(int64_t));
        memcpy(k->ends, e, ns * sizeof(int64_t));
        if (a) memcpy(k->axes, a, na * sizeof(int64_t));
        k->from_attrs = 1;
        k->n = ns;
        k->n_axes = a ? na : 0;
    }
    return KILN_OK;
}

/* ---- Expand, Tile ---- */

static kiln_status expand_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = y->rank, off = r - x->rank;
    if (off < 0) return cpu_fail(err, KILN_ERR_INTERNAL, "Expand output has a lower rank than its input");
    int64_t xs[KILN_MAX_RANK], ss[KILN_MAX_RANK], ds[KILN_MAX_RANK];
    cpu_strides(x->dims, x->rank, xs);
    for (int32_t d = 0; d < r; d++) {
        int64_t xd = d >= off ? x->dims[d - off] : 1;
        if (xd != y->dims[d] && xd != 1)
            return cpu_fail(err, KILN_ERR_INTERNAL, "Expand output does not broadcast its input");
        ss[d] = d >= off && xd == y->dims[d] ? xs[d - off] : 0;
    }
    cpu_strides(y->dims, r, ds);
    return cpu_copy_strided(ctx, x, 0, ss, y, 0, ds, r, y->dims, err);
}

kiln_status kiln_cpu_expand(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Expand is not implemented for %s", cpu_dtype_name(dt));
    return cpu_kernel_new(n, sizeof(cpu_kernel), expand_compute, out, err);
}

static kiln_status tile_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    if (y->rank != r) return cpu_fail(err, KILN_ERR_INTERNAL, "Tile output rank differs from its input");
    if (y->count == 0) return KILN_OK;
    /* Each dim d becomes (repeat, dim): the source repeats with stride 0. */
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK], dims[CPU_VIEW_MAX], ss[CPU_VIEW_MAX], ds[CPU_VIEW_MAX];
    cpu_strides(x->dims, r, xs);
    cpu_strides(y->dims, r, ys);
    for (int32_t d = 0; d < r; d++) {
        if (x->dims[d] == 0 || y->dims[d] % x->dims[d])
            return cpu_fail(err, KILN_ERR_INTERNAL, "Tile output dim is not a multiple of its input");
        dims[2 * d] = y->dims[d] / x->dims[d], ss[2 * d] = 0, ds[2 * d] = x->dims[d] * ys[d];
        dims[2 * d + 1] = x->dims[d], ss[2 * d + 1] = xs[d], ds[2 * d + 1] = ys[d];
    }
    return cpu_copy_strided(ctx, x, 0, ss, y, 0, ds, 2 * r, dims, err);
}

kiln_status kiln_cpu_tile(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Tile is not implemented for %s", cpu_dtype_name(dt));
    return cpu_kernel_new(n, sizeof(cpu_kernel), tile_compute, out, err);
}

/* ---- Pad, CenterCropPad ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct pad_kernel {
    cpu_kernel base;
    int mode;
    int center;                 /* CenterCropPad */
    uint32_t n_attr;            /* opset < 11: pads from the attribute */
    int64_t attr_pads[MAXV];
    double value;               /* opset < 11: the 'value' attribute */
    uint32_t n_axes;            /* CenterCropPad's axes attribute */
    int64_t axes[MAXV];
} pad_kernel;

/* Fills every element of y with the constant (input 2 from opset 11, else the attribute). */
static kiln_status pad_fill(const pad_kernel *k, kiln_kernel_ctx *ctx, kiln_value_desc *y, kiln_error *err) {
    const kiln_value_desc *cv = k->n_attr || k->center ? NULL : cpu_in(ctx, 2);
    if (cv && cv->count == 0) cv = NULL;
    if (y->dtype == KILN_DTYPE_STRING) {
        if (!cv) return KILN_OK;
        const char *s = ((char *const *)cv->data)[0];
        for (uint64_t i = 0; i < y->count; i++) KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, i, s, strlen(s), err));
        return KILN_OK;
    }
    size_t es = cpu_dtype_size(y->dtype);
    if (!es) {
        unsigned bits = cpu_sub_bits(y->dtype), e = cv ? cpu_sub_get(cv->data, 0, bits) : 0;
        if (!e) cpu_zero_fill(y);
        else
            for (uint64_t i = 0; i < y->count; i++) cpu_sub_set(y->data, (int64_t)i, bits, e);
        return KILN_OK;
    }
    uint8_t v[16] = {0};
    if (cv) memcpy(v, cv->data, es);
    else if (k->value != 0 && cpu_elem_numeric(y->dtype)) cpu_store_f64(v, y->dtype, 0, k->value);
    int zero = 1;
    for (size_t b = 0; b < es; b++) zero &= v[b] == 0;
    if (zero) {
        cpu_zero_fill(y);
        return KILN_OK;
    }
    for (uint64_t i = 0; i < y->count; i++) memcpy((char *)y->data + i * es, v, es);
    return KILN_OK;
}

/* Source index of output index o along a dim of n elements padded by `before`. */
static int64_t pad_map(int mode, int64_t o, int64_t before, int64_t n) {
    int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case PAD_EDGE: return i < 0 ? 0 : n - 1;
    case PAD_WRAP: return ((i % n) + n) % n;
    default: {
        if (n == 1) return 0;
        int64_t p = 2 * (n - 1), m = ((i % p) + p) % p;
        return m < n ? m : p - m;
    }
    }
}

#define GATHER_ROW(T)                                                              \
    do {                                                                           \
        const T *s_ = (const T *)src;                                              \
        T *d_ = (T *)dst;                                                          \
        for (int64_t j_ = 0; j_ < n; j_++) d_[j_] = s_[lmap[j_]];                  \
    } while (0)

/* Reflect / edge / wrap: every output element reads the source through per-dim index maps. */
static kiln_status pad_mapped(const pad_kernel *k, kiln_kernel_ctx *ctx, const kiln_value_desc *x, kiln_value_desc *y,
                              const int64_t *pads, kiln_error *err) {
    int32_t r = x->rank;
    int64_t total = 0, off[KILN_MAX_RANK + 1];
    for (int32_t d = 0; d < r; d++) {
        if (x->dims[d] == 0) return cpu_fail(err, KILN_ERR_SHAPE, "cannot pad an empty dim except with a constant");
        off[d] = total;
        total += y->dims[d];
    }
    int64_t *map = ctx->host->scratch(ctx, (size_t)(total ? total : 1) * sizeof(int64_t));
    if (!map) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int32_t d = 0; d < r; d++)
        for (int64_t o = 0; o < y->dims[d]; o++) map[off[d] + o] = pad_map(k->mode, o, pads[d], x->dims[d]);
    int64_t xs[KILN_MAX_RANK], idx[KILN_MAX_RANK] = {0};
    cpu_strides(x->dims, r, xs);
    int64_t n = r ? y->dims[r - 1] : 1, rows = n ? (int64_t)y->count / n : 0;
    const int64_t *lmap = r ? map + off[r - 1] : (const int64_t[]){0};
    size_t es = cpu_dtype_size(x->dtype);
    /* innermost dim: output [lo, lo + mid) is source [0, mid) when its pads are not negative */
    int64_t lo = r ? pads[r - 1] : 0, mid = r && lo >= 0 && pads[2 * r - 1] >= 0 ? x->dims[r - 1] : 0;
    for (int64_t row = 0; row < rows; row++) {
        int64_t so = 0;
        for (int32_t d = 0; d < r - 1; d++) so += map[off[d] + idx[d]] * xs[d];
        int64_t dof = row * n;
        if (x->dtype == KILN_DTYPE_STRING || !es) {
            for (int64_t j = 0; j < n; j++) KILN_CPU_TRY(cpu_copy_run(ctx, x, so + lmap[j], y, dof + j, 1, err));
        } else if (mid > 0) {
            /* the unpadded middle is a straight copy; only the borders go through the map */
            const char *src = (const char *)x->data + so * (int64_t)es;
            char *dst = (char *)y->data + dof * (int64_t)es;
            for (int64_t j = 0; j < lo; j++) memcpy(dst + j * (int64_t)es, src + lmap[j] * (int64_t)es, es);
            memcpy(dst + lo * (int64_t)es, src, (size_t)mid * es);
            for (int64_t j = lo + mid; j < n; j++) memcpy(dst + j * (int64_t)es, src + lmap[j] * (int64_t)es, es);
        } else {
            const char *src = (const char *)x->data + so * (int64_t)es;
            char *dst = (char *)y->data + dof * (int64_t)es;
            switch (es) {
            case 1: GATHER_ROW(uint8_t); break;
            case 2: GATHER_ROW(uint16_t); break;
            case 4: GATHER_ROW(uint32_t); break;
            case 8: GATHER_ROW(uint64_t); break;
            default:
                for (int64_t j = 0; j < n; j++) memcpy(dst + j * (int64_t)es, src + lmap[j] * (int64_t)es, es);
            }
        }
        for (int32_t d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

static kiln_status pad_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const pad_kernel *k = (const pad_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    int64_t pads[MAXV] = {0};
    if (k->center) {
        int64_t axes[MAXV];
        uint32_t na = k->n_axes;
        if (na) memcpy(axes, k->axes, na * sizeof(int64_t));
        else for (int32_t d = 0; d < r; d++) axes[na++] = d;
        KILN_CPU_TRY(norm_axes(axes, na, r, err));
        for (uint32_t i = 0; i < na; i++) {
            int64_t a = axes[i], diff = y->dims[a] - x->dims[a];
            /* crop: start rounded down; pad: the odd pixel goes to the end */
            pads[a] = diff >= 0 ? diff / 2 : -((-diff) / 2);
            pads[r + a] = diff - pads[a];
        }
    } else {
        int64_t p[MAXV], axes[MAXV];
        uint32_t np = k->n_attr, na = 0;
        if (np) memcpy(p, k->attr_pads, np * sizeof(int64_t));
        else KILN_CPU_TRY(read_ints(ctx, 1, p, &np, "pads", err));
        if (cpu_in(ctx, 3) && !k->n_attr) KILN_CPU_TRY(read_ints(ctx, 3, axes, &na, "axes", err));
        else
            for (na = 0; na < (uint32_t)r; na++) axes[na] = na;
        if (np != 2 * na) return cpu_fail(err, KILN_ERR_SHAPE, "pads has %u values for %u axes", np, na);
        KILN_CPU_TRY(norm_axes(axes, na, r, err));
        for (uint32_t i = 0; i < na; i++) pads[axes[i]] = p[i], pads[r + axes[i]] = p[na + i];
    }
    for (int32_t d = 0; d < r; d++)
        if (y->dims[d] != x->dims[d] + pads[d] + pads[r + d])
            return cpu_fail(err, KILN_ERR_INTERNAL, "Pad output shape differs from shape inference");
    if (y->count == 0) return KILN_OK;
    if (k->mode != PAD_CONSTANT) return pad_mapped(k, ctx, x, y, pads, err);
    KILN_CPU_TRY(pad_fill(k, ctx, y, err));
    /* the part of x that survives negative pads, copied to its place */
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK], dims[KILN_MAX_RANK], soff = 0, doff = 0;
    cpu_strides(x->dims, r, xs);
    cpu_strides(y->dims, r, ys);
    for (int32_t d = 0; d < r; d++) {
        int64_t cb = pads[d] < 0 ? -pads[d] : 0, ce = pads[r + d] < 0 ? -pads[r + d] : 0;
        dims[d] = x->dims[d] - cb - ce;
        if (dims[d] <= 0) return KILN_OK;
        soff += cb * xs[d];
        doff += (pads[d] > 0 ? pads[d] : 0) * ys[d];
    }
    return cpu_copy_strided(ctx, x, soff, xs, y, doff, ys, r, dims, err);
}

static kiln_status pad_new(const cpu_node *n, int center, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    const char *mode = center ? "constant" : cpu_attr_str(n, "mode", "constant");
    int m = !strcmp(mode, "constant") ? PAD_CONSTANT : !strcmp(mode, "reflect") ? PAD_REFLECT
          : !strcmp(mode, "edge")     ? PAD_EDGE     : !strcmp(mode, "wrap")    ? PAD_WRAP : -1;
    if (m < 0) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Pad mode '%s' is not implemented", mode);
    if (m != PAD_CONSTANT && !cpu_dtype_size(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Pad mode '%s' is not implemented for %s", mode, cpu_dtype_name(dt));
    uint32_t np = 0, na = 0;
    const int64_t *p = NULL, *axes = NULL;
    if (!center && n->opset < 11) {
        p = cpu_attr_ints(n, n->opset < 2 ? "paddings" : "pads", &np);
        if (!p || np == 0 || np > MAXV) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Pad needs its pads attribute");
    }
    if (center) {
        axes = cpu_attr_ints(n, "axes", &na);
        if (na > MAXV) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "CenterCropPad has too many axes");
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(pad_kernel), pad_compute, out, err));
    pad_kernel *k = (pad_kernel *)*out;
    k->mode = m;
    k->center = center;
    k->n_attr = np;
    if (np) memcpy(k->attr_pads, p, np * sizeof(int64_t));
    k->value = !center && n->opset < 11 ? cpu_attr_float(n, "value", 0.0f) : 0;
    k->n_axes = na;
    if (na) memcpy(k->axes, axes, na * sizeof(int64_t));
    return KILN_OK;
}

kiln_status kiln_cpu_pad(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return pad_new(n, 0, out, err); }
kiln_status kiln_cpu_center_crop_pad(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return pad_new(n, 1, out, err); }
