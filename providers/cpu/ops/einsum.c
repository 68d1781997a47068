/* SPDX-License-Identifier: MIT */
/* Einsum with any number of operands, repeated labels (diagonals), ellipsis broadcasting and
 * implicit outputs. Operands are contracted left to right: each pair is rearranged into
 * [batch, M, K] x [batch, K, N] (taking diagonals, summing labels no later term needs) and
 * multiplied with a GEMM (kiln_f32_gemm for float32). Integers compute in wrapping 64-bit
 * arithmetic and are narrowed like a cast; float16/bfloat16 go through float32. */
#include <string.h>

#include "kernels/common/half.h"
#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"

/* Labels: 'A'..'Z' = 0..25, 'a'..'z' = 26..51; ellipsis dims 52..67, right-aligned. */
#define LETTERS 52
#define NLABELS (LETTERS + KILN_MAX_RANK)

enum { L_F32, L_F64, L_INT };

typedef struct eterm {
    int8_t lab[KILN_MAX_RANK];
    int n, ell; /* letters; ellipsis position among them, -1 when absent */
} eterm;

typedef struct einsum_kernel {
    cpu_kernel base;
    int32_t dtype;
    int lane;
    uint32_t n_terms;
    int explicit_out;
    eterm out;
    eterm terms[]; /* n_terms */
} einsum_kernel;

/* A tensor in the lane type with one label per dim (labels may repeat in inputs). */
typedef struct operand {
    void *data;
    int32_t nd;
    int lab[KILN_MAX_RANK];
    int64_t dims[KILN_MAX_RANK];
} operand;

static int letter(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    return -1;
}

static int parse_term(const char *s, eterm *t) {
    int i = 0;
    t->n = 0;
    t->ell = -1;
    for (; s[i] && s[i] != ',' && s[i] != '-'; i++) {
        if (s[i] == ' ') continue;
        if (s[i] == '.') {
            if (t->ell >= 0 || s[i + 1] != '.' || s[i + 2] != '.') return -1;
            t->ell = t->n;
            i += 2;
            continue;
        }
        int l = letter(s[i]);
        if (l < 0 || t->n >= KILN_MAX_RANK) return -1;
        t->lab[t->n++] = (int8_t)l;
    }
    return i;
}

static size_t lane_size(int lane) { return lane == L_F32 ? 4 : 8; }

/* ---- rearrange: dst[target labels] = sum of src over its other labels ---- */

/* A label repeated in src walks its diagonal; a src dim of size 1 broadcasts to the label's size.
 * The innermost label runs as a strided loop; the others advance an odometer. */
#define DEF_REARR(NAME, T)                                                                 \
    static void NAME(const T *src, T *dst, int nu, const int64_t *size, const int64_t *ss, const int64_t *ds, \
                     int64_t total) {                                                      \
        int64_t idx[NLABELS] = {0}, so = 0, dof = 0, n = size[nu - 1];                     \
        int64_t sl = ss[nu - 1], dl = ds[nu - 1];                                          \
        for (int64_t i = 0; i < total; i += n) {                                           \
            if (sl == 1 && dl == 1)                                                        \
                for (int64_t t = 0; t < n; t++) dst[dof + t] += src[so + t];               \
            else                                                                           \
                for (int64_t t = 0; t < n; t++) dst[dof + t * dl] += src[so + t * sl];     \
            for (int u = nu - 2; u >= 0; u--) {                                            \
                so += ss[u];                                                               \
                dof += ds[u];                                                              \
                if (++idx[u] < size[u]) break;                                             \
                so -= idx[u] * ss[u];                                                      \
                dof -= idx[u] * ds[u];                                                     \
                idx[u] = 0;                                                                \
            }                                                                              \
        }                                                                                  \
    }
DEF_REARR(rearr_f32, float)
DEF_REARR(rearr_f64, double)
DEF_REARR(rearr_int, uint64_t)

static kiln_status mul_size(int64_t a, int64_t b, int64_t *out, kiln_error *err) {
    if (__builtin_mul_overflow(a, b, out) || *out > ((int64_t)1 << 40))
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "an intermediate tensor of %lld x %lld elements is too large",
                        (long long)a, (long long)b);
    return KILN_OK;
}

/* Whether src already is laid out over exactly the labels tl[0..nt), none broadcast. */
static int is_layout(const operand *src, const int *tl, int nt, const int64_t *lsize) {
    if (src->nd != nt) return 0;
    for (int i = 0; i < nt; i++)
        if (src->lab[i] != tl[i] || src->dims[i] != lsize[tl[i]]) return 0;
    return 1;
}

/* Builds `out` over the labels tl[0..nt) (unique; sizes from the label table) from `src`;
 * out shares src's data when src already has that layout. */
static kiln_status rearrange(kiln_kernel_ctx *ctx, int lane, const operand *src, const int *tl, int nt,
                             const int64_t *lsize, operand *out, kiln_error *err) {
    if (is_layout(src, tl, nt, lsize)) {
        *out = *src;
        return KILN_OK;
    }
    int u_lab[NLABELS], nu = 0;
    int64_t size[NLABELS], ss[NLABELS], ds[NLABELS], count = 1, total = 1;
    for (int i = 0; i < nt; i++) u_lab[nu++] = tl[i];
    for (int32_t d = 0; d < src->nd; d++) { /* labels summed away */
        int seen = 0;
        for (int u = 0; u < nu; u++) seen |= u_lab[u] == src->lab[d];
        if (!seen) u_lab[nu++] = src->lab[d];
    }
    int64_t stride = 1;
    for (int u = nu - 1; u >= 0; u--) {
        size[u] = u < nt ? lsize[u_lab[u]] : 0;
        if (u >= nt) /* summed label: its size in src */
            for (int32_t d = 0; d < src->nd; d++)
                if (src->lab[d] == u_lab[u]) size[u] = src->dims[d];
        ds[u] = u < nt ? stride : 0;
        if (u < nt) KILN_CPU_TRY(mul_size(stride, size[u], &stride, err));
    }
    count = stride;
    int64_t sst[KILN_MAX_RANK], s = 1;
    for (int32_t d = src->nd - 1; d >= 0; d--) {
        sst[d] = s;
        s *= src->dims[d];
    }
    for (int u = 0; u < nu; u++) {
        ss[u] = 0;
        for (int32_t d = 0; d < src->nd; d++)
            if (src->lab[d] == u_lab[u] && src->dims[d] != 1) ss[u] += sst[d];
        KILN_CPU_TRY(mul_size(total, size[u], &total, err));
    }
    out->nd = nt;
    for (int i = 0; i < nt; i++) {
        out->lab[i] = tl[i];
        out->dims[i] = lsize[tl[i]];
    }
    out->data = ctx->host->scratch(ctx, (size_t)count * lane_size(lane) + 1);
    if (!out->data) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %lld elements", (long long)count);
    memset(out->data, 0, (size_t)count * lane_size(lane));
    if (!total) return KILN_OK;
    if (!nu) { /* scalar to scalar */
        size[0] = 1;
        ss[0] = ds[0] = 0;
        nu = 1;
    }
    if (lane == L_F32) rearr_f32(src->data, out->data, nu, size, ss, ds, total);
    else if (lane == L_F64) rearr_f64(src->data, out->data, nu, size, ss, ds, total);
    else rearr_int(src->data, out->data, nu, size, ss, ds, total);
    return KILN_OK;
}

/* ---- batched matmul for the double and integer lanes: one task per row of C ---- */

typedef struct mm_job {
    const void *a, *b;
    void *c;
    int64_t m, n, k;
    int64_t ai, aq, bq, bx; /* element strides: a(i, q) = a[i * ai + q * aq], b(q, x) = b[q * bq + x * bx] */
} mm_job;

#define DEF_MM(NAME, T)                                                                    \
    static void NAME(void *arg, size_t lo, size_t hi) {                                    \
        const mm_job *j = arg;                                                             \
        for (size_t r = lo; r < hi; r++) {                                                 \
            int64_t bt = (int64_t)r / j->m, i = (int64_t)r % j->m;                         \
            const T *a = (const T *)j->a + bt * j->m * j->k + i * j->ai;                   \
            const T *b = (const T *)j->b + bt * j->k * j->n;                               \
            T *c = (T *)j->c + (bt * j->m + i) * j->n;                                     \
            for (int64_t q = 0; q < j->k; q++) {                                           \
                T av = a[q * j->aq];                                                       \
                const T *br = b + q * j->bq;                                               \
                if (j->bx == 1)                                                            \
                    for (int64_t x = 0; x < j->n; x++) c[x] += av * br[x];                 \
                else                                                                       \
                    for (int64_t x = 0; x < j->n; x++) c[x] += av * br[x * j->bx];         \
            }                                                                              \
        }                                                                                  \
    }
DEF_MM(mm_f64, double)
DEF_MM(mm_int, uint64_t)

static int has(const int *l, int n, int v) {
    for (int i = 0; i < n; i++)
        if (l[i] == v) return 1;
    return 0;
}

/* cur := contraction of cur and b over the labels no later operand (nor the output) needs. */
static kiln_status contract(kiln_kernel_ctx *ctx, int lane, operand *cur, const operand *b, const uint8_t *later,
                            const int64_t *lsize, kiln_error *err) {
    int bl[NLABELS], ml[NLABELS], kl[NLABELS], nl[NLABELS], nb = 0, nm = 0, nk = 0, nn = 0;
    int64_t bs = 1, ms = 1, ks = 1, ns = 1;
    for (int32_t d = 0; d < cur->nd; d++) {
        int l = cur->lab[d], inb = has(b->lab, b->nd, l);
        if (has(bl, nb, l) || has(ml, nm, l) || has(kl, nk, l)) continue;
        if (inb && later[l]) bl[nb++] = l;
        else if (inb) kl[nk++] = l;
        else if (later[l]) ml[nm++] = l;
    }
    for (int32_t d = 0; d < b->nd; d++) {
        int l = b->lab[d];
        if (!has(cur->lab, cur->nd, l) && later[l] && !has(nl, nn, l)) nl[nn++] = l;
    }
    for (int i = 0; i < nb; i++) KILN_CPU_TRY(mul_size(bs, lsize[bl[i]], &bs, err));
    for (int i = 0; i < nm; i++) KILN_CPU_TRY(mul_size(ms, lsize[ml[i]], &ms, err));
    for (int i = 0; i < nk; i++) KILN_CPU_TRY(mul_size(ks, lsize[kl[i]], &ks, err));
    for (int i = 0; i < nn; i++) KILN_CPU_TRY(mul_size(ns, lsize[nl[i]], &ns, err));
    /* A as [batch, M, K], or [batch, K, M] read transposed when cur is laid out so (no copy);
     * B as [batch, K, N] or [batch, N, K] likewise */
    int ta[NLABELS], tb[NLABELS], na = 0, ntb = 0, alt[NLABELS], nalt = 0, trans_a = 0, trans_b = 0;
    for (int i = 0; i < nb; i++) ta[na++] = tb[ntb++] = alt[nalt++] = bl[i];
    for (int i = 0; i < nm; i++) ta[na++] = ml[i];
    for (int i = 0; i < nk; i++) ta[na++] = tb[ntb++] = alt[nalt++] = kl[i];
    for (int i = 0; i < nm; i++) alt[nalt++] = ml[i];
    for (int i = 0; i < nn; i++) tb[ntb++] = nl[i];
    if (!is_layout(cur, ta, na, lsize) && is_layout(cur, alt, nalt, lsize)) {
        memcpy(ta, alt, sizeof(int) * (size_t)nalt);
        trans_a = 1;
    }
    nalt = 0;
    for (int i = 0; i < nb; i++) alt[nalt++] = bl[i];
    for (int i = 0; i < nn; i++) alt[nalt++] = nl[i];
    for (int i = 0; i < nk; i++) alt[nalt++] = kl[i];
    if (!is_layout(b, tb, ntb, lsize) && is_layout(b, alt, nalt, lsize)) {
        memcpy(tb, alt, sizeof(int) * (size_t)nalt);
        trans_b = 1;
    }
    if (nb + nm + nn > KILN_MAX_RANK)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "an intermediate result would have rank %d (at most %d)", nb + nm + nn,
                        KILN_MAX_RANK);
    operand A, B, C;
    KILN_CPU_TRY(rearrange(ctx, lane, cur, ta, na, lsize, &A, err));
    KILN_CPU_TRY(rearrange(ctx, lane, b, tb, ntb, lsize, &B, err));
    int64_t cn;
    KILN_CPU_TRY(mul_size(bs * ms, ns, &cn, err));
    C.nd = 0;
    for (int i = 0; i < nb; i++) C.lab[C.nd++] = bl[i];
    for (int i = 0; i < nm; i++) C.lab[C.nd++] = ml[i];
    for (int i = 0; i < nn; i++) C.lab[C.nd++] = nl[i];
    for (int32_t d = 0; d < C.nd; d++) C.dims[d] = lsize[C.lab[d]];
    C.data = ctx->host->scratch(ctx, (size_t)cn * lane_size(lane) + 1);
    if (!C.data) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %lld elements", (long long)cn);
    memset(C.data, 0, (size_t)cn * lane_size(lane));
    if (cn && ks) {
        if (lane == L_F32) {
            for (int64_t t = 0; t < bs; t++)
                kiln_cpu_f32_gemm(ctx, trans_a, trans_b, (size_t)ms, (size_t)ns, (size_t)ks, 1.0f,
                                  (const float *)A.data + t * ms * ks, (size_t)(trans_a ? ms : ks),
                                  (const float *)B.data + t * ks * ns, (size_t)(trans_b ? ks : ns), 0.0f,
                                  (float *)C.data + t * ms * ns, (size_t)ns);
        } else {
            mm_job j = {A.data, B.data, C.data, ms, ns, ks, trans_a ? 1 : ks, trans_a ? ms : 1, trans_b ? 1 : ns,
                        trans_b ? ks : 1};
            int64_t per = ks * ns;
            cpu_parallel_for(ctx, (size_t)(bs * ms), cpu_grain((uint64_t)per),
                             lane == L_F64 ? mm_f64 : mm_int, &j);
        }
    }
    *cur = C;
    return KILN_OK;
}

/* ---- lane conversions ---- */

static void widen(int32_t dt, const void *src, void *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case KILN_DTYPE_FLOAT16: ((float *)dst)[i] = kiln_f16_to_f32(((const uint16_t *)src)[i]); break;
        case KILN_DTYPE_BFLOAT16: ((float *)dst)[i] = kiln_bf16_to_f32(((const uint16_t *)src)[i]); break;
        case KILN_DTYPE_INT8: ((uint64_t *)dst)[i] = (uint64_t)(int64_t)((const int8_t *)src)[i]; break;
        case KILN_DTYPE_INT16: ((uint64_t *)dst)[i] = (uint64_t)(int64_t)((const int16_t *)src)[i]; break;
        case KILN_DTYPE_INT32: ((uint64_t *)dst)[i] = (uint64_t)(int64_t)((const int32_t *)src)[i]; break;
        case KILN_DTYPE_UINT8: ((uint64_t *)dst)[i] = ((const uint8_t *)src)[i]; break;
        case KILN_DTYPE_UINT16: ((uint64_t *)dst)[i] = ((const uint16_t *)src)[i]; break;
        case KILN_DTYPE_UINT32: ((uint64_t *)dst)[i] = ((const uint32_t *)src)[i]; break;
        default: break;
        }
    }
}

static void narrow(int32_t dt, const void *src, void *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case KILN_DTYPE_FLOAT16: ((uint16_t *)dst)[i] = kiln_f32_to_f16(((const float *)src)[i]); break;
        case KILN_DTYPE_BFLOAT16: ((uint16_t *)dst)[i] = kiln_f32_to_bf16(((const float *)src)[i]); break;
        case KILN_DTYPE_INT8: case KILN_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)((const uint64_t *)src)[i]; break;
        case KILN_DTYPE_INT16: case KILN_DTYPE_UINT16: ((uint16_t *)dst)[i] = (uint16_t)((const uint64_t *)src)[i]; break;
        case KILN_DTYPE_INT32: case KILN_DTYPE_UINT32: ((uint32_t *)dst)[i] = (uint32_t)((const uint64_t *)src)[i]; break;
        default: break;
        }
    }
}

static int native(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_INT64 || dt == KILN_DTYPE_UINT64;
}

/* ---- compute ---- */

static kiln_status einsum_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const einsum_kernel *k = (const einsum_kernel *)base;
    kiln_value_desc *y = ctx->outputs[0];
    int64_t lsize[NLABELS];
    int lcount[NLABELS] = {0};
    for (int i = 0; i < NLABELS; i++) lsize[i] = -1;
    int32_t ell_rank = 0;
    if (ctx->n_inputs != k->n_terms) return cpu_fail(err, KILN_ERR_SHAPE, "%u inputs for %u terms", ctx->n_inputs, k->n_terms);
    for (uint32_t t = 0; t < k->n_terms; t++) {
        const kiln_value_desc *x = cpu_in(ctx, t);
        if (!x) return cpu_fail(err, KILN_ERR_SHAPE, "input %u is missing", t);
        int32_t e = x->rank - k->terms[t].n;
        if (e < 0 || (k->terms[t].ell < 0 && e))
            return cpu_fail(err, KILN_ERR_SHAPE, "term %u has %d labels, input %u has rank %d", t, k->terms[t].n, t, (int)x->rank);
        if (e > ell_rank) ell_rank = e;
    }
    operand *ops = ctx->host->scratch(ctx, k->n_terms * sizeof *ops);
    if (!ops) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %u operands", k->n_terms);
    for (uint32_t t = 0; t < k->n_terms; t++) {
        const kiln_value_desc *x = cpu_in(ctx, t);
        const eterm *tm = &k->terms[t];
        operand *o = &ops[t];
        int32_t e = x->rank - tm->n, d = 0;
        for (int i = 0; i <= tm->n; i++) {
            if (i == tm->ell)
                for (int32_t q = 0; q < e; q++) o->lab[d++] = LETTERS + KILN_MAX_RANK - e + q;
            if (i < tm->n) o->lab[d++] = tm->lab[i];
        }
        o->nd = x->rank;
        for (d = 0; d < x->rank; d++) {
            int l = o->lab[d];
            int64_t n = x->dims[d];
            o->dims[d] = n;
            for (int32_t q = 0; q < d; q++)
                if (o->lab[q] == l && x->dims[q] != n)
                    return cpu_fail(err, KILN_ERR_SHAPE, "input %u repeats a label over dims of sizes %lld and %lld", t,
                                    (long long)x->dims[q], (long long)n);
            if (lsize[l] < 0 || lsize[l] == 1) lsize[l] = n;
            else if (n != 1 && n != lsize[l])
                return cpu_fail(err, KILN_ERR_SHAPE, "input %u dim %d is %lld, the same label elsewhere is %lld", t, (int)d,
                                (long long)n, (long long)lsize[l]);
        }
        for (int i = 0; i < tm->n; i++) lcount[tm->lab[i]]++;
        if (native(k->dtype)) {
            o->data = x->data;
        } else {
            o->data = ctx->host->scratch(ctx, (size_t)x->count * lane_size(k->lane) + 1);
            if (!o->data) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for input %u", t);
            widen(k->dtype, x->data, o->data, (size_t)x->count);
        }
    }
    /* output labels */
    int outl[NLABELS], no = 0;
    const eterm *ot = &k->out;
    int oell = k->explicit_out ? ot->ell : (ell_rank ? 0 : -1);
    int nlet = k->explicit_out ? ot->n : 0;
    int8_t implicit[LETTERS];
    if (!k->explicit_out)
        for (int l = 0; l < LETTERS; l++)
            if (lcount[l] == 1) implicit[nlet++] = (int8_t)l;
    const int8_t *let = k->explicit_out ? ot->lab : implicit;
    for (int i = 0; i <= nlet; i++) {
        if (i == oell)
            for (int32_t q = 0; q < ell_rank; q++) outl[no++] = LETTERS + KILN_MAX_RANK - ell_rank + q;
        if (i < nlet) outl[no++] = let[i];
    }
    if (no != y->rank) return cpu_fail(err, KILN_ERR_INTERNAL, "output rank %d, expected %d", (int)y->rank, no);
    for (int i = 0; i < no; i++) {
        if (lsize[outl[i]] < 0) return cpu_fail(err, KILN_ERR_SHAPE, "output label %d is in no input", i);
        if (y->dims[i] != lsize[outl[i]]) return cpu_fail(err, KILN_ERR_INTERNAL, "output dim %d does not match", i);
    }
    /* contract left to right; later[l]: the output or a later operand needs label l */
    operand cur = ops[0];
    for (uint32_t t = 1; t < k->n_terms; t++) {
        uint8_t later[NLABELS] = {0};
        for (int i = 0; i < no; i++) later[outl[i]] = 1;
        for (uint32_t u = t + 1; u < k->n_terms; u++)
            for (int32_t d = 0; d < ops[u].nd; d++) later[ops[u].lab[d]] = 1;
        KILN_CPU_TRY(contract(ctx, k->lane, &cur, &ops[t], later, lsize, err));
    }
    operand res;
    KILN_CPU_TRY(rearrange(ctx, k->lane, &cur, outl, no, lsize, &res, err));
    if (native(k->dtype)) memcpy(y->data, res.data, (size_t)y->count * lane_size(k->lane));
    else narrow(k->dtype, res.data, y->data, (size_t)y->count);
    return KILN_OK;
}

kiln_status kiln_cpu_einsum(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    int lane;
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: lane = L_F32; break;
    case KILN_DTYPE_DOUBLE: lane = L_F64; break;
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64:
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64: lane = L_INT; break;
    default: return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Einsum is not implemented for %s", cpu_dtype_name(dt));
    }
    const char *eq = cpu_attr_str(n, "equation", NULL);
    if (!eq) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "the equation attribute is required");
    uint32_t nt = cpu_input_count(n);
    if (!nt) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Einsum needs at least one input");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(einsum_kernel) + nt * sizeof(eterm), einsum_compute, out, err));
    einsum_kernel *k = (einsum_kernel *)*out;
    k->dtype = dt;
    k->lane = lane;
    k->n_terms = nt;
    const char *p = eq;
    for (uint32_t t = 0; t < nt; t++) {
        int used = parse_term(p, &k->terms[t]);
        if (used < 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "malformed term %u in equation '%s'", t, eq);
        p += used;
        if (t + 1 < nt) {
            if (*p != ',') return cpu_fail(err, KILN_ERR_INVALID_MODEL, "equation '%s' has fewer terms than the %u inputs", eq, nt);
            p++;
        }
    }
    if (*p == ',') return cpu_fail(err, KILN_ERR_INVALID_MODEL, "equation '%s' has more terms than the %u inputs", eq, nt);
    if (*p == '-') {
        int used = p[1] == '>' ? parse_term(p + 2, &k->out) : -1;
        if (used < 0 || p[2 + used]) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "malformed output term in '%s'", eq);
        k->explicit_out = 1;
        for (int i = 0; i < k->out.n; i++)
            for (int j = 0; j < i; j++)
                if (k->out.lab[i] == k->out.lab[j])
                    return cpu_fail(err, KILN_ERR_INVALID_MODEL, "output label %d of '%s' is repeated", i, eq);
    }
    return KILN_OK;
}
