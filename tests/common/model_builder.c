/* SPDX-License-Identifier: MIT */
/* In-memory ONNX model builder for tests (see model_builder.h). Aborts on malloc failure: test
 * code only. */
#include "model_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    _Alignas(16) unsigned char data[];
} block;

struct mb {
    block *blocks;
    KilnOnnx__ModelProto *model;
    uint8_t *packed;
};

void *mb_alloc(mb *b, size_t size) {
    block *blk = calloc(1, sizeof(block) + size + 1);
    if (!blk) abort();
    blk->next = b->blocks;
    b->blocks = blk;
    return blk->data;
}

char *mb_str(mb *b, const char *s) {
    char *c = mb_alloc(b, strlen(s) + 1);
    memcpy(c, s, strlen(s));
    return c;
}

/* Appends `item` to a protobuf-c repeated field (array of pointers). */
static void push(mb *b, void ***arr, size_t *n, void *item) {
    void **na = mb_alloc(b, (*n + 1) * sizeof(void *));
    if (*n) memcpy(na, *arr, *n * sizeof(void *));
    na[(*n)++] = item;
    *arr = na;
}

mb *mb_new(int64_t ir_version, int64_t opset) {
    mb *b = calloc(1, sizeof(*b));
    if (!b) abort();
    b->model = mb_alloc(b, sizeof(*b->model));
    kiln_onnx__model_proto__init(b->model);
    b->model->has_ir_version = 1;
    b->model->ir_version = ir_version;
    KilnOnnx__OperatorSetIdProto *o = mb_alloc(b, sizeof(*o));
    kiln_onnx__operator_set_id_proto__init(o);
    o->domain = mb_str(b, "");
    o->has_version = 1;
    o->version = opset;
    push(b, (void ***)&b->model->opset_import, &b->model->n_opset_import, o);
    b->model->graph = mb_subgraph(b, "test");
    return b;
}

void mb_free(mb *b) {
    if (!b) return;
    while (b->blocks) {
        block *n = b->blocks->next;
        free(b->blocks);
        b->blocks = n;
    }
    free(b->packed);
    free(b);
}

KilnOnnx__ModelProto *mb_model(mb *b) { return b->model; }
KilnOnnx__GraphProto *mb_graph(mb *b) { return b->model->graph; }

KilnOnnx__GraphProto *mb_subgraph(mb *b, const char *name) {
    KilnOnnx__GraphProto *g = mb_alloc(b, sizeof(*g));
    kiln_onnx__graph_proto__init(g);
    g->name = mb_str(b, name);
    return g;
}

KilnOnnx__TypeProto *mb_tensor_type(mb *b, int32_t dtype, int32_t rank, const int64_t *dims, const char *const *sym) {
    KilnOnnx__TypeProto *t = mb_alloc(b, sizeof(*t));
    kiln_onnx__type_proto__init(t);
    KilnOnnx__TypeProto__Tensor *tt = mb_alloc(b, sizeof(*tt));
    kiln_onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = dtype;
    t->value_case = KILN_ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    if (rank >= 0) {
        KilnOnnx__TensorShapeProto *s = mb_alloc(b, sizeof(*s));
        kiln_onnx__tensor_shape_proto__init(s);
        for (int32_t i = 0; i < rank; i++) {
            KilnOnnx__TensorShapeProto__Dimension *d = mb_alloc(b, sizeof(*d));
            kiln_onnx__tensor_shape_proto__dimension__init(d);
            if (sym && sym[i]) {
                d->value_case = KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = mb_str(b, sym[i]);
            } else if (dims && dims[i] >= 0) {
                d->value_case = KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            }
            push(b, (void ***)&s->dim, &s->n_dim, d);
        }
        tt->shape = s;
    }
    return t;
}

KilnOnnx__ValueInfoProto *mb_value_info(mb *b, const char *name, KilnOnnx__TypeProto *t) {
    KilnOnnx__ValueInfoProto *v = mb_alloc(b, sizeof(*v));
    kiln_onnx__value_info_proto__init(v);
    v->name = mb_str(b, name);
    v->type = t;
    return v;
}

void mb_input(mb *b, KilnOnnx__GraphProto *g, const char *name, int32_t dtype, int32_t rank, const int64_t *dims) {
    push(b, (void ***)&g->input, &g->n_input, mb_value_info(b, name, mb_tensor_type(b, dtype, rank, dims, NULL)));
}

void mb_output(mb *b, KilnOnnx__GraphProto *g, const char *name, int32_t dtype, int32_t rank, const int64_t *dims) {
    push(b, (void ***)&g->output, &g->n_output, mb_value_info(b, name, mb_tensor_type(b, dtype, rank, dims, NULL)));
}

KilnOnnx__NodeProto *mb_node(mb *b, KilnOnnx__GraphProto *g, const char *op, const char *name,
                             const char *const *inputs, const char *const *outputs) {
    KilnOnnx__NodeProto *n = mb_alloc(b, sizeof(*n));
    kiln_onnx__node_proto__init(n);
    n->op_type = mb_str(b, op);
    n->name = mb_str(b, name ? name : "");
    for (; inputs && *inputs; inputs++) push(b, (void ***)&n->input, &n->n_input, mb_str(b, *inputs));
    for (; outputs && *outputs; outputs++) push(b, (void ***)&n->output, &n->n_output, mb_str(b, *outputs));
    if (g) push(b, (void ***)&g->node, &g->n_node, n);
    return n;
}

static KilnOnnx__AttributeProto *new_attr(mb *b, KilnOnnx__NodeProto *n, const char *name, int type) {
    KilnOnnx__AttributeProto *a = mb_alloc(b, sizeof(*a));
    kiln_onnx__attribute_proto__init(a);
    a->name = mb_str(b, name);
    a->has_type = 1;
    a->type = (KilnOnnx__AttributeProto__AttributeType)type;
    push(b, (void ***)&n->attribute, &n->n_attribute, a);
    return a;
}

void mb_attr_int(mb *b, KilnOnnx__NodeProto *n, const char *name, int64_t v) {
    KilnOnnx__AttributeProto *a = new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void mb_attr_float(mb *b, KilnOnnx__NodeProto *n, const char *name, float v) {
    KilnOnnx__AttributeProto *a = new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void mb_attr_ints(mb *b, KilnOnnx__NodeProto *n, const char *name, const int64_t *v, size_t count) {
    KilnOnnx__AttributeProto *a = new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = count;
    a->ints = mb_alloc(b, count * sizeof(int64_t) + 1);
    memcpy(a->ints, v, count * sizeof(int64_t));
}

void mb_attr_string(mb *b, KilnOnnx__NodeProto *n, const char *name, const char *v) {
    KilnOnnx__AttributeProto *a = new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)mb_str(b, v);
    a->s.len = strlen(v);
}

void mb_attr_tensor(mb *b, KilnOnnx__NodeProto *n, const char *name, KilnOnnx__TensorProto *t) {
    new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t = t;
}

void mb_attr_graph(mb *b, KilnOnnx__NodeProto *n, const char *name, KilnOnnx__GraphProto *g) {
    new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = g;
}

KilnOnnx__AttributeProto *mb_attr_ref(mb *b, KilnOnnx__NodeProto *n, const char *name, const char *ref) {
    KilnOnnx__AttributeProto *a = new_attr(b, n, name, KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED);
    a->has_type = 0;
    a->ref_attr_name = mb_str(b, ref);
    return a;
}

KilnOnnx__TensorProto *mb_tensor(mb *b, const char *name, int32_t dtype, int32_t rank, const int64_t *dims) {
    KilnOnnx__TensorProto *t = mb_alloc(b, sizeof(*t));
    kiln_onnx__tensor_proto__init(t);
    t->name = mb_str(b, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = mb_alloc(b, (size_t)rank * sizeof(int64_t) + 1);
    if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof(int64_t));
    return t;
}

KilnOnnx__TensorProto *mb_tensor_raw(mb *b, const char *name, int32_t dtype, int32_t rank, const int64_t *dims,
                                     const void *data, size_t bytes) {
    KilnOnnx__TensorProto *t = mb_tensor(b, name, dtype, rank, dims);
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = mb_alloc(b, bytes + 1);
    if (bytes) memcpy(t->raw_data.data, data, bytes);
    return t;
}

void mb_initializer(mb *b, KilnOnnx__GraphProto *g, KilnOnnx__TensorProto *t) {
    push(b, (void ***)&g->initializer, &g->n_initializer, t);
}

static void kv(mb *b, KilnOnnx__TensorProto *t, const char *k, const char *v) {
    KilnOnnx__StringStringEntryProto *e = mb_alloc(b, sizeof(*e));
    kiln_onnx__string_string_entry_proto__init(e);
    e->key = mb_str(b, k);
    e->value = mb_str(b, v);
    push(b, (void ***)&t->external_data, &t->n_external_data, e);
}

void mb_external(mb *b, KilnOnnx__TensorProto *t, const char *location, int64_t offset, int64_t length) {
    char num[32];
    t->has_data_location = 1;
    t->data_location = KILN_ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    kv(b, t, "location", location);
    snprintf(num, sizeof(num), "%lld", (long long)offset);
    kv(b, t, "offset", num);
    if (length >= 0) {
        snprintf(num, sizeof(num), "%lld", (long long)length);
        kv(b, t, "length", num);
    }
}

const uint8_t *mb_pack(mb *b, size_t *size) {
    free(b->packed);
    *size = kiln_onnx__model_proto__get_packed_size(b->model);
    b->packed = malloc(*size + 1);
    if (!b->packed) abort();
    kiln_onnx__model_proto__pack(b->model, b->packed);
    return b->packed;
}

int mb_save(mb *b, const char *path) {
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}
