/* SPDX-License-Identifier: MIT */
/* The device memory kind ("opencl:device"): each block the host allocates (the planned arena of a
 * run, an uploaded constant, a bound tensor) is one cl_mem; tensors inside it are addressed by
 * offsets. Copies, kernels and markers share the instance's one in-order command queue, so a copy
 * queued after a kernel reads what the kernel wrote. Streams are views of that queue: a record is a
 * marker event, waiting for an event from another stream needs nothing more (the queue is in
 * order), and synchronize finishes the queue. */
#include <string.h>

#include "ocl.h"

cl_mem ocl_buf_mem(const void *block) {
    const ocl_buf *b = block;
    return b && b->magic == OCL_BUF_MAGIC ? b->mem : NULL;
}

int32_t ocl_mem_alloc(kiln_provider *p, uint32_t kind, uint64_t bytes, void **block, kiln_error *err) {
    ocl_provider *pv = (ocl_provider *)p;
    *block = NULL;
    if (kind != p->mem_kind) return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "memory kind %u is not the OpenCL device's", kind);
    if (bytes > pv->mem_limit || pv->mem_used > pv->mem_limit - bytes)
        return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY,
                        "OpenCL device out of memory: %llu bytes asked, %llu of %llu in use (device '%s')",
                        (unsigned long long)bytes, (unsigned long long)pv->mem_used, (unsigned long long)pv->mem_limit,
                        pv->dev.dev_name);
    ocl_buf *b = pv->host->alloc(pv->host_ctx, sizeof(*b), 16);
    if (!b) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of host memory for an OpenCL buffer handle");
    memset(b, 0, sizeof(*b));
    if (bytes) {
        cl_int e = CL_SUCCESS;
        b->mem = clCreateBuffer(pv->ctx, CL_MEM_READ_WRITE, (size_t)bytes, NULL, &e);
        if (!b->mem || e != CL_SUCCESS) {
            pv->host->free(pv->host_ctx, b);
            return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "OpenCL device out of memory: clCreateBuffer(%llu bytes): %s (%d)",
                            (unsigned long long)bytes, ocl_errstr(e), e);
        }
    }
    b->magic = OCL_BUF_MAGIC;
    b->bytes = bytes;
    pv->mem_used += bytes;
    *block = b;
    return KILN_OK;
}

void ocl_mem_free(kiln_provider *p, uint32_t kind, void *block) {
    ocl_provider *pv = (ocl_provider *)p;
    ocl_buf *b = block;
    (void)kind;
    if (!b || b->magic != OCL_BUF_MAGIC) return;
    /* OpenCL keeps the memory until the commands using it are done. */
    if (b->mem) clReleaseMemObject(b->mem);
    b->magic = 0;
    pv->mem_used -= b->bytes;
    pv->host->free(pv->host_ctx, b);
}

static int in_block(const void *block, uint64_t off, uint64_t bytes) {
    const ocl_buf *b = block;
    return b && b->magic == OCL_BUF_MAGIC && off <= b->bytes && bytes <= b->bytes - off;
}

static int32_t copy_one(ocl_provider *pv, const kiln_copy_region *r, cl_bool blocking, kiln_error *err) {
    uint32_t k = pv->abi.mem_kind;
    if ((r->src_kind != 0 && r->src_kind != k) || (r->dst_kind != 0 && r->dst_kind != k))
        return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "copy between memory kinds %u and %u: not the OpenCL device's",
                        r->src_kind, r->dst_kind);
    if ((r->src_kind && !in_block(r->src, r->src_offset, r->bytes)) || (r->dst_kind && !in_block(r->dst, r->dst_offset, r->bytes)) ||
        (!r->src_kind && !r->src) || (!r->dst_kind && !r->dst))
        return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "copy of %llu bytes: bad block handle or range", (unsigned long long)r->bytes);
    if (!r->bytes) return KILN_OK;
    cl_int e;
    const char *what;
    if (!r->src_kind && !r->dst_kind) {
        /* Host to host: done on the host once the queue's earlier work is done. */
        e = clFinish(pv->queue);
        if (e == CL_SUCCESS) memmove((char *)r->dst + r->dst_offset, (const char *)r->src + r->src_offset, (size_t)r->bytes);
        what = "clFinish";
    } else if (!r->src_kind) {
        e = clEnqueueWriteBuffer(pv->queue, ocl_buf_mem(r->dst), blocking, (size_t)r->dst_offset, (size_t)r->bytes,
                                 (const char *)r->src + r->src_offset, 0, NULL, NULL);
        what = "clEnqueueWriteBuffer";
    } else if (!r->dst_kind) {
        e = clEnqueueReadBuffer(pv->queue, ocl_buf_mem(r->src), blocking, (size_t)r->src_offset, (size_t)r->bytes,
                                (char *)r->dst + r->dst_offset, 0, NULL, NULL);
        what = "clEnqueueReadBuffer";
    } else {
        cl_mem s = ocl_buf_mem(r->src), d = ocl_buf_mem(r->dst);
        int overlap = s == d && r->src_offset < r->dst_offset + r->bytes && r->dst_offset < r->src_offset + r->bytes;
        if (overlap && r->src_offset == r->dst_offset) return KILN_OK;
        if (overlap) {
            /* clEnqueueCopyBuffer refuses overlapping ranges: through the host. */
            void *tmp = pv->host->alloc(pv->host_ctx, (size_t)r->bytes, 64);
            if (!tmp) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory staging an overlapping device copy");
            e = clEnqueueReadBuffer(pv->queue, s, CL_TRUE, (size_t)r->src_offset, (size_t)r->bytes, tmp, 0, NULL, NULL);
            if (e == CL_SUCCESS)
                e = clEnqueueWriteBuffer(pv->queue, d, CL_TRUE, (size_t)r->dst_offset, (size_t)r->bytes, tmp, 0, NULL, NULL);
            pv->host->free(pv->host_ctx, tmp);
            what = "an overlapping device copy";
        } else {
            e = clEnqueueCopyBuffer(pv->queue, s, d, (size_t)r->src_offset, (size_t)r->dst_offset, (size_t)r->bytes, 0, NULL, NULL);
            if (e == CL_SUCCESS && blocking) e = clFinish(pv->queue);
            what = "clEnqueueCopyBuffer";
        }
    }
    if (e != CL_SUCCESS)
        return ocl_fail(err, e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES ? KILN_ERR_OUT_OF_MEMORY : KILN_ERR_PROVIDER,
                        "%s of %llu bytes failed: %s (%d)", what, (unsigned long long)r->bytes, ocl_errstr(e), e);
    return KILN_OK;
}

int32_t ocl_copy(kiln_provider *p, const kiln_copy_region *const *regions, uint32_t n, kiln_stream *stream, kiln_error *err) {
    ocl_provider *pv = (ocl_provider *)p;
    for (uint32_t i = 0; i < n; i++) {
        kiln_copy_region r;
        memset(&r, 0, sizeof(r));
        uint32_t sz = regions[i]->hdr.struct_size < sizeof(r) ? regions[i]->hdr.struct_size : (uint32_t)sizeof(r);
        memcpy(&r, regions[i], sz);
        /* Without a stream every copy is done on return; with one, only the last of the batch
         * needs to be waited for by the host, through an event. */
        int32_t st = copy_one(pv, &r, stream ? CL_FALSE : CL_TRUE, err);
        if (st != KILN_OK) return st;
    }
    if (stream) clFlush(pv->queue);
    return KILN_OK;
}

/* ---- streams and events ---- */

typedef struct ocl_stream {
    kiln_stream abi;
    ocl_provider *pv;
} ocl_stream;

typedef struct ocl_event {
    kiln_event abi;
    ocl_provider *pv;
    cl_event ev;
} ocl_event;

static int32_t event_wait(kiln_event *e, kiln_error *err) {
    ocl_event *ev = (ocl_event *)e;
    cl_int r = clWaitForEvents(1, &ev->ev);
    if (r != CL_SUCCESS) return ocl_fail(err, KILN_ERR_PROVIDER, "waiting for OpenCL work failed: %s (%d)", ocl_errstr(r), r);
    return KILN_OK;
}

static void event_release(kiln_event *e) {
    ocl_event *ev = (ocl_event *)e;
    if (ev->ev) clReleaseEvent(ev->ev);
    ev->pv->host->free(ev->pv->host_ctx, ev);
}

static int32_t stream_record(kiln_stream *st, kiln_event **out, kiln_error *err) {
    ocl_stream *s = (ocl_stream *)st;
    ocl_provider *pv = s->pv;
    *out = NULL;
    ocl_event *ev = pv->host->alloc(pv->host_ctx, sizeof(*ev), 16);
    if (!ev) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory recording an event");
    memset(ev, 0, sizeof(*ev));
    cl_int e = clEnqueueMarkerWithWaitList(pv->queue, 0, NULL, &ev->ev);
    if (e == CL_SUCCESS) e = clFlush(pv->queue);
    if (e != CL_SUCCESS) {
        if (ev->ev) clReleaseEvent(ev->ev);
        pv->host->free(pv->host_ctx, ev);
        return ocl_fail(err, KILN_ERR_PROVIDER, "clEnqueueMarkerWithWaitList failed: %s (%d)", ocl_errstr(e), e);
    }
    ev->abi.hdr.struct_size = sizeof(ev->abi);
    ev->abi.hdr.abi_version = pv->version;
    ev->abi.wait = event_wait;
    ev->abi.release = event_release;
    ev->pv = pv;
    *out = &ev->abi;
    return KILN_OK;
}

/* Every stream is the instance's in-order queue: work queued after this call already follows
 * the event's work. */
static int32_t stream_wait_event(kiln_stream *st, kiln_event *e, kiln_error *err) {
    (void)st;
    if (!e) return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "no event to wait for");
    return KILN_OK;
}

static int32_t stream_synchronize(kiln_stream *st, kiln_error *err) {
    ocl_stream *s = (ocl_stream *)st;
    cl_int e = clFinish(s->pv->queue);
    if (e != CL_SUCCESS) return ocl_fail(err, KILN_ERR_PROVIDER, "clFinish failed: %s (%d)", ocl_errstr(e), e);
    return KILN_OK;
}

static void stream_release(kiln_stream *st) {
    ocl_stream *s = (ocl_stream *)st;
    s->pv->host->free(s->pv->host_ctx, s);
}

int32_t ocl_create_stream(kiln_provider *p, kiln_stream **out, kiln_error *err) {
    ocl_provider *pv = (ocl_provider *)p;
    *out = NULL;
    ocl_stream *s = pv->host->alloc(pv->host_ctx, sizeof(*s), 16);
    if (!s) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a stream");
    memset(s, 0, sizeof(*s));
    s->abi.hdr.struct_size = sizeof(s->abi);
    s->abi.hdr.abi_version = pv->version;
    s->abi.record = stream_record;
    s->abi.wait_event = stream_wait_event;
    s->abi.synchronize = stream_synchronize;
    s->abi.release = stream_release;
    s->pv = pv;
    *out = &s->abi;
    return KILN_OK;
}
