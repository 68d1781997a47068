/* SPDX-License-Identifier: MIT */
/* The built-in CPU provider as a kiln_provider: it claims every node whose op has a CPU
 * factory and creates kernels through those factories. Linked into libkiln, used through the
 * provider ABI like any plugin. */
#include <string.h>

#include "cpu_op.h"
#include "registry.h"

typedef struct cpu_provider {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
} cpu_provider;

static int32_t claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    (void)err;
    const cpu_provider *cp = (const cpu_provider *)p;
    *claim = kiln_cpu_find(cp->host->node_domain(n), cp->host->node_op_type(n)) ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    return KILN_OK;
}

static int32_t create_kernel(kiln_provider *p, const kiln_node_view *view, kiln_kernel **out, kiln_error *err) {
    const cpu_provider *cp = (const cpu_provider *)p;
    *out = NULL;
    cpu_node n = {cp->host, cp->host_ctx, view, cp->host->node_op_type(view), cp->host->node_opset(view)};
    cpu_factory f = kiln_cpu_find(cp->host->node_domain(view), n.op_type);
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "the CPU provider has no kernel for op '%s'", n.op_type);
    cpu_kernel *k;
    kiln_status s = f(&n, &k, err);
    if (s != KILN_OK) return s;
    *out = &k->abi;
    return KILN_OK;
}

static void release(kiln_provider *p) {
    cpu_provider *cp = (cpu_provider *)p;
    cp->host->free(cp->host_ctx, cp);
}

kiln_status kiln_cpu_provider_create(const kiln_host_api *host, void *host_ctx, kiln_provider **out, kiln_error *err);
kiln_status kiln_cpu_provider_create(const kiln_host_api *host, void *host_ctx, kiln_provider **out, kiln_error *err) {
    *out = NULL;
    cpu_provider *p = host->alloc(host_ctx, sizeof(*p), 64);
    if (!p) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating the CPU provider");
    memset(p, 0, sizeof(*p));
    p->abi.hdr.struct_size = sizeof(p->abi);
    p->abi.hdr.abi_version = KILN_ABI_VERSION;
    p->abi.name = "cpu";
    p->abi.state = p;
    p->abi.claim_node = claim_node;
    p->abi.create_kernel = create_kernel;
    p->abi.release = release;
    p->host = host;
    p->host_ctx = host_ctx;
    *out = &p->abi;
    return KILN_OK;
}
