/* SPDX-License-Identifier: MIT */
/* Public reading and writing of serialized values: TensorProto, SequenceProto, OptionalProto
 * (the data files of the ONNX test suite). */
#include <stdio.h>
#include <string.h>

#include "graph/load.h"
#include "graph/onnx/kiln_onnx.pb-c.h"
#include "graph/tensor_proto.h"
#include "runtime/session_impl.h"

static kiln_status tensor_from_proto(const kiln_allocator *a, KilnOnnx__TensorProto *tp, kiln_tensor **out,
                                     kiln_error *err) {
    kiln_dense d;
    KILN_TRY(kiln_dense_from_proto(a, tp, NULL, &d, err));
    kiln_tensor *t = kiln_mem_calloc(a, 1, sizeof(*t));
    if (!t) {
        kiln_dense_free(a, &d);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    kiln_desc_init(&t->desc);
    t->alloc = a;
    t->desc.kind = KILN_VALUE_TENSOR;
    t->desc.dtype = d.dtype;
    t->desc.rank = d.rank;
    memcpy(t->dims, d.dims, sizeof(t->dims));
    t->desc.dims = t->dims;
    t->desc.data = d.data;
    t->desc.count = (uint64_t)d.count;
    t->owned = d.data;
    t->nbytes = d.nbytes;
    *out = t;
    return KILN_OK;
}

static kiln_status sequence_from_proto(const kiln_allocator *a, KilnOnnx__SequenceProto *sp, kiln_tensor **out,
                                       kiln_error *err) {
    if (sp->n_sequence_values || sp->n_optional_values || sp->n_sparse_tensor_values)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "only sequences of dense tensors are supported");
    int32_t dtype = sp->n_tensor_values ? sp->tensor_values[0]->data_type : KILN_DTYPE_FLOAT;
    kiln_tensor *seq;
    KILN_TRY(kiln_sequence_new(a, dtype, sp->n_tensor_values, &seq, err));
    for (size_t i = 0; i < sp->n_tensor_values; i++) {
        kiln_status s = tensor_from_proto(a, sp->tensor_values[i], &seq->items[i], err);
        if (s == KILN_OK && seq->items[i]->desc.dtype != dtype)
            s = kiln_fail(err, KILN_ERR_INVALID_MODEL, "sequence items have different types");
        if (s != KILN_OK) {
            seq->desc.count = i + (seq->items[i] != NULL);
            kiln_tensor_destroy(seq);
            return s;
        }
        seq->item_descs[i] = &seq->items[i]->desc;
        seq->desc.count = i + 1;
    }
    *out = seq;
    return KILN_OK;
}

static kiln_status optional_from_proto(const kiln_allocator *a, KilnOnnx__OptionalProto *op, kiln_tensor **out,
                                       kiln_error *err) {
    kiln_tensor *content = NULL;
    int32_t kind = KILN_VALUE_TENSOR, dtype = KILN_DTYPE_FLOAT;
    if (op->tensor_value) {
        KILN_TRY(tensor_from_proto(a, op->tensor_value, &content, err));
    } else if (op->sequence_value) {
        KILN_TRY(sequence_from_proto(a, op->sequence_value, &content, err));
        kind = KILN_VALUE_SEQUENCE;
    } else if (op->optional_value || op->sparse_tensor_value) {
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "optional of this kind is not supported");
    }
    if (content) dtype = content->desc.dtype;
    kiln_tensor *t;
    kiln_status s = kiln_optional_none(a, dtype, kind, &t, err);
    if (s != KILN_OK) {
        kiln_tensor_destroy(content);
        return s;
    }
    t->content = content;
    *out = t;
    return KILN_OK;
}

kiln_status kiln_tensor_read_proto(kiln_env *env, const void *data, size_t size, kiln_value_kind kind,
                                   kiln_tensor **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_read_proto: out is NULL");
    *out = NULL;
    if (!env || (!data && size)) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_read_proto: NULL argument");
    const kiln_allocator *a = &env->alloc;
    kiln_pb_alloc pa;
    kiln_pb_alloc_init(&pa, a);
    const ProtobufCMessageDescriptor *desc = kind == KILN_VALUE_SEQUENCE ? &kiln_onnx__sequence_proto__descriptor
                                             : kind == KILN_VALUE_OPTIONAL ? &kiln_onnx__optional_proto__descriptor
                                                                           : &kiln_onnx__tensor_proto__descriptor;
    if (kind != KILN_VALUE_TENSOR && kind != KILN_VALUE_SEQUENCE && kind != KILN_VALUE_OPTIONAL)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_read_proto: unknown kind %d", (int)kind);
    KILN_TRY(kiln_protobuf_check(desc, data, size, err));
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, &pa.pc, size, data);
    if (!msg && pa.failed) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory parsing a %s", desc->short_name);
    if (!msg) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "the data does not parse as a %s", desc->short_name);
    kiln_status s;
    if (kind == KILN_VALUE_SEQUENCE) s = sequence_from_proto(a, (KilnOnnx__SequenceProto *)msg, out, err);
    else if (kind == KILN_VALUE_OPTIONAL) s = optional_from_proto(a, (KilnOnnx__OptionalProto *)msg, out, err);
    else s = tensor_from_proto(a, (KilnOnnx__TensorProto *)msg, out, err);
    protobuf_c_message_free_unpacked(msg, &pa.pc);
    return s;
}

kiln_status kiln_tensor_load_proto(kiln_env *env, const char *path, kiln_value_kind kind, kiln_tensor **out,
                                   kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_load_proto: out is NULL");
    *out = NULL;
    if (!env || !path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_load_proto: NULL argument");
    void *data;
    size_t size;
    KILN_TRY(kiln_read_file(&env->alloc, path, &data, &size, err));
    kiln_status s = kiln_tensor_read_proto(env, data, size, kind, out, err);
    kiln_mem_free(&env->alloc, data);
    if (s != KILN_OK && err) kiln_error_prefix(err, "%s: ", path);
    return s;
}

/* ---- writing ---- */

/* Fills `tp` to describe `d`; points into d's storage (nothing is copied). `strings` must hold
 * d->count entries for STRING tensors. */
static void tensor_to_proto(const kiln_value_desc *d, const char *name, KilnOnnx__TensorProto *tp,
                            ProtobufCBinaryData *strings) {
    kiln_onnx__tensor_proto__init(tp);
    tp->n_dims = (size_t)d->rank;
    tp->dims = (int64_t *)d->dims;
    tp->has_data_type = 1;
    tp->data_type = d->dtype;
    tp->name = (char *)(name ? name : "");
    if (d->dtype == KILN_DTYPE_STRING) {
        char *const *s = d->data;
        for (uint64_t i = 0; i < d->count; i++) {
            strings[i].data = (uint8_t *)s[i];
            strings[i].len = strlen(s[i]);
        }
        tp->n_string_data = (size_t)d->count;
        tp->string_data = strings;
    } else {
        size_t bytes = 0;
        kiln_dtype_storage(d->dtype, (int64_t)d->count, &bytes);
        tp->has_raw_data = 1;
        tp->raw_data.data = d->data;
        tp->raw_data.len = bytes;
    }
}

static kiln_status write_file(const char *path, const uint8_t *buf, size_t len, kiln_error *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return kiln_fail(err, KILN_ERR_IO, "cannot create '%s'", path);
    int ok = fwrite(buf, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? KILN_OK : kiln_fail(err, KILN_ERR_IO, "cannot write '%s'", path);
}

kiln_status kiln_tensor_save_proto(const kiln_tensor *t, const char *name, const char *path, kiln_error *err) {
    if (!t || !path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_save_proto: NULL argument");
    const kiln_allocator *a = t->alloc;
    kiln_status s = KILN_OK;
    ProtobufCMessage *msg;
    KilnOnnx__TensorProto tp;
    KilnOnnx__SequenceProto sp;
    KilnOnnx__OptionalProto op;
    const kiln_tensor *body = t->desc.kind == KILN_VALUE_OPTIONAL ? t->content : t;
    size_t n_items = body && body->desc.kind == KILN_VALUE_SEQUENCE ? (size_t)body->desc.count : 0;
    KilnOnnx__TensorProto *items = kiln_mem_calloc(a, n_items + 1, sizeof(*items));
    KilnOnnx__TensorProto **item_ptrs = kiln_mem_calloc(a, n_items + 1, sizeof(*item_ptrs));
    ProtobufCBinaryData **strs = kiln_mem_calloc(a, n_items + 1, sizeof(*strs));
    uint8_t *buf = NULL;
    if (!items || !item_ptrs || !strs) {
        s = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    /* One TensorProto per tensor: the value itself, or each sequence item. */
    for (size_t i = 0; i < (body && body->desc.kind == KILN_VALUE_TENSOR ? 1 : n_items); i++) {
        const kiln_value_desc *d = body->desc.kind == KILN_VALUE_TENSOR ? &body->desc : body->desc.items[i];
        if (d->dtype == KILN_DTYPE_STRING && d->count) {
            strs[i] = kiln_mem_calloc(a, (size_t)d->count, sizeof(ProtobufCBinaryData));
            if (!strs[i]) {
                s = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
                goto done;
            }
        }
        tensor_to_proto(d, body->desc.kind == KILN_VALUE_TENSOR ? name : NULL, &items[i], strs[i]);
        item_ptrs[i] = &items[i];
    }
    kiln_onnx__sequence_proto__init(&sp);
    sp.name = (char *)(name ? name : "");
    sp.has_elem_type = 1;
    sp.elem_type = 1; /* SequenceProto.DataType TENSOR */
    sp.n_tensor_values = n_items;
    sp.tensor_values = item_ptrs;
    if (t->desc.kind == KILN_VALUE_OPTIONAL) {
        kiln_onnx__optional_proto__init(&op);
        op.name = (char *)(name ? name : "");
        op.has_elem_type = 1;
        op.elem_type = !t->content ? 0 : t->opt_kind == KILN_VALUE_SEQUENCE ? 3 : 1;
        if (t->content && t->content->desc.kind == KILN_VALUE_SEQUENCE) op.sequence_value = &sp;
        else if (t->content) op.tensor_value = &items[0];
        msg = &op.base;
    } else if (t->desc.kind == KILN_VALUE_SEQUENCE) {
        msg = &sp.base;
    } else {
        tp = items[0];
        msg = &tp.base;
    }
    size_t len = protobuf_c_message_get_packed_size(msg);
    buf = kiln_mem_alloc(a, len ? len : 1);
    if (!buf) {
        s = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    protobuf_c_message_pack(msg, buf);
    s = write_file(path, buf, len, err);
done:
    for (size_t i = 0; strs && i < n_items + 1; i++) kiln_mem_free(a, strs[i]);
    kiln_mem_free(a, strs);
    kiln_mem_free(a, items);
    kiln_mem_free(a, item_ptrs);
    kiln_mem_free(a, buf);
    return s;
}
