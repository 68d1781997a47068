/* SPDX-License-Identifier: MIT */
/* TensorProto decoding (see tensor_proto.h), external data, sparse tensors, and the protobuf
 * wire pre-check. Kiln assumes a little-endian host, as ONNX raw_data is little-endian. */
#include "tensor_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/ir.h"
#include "runtime/base/error.h"
#include "runtime/base/mem.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Kiln reads ONNX raw_data in place and needs a little-endian host"
#endif

/* ---- protobuf-c glue ---- */

static void *pb_alloc(void *ctx, size_t size) {
    kiln_pb_alloc *p = ctx;
    void *r = p->a->alloc(p->a->ctx, size ? size : 1, 16);
    if (!r) p->failed = 1;
    return r;
}

static void pb_free(void *ctx, void *ptr) {
    kiln_pb_alloc *p = ctx;
    if (ptr) p->a->free(p->a->ctx, ptr);
}

void kiln_pb_alloc_init(kiln_pb_alloc *p, const kiln_allocator *a) {
    p->pc.alloc = pb_alloc;
    p->pc.free = pb_free;
    p->pc.allocator_data = p;
    p->a = a;
    p->failed = 0;
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return false;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

#define PB_MAX_DEPTH 64

static kiln_status check_msg(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                             const uint8_t *end, const uint8_t *base, int depth,
                             kiln_error *err) {
    if (depth > PB_MAX_DEPTH)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "protobuf nests more than %d messages deep (at byte %zu)", PB_MAX_DEPTH,
                         (size_t)(p - base));
    while (p < end) {
        const uint8_t *field_start = p;
        uint64_t tag, len;
        if (!read_varint(&p, end, &tag))
            return kiln_fail(err, KILN_ERR_INVALID_MODEL, "truncated protobuf: bad tag at byte %zu",
                             (size_t)(field_start - base));
        uint32_t wire = (uint32_t)(tag & 7);
        uint64_t number = tag >> 3;
        if (number == 0)
            return kiln_fail(err, KILN_ERR_INVALID_MODEL, "malformed protobuf: field 0 at byte %zu",
                             (size_t)(field_start - base));
        switch (wire) {
        case 0:
            if (!read_varint(&p, end, &len)) goto truncated;
            break;
        case 1:
            if (end - p < 8) goto truncated;
            p += 8;
            break;
        case 5:
            if (end - p < 4) goto truncated;
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p)) goto truncated;
            const ProtobufCFieldDescriptor *f =
                number <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)number) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE)
                KILN_TRY(check_msg(f->descriptor, p, p + len, base, depth + 1, err));
            p += len;
            break;
        }
        default:
            return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                             "malformed protobuf: wire type %u at byte %zu", wire,
                             (size_t)(field_start - base));
        }
    }
    return KILN_OK;
truncated:
    return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                     "truncated or malformed protobuf: a field runs past the end (%zu bytes)",
                     (size_t)(end - base));
}

kiln_status kiln_protobuf_check(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                size_t size, kiln_error *err) {
    return check_msg(d, data, data + size, data, 0, err);
}

/* ---- dense tensors ---- */

void kiln_dense_free(const kiln_allocator *a, kiln_dense *d) {
    if (d->data && d->dtype == KILN_DTYPE_STRING) {
        char **s = d->data;
        for (int64_t i = 0; i < d->count; i++) kiln_mem_free(a, s[i]);
    }
    kiln_mem_free(a, d->data);
    d->data = NULL;
}

static kiln_status set_shape(kiln_dense *out, int32_t dtype, size_t rank, const int64_t *dims,
                             const char *name, kiln_error *err) {
    memset(out, 0, sizeof(*out));
    if (!kiln_dtype_valid(dtype))
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "tensor '%s': unknown data_type %d", name,
                         (int)dtype);
    if (rank > KILN_MAX_RANK)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "tensor '%s': rank %zu exceeds Kiln's limit of %d",
                         name, rank, KILN_MAX_RANK);
    out->dtype = dtype;
    out->rank = (int32_t)rank;
    for (size_t i = 0; i < rank; i++) out->dims[i] = dims[i];
    if (!kiln_dims_count(out->dims, out->rank, &out->count) ||
        !kiln_dtype_storage(dtype, out->count, &out->nbytes))
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "tensor '%s': negative dim, or element count or byte size overflows", name);
    return KILN_OK;
}

static kiln_status alloc_data(const kiln_allocator *a, kiln_dense *out, kiln_error *err) {
    out->data = kiln_mem_alloc(a, out->nbytes ? out->nbytes : 1);
    if (!out->data)
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a %zu-byte tensor",
                         out->nbytes);
    memset(out->data, 0, out->nbytes ? out->nbytes : 1);
    return KILN_OK;
}

/* Rejects locations that are absolute or climb out with "..", then checks with realpath that
 * the file really lies inside dir (a symlink could point out). */
static kiln_status open_external(const char *dir, const char *loc, const char *name, int *fd_out,
                                 kiln_error *err) {
    if (!dir)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "tensor '%s': external data '%s' but the model was loaded from memory "
                         "with no external-data folder set",
                         name, loc);
    if (loc[0] == '/' || loc[0] == '\0')
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "tensor '%s': external data location '%s' is not relative to the model's folder",
                         name, loc);
    for (const char *p = loc; *p;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                             "tensor '%s': external data location '%s' escapes the model's folder",
                             name, loc);
        p += n;
        while (*p == '/') p++;
    }
    char path[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, loc) >= (int)sizeof(path))
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': external data path too long", name);
    if (!realpath(dir, real_dir) || !realpath(path, real_file))
        return kiln_fail(err, KILN_ERR_IO, "tensor '%s': cannot open external data '%s': %s", name,
                         path, strerror(errno));
    size_t dl = strlen(real_dir);
    if (strncmp(real_file, real_dir, dl) != 0 || (real_file[dl] != '/' && dl != 1))
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "tensor '%s': external data location '%s' escapes the model's folder",
                         name, loc);
    int fd = open(real_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_fail(err, KILN_ERR_IO, "tensor '%s': cannot open external data '%s': %s", name,
                         path, strerror(errno));
    *fd_out = fd;
    return KILN_OK;
}

static bool parse_u64(const char *s, uint64_t *v) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return false;
    *v = x;
    return true;
}

static kiln_status read_external(const kiln_allocator *a, KilnOnnx__TensorProto *tp,
                                 const kiln_external_ctx *ext, kiln_dense *out, kiln_error *err) {
    const char *name = tp->name ? tp->name : "";
    const char *loc = NULL;
    uint64_t offset = 0, length = 0;
    int has_length = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const KilnOnnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key) continue;
        if (strcmp(e->key, "location") == 0) {
            loc = e->value;
        } else if (strcmp(e->key, "offset") == 0) {
            if (!parse_u64(e->value, &offset))
                return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': bad external data offset", name);
        } else if (strcmp(e->key, "length") == 0) {
            if (!parse_u64(e->value, &length))
                return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': bad external data length", name);
            has_length = 1;
        }
    }
    if (!loc)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': external data without a location", name);
    if (out->dtype == KILN_DTYPE_STRING)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': string tensors cannot use external data", name);
    int fd;
    KILN_TRY(open_external(ext ? ext->dir : NULL, loc, name, &fd, err));
    kiln_status s = KILN_OK;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = kiln_fail(err, KILN_ERR_IO, "tensor '%s': external data '%s' is not a regular file", name, loc);
        goto done;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (!has_length) length = offset <= fsize ? fsize - offset : 0;
    if (offset > fsize || length > fsize - offset) {
        s = kiln_fail(err, KILN_ERR_INVALID_MODEL,
                      "tensor '%s': external data range [%llu, %llu) lies past the end of '%s' (%llu bytes)",
                      name, (unsigned long long)offset, (unsigned long long)(offset + length), loc,
                      (unsigned long long)fsize);
        goto done;
    }
    if (length != out->nbytes) {
        s = kiln_fail(err, KILN_ERR_INVALID_MODEL,
                      "tensor '%s': external data holds %llu bytes, the tensor needs %zu", name,
                      (unsigned long long)length, out->nbytes);
        goto done;
    }
    if ((s = alloc_data(a, out, err)) != KILN_OK) goto done;
    for (size_t got = 0; got < out->nbytes;) {
        ssize_t r = pread(fd, (char *)out->data + got, out->nbytes - got, (off_t)(offset + got));
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            s = kiln_fail(err, KILN_ERR_IO, "tensor '%s': reading external data '%s' failed", name, loc);
            kiln_mem_free(a, out->data);
            out->data = NULL;
            goto done;
        }
        got += (size_t)r;
    }
done:
    close(fd);
    return s;
}

/* Narrows int32_data into 1- or 2-byte elements (also the packed 4- and 2-bit types, whose
 * int32_data items each hold one byte). */
static kiln_status from_int32(const kiln_allocator *a, const KilnOnnx__TensorProto *tp,
                              kiln_dense *out, const char *name, kiln_error *err) {
    uint32_t bits = kiln_dtype_bits((kiln_dtype)out->dtype);
    size_t want = bits >= 8 ? (size_t)out->count : out->nbytes;
    if (tp->n_int32_data != want)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': int32_data has %zu items, expected %zu",
                         name, tp->n_int32_data, want);
    KILN_TRY(alloc_data(a, out, err));
    for (size_t i = 0; i < want; i++) {
        int32_t v = tp->int32_data[i];
        if (bits == 32) ((int32_t *)out->data)[i] = v;
        else if (bits == 16) ((uint16_t *)out->data)[i] = (uint16_t)v;
        else if (out->dtype == KILN_DTYPE_BOOL) ((uint8_t *)out->data)[i] = v != 0;
        else ((uint8_t *)out->data)[i] = (uint8_t)v;
    }
    return KILN_OK;
}

/* Takes a typed repeated field's buffer when it has exactly the bytes we need, else copies. */
static kiln_status take_typed(const kiln_allocator *a, void **field, size_t n_items,
                              size_t item_size, size_t want_items, kiln_dense *out,
                              const char *fname, const char *name, kiln_error *err) {
    if (n_items != want_items)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': %s has %zu items, expected %zu",
                         name, fname, n_items, want_items);
    if (n_items == 0) return alloc_data(a, out, err);
    if (n_items * item_size == out->nbytes) {
        out->data = *field;
        *field = NULL;
        return KILN_OK;
    }
    KILN_TRY(alloc_data(a, out, err));
    memcpy(out->data, *field, out->nbytes);
    return KILN_OK;
}

kiln_status kiln_dense_from_proto(const kiln_allocator *a, KilnOnnx__TensorProto *tp,
                                  const kiln_external_ctx *ext, kiln_dense *out, kiln_error *err) {
    const char *name = tp->name ? tp->name : "";
    if (!tp->has_data_type || tp->data_type == 0)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s' has no data_type", name);
    KILN_TRY(set_shape(out, tp->data_type, tp->n_dims, tp->dims, name, err));
    if (tp->segment)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "tensor '%s': segmented tensors are not supported", name);
    if (tp->has_data_location && tp->data_location == KILN_ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return read_external(a, tp, ext, out, err);

    int32_t dt = out->dtype;
    size_t n = (size_t)out->count;
    if (dt == KILN_DTYPE_STRING) {
        if (tp->n_string_data != n)
            return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': string_data has %zu items, expected %zu",
                             name, tp->n_string_data, n);
        KILN_TRY(alloc_data(a, out, err));
        char **s = out->data;
        for (size_t i = 0; i < n; i++) {
            const ProtobufCBinaryData *b = &tp->string_data[i];
            s[i] = kiln_mem_alloc(a, b->len + 1);
            if (!s[i]) {
                kiln_dense_free(a, out);
                return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            }
            if (b->len) memcpy(s[i], b->data, b->len);
            s[i][b->len] = '\0';
        }
        return KILN_OK;
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != out->nbytes)
            return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                             "tensor '%s': raw_data holds %zu bytes, %s[%lld elements] needs %zu",
                             name, tp->raw_data.len, kiln_dtype_name((kiln_dtype)dt),
                             (long long)out->count, out->nbytes);
        void *p = tp->raw_data.data;
        kiln_status st = take_typed(a, &p, tp->raw_data.len, 1, out->nbytes, out, "raw_data", name, err);
        tp->raw_data.data = p;
        return st;
    }
    switch (dt) {
    case KILN_DTYPE_FLOAT:
    case KILN_DTYPE_COMPLEX64:
        return take_typed(a, (void **)&tp->float_data, tp->n_float_data, 4,
                          dt == KILN_DTYPE_FLOAT ? n : 2 * n, out, "float_data", name, err);
    case KILN_DTYPE_INT64:
        return take_typed(a, (void **)&tp->int64_data, tp->n_int64_data, 8, n, out, "int64_data", name, err);
    case KILN_DTYPE_DOUBLE:
    case KILN_DTYPE_COMPLEX128:
        return take_typed(a, (void **)&tp->double_data, tp->n_double_data, 8,
                          dt == KILN_DTYPE_DOUBLE ? n : 2 * n, out, "double_data", name, err);
    case KILN_DTYPE_UINT64:
        return take_typed(a, (void **)&tp->uint64_data, tp->n_uint64_data, 8, n, out, "uint64_data", name, err);
    case KILN_DTYPE_UINT32:
        if (tp->n_uint64_data != n)
            return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor '%s': uint64_data has %zu items, expected %zu",
                             name, tp->n_uint64_data, n);
        KILN_TRY(alloc_data(a, out, err));
        for (size_t i = 0; i < n; i++) ((uint32_t *)out->data)[i] = (uint32_t)tp->uint64_data[i];
        return KILN_OK;
    default:
        return from_int32(a, tp, out, name, err);
    }
}

kiln_status kiln_dense_from_sparse(const kiln_allocator *a, KilnOnnx__SparseTensorProto *sp,
                                   const kiln_external_ctx *ext, kiln_dense *out,
                                   kiln_error *err) {
    memset(out, 0, sizeof(*out));
    if (!sp->values || !sp->indices)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "sparse tensor without values or indices");
    const char *name = sp->values->name ? sp->values->name : "";
    kiln_dense vals, idx;
    KILN_TRY(kiln_dense_from_proto(a, sp->values, ext, &vals, err));
    kiln_status s = kiln_dense_from_proto(a, sp->indices, ext, &idx, err);
    if (s != KILN_OK) {
        kiln_dense_free(a, &vals);
        return s;
    }
    if ((s = set_shape(out, vals.dtype, sp->n_dims, sp->dims, name, err)) != KILN_OK) goto done;
    uint32_t bits = kiln_dtype_bits((kiln_dtype)vals.dtype);
    if (bits < 8 || vals.dtype == KILN_DTYPE_STRING) {
        s = kiln_fail(err, KILN_ERR_UNSUPPORTED, "sparse tensor '%s': %s values are not supported", name,
                      kiln_dtype_name((kiln_dtype)vals.dtype));
        goto done;
    }
    int64_t nnz = vals.count;
    int coords = idx.rank == 2;
    if (idx.dtype != KILN_DTYPE_INT64 || vals.rank != 1 ||
        !((idx.rank == 1 && idx.dims[0] == nnz) ||
          (coords && idx.dims[0] == nnz && idx.dims[1] == out->rank))) {
        s = kiln_fail(err, KILN_ERR_INVALID_MODEL, "sparse tensor '%s': indices do not match values and dims", name);
        goto done;
    }
    if ((s = alloc_data(a, out, err)) != KILN_OK) goto done;
    size_t es = bits / 8;
    const int64_t *ix = idx.data;
    for (int64_t k = 0; k < nnz; k++) {
        int64_t lin = 0;
        if (coords) {
            for (int32_t d = 0; d < out->rank; d++) {
                int64_t c = ix[k * out->rank + d];
                if (c < 0 || c >= out->dims[d]) { lin = -1; break; }
                lin = lin * out->dims[d] + c;
            }
        } else {
            lin = ix[k];
        }
        if (lin < 0 || lin >= out->count) {
            kiln_dense_free(a, out);
            s = kiln_fail(err, KILN_ERR_INVALID_MODEL, "sparse tensor '%s': index %lld out of range", name,
                          (long long)k);
            goto done;
        }
        memcpy((char *)out->data + (size_t)lin * es, (const char *)vals.data + (size_t)k * es, es);
    }
done:
    kiln_dense_free(a, &vals);
    kiln_dense_free(a, &idx);
    return s;
}
