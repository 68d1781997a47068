/* SPDX-License-Identifier: MIT */
/* Helpers of the oneDNN plugin: errors, the host heap, node and attribute reading, descriptors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dn.h"

int32_t dn_fail(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void *dn_alloc(dn_provider *pv, size_t bytes) {
    void *p = pv->host->alloc(pv->host_ctx, bytes ? bytes : 1, 64);
    if (p) memset(p, 0, bytes ? bytes : 1);
    return p;
}

void dn_free(dn_provider *pv, void *p) {
    if (p) pv->host->free(pv->host_ctx, p);
}

int32_t dn_check(dnnl_status_t s, kiln_error *err, const dn_kernel *k, const char *what) {
    if (s == dnnl_success) return KILN_OK;
    int32_t st = s == dnnl_out_of_memory ? KILN_ERR_OUT_OF_MEMORY : s == dnnl_unimplemented ? KILN_ERR_UNSUPPORTED : KILN_ERR_PROVIDER;
    return dn_fail(err, st, "oneDNN %s failed for node '%s' (%s): dnnl status %d", what, k ? k->name : "?",
                   k && k->op ? k->op->op_type : "?", (int)s);
}

int dn_info(const kiln_host_api *h, const kiln_node_view *n, int output, uint32_t i, kiln_value_info *vi) {
    memset(vi, 0, sizeof(*vi));
    vi->hdr.struct_size = sizeof(*vi);
    int32_t st = output ? h->node_output_info(n, i, vi) : h->node_input_info(n, i, vi);
    return st == KILN_OK && vi->present;
}

int dn_all_float(const kiln_host_api *h, const kiln_node_view *n, uint32_t max_in, char *why, size_t len) {
    uint32_t ni = h->node_input_count(n), no = h->node_output_count(n);
    if (ni > max_in) {
        snprintf(why, len, "%u inputs", ni);
        return 0;
    }
    for (uint32_t i = 0; i < ni + no; i++) {
        kiln_value_info vi;
        int out = i >= ni;
        if (!dn_info(h, n, out, out ? i - ni : i, &vi)) continue;
        if (vi.kind != KILN_VALUE_TENSOR || vi.dtype != KILN_DTYPE_FLOAT) {
            snprintf(why, len, "%s %u is not a float tensor", out ? "output" : "input", out ? i - ni : i);
            return 0;
        }
        if (vi.rank > 6) {
            snprintf(why, len, "rank %d", vi.rank);
            return 0;
        }
    }
    return 1;
}

int64_t dn_attr_i(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t dflt) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_INT ? h->attr_int(a) : dflt;
}

float dn_attr_f(const kiln_host_api *h, const kiln_node_view *n, const char *name, float dflt) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_FLOAT ? h->attr_float(a) : dflt;
}

int dn_attr_ints(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t *out, int max) {
    const kiln_attr_view *a = h->node_attr(n, name);
    if (!a) return 0;
    if (h->attr_type(a) != KILN_ATTR_INTS) return -1;
    uint32_t c = h->attr_count(a);
    if ((int)c > max) return -1;
    const int64_t *v = h->attr_ints(a);
    for (uint32_t i = 0; i < c; i++) out[i] = v[i];
    return (int)c;
}

const char *dn_attr_s(const kiln_host_api *h, const kiln_node_view *n, const char *name, const char *dflt) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_STRING ? h->attr_string(a, 0, NULL) : dflt;
}

void dn_md_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims) {
    dnnl_dims_t d, s;
    if (rank == 0) {
        d[0] = 1;
        rank = 1;
    } else {
        for (int i = 0; i < rank; i++) d[i] = dims[i];
    }
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        s[i] = stride;
        stride *= d[i] > 0 ? d[i] : 1;
    }
    dnnl_memory_desc_init_by_strides(md, rank, d, dnnl_f32, s);
}

void dn_md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt) {
    dnnl_dims_t d;
    for (int i = 0; i < rank; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, rank, d, dt, dnnl_format_tag_any);
}
