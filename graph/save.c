/* SPDX-License-Identifier: MIT */
/* The ONNX writer (see save.h): the IR's graphs, nodes, attributes, constants and types turned
 * back into protobuf-c messages in a scratch arena, packed, and written. */
#include "graph/save.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "graph/onnx/kiln_onnx.pb-c.h"
#include "kiln_version.h"

typedef struct saver {
    const kiln_model *m;
    kiln_arena ar;
    FILE *ext;              /* external data file, opened on first use */
    char ext_path[4096];
    const char *ext_name;   /* location written into the model */
    uint64_t ext_off;
    size_t external_min;
    int uses_kiln;
    kiln_error *err;
} saver;

/* A message in the scratch arena, copied from its INIT value. */
static void *make(saver *s, size_t size, const void *init) {
    void *p = kiln_arena_alloc(&s->ar, size);
    if (p) memcpy(p, init, size);
    return p;
}
#define NEW(sv, T, init) ((T *)make((sv), sizeof(T), &(T)init))

static kiln_status oom(saver *s) { return kiln_fail(s->err, KILN_ERR_OUT_OF_MEMORY, "out of memory saving the model"); }

static char *str(saver *s, const char *v) { return v ? kiln_arena_strdup(&s->ar, v) : NULL; }

/* ---- types ---- */

static KilnOnnx__TypeProto *tensor_type(saver *s, int32_t dtype, int32_t rank, const int64_t *dims) {
    KilnOnnx__TypeProto *t = NEW(s, KilnOnnx__TypeProto, KILN_ONNX__TYPE_PROTO__INIT);
    KilnOnnx__TypeProto__Tensor *tt = NEW(s, KilnOnnx__TypeProto__Tensor, KILN_ONNX__TYPE_PROTO__TENSOR__INIT);
    if (!t || !tt) return NULL;
    t->value_case = KILN_ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    if (dtype) tt->has_elem_type = 1, tt->elem_type = dtype;
    if (rank >= 0) {
        KilnOnnx__TensorShapeProto *sh = NEW(s, KilnOnnx__TensorShapeProto, KILN_ONNX__TENSOR_SHAPE_PROTO__INIT);
        if (!sh) return NULL;
        sh->n_dim = (size_t)rank;
        sh->dim = kiln_arena_calloc(&s->ar, (size_t)rank + 1, sizeof(*sh->dim));
        if (!sh->dim) return NULL;
        for (int32_t i = 0; i < rank; i++) {
            KilnOnnx__TensorShapeProto__Dimension *d =
                NEW(s, KilnOnnx__TensorShapeProto__Dimension, KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
            if (!d) return NULL;
            const char *sym = kiln_model_symbol_name(s->m, dims[i]);
            if (dims[i] >= 0) {
                d->value_case = KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else if (sym) {
                d->value_case = KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = str(s, sym);
            }
            sh->dim[i] = d;
        }
        tt->shape = sh;
    }
    return t;
}

static KilnOnnx__TypeProto *type_proto(saver *s, const kiln_type *t) {
    if (t->kind == KILN_VALUE_TENSOR) return tensor_type(s, t->dtype, t->rank, t->dims);
    KilnOnnx__TypeProto *tp = NEW(s, KilnOnnx__TypeProto, KILN_ONNX__TYPE_PROTO__INIT);
    if (!tp) return NULL;
    if (t->kind == KILN_VALUE_SEQUENCE || (t->kind == KILN_VALUE_OPTIONAL)) {
        KilnOnnx__TypeProto *inner = tensor_type(s, t->dtype, t->rank, t->dims);
        if (!inner) return NULL;
        if (t->kind == KILN_VALUE_OPTIONAL && t->opt_kind == KILN_VALUE_SEQUENCE) {
            KilnOnnx__TypeProto *seq = NEW(s, KilnOnnx__TypeProto, KILN_ONNX__TYPE_PROTO__INIT);
            KilnOnnx__TypeProto__Sequence *sq = NEW(s, KilnOnnx__TypeProto__Sequence, KILN_ONNX__TYPE_PROTO__SEQUENCE__INIT);
            if (!seq || !sq) return NULL;
            sq->elem_type = inner;
            seq->value_case = KILN_ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
            seq->sequence_type = sq;
            inner = seq;
        }
        if (t->kind == KILN_VALUE_SEQUENCE) {
            KilnOnnx__TypeProto__Sequence *sq = NEW(s, KilnOnnx__TypeProto__Sequence, KILN_ONNX__TYPE_PROTO__SEQUENCE__INIT);
            if (!sq) return NULL;
            sq->elem_type = inner;
            tp->value_case = KILN_ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
            tp->sequence_type = sq;
        } else {
            KilnOnnx__TypeProto__Optional *op = NEW(s, KilnOnnx__TypeProto__Optional, KILN_ONNX__TYPE_PROTO__OPTIONAL__INIT);
            if (!op) return NULL;
            op->elem_type = inner;
            tp->value_case = KILN_ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
            tp->optional_type = op;
        }
    }
    return tp; /* unknown kind: an empty type */
}

static KilnOnnx__ValueInfoProto *value_info(saver *s, const char *name, const kiln_type *t) {
    KilnOnnx__ValueInfoProto *v = NEW(s, KilnOnnx__ValueInfoProto, KILN_ONNX__VALUE_INFO_PROTO__INIT);
    if (!v || !(v->name = str(s, name))) return NULL;
    if (t->kind != KILN_VALUE_UNKNOWN && !(v->type = type_proto(s, t))) return NULL;
    return v;
}

/* ---- tensors ---- */

static KilnOnnx__TensorProto *tensor(saver *s, const kiln_const *c, const char *name) {
    KilnOnnx__TensorProto *t = NEW(s, KilnOnnx__TensorProto, KILN_ONNX__TENSOR_PROTO__INIT);
    if (!t) return NULL;
    t->name = str(s, name ? name : c->name);
    t->has_data_type = 1;
    t->data_type = c->desc.dtype;
    t->n_dims = (size_t)c->desc.rank;
    t->dims = kiln_arena_memdup(&s->ar, c->dims, sizeof(int64_t) * (size_t)c->desc.rank + 1);
    if (!t->dims) return NULL;
    if (c->desc.dtype == KILN_DTYPE_STRING) {
        t->n_string_data = (size_t)c->desc.count;
        t->string_data = kiln_arena_calloc(&s->ar, t->n_string_data + 1, sizeof(ProtobufCBinaryData));
        if (!t->string_data) return NULL;
        const char *const *sv = c->desc.data;
        for (size_t i = 0; i < t->n_string_data; i++) {
            t->string_data[i].data = (uint8_t *)(sv && sv[i] ? sv[i] : "");
            t->string_data[i].len = strlen((const char *)t->string_data[i].data);
        }
        return t;
    }
    if (c->nbytes >= s->external_min && s->ext_name && t->name) {
        if (!s->ext && !(s->ext = fopen(s->ext_path, "wb"))) {
            kiln_fail(s->err, KILN_ERR_IO, "cannot create '%s': %s", s->ext_path, strerror(errno));
            return NULL;
        }
        /* 64-byte aligned offsets, so the loader can map them. */
        static const uint8_t pad[64];
        uint64_t skip = (64 - s->ext_off % 64) % 64;
        if ((skip && fwrite(pad, 1, skip, s->ext) != skip) || fwrite(c->desc.data, 1, c->nbytes, s->ext) != c->nbytes) {
            kiln_fail(s->err, KILN_ERR_IO, "cannot write '%s': %s", s->ext_path, strerror(errno));
            return NULL;
        }
        s->ext_off += skip;
        char off[32], len[32];
        snprintf(off, sizeof(off), "%llu", (unsigned long long)s->ext_off);
        snprintf(len, sizeof(len), "%llu", (unsigned long long)c->nbytes);
        s->ext_off += c->nbytes;
        const char *kv[3][2] = {{"location", s->ext_name}, {"offset", off}, {"length", len}};
        t->n_external_data = 3;
        t->external_data = kiln_arena_calloc(&s->ar, 3, sizeof(*t->external_data));
        if (!t->external_data) return NULL;
        for (int i = 0; i < 3; i++) {
            KilnOnnx__StringStringEntryProto *e = NEW(s, KilnOnnx__StringStringEntryProto, KILN_ONNX__STRING_STRING_ENTRY_PROTO__INIT);
            if (!e || !(e->key = str(s, kv[i][0])) || !(e->value = str(s, kv[i][1]))) return NULL;
            t->external_data[i] = e;
        }
        t->has_data_location = 1;
        t->data_location = KILN_ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        return t;
    }
    t->has_raw_data = 1;
    t->raw_data.len = c->nbytes;
    t->raw_data.data = c->desc.data;
    return t;
}

/* ---- graphs ---- */

static KilnOnnx__GraphProto *graph(saver *s, const kiln_graph *g);

static KilnOnnx__AttributeProto *attribute(saver *s, const kiln_node *n, const kiln_attr *a) {
    KilnOnnx__AttributeProto *p = NEW(s, KilnOnnx__AttributeProto, KILN_ONNX__ATTRIBUTE_PROTO__INIT);
    if (!p || !(p->name = str(s, a->name))) return NULL;
    p->has_type = 1;
    p->type = (KilnOnnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case KILN_ATTR_FLOAT: p->has_f = 1, p->f = a->f; break;
    case KILN_ATTR_INT: p->has_i = 1, p->i = a->i; break;
    case KILN_ATTR_STRING:
        p->has_s = 1;
        p->s.data = (uint8_t *)(a->s ? a->s : "");
        p->s.len = a->s ? a->s_len : 0;
        break;
    case KILN_ATTR_FLOATS: p->n_floats = a->n, p->floats = a->floats; break;
    case KILN_ATTR_INTS: p->n_ints = a->n, p->ints = a->ints; break;
    case KILN_ATTR_STRINGS:
        p->n_strings = a->n;
        p->strings = kiln_arena_calloc(&s->ar, a->n + 1, sizeof(ProtobufCBinaryData));
        if (!p->strings) return NULL;
        for (uint32_t i = 0; i < a->n; i++) p->strings[i].data = (uint8_t *)a->strings[i], p->strings[i].len = a->string_lens[i];
        break;
    case KILN_ATTR_TENSOR:
        if (!(p->t = tensor(s, a->tensors[0], a->tensors[0]->name ? a->tensors[0]->name : ""))) return NULL;
        break;
    case KILN_ATTR_TENSORS:
        p->n_tensors = a->n;
        p->tensors = kiln_arena_calloc(&s->ar, a->n + 1, sizeof(*p->tensors));
        if (!p->tensors) return NULL;
        for (uint32_t i = 0; i < a->n; i++)
            if (!(p->tensors[i] = tensor(s, a->tensors[i], a->tensors[i]->name ? a->tensors[i]->name : ""))) return NULL;
        break;
    case KILN_ATTR_GRAPH:
        if (!(p->g = graph(s, a->graphs[0]))) return NULL;
        break;
    case KILN_ATTR_GRAPHS:
        p->n_graphs = a->n;
        p->graphs = kiln_arena_calloc(&s->ar, a->n + 1, sizeof(*p->graphs));
        if (!p->graphs) return NULL;
        for (uint32_t i = 0; i < a->n; i++)
            if (!(p->graphs[i] = graph(s, a->graphs[i]))) return NULL;
        break;
    default:
        kiln_fail(s->err, KILN_ERR_UNSUPPORTED, KILN_NODE_FMT ": attribute '%s' (type %d) cannot be saved", KILN_NODE_ARGS(n), a->name,
                  (int)a->type);
        return NULL;
    }
    return p;
}

static KilnOnnx__NodeProto *node(saver *s, const kiln_node *n) {
    KilnOnnx__NodeProto *p = NEW(s, KilnOnnx__NodeProto, KILN_ONNX__NODE_PROTO__INIT);
    if (!p || !(p->name = str(s, n->name)) || !(p->op_type = str(s, n->op_type))) return NULL;
    if (n->domain[0] && !(p->domain = str(s, n->domain))) return NULL;
    if (strcmp(n->domain, "kiln") == 0) s->uses_kiln = 1;
    /* Trailing omitted inputs/outputs are dropped; inner ones are "". */
    uint32_t ni = n->n_inputs, no = n->n_outputs;
    while (ni && !n->inputs[ni - 1]) ni--;
    while (no && !n->outputs[no - 1]) no--;
    p->n_input = ni, p->n_output = no;
    p->input = kiln_arena_calloc(&s->ar, ni + 1, sizeof(char *));
    p->output = kiln_arena_calloc(&s->ar, no + 1, sizeof(char *));
    p->n_attribute = n->n_attrs;
    p->attribute = kiln_arena_calloc(&s->ar, n->n_attrs + 1, sizeof(*p->attribute));
    if (!p->input || !p->output || !p->attribute) return NULL;
    for (uint32_t i = 0; i < ni; i++)
        if (!(p->input[i] = str(s, n->inputs[i] ? n->inputs[i]->name : ""))) return NULL;
    for (uint32_t i = 0; i < no; i++)
        if (!(p->output[i] = str(s, n->outputs[i] ? n->outputs[i]->name : ""))) return NULL;
    for (uint32_t i = 0; i < n->n_attrs; i++)
        if (!(p->attribute[i] = attribute(s, n, &n->attrs[i]))) return NULL;
    return p;
}

static KilnOnnx__GraphProto *graph(saver *s, const kiln_graph *g) {
    KilnOnnx__GraphProto *p = NEW(s, KilnOnnx__GraphProto, KILN_ONNX__GRAPH_PROTO__INIT);
    if (!p) return NULL;
    p->name = str(s, g->name ? g->name : "graph");
    p->node = kiln_arena_calloc(&s->ar, g->n_nodes + 1, sizeof(*p->node));
    p->initializer = kiln_arena_calloc(&s->ar, g->n_values + 1, sizeof(*p->initializer));
    p->input = kiln_arena_calloc(&s->ar, g->n_inputs + 1, sizeof(*p->input));
    p->output = kiln_arena_calloc(&s->ar, g->n_outputs + 1, sizeof(*p->output));
    if (!p->name || !p->node || !p->initializer || !p->input || !p->output) return NULL;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if (!(p->node[p->n_node++] = node(s, g->nodes[i]))) return NULL;
    for (uint32_t i = 0; i < g->n_values; i++) {
        const kiln_value *v = g->values[i];
        if (!v->constant || v->producer || (v->flags & KILN_VALUE_F_OUTER)) continue;
        if (!(p->initializer[p->n_initializer++] = tensor(s, v->constant, v->name))) return NULL;
    }
    for (uint32_t i = 0; i < g->n_inputs; i++)
        if (!(p->input[p->n_input++] = value_info(s, g->inputs[i]->name, &g->inputs[i]->type))) return NULL;
    for (uint32_t i = 0; i < g->n_outputs; i++) {
        const kiln_value *v = g->outputs[i];
        kiln_type t = g->declared_outputs && g->declared_outputs[i].kind != KILN_VALUE_UNKNOWN ? g->declared_outputs[i] : v->type;
        if (!(p->output[p->n_output++] = value_info(s, v->name, &t))) return NULL;
    }
    return p;
}

kiln_status kiln_model_save(const kiln_model *m, const char *path, size_t external_min, const char *const *metadata,
                            kiln_error *err) {
    saver s;
    memset(&s, 0, sizeof(s));
    s.m = m;
    s.err = err;
    s.external_min = external_min;
    kiln_arena_init(&s.ar, m->alloc);
    kiln_error_clear(err);
    int n = snprintf(s.ext_path, sizeof(s.ext_path), "%s.data", path);
    const char *slash = strrchr(s.ext_path, '/');
    s.ext_name = n > 0 && (size_t)n < sizeof(s.ext_path) ? (slash ? slash + 1 : s.ext_path) : NULL;
    kiln_status st = KILN_OK;
    uint8_t *buf = NULL;
    KilnOnnx__ModelProto mp = KILN_ONNX__MODEL_PROTO__INIT;
    mp.has_ir_version = 1;
    mp.ir_version = m->ir_version;
    mp.producer_name = "kiln";
    mp.producer_version = (char *)KILN_VERSION_STRING;
    mp.domain = m->domain ? (char *)m->domain : NULL;
    mp.has_model_version = m->model_version != 0;
    mp.model_version = m->model_version;
    mp.doc_string = m->doc ? (char *)m->doc : NULL;
    if (!(mp.graph = graph(&s, m->graph))) {
        st = err && err->status ? (kiln_status)err->status : oom(&s);
        goto done;
    }
    uint32_t n_meta = 0;
    while (metadata && metadata[2 * n_meta]) n_meta++;
    mp.opset_import = kiln_arena_calloc(&s.ar, m->n_opsets + 2, sizeof(*mp.opset_import));
    mp.metadata_props = kiln_arena_calloc(&s.ar, m->n_metadata + n_meta + 1, sizeof(*mp.metadata_props));
    if (!mp.opset_import || !mp.metadata_props) {
        st = oom(&s);
        goto done;
    }
    int have_kiln = 0;
    for (uint32_t i = 0; i <= m->n_opsets; i++) {
        const char *dom = i < m->n_opsets ? m->opsets[i].domain : "kiln";
        int64_t ver = i < m->n_opsets ? m->opsets[i].version : 1;
        if (i == m->n_opsets && (have_kiln || !s.uses_kiln)) break;
        if (strcmp(dom, "kiln") == 0) have_kiln = 1;
        KilnOnnx__OperatorSetIdProto *o = NEW(&s, KilnOnnx__OperatorSetIdProto, KILN_ONNX__OPERATOR_SET_ID_PROTO__INIT);
        if (!o || !(o->domain = str(&s, dom))) {
            st = oom(&s);
            goto done;
        }
        o->has_version = 1;
        o->version = ver;
        mp.opset_import[mp.n_opset_import++] = o;
    }
    for (uint32_t i = 0; i < m->n_metadata + n_meta; i++) {
        int replaced = 0; /* a key given in `metadata` replaces the model's own */
        for (uint32_t j = 0; i < m->n_metadata && j < n_meta; j++) replaced |= strcmp(m->metadata[i].key, metadata[2 * j]) == 0;
        if (replaced) continue;
        KilnOnnx__StringStringEntryProto *e = NEW(&s, KilnOnnx__StringStringEntryProto, KILN_ONNX__STRING_STRING_ENTRY_PROTO__INIT);
        const char *k = i < m->n_metadata ? m->metadata[i].key : metadata[2 * (i - m->n_metadata)];
        const char *v = i < m->n_metadata ? m->metadata[i].value : metadata[2 * (i - m->n_metadata) + 1];
        if (!e || !(e->key = str(&s, k)) || !(e->value = str(&s, v))) {
            st = oom(&s);
            goto done;
        }
        mp.metadata_props[mp.n_metadata_props++] = e;
    }
    size_t size = kiln_onnx__model_proto__get_packed_size(&mp);
    buf = kiln_mem_alloc(m->alloc, size + 1);
    if (!buf) {
        st = oom(&s);
        goto done;
    }
    kiln_onnx__model_proto__pack(&mp, buf);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, size, f) != size) {
        st = kiln_fail(err, KILN_ERR_IO, "cannot write the optimized model '%s': %s", path, strerror(errno));
        if (f) fclose(f);
        goto done;
    }
    if (fclose(f) != 0) st = kiln_fail(err, KILN_ERR_IO, "cannot write the optimized model '%s': %s", path, strerror(errno));
done:
    if (s.ext && fclose(s.ext) != 0 && st == KILN_OK)
        st = kiln_fail(err, KILN_ERR_IO, "cannot write '%s': %s", s.ext_path, strerror(errno));
    kiln_mem_free(m->alloc, buf);
    kiln_arena_free(&s.ar);
    return st;
}
