/* SPDX-License-Identifier: MIT */
/* Shape inference for Einsum: parses the equation, sizes every label from the inputs (an
 * ellipsis stands for the same trailing dims everywhere, broadcast numpy-style), and gives the
 * output the sizes of the explicit (or implicit) output labels. */
#include <string.h>

#include "graph/shape/infer_fns.h"

/* Labels: 'A'..'Z' = 0..25, 'a'..'z' = 26..51 (ASCII order); ellipsis dims 52..67. */
#define LETTERS 52
#define NLABELS (LETTERS + KILN_MAX_RANK)

static const char names[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int letter(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    return -1;
}

/* Reads one term up to ',' / '-' / end: letters into lab (at most max), the ellipsis position
 * into *ell (-1 when absent). Returns characters consumed, or -1 on a malformed term. */
static int term(const char *s, int8_t *lab, int *n, int max, int *ell) {
    int i = 0;
    *n = 0;
    *ell = -1;
    for (; s[i] && s[i] != ',' && s[i] != '-'; i++) {
        if (s[i] == ' ') continue;
        if (s[i] == '.') {
            if (*ell >= 0 || s[i + 1] != '.' || s[i + 2] != '.') return -1;
            *ell = *n;
            i += 2;
            continue;
        }
        int l = letter(s[i]);
        if (l < 0 || *n >= max) return -1;
        lab[(*n)++] = (int8_t)l;
    }
    return i;
}

kiln_status kiln_infer_einsum(kiln_shape_ctx *c) {
    const char *eq = kiln_attr_str(c->node, "equation", NULL);
    if (!eq) return kiln_shape_fail(c, "the equation attribute is required");
    int64_t size[NLABELS];
    int count[NLABELS] = {0};
    for (int i = 0; i < NLABELS; i++) size[i] = 1;
    int known = 1, any_ell = 0, ell_known = 1;
    int32_t ell_rank = 0;
    const char *p = eq;
    uint32_t t = 0;
    for (;; t++) {
        int8_t lab[KILN_MAX_RANK];
        int n, ell;
        int used = term(p, lab, &n, KILN_MAX_RANK, &ell);
        if (used < 0) return kiln_shape_fail(c, "malformed term %u in equation '%s'", t, eq);
        if (t >= c->n_in) return kiln_shape_fail(c, "equation '%s' has more terms than the %u inputs", eq, c->n_in);
        const kiln_shape_val *x;
        KILN_TRY(kiln_shape_need_tensor(c, t, &x));
        if (t && x->t.dtype != c->in[0].t.dtype) return kiln_shape_fail(c, "input %u has a different type than input 0", t);
        for (int i = 0; i < n; i++) count[lab[i]]++;
        any_ell |= ell >= 0;
        if (x->t.rank < 0) {
            known = 0;
            if (ell >= 0) ell_known = 0;
        } else {
            int32_t e = x->t.rank - n;
            if (e < 0 || (ell < 0 && e))
                return kiln_shape_fail(c, "term %u has %d labels, input %u has rank %d", t, n, t, (int)x->t.rank);
            if (e > ell_rank) ell_rank = e;
            for (int i = 0; i < n; i++) {
                int64_t d = x->t.dims[i < ell || ell < 0 ? i : i + e];
                int64_t *s = &size[lab[i]];
                if (d < 0) *s = *s == 1 ? -1 : *s;
                else if (*s == 1 || *s == -1) *s = d;
                else if (d != 1 && d != *s)
                    return kiln_shape_fail(c, "label '%c' has sizes %lld and %lld", names[lab[i]], (long long)*s, (long long)d);
            }
            for (int32_t i = 0; i < e; i++) {
                int64_t d = x->t.dims[ell + i];
                int64_t *s = &size[LETTERS + KILN_MAX_RANK - e + i];
                if (d < 0) *s = *s == 1 ? -1 : *s;
                else if (*s == 1 || *s == -1) *s = d;
                else if (d != 1 && d != *s)
                    return kiln_shape_fail(c, "ellipsis dims of input %u do not broadcast (%lld and %lld)", t, (long long)*s, (long long)d);
            }
        }
        p += used;
        if (*p != ',') break;
        p++;
    }
    if (t + 1 != c->n_in) return kiln_shape_fail(c, "equation '%s' has %u terms for %u inputs", eq, t + 1, c->n_in);
    int8_t out[KILN_MAX_RANK + 1];
    int nout = 0, oell = -1;
    if (*p == '-') {
        if (p[1] != '>') return kiln_shape_fail(c, "malformed equation '%s'", eq);
        int used = term(p + 2, out, &nout, KILN_MAX_RANK, &oell);
        if (used < 0 || p[2 + used]) return kiln_shape_fail(c, "malformed output term in '%s'", eq);
        for (int i = 0; i < nout; i++) {
            if (!count[out[i]]) return kiln_shape_fail(c, "output label %d of '%s' is in no input", i, eq);
            for (int j = 0; j < i; j++)
                if (out[j] == out[i]) return kiln_shape_fail(c, "output label %d of '%s' is repeated", i, eq);
        }
    } else {
        if (any_ell) oell = 0;
        for (int l = 0; l < LETTERS; l++)
            if (count[l] == 1) {
                if (nout >= KILN_MAX_RANK) return kiln_shape_fail(c, "output has too many dims");
                out[nout++] = (int8_t)l;
            }
    }
    if (oell >= 0 && !ell_known) {
        kiln_shape_set(c, 0, c->in[0].t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t rank = nout + (oell >= 0 ? ell_rank : 0);
    if (rank > KILN_MAX_RANK) return kiln_shape_fail(c, "output rank %d is too large", (int)rank);
    int64_t dims[KILN_MAX_RANK];
    int32_t r = 0;
    for (int i = 0; i <= nout; i++) {
        if (i == oell)
            for (int32_t e = 0; e < ell_rank; e++) dims[r++] = size[LETTERS + KILN_MAX_RANK - ell_rank + e];
        if (i < nout) dims[r++] = known ? size[out[i]] : (size[out[i]] > 1 ? size[out[i]] : -1);
    }
    kiln_shape_set(c, 0, c->in[0].t.dtype, rank, dims);
    return KILN_OK;
}
