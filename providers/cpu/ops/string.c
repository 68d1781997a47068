/* SPDX-License-Identifier: MIT */
/* String ops: StringNormalizer (stopwords and case, with the simple case mapping of text.h;
 * the `locale` attribute is accepted and not used), StringConcat (broadcast), StringSplit (a
 * delimiter, or runs of whitespace as Python's str.split), RegexFullMatch (regex.h). */
#include <string.h>

#include "providers/cpu/broadcast.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/regex.h"
#include "providers/cpu/ops/text.h"

static kiln_status need_strings(const kiln_value_desc *x, kiln_error *err) {
    if (!x || x->kind != KILN_VALUE_TENSOR || x->dtype != KILN_DTYPE_STRING)
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be a string tensor");
    return KILN_OK;
}

static kiln_status oom(kiln_error *err) { return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory"); }

/* A scratch buffer that grows by doubling (old blocks stay until the call ends). */
typedef struct growbuf {
    char *p;
    size_t cap;
} growbuf;

static char *reserve(kiln_kernel_ctx *ctx, growbuf *b, size_t n) {
    if (n <= b->cap) return b->p;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n) cap *= 2;
    char *p = ctx->host->scratch(ctx, cap);
    if (!p) return NULL;
    b->p = p;
    b->cap = cap;
    return p;
}

/* Maps the case of s[0..len) into buf (up to 4/3 of len may be needed when a mapping changes
 * the UTF-8 length; buf holds 2 * len + 4); returns the new length. */
static size_t change_case(const char *s, size_t len, int upper, char *buf) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = cpu_utf8_decode(s + i, len - i, &c);
        uint32_t m = upper ? cpu_case_upper(c) : cpu_case_lower(c);
        if (m == c) {
            memcpy(buf + o, s + i, n); /* keeps invalid bytes as they were */
            o += n;
        } else {
            o += cpu_utf8_encode(m, buf + o);
        }
        i += n;
    }
    return o;
}

/* ---- StringNormalizer ---- */

enum { CASE_NONE, CASE_LOWER, CASE_UPPER };

typedef struct normalizer_kernel {
    cpu_kernel base;
    int action;
    int sensitive;
    uint32_t n_stop;
    char **stop;     /* stopwords, lowercased when matching ignores case */
    size_t *stop_len;
} normalizer_kernel;

static void normalizer_cleanup(cpu_kernel *base) {
    normalizer_kernel *k = (normalizer_kernel *)base;
    for (uint32_t i = 0; k->stop && i < k->n_stop; i++) cpu_free(base, k->stop[i]);
    cpu_free(base, k->stop);
    cpu_free(base, k->stop_len);
}

static int is_stopword(const normalizer_kernel *k, const char *s, size_t len, char *tmp) {
    if (!k->sensitive) len = change_case(s, len, 0, tmp), s = tmp;
    for (uint32_t i = 0; i < k->n_stop; i++)
        if (k->stop_len[i] == len && memcmp(k->stop[i], s, len) == 0) return 1;
    return 0;
}

static kiln_status normalizer_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const normalizer_kernel *k = (const normalizer_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_strings(x, err));
    if (x->rank != 1 && !(x->rank == 2 && x->dims[0] == 1))
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be [C] or [1, C]");
    char *const *s = x->data;
    uint8_t *keep = ctx->host->scratch(ctx, (size_t)x->count + 1);
    if (!keep) return oom(err);
    growbuf tmp = {0};
    int64_t kept = 0;
    for (uint64_t i = 0; i < x->count; i++) {
        size_t len = strlen(s[i]);
        char *t = reserve(ctx, &tmp, 2 * len + 4);
        if (!t) return oom(err);
        keep[i] = (uint8_t)!is_stopword(k, s[i], len, t);
        kept += keep[i];
    }
    /* Everything dropped: one empty string, as the spec asks. */
    int64_t dims[2] = {1, kept ? kept : 1};
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, x->rank == 1 ? dims + 1 : dims, &y, err));
    uint64_t o = 0;
    for (uint64_t i = 0; i < x->count; i++) {
        if (!keep[i]) continue;
        size_t len = strlen(s[i]);
        const char *v = s[i];
        if (k->action != CASE_NONE) {
            char *t = reserve(ctx, &tmp, 2 * len + 4);
            if (!t) return oom(err);
            len = change_case(s[i], len, k->action == CASE_UPPER, t);
            v = t;
        }
        KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, o++, v, len, err));
    }
    return KILN_OK;
}

kiln_status kiln_cpu_string_normalizer(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    const char *act = cpu_attr_str(n, "case_change_action", "NONE");
    int action = strcmp(act, "NONE") == 0 ? CASE_NONE : strcmp(act, "LOWER") == 0 ? CASE_LOWER
                 : strcmp(act, "UPPER") == 0                                       ? CASE_UPPER
                                                                                   : -1;
    if (action < 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "StringNormalizer: case_change_action '%s' is not NONE, LOWER or UPPER",
                        act);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(normalizer_kernel), normalizer_compute, out, err));
    normalizer_kernel *k = (normalizer_kernel *)*out;
    k->base.cleanup = normalizer_cleanup;
    k->action = action;
    k->sensitive = cpu_attr_int(n, "is_case_sensitive", 0) != 0;
    const kiln_attr_view *a = n->host->node_attr(n->view, "stopwords");
    if (!a || n->host->attr_type(a) != KILN_ATTR_STRINGS) return KILN_OK;
    uint32_t cnt = n->host->attr_count(a);
    k->stop = cpu_alloc(*out, (cnt + 1) * sizeof(char *));
    k->stop_len = cpu_alloc(*out, (cnt + 1) * sizeof(size_t));
    if (!k->stop || !k->stop_len) goto nomem;
    for (uint32_t i = 0; i < cnt; i++) {
        size_t len;
        const char *w = n->host->attr_string(a, i, &len);
        k->stop[i] = cpu_alloc(*out, 2 * len + 4);
        if (!k->stop[i]) goto nomem;
        k->n_stop = i + 1;
        if (k->sensitive) memcpy(k->stop[i], w, len);
        else len = change_case(w, len, 0, k->stop[i]);
        k->stop_len[i] = len;
    }
    return KILN_OK;
nomem:
    (*out)->abi.release(&(*out)->abi);
    *out = NULL;
    return oom(err);
}

/* ---- StringConcat ---- */

static kiln_status concat_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *in[2] = {cpu_in(ctx, 0), cpu_in(ctx, 1)};
    KILN_CPU_TRY(need_strings(in[0], err));
    KILN_CPU_TRY(need_strings(in[1], err));
    kiln_value_desc *y = ctx->outputs[0];
    if (!y) return cpu_fail(err, KILN_ERR_INTERNAL, "StringConcat output was not allocated");
    cpu_bcast b;
    cpu_bcast_init(&b, 2, in, y);
    char *const *xs = in[0]->data, *const *ys = in[1]->data;
    growbuf buf = {0};
    for (int64_t r = 0; r < b.outer; r++) {
        int64_t off[CPU_BCAST_MAX_IN];
        cpu_bcast_offsets(&b, r, off);
        for (int64_t i = 0; i < b.inner; i++) {
            const char *a = xs[off[0] + i * b.strides[0][b.rank - 1]], *c = ys[off[1] + i * b.strides[1][b.rank - 1]];
            size_t la = strlen(a), lc = strlen(c);
            char *t = reserve(ctx, &buf, la + lc + 1);
            if (!t) return oom(err);
            memcpy(t, a, la);
            memcpy(t + la, c, lc);
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, (uint64_t)(r * b.inner + i), t, la + lc, err));
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_string_concat(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(cpu_kernel), concat_compute, out, err);
}

/* ---- StringSplit ---- */

typedef struct split_kernel {
    cpu_kernel base;
    char *delim;      /* NULL: split on whitespace */
    size_t delim_len;
    int64_t maxsplit; /* < 0: no limit */
} split_kernel;

static void split_cleanup(cpu_kernel *base) { cpu_free(base, ((split_kernel *)base)->delim); }

/* Python's str.isspace for the code point at s[i]; *n gets its byte length. */
static int space_at(const char *s, size_t len, size_t i, size_t *n) {
    uint32_t c;
    *n = cpu_utf8_decode(s + i, len - i, &c);
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Splits s; for each part calls emit (when set) and returns the number of parts. */
typedef kiln_status (*emit_fn)(void *arg, const char *part, size_t len, kiln_error *err);

static kiln_status split_one(const split_kernel *k, const char *s, emit_fn emit, void *arg, int64_t *count,
                             kiln_error *err) {
    size_t len = strlen(s), i = 0, n;
    int64_t parts = 0;
    if (k->delim) {
        size_t start = 0;
        while (i + k->delim_len <= len && (k->maxsplit < 0 || parts < k->maxsplit)) {
            if (memcmp(s + i, k->delim, k->delim_len) == 0) {
                if (emit) KILN_CPU_TRY(emit(arg, s + start, i - start, err));
                parts++;
                i += k->delim_len;
                start = i;
            } else {
                i++;
            }
        }
        if (emit) KILN_CPU_TRY(emit(arg, s + start, len - start, err));
        *count = parts + 1;
        return KILN_OK;
    }
    for (;;) {
        while (i < len && space_at(s, len, i, &n)) i += n;
        if (i >= len) break;
        size_t start = i;
        if (k->maxsplit >= 0 && parts == k->maxsplit) {
            /* The rest, trailing whitespace included. */
            if (emit) KILN_CPU_TRY(emit(arg, s + start, len - start, err));
            parts++;
            break;
        }
        while (i < len && !space_at(s, len, i, &n)) i += n;
        if (emit) KILN_CPU_TRY(emit(arg, s + start, i - start, err));
        parts++;
    }
    *count = parts;
    return KILN_OK;
}

typedef struct emitter {
    kiln_kernel_ctx *ctx;
    kiln_value_desc *y;
    uint64_t at;
} emitter;

static kiln_status emit_part(void *arg, const char *part, size_t len, kiln_error *err) {
    emitter *e = arg;
    return (kiln_status)e->ctx->host->set_string(e->ctx, e->y, e->at++, part, len, err);
}

static kiln_status split_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const split_kernel *k = (const split_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_strings(x, err));
    if (x->rank >= KILN_MAX_RANK) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "output would exceed rank %d", KILN_MAX_RANK);
    char *const *s = x->data;
    kiln_value_desc *z;
    KILN_CPU_TRY(cpu_output(ctx, 1, x->rank, x->dims, &z, err));
    int64_t most = 0;
    for (uint64_t i = 0; i < x->count; i++) {
        int64_t *cnt = &((int64_t *)z->data)[i];
        KILN_CPU_TRY(split_one(k, s[i], NULL, NULL, cnt, err));
        if (*cnt > most) most = *cnt;
    }
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof(int64_t));
    dims[x->rank] = most;
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank + 1, dims, &y, err));
    for (uint64_t i = 0; i < x->count; i++) {
        emitter e = {ctx, y, i * (uint64_t)most};
        int64_t cnt;
        KILN_CPU_TRY(split_one(k, s[i], emit_part, &e, &cnt, err));
    }
    return KILN_OK;
}

kiln_status kiln_cpu_string_split(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(split_kernel), split_compute, out, err));
    split_kernel *k = (split_kernel *)*out;
    k->base.cleanup = split_cleanup;
    k->maxsplit = cpu_has_attr(n, "maxsplit") ? cpu_attr_int(n, "maxsplit", -1) : -1;
    const kiln_attr_view *a = n->host->node_attr(n->view, "delimiter");
    size_t len = 0;
    const char *d = a && n->host->attr_type(a) == KILN_ATTR_STRING ? n->host->attr_string(a, 0, &len) : NULL;
    if (d && len) {
        k->delim = cpu_alloc(*out, len + 1);
        if (!k->delim) {
            (*out)->abi.release(&(*out)->abi);
            *out = NULL;
            return oom(err);
        }
        memcpy(k->delim, d, len);
        k->delim_len = len;
    }
    return KILN_OK;
}

/* ---- RegexFullMatch ---- */

typedef struct regex_kernel {
    cpu_kernel base;
    cpu_regex *re;
} regex_kernel;

static void regex_cleanup(cpu_kernel *base) { cpu_regex_free(base, ((regex_kernel *)base)->re); }

static kiln_status regex_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const regex_kernel *k = (const regex_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_strings(x, err));
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, x->dims, &y, err));
    void *work = ctx->host->scratch(ctx, cpu_regex_work_size(k->re));
    if (!work) return oom(err);
    char *const *s = x->data;
    for (uint64_t i = 0; i < x->count; i++)
        ((uint8_t *)y->data)[i] = (uint8_t)cpu_regex_full_match(k->re, s[i], strlen(s[i]), work);
    return KILN_OK;
}

kiln_status kiln_cpu_regex_full_match(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    const kiln_attr_view *a = n->host->node_attr(n->view, "pattern");
    if (!a || n->host->attr_type(a) != KILN_ATTR_STRING)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "RegexFullMatch needs a string attribute 'pattern'");
    size_t len;
    const char *pat = n->host->attr_string(a, 0, &len);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(regex_kernel), regex_compute, out, err));
    regex_kernel *k = (regex_kernel *)*out;
    k->base.cleanup = regex_cleanup;
    kiln_status st = cpu_regex_compile(*out, pat, len, &k->re, err);
    if (st != KILN_OK) {
        (*out)->abi.release(&(*out)->abi);
        *out = NULL;
    }
    return st;
}
